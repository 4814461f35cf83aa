"""The universal mode: any painting in about a second, no training per painting (Li et al.
2017, "Universal Style Transfer via Feature Transforms").

Coarse to fine over three levels (relu3_1, relu2_1, relu1_1): encode the image with VGG16 up
to the level, give its features the paintings' statistics (wct.py, with regularised
whitening), decode back to an image (networks/decoder.py), and hand that image to the next,
shallower level. The deep level lays down the painting's patterns; shallow ones its colours
and fine strokes.

Encoders (VGG16 slices: the weights the engine already fetches) and decoders (shipped in
pretrained/ as fp16, read by networks/decoder.py) run in onnxruntime, exported once into the
cache. ``load`` keeps the mode in the process's one cache of networks (networks/cache.py),
beside load_network's.
"""

from __future__ import annotations

import pathlib
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from styletransfer import colors, dials, wct
from styletransfer.errors import StyleTransferError
from styletransfer.io import images
from styletransfer.networks import cache, onnx
from styletransfer.networks.decoder import FEATURE_CHANNELS, LAYER, decoders_path, load_decoders
from styletransfer.perceptual.vgg import VGG16Features, deepest

MIN_SIDE = 16  # every working size, the deep one too: relu3_1 (1/4 scale) has 4x4 positions at least
# The output's largest long side (dials.PAINT_SIZE: bench/universal.py's memory; onnxruntime
# keeps a memory arena per session; without them 1.3 GB at 1024x768, but every size ~35% slower).
MAX_SIDE = dials.PAINT_SIZE.high
DEFAULT_SIZE = dials.PAINT_SIZE.default
# Levels, coarse to fine. bench/quality.py at 512 px (3 held-out photos x 5 paintings, strength
# 1, ridge 3): with relu4_1 first, style ratio 0.410, content 14.0, structure 0.18; without
# it 0.415 / 10.7 / 0.36. The level-4 decoder, the least trained, blurs the layout away and
# the later levels paint over that blur; relu3_1 alone still lays down the patterns.
DEEP, SHALLOW = (3,), (2, 1)  # levels: patterns / colours and fine strokes
CASCADE = DEEP + SHALLOW
DEEP_SCALE = 0.75  # the deep level's working size relative to the output's (1.0: slower, a little sharper layout)
# wct.transfer's ridge, in mean eigenvalues. Same bench, strength 1: ridge 0 gives style ratio
# 0.423 / content 15.0; 0.5: 0.400 / 12.9; 1: 0.398 / 12.1; 2: 0.404 / 11.3; 3: 0.415 / 10.7.
RIDGE = 1.0
PAINTINGS_REMEMBERED = 8
KEPT = 4  # loaded modes in the cache (per decoders file, backend and threads; the app uses one)


@dataclass(frozen=True)
class Settings:
    """How one picture is painted, checked when made. ``strength``: the texture strength
    (dials.TEXTURE_STRENGTH); ``painting_scale``: the painting's long side relative to the
    output's (bigger = larger brush strokes)."""

    strength: float = dials.TEXTURE_STRENGTH.default
    keep_colors: bool = False
    painting_scale: float = dials.PAINTING_SCALE.default
    weights: tuple[float, ...] | None = None  # per painting; equal by default

    def __post_init__(self):
        object.__setattr__(self, "strength", dials.TEXTURE_STRENGTH.check(self.strength))
        object.__setattr__(self, "painting_scale", dials.PAINTING_SCALE.check(self.painting_scale))
        if self.weights is not None:
            object.__setattr__(self, "weights", dials.painting_weights(self.weights, len(self.weights)))


def painting_long_side(output_long_side: int, painting_scale: float) -> int:
    """The long side a painting is encoded at (the shallow levels'): callers load it at this
    size, so a huge painting never becomes a huge tensor."""
    return min(MAX_SIDE, max(MIN_SIDE, round(output_long_side * painting_scale)))


class _Encoder(torch.nn.Module):
    """VGG16 from the image up to some layers, returning them in the order given (one ONNX graph)."""

    def __init__(self, state_dict: dict, layers: tuple[str, ...]):
        super().__init__()
        self.layers = layers
        self.vgg = VGG16Features(state_dict, last_layer=deepest(layers))

    def forward(self, image: torch.Tensor):
        out = self.vgg(image, self.layers)
        return out[self.layers[0]] if len(self.layers) == 1 else tuple(out[name] for name in self.layers)


class Universal:
    """Encoders and decoders of every level, loaded once; ``paint`` does the work."""

    def __init__(self, decoders_file=None, *, backend: str = "onnxruntime", threads: int | None = None):
        from styletransfer.perceptual import weights  # the VGG16 weights (fetched once, cached)

        path = pathlib.Path(decoders_file) if decoders_file is not None else decoders_path()
        self.decoders, self.info = load_decoders(path, needed=CASCADE)
        vgg = weights.load_vgg16_state_dict()
        # The photo path re-encodes each level's image up to that level only; a painting is
        # encoded once per working size, every level it needs from one pass.
        encoders = {
            levels: _Encoder(vgg, tuple(LAYER[level] for level in levels))
            for levels in {*((level,) for level in CASCADE), DEEP, SHALLOW}
        }
        self.backend = backend
        if backend == "onnxruntime":
            tag = lambda levels: "".join(map(str, levels))  # noqa: E731
            self._encoders = {
                levels: onnx.onnx_model(
                    net.eval(), f"universal-encoder{tag(levels)}", threads=threads, outputs=len(levels)
                )
                for levels, net in encoders.items()
            }
            self._decoders = {
                level: onnx.onnx_model(
                    net, f"universal-decoder{level}", threads=threads, channels=FEATURE_CHANNELS[level]
                )
                for level, net in self.decoders.items()
                if level in CASCADE
            }
        elif backend == "torch":
            self._encoders, self._decoders = {k: v.eval() for k, v in encoders.items()}, self.decoders
        else:
            raise StyleTransferError(f"backend must be onnxruntime or torch, not {backend!r}")
        self._paintings = cache.Recent(PAINTINGS_REMEMBERED)  # {painting: {level: wct.Statistics}}

    def encode(self, levels: tuple[int, ...], image: torch.Tensor) -> list[torch.Tensor]:
        """The image's features at ``levels`` (a tuple of DEEP, SHALLOW or one level)."""
        net = self._encoders[levels]
        with torch.inference_mode():
            if len(levels) == 1:
                return [net(image)]
            return net.run_all(image) if self.backend == "onnxruntime" else list(net(image))

    def decode(self, level: int, features: torch.Tensor) -> torch.Tensor:
        with torch.inference_mode():
            return self._decoders[level](features.float().contiguous())

    def painting_statistics(
        self, painting: torch.Tensor, long_side: int, deep_scale: float = DEEP_SCALE
    ) -> dict[int, wct.Statistics]:
        """A painting's feature statistics at every level: the deep levels of the painting
        resized to ``long_side * deep_scale``, the shallow ones at ``long_side``. Remembered
        for the last few paintings (the page re-runs one painting on many photos)."""
        key = (*cache.image_key(painting), long_side, deep_scale)
        return self._paintings.get(key, lambda: self._read_painting(painting, long_side, deep_scale))

    def _read_painting(self, painting: torch.Tensor, long_side: int, deep_scale: float) -> dict[int, wct.Statistics]:
        found = {}
        for levels, side in ((DEEP, round(long_side * deep_scale)), (SHALLOW, long_side)):
            resized = images.resize_long_side(painting, max(MIN_SIDE, side))
            for level, features in zip(levels, self.encode(levels, resized)):
                found[level] = wct.statistics(features)
        return found

    def forget_paintings(self) -> None:
        self._paintings.clear()

    def paint(
        self,
        photo: torch.Tensor,
        paintings: Sequence[torch.Tensor],
        settings: Settings = Settings(),
        deep_scale: float = DEEP_SCALE,
        ridge: float = RIDGE,
    ) -> torch.Tensor:
        """(1, 3, H, W) photo in [0, 1] and paintings (1, 3, h, w) -> the painted photo, (1, 3, H, W).

        Deep levels work at ``deep_scale`` of the photo's size (they lay down large patterns,
        and cost most), the shallow ones at full size. ``ridge``: wct.transfer's (benches try others).
        """
        check_image(photo, "photo")
        for painting in paintings:
            check_image(painting, "painting", largest=None)  # resized to the working sizes below
        if settings.weights is not None and len(settings.weights) != len(paintings):
            raise StyleTransferError(f"{len(settings.weights)} weights for {len(paintings)} paintings")
        size = tuple(photo.shape[-2:])
        deep_size = tuple(max(MIN_SIDE, round(side * deep_scale)) for side in size)
        long_side = painting_long_side(max(size), settings.painting_scale)
        targets = [self.painting_statistics(p.contiguous(), long_side, deep_scale) for p in paintings]
        image = images.resize_to(photo, deep_size)
        for level in CASCADE:
            working = deep_size if level in DEEP else size
            if tuple(image.shape[-2:]) != working:
                image = images.resize_to(image, working)
            (features,) = self.encode((level,), image)
            mixed = wct.transfer(features, [t[level] for t in targets], settings.weights, settings.strength, ridge)
            image = self.decode(level, mixed).clamp(0, 1)
        if tuple(image.shape[-2:]) != size:  # sides not divisible by 2
            image = images.resize_to(image, size)
        if settings.keep_colors:
            image = colors.with_chroma_of(image, photo)
        return image


def check_image(image: torch.Tensor, name: str, largest: int | None = MAX_SIDE) -> None:
    if image.ndim != 4 or image.shape[:2] != (1, 3):
        raise StyleTransferError(f"the {name} must be one RGB image, got a tensor of shape {tuple(image.shape)}")
    if min(image.shape[-2:]) < MIN_SIDE:
        raise StyleTransferError(
            f"the {name} is too small ({image.shape[-1]}x{image.shape[-2]}); at least {MIN_SIDE} px a side"
        )
    if largest is not None and max(image.shape[-2:]) > largest:
        raise StyleTransferError(
            f"the {name} is too large ({image.shape[-1]}x{image.shape[-2]}); at most {largest} px a side"
        )


def _key(decoders_file, backend: str, threads: int | None) -> tuple:
    path = pathlib.Path(decoders_file) if decoders_file is not None else decoders_path()
    return ("universal", str(path), backend, threads, cache.stamp(path))


def load(decoders_file=None, backend: str = "onnxruntime", threads: int | None = None) -> Universal:
    """The universal mode, loaded once per process (per file and backend; a changed file loads
    anew) in the networks' cache; concurrent first calls wait for one build instead of
    exporting the networks twice."""
    return cache.cached(
        _key(decoders_file, backend, threads),
        lambda: Universal(decoders_file, backend=backend, threads=threads),
        keep=KEPT,
    )


def is_loaded(decoders_file=None, backend: str = "onnxruntime", threads: int | None = None) -> bool:
    """Whether ``load`` with these arguments answers at once (else it exports and loads: ~10 s)."""
    return cache.is_cached(_key(decoders_file, backend, threads))


def stylize(
    photo: torch.Tensor,
    paintings: Sequence[torch.Tensor],
    *,
    size: int | None = DEFAULT_SIZE,
    settings: Settings = Settings(),
) -> torch.Tensor:
    """Convenience: (1, 3, H, W) images of any size in, the photo painted at ``size`` (long
    side; None = as it is) by the process's loaded mode out."""
    if size is not None:
        photo = images.resize_long_side(photo, size)
    return load().paint(photo, paintings, settings)
