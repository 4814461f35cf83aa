"""The fast any-painting result: the shipped ``lite`` network with its per-painting rows (the
scale and shift of its norms, networks/transformer.py's StyleNorm) predicted from the painting
by a small network, its convolutions as they are (Ghiasi et al. 2017, "Exploring the structure
of a real-time, arbitrary neural artistic stylization network", cut down to the rows).

A painting is described by its VGG16 features' channel means and log standard deviations at
the four style layers (1,920 numbers); a two-layer MLP writes lite's 1,088 row values. The rows
make a one-style lite network (``network``), so a painting never trained on paints a photo in
a tenth of a second, a video and the webcam at lite's speed. scripts/style_predictor.py trains
it; the result is shipped as pretrained/PREDICTOR_FILE, beside the lite network it was trained
for (its sha256 is in the file: a republished lite needs the predictor retrained).

Measured (docs/universal.md; 4 paintings the predictor never saw x 4 held-out photos at 384 px):
style ratio 0.291, content 10.9 at the default strength 0.8 (with PALETTE_PULL), against the
universal mode's 0.330 and 11.9; about 0.3 s for a 512 px photo on the 2-core CPU. Its
training ended with the zoo's steady pull (each painting toward its own grid average): on
video its networks flicker no more than the zoo's own rows.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import pathlib
from collections.abc import Sequence

import torch
import torch.nn as nn

from styletransfer import colors, universal
from styletransfer.errors import StyleTransferError, short_error
from styletransfer.io import images
from styletransfer.networks import cache, read_model, zoo
from styletransfer.networks.transformer import TransformerNet
from styletransfer.perceptual.loss import STYLE_LAYERS
from styletransfer.perceptual.vgg import VGG16Features

PREDICTOR_FILE = "predictor.lite.safetensors"
DESCRIPTION_SIDE = 256  # a painting's long side when read (the zoo's style size), times the painting scale
MIN_SIDE = 32  # below this the deepest style layer has no positions left to describe
PAINTINGS_REMEMBERED = 8  # readings kept: the page repaints many photos with one painting
# How far ``paint`` moves the painted photo's colours to the painting's (mean and covariance,
# colors.match_palette): the rows alone let a palette drift (Udnie's greys came out violet).
# Measured as in the module docstring, at strength 0.8: 0 gives style ratio 0.305 / content
# 10.5; 0.25: 0.291 / 10.9; 0.5: 0.287 / 11.4; 1: 0.324 / 12.6. Raising the strength to 0.9
# instead buys as much style for more content (0.293 / 11.7).
PALETTE_PULL = 0.25


def describe(vgg: VGG16Features, painting: torch.Tensor) -> torch.Tensor:
    """(B, 3, H, W) -> (B, 1920): each style layer's channel means and log standard deviations."""
    features = vgg(painting, STYLE_LAYERS)
    parts = []
    for name in STYLE_LAYERS:
        x = features[name].float().flatten(2)
        parts += [x.mean(2), torch.log(x.std(2) + 1e-3)]
    return torch.cat(parts, 1)


def zoo_rows(network: TransformerNet) -> dict[str, torch.Tensor]:
    """A network's per-painting rows: {parameter name: (S, C)}."""
    return {name: p for name, p in network.named_parameters() if p.ndim == 2}


class RowPredictor(nn.Module):
    """A painting's description -> {row name: (B, C)}; starts at the mean of the given rows."""

    def __init__(self, rows: dict[str, torch.Tensor], features: int = 1920, hidden: int = 256):
        super().__init__()
        self.sizes = {name: row.shape[1] for name, row in rows.items()}
        self.body = nn.Sequential(
            nn.LayerNorm(features), nn.Linear(features, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU()
        )
        self.out = nn.Linear(hidden, sum(self.sizes.values()))
        nn.init.zeros_(self.out.weight)  # the first prediction is the mean painting, a neutral start
        with torch.no_grad():
            self.out.bias.copy_(torch.cat([row.mean(0) for row in rows.values()]))

    def forward(self, description: torch.Tensor) -> dict[str, torch.Tensor]:
        flat = self.out(self.body(description))
        return dict(zip(self.sizes, flat.split(list(self.sizes.values()), dim=1)))


def one_style(network: TransformerNet, rows: dict[str, torch.Tensor]) -> TransformerNet:
    """``network``'s convolutions with ``rows`` ({name: (1, C)}) as its only style (a plain one-style network, as select gives)."""
    net = TransformerNet(dataclasses.replace(network.config, styles=1))
    state = {k: (rows[k].detach().reshape(-1) if k in rows else v) for k, v in network.state_dict().items()}
    net.load_state_dict(state)
    return net.eval().requires_grad_(False)


@dataclasses.dataclass(frozen=True)
class Reading:
    """What the fast result takes from one painting."""

    rows: dict[str, torch.Tensor]  # lite's rows for it, {name: (1, C)}
    palette: colors.Palette  # its colours


def file_sha256(path: pathlib.Path) -> str:
    return hashlib.sha256(pathlib.Path(path).read_bytes()).hexdigest()


def save(predictor: RowPredictor, lite_file: pathlib.Path, out: pathlib.Path, info: dict) -> pathlib.Path:
    """Publish a trained predictor (fp16) for the lite network in ``lite_file``."""
    from safetensors.torch import save_file

    tensors = {k: v.detach().half().contiguous() for k, v in predictor.state_dict().items()}
    metadata = {"lite_file": pathlib.Path(lite_file).name, "lite_sha256": file_sha256(lite_file), **info}
    save_file(tensors, str(out), metadata={k: json.dumps(v) for k, v in metadata.items()})
    out.chmod(0o644)  # safetensors writes it readable by its owner only
    return out


def read_info(path: pathlib.Path) -> dict:
    """A published predictor's metadata (what ``save`` wrote); StyleTransferError if unreadable."""
    from safetensors import safe_open

    try:
        with safe_open(str(path), "pt") as f:
            return {k: json.loads(v) for k, v in (f.metadata() or {}).items()}
    except (OSError, ValueError) as error:
        raise StyleTransferError(f"cannot read the predictor {path} ({short_error(error)})") from None


class Predicted:
    """The predictor, the lite network it was trained for, and VGG16 to read paintings."""

    def __init__(self, predictor_file=None, lite_file=None):
        """``lite_file``: the network the predictor was trained for (default: the one its
        metadata names, beside it)."""
        from safetensors.torch import load_file

        from styletransfer.perceptual.vgg import pretrained_vgg16

        path = pathlib.Path(predictor_file) if predictor_file is not None else predictor_path()
        if not path.is_file():
            raise StyleTransferError(f"the fast result's predictor is missing: {path}")
        self.info = read_info(path)
        try:
            tensors = load_file(str(path))
            lite_file = pathlib.Path(lite_file or path.parent / self.info["lite_file"])
        except (OSError, KeyError, ValueError) as error:
            raise StyleTransferError(f"cannot read the predictor {path} ({short_error(error)})") from None
        if not lite_file.is_file() or file_sha256(lite_file) != self.info["lite_sha256"]:
            raise StyleTransferError(
                f"the predictor {path.name} was trained for another {lite_file.name}: "
                "retrain it (python -m scripts.style_predictor train, then publish)"
            )
        self.network, _ = read_model(lite_file)
        self.network.eval().requires_grad_(False)
        self.predictor = RowPredictor(zoo_rows(self.network), hidden=tensors["out.weight"].shape[1])
        self.predictor.load_state_dict({k: v.float() for k, v in tensors.items()})
        self.predictor.eval().requires_grad_(False)
        self.vgg = pretrained_vgg16(last_layer=STYLE_LAYERS[-1]).eval().requires_grad_(False)
        self._readings = cache.Recent(PAINTINGS_REMEMBERED)

    @staticmethod
    def trained_for(predictor_file) -> str:
        """The sha256 of the lite file a published predictor was trained for ("" if unreadable)."""
        try:
            return read_info(pathlib.Path(predictor_file)).get("lite_sha256", "")
        except StyleTransferError:
            return ""

    def read(self, painting: torch.Tensor, painting_scale: float = 1.0) -> Reading:
        """A painting's rows and palette, read at DESCRIPTION_SIDE x painting_scale; remembered
        for the last few paintings."""
        universal.check_image(painting, "painting", largest=None)
        side = painting_long_side(0, painting_scale)

        def reading() -> Reading:
            small = images.resize_long_side(painting, side)
            with torch.inference_mode():
                rows = self.predictor(describe(self.vgg, small))
            return Reading(rows, colors.Palette.of(small))

        return self._readings.get((*cache.image_key(painting), side), reading)

    def forget_paintings(self) -> None:
        self._readings.clear()

    def rows(self, paintings: Sequence[torch.Tensor], weights=None, painting_scale: float = 1.0) -> dict:
        """The paintings' rows mixed by ``weights`` (equal by default), as the zoo mixes styles."""
        return _mixed_rows(*self._read_all(paintings, weights, painting_scale))

    def style_network(self, paintings: Sequence[torch.Tensor], weights=None, painting_scale: float = 1.0):
        """A one-style lite network for the paintings (TransformerNet): video, webcam, ONNX."""
        return one_style(self.network, self.rows(paintings, weights, painting_scale))

    def paint(
        self, photo: torch.Tensor, paintings: Sequence[torch.Tensor], settings: universal.Settings | None = None
    ) -> torch.Tensor:
        """(1, 3, H, W) photo in [0, 1] -> painted, (1, 3, H, W). ``settings.strength`` mixes
        the painting with the photo (0 = the photo): at the default 0.8 the result keeps as
        much of the photo as the universal mode's and is painted more (the module docstring).
        Its colours are pulled PALETTE_PULL of the way to the paintings' (the photo's with
        keep_colors)."""
        settings = settings or universal.Settings()
        universal.check_image(photo, "photo")
        w, readings = self._read_all(paintings, settings.weights, settings.painting_scale)
        net = one_style(self.network, _mixed_rows(w, readings))
        with torch.inference_mode():
            painted = net(photo)
        if settings.keep_colors:
            painted = colors.with_chroma_of(painted, photo)
        else:
            palette = colors.Palette.mixed([r.palette for r in readings], w.tolist())
            painted = torch.lerp(painted, colors.match_palette(painted, palette), PALETTE_PULL)
        return torch.lerp(photo, painted, settings.strength)

    def _read_all(self, paintings, weights, painting_scale: float) -> tuple[torch.Tensor, list[Reading]]:
        """(weights summing to 1, each painting's reading)."""
        if not paintings:
            raise StyleTransferError("add at least one painting")
        w = torch.tensor(weights if weights is not None else [1.0] * len(paintings), dtype=torch.float32)
        if len(w) != len(paintings):
            raise StyleTransferError(f"{len(w)} weights for {len(paintings)} paintings")
        return w / w.sum(), [self.read(p, painting_scale) for p in paintings]


def _mixed_rows(weights: torch.Tensor, readings: list[Reading]) -> dict[str, torch.Tensor]:
    return {name: sum(w * r.rows[name] for w, r in zip(weights, readings)) for name in readings[0].rows}


def painting_long_side(output_long_side: int, painting_scale: float) -> int:
    """The long side a painting is read at: DESCRIPTION_SIDE x painting_scale, whatever the
    output's size (lite's strokes have a size in pixels of their own)."""
    return max(MIN_SIDE, round(DESCRIPTION_SIDE * painting_scale))


def predictor_path(folder=None) -> pathlib.Path:
    """The published predictor in ``folder`` (default pretrained/)."""
    return pathlib.Path(folder if folder is not None else zoo.PRETRAINED) / PREDICTOR_FILE


def _key(predictor_file) -> tuple:
    path = pathlib.Path(predictor_file) if predictor_file is not None else predictor_path()
    return ("predicted", str(path), cache.stamp(path))


def is_loaded(predictor_file=None) -> bool:
    """Whether ``load`` answers at once (else it reads VGG16 and the networks: a second or two)."""
    return cache.is_cached(_key(predictor_file))


def load(predictor_file=None) -> Predicted:
    """The predictor, loaded once per process (a changed file loads anew) in the networks' cache."""
    return cache.cached(_key(predictor_file), lambda: Predicted(predictor_file), keep=2)
