"""The one way to a runnable feed-forward network: ``load_network(name | file | checkpoint)``.

Whatever the caller (the CLI, every tab of the app, video, the webcam, the benchmarks), a
network to run comes from ``load_network``, ready on its backend and device:

- a zoo name (pretrained/, then a Hub repo: networks/zoo.py), a model ``.safetensors`` with
  its card beside it, a training ``checkpoint.pt`` (training/checkpoint.py writes them), or
  a blend of styles of one several-style model, ``{name: weight, ...}``;
- backend "torch" (the module, on ``device``), "onnxruntime" (exported once per weights to
  the cache, networks/onnx.py; 1.3x torch's speed for full and 2.5x for lite on the 2-core
  CPU, bench/fast.py) or "auto" (torch on a GPU when there is one, else onnxruntime);
- loaded once per process (a style click must not re-read its weights), reloaded when the
  file changes: the process's one cache of networks, networks/cache.py.

Two more entry points, each for one other job:

- ``read_model(path)``: the weights of a model file or checkpoint as stored, with its card,
  for code that trains, grows or re-saves them (training's --init, teachers and --add-style,
  the zoo recipe's publish): a fresh module every call, every style of a several-style file
  kept, never cached, never on a backend. Not for running a model.
- ``Network.from_module(module)``: a runnable Network around a module already in memory (built
  or trained in code: previews of a training run, benchmarks, tests); it reads no file.

A Network runs the frame path: HxWx3 uint8 RGB frames in, the same out (``stylize``), with
the user's dials (strength, keep colours) applied once, on the network's output.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from styletransfer import colors, dials
from styletransfer.errors import StyleTransferError, short_error
from styletransfer.io import frames
from styletransfer.networks import cache, onnx, zoo
from styletransfer.networks.transformer import TransformerConfig, TransformerNet, build

BACKENDS = ("auto", "onnxruntime", "torch")
GPU_BATCH = 8  # frames per network call on a GPU; a CPU gains nothing from batches (bench/video.py)
NETWORKS_KEPT = 32  # load_network's networks in the cache (a blend slider's steps are one each)


def check_strength(strength) -> float:
    """The style mix (dials.STYLE_MIX) as a float; raises its one-line message."""
    return float(dials.STYLE_MIX.check(strength))


# The networks work at 1/4 of the resolution, and what they paint depends on where a pixel
# falls in that 4x4 grid: a camera panning a pixel a frame repaints the finest strokes every
# frame (docs/video.md, "The boil and its cause"). The mean over the input moved by 0 or 2 px
# each way halved that flicker on the shared clips (fox per frame 22 -> 9x the clip's own,
# blended 2.1 -> 1.3x) for 2-3% of contrast; all 16 phases gave 5.9x and 1.0x for 16x the work.
GRID_SHIFTS = ((0, 0), (0, 2), (2, 0), (2, 2))  # (dy, dx)
_GRID_PAD = 2  # the moves are 0 or 2 px: each copy is padded by 2 in all


def grid_averaged(run, batch: torch.Tensor) -> torch.Tensor:
    """``run`` (a network: (N, 3, H, W) -> the same) on ``batch`` averaged over GRID_SHIFTS: one
    call on the 4 moved (reflection-padded) copies, each output moved back. Network.stylize's
    grid_average and training's grid-averaged teacher both paint this way."""
    height, width = batch.shape[-2:]
    moved = [F.pad(batch, (dx, _GRID_PAD - dx, dy, _GRID_PAD - dy), mode="reflect") for dy, dx in GRID_SHIFTS]
    outputs = run(torch.cat(moved)).float().chunk(len(GRID_SHIFTS))
    total = sum(out[..., dy : dy + height, dx : dx + width] for out, (dy, dx) in zip(outputs, GRID_SHIFTS))
    return total / len(GRID_SHIFTS)


class Network:
    """A feed-forward style network on its backend: what it is (``card``) and how it runs.

    ``network(tensor) -> tensor`` for engine tensors (B, 3, H, W) in [0, 1]; ``stylize(frames)``
    for uint8 frames, the path images, video and the webcam share.
    """

    def __init__(
        self,
        module: TransformerNet,
        card: zoo.ModelCard,
        backend: str = "torch",
        *,
        device: str | torch.device | None = None,
        threads: int | None = None,
    ):
        if backend not in BACKENDS:
            raise StyleTransferError(f"unknown backend {backend!r}: choose {', '.join(BACKENDS)}")
        gpu = torch.cuda.is_available()
        if backend == "auto":
            backend = "torch" if gpu else "onnxruntime"
        self.card = card
        self.backend = backend
        self.device = torch.device(device or ("cuda" if gpu and backend == "torch" else "cpu"))
        self.module = module.eval().requires_grad_(False).to(self.device)
        self.session = None
        if backend == "onnxruntime":
            try:
                self.session = onnx.onnx_model(module, self.name, threads=threads)
            except StyleTransferError as error:
                raise StyleTransferError(
                    f"the {self.label} network could not be prepared for onnxruntime: {error}"
                ) from None

    @classmethod
    def from_module(cls, module: TransformerNet, name: str = "untrained", backend: str = "torch", **options) -> Network:
        """A runnable Network around a module already in memory (built or trained in code:
        training previews, benchmarks, tests). It reads no file and caches nothing: to run a
        model file, checkpoint or zoo name, use load_network."""
        return cls(module, zoo.ModelCard(name=name, arch=module.config.arch), backend, **options)

    @property
    def name(self) -> str:
        return f"{self.card.name}.{self.card.arch}"

    @property
    def label(self) -> str:
        """ "The Starry Night (full)": what messages call it."""
        return f"{self.card.title or self.card.name} ({self.card.arch})"

    @property
    def batch_size(self) -> int:
        """Frames per call that pay off: GPU_BATCH on a GPU, else 1."""
        return GPU_BATCH if self.device.type == "cuda" else 1

    def run(self, batch: np.ndarray) -> np.ndarray:
        """(B, 3, H, W) float32 in [0, 1] -> the same, stylised (numpy in and out)."""
        if self.session is not None:
            return self.session.run(batch)
        with torch.inference_mode():
            return self.module(torch.from_numpy(batch).to(self.device)).cpu().numpy()

    def __call__(self, image: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) tensor in [0, 1] -> the same, stylised, on the image's device."""
        if self.session is not None:
            return self.session(image).to(image.device)
        with torch.inference_mode():
            return self.module(image.to(self.device)).to(image.device)

    def stylize(
        self,
        rgb: np.ndarray,
        *,
        strength: float = dials.STYLE_MIX.default,
        keep_colors: bool = False,
        grid_average: bool = False,
    ) -> np.ndarray:
        """(H, W, 3) or (B, H, W, 3) uint8 RGB -> the same shape, stylised.

        strength blends the stylised frame with the photo (0 = photo, 1 = the network's
        output); keep_colors puts the photo's chroma back under the painting's luminance;
        grid_average: the mean of the network run at four phases of its grid (GRID_SHIFTS),
        steadier on slowly moving video for four times the work.
        """
        strength = check_strength(strength)
        batch = frames.to_batch(rgb)  # the one conversion in
        styled = self._grid_averaged(batch) if grid_average else self.run(batch)
        if keep_colors or strength < 1:
            # Zero-copy tensors over the arrays; skipped at the defaults, so the webcam's
            # onnxruntime path runs no torch operator per frame (its idle threads would spin).
            photo, out = torch.from_numpy(batch), torch.from_numpy(styled)
            if keep_colors:
                out = colors.with_chroma_of(out, photo)
            styled = torch.lerp(photo, out, strength).numpy()
        out = frames.from_batch(styled)  # the one conversion out
        return out[0] if np.asarray(rgb).ndim == 3 else out

    def _grid_averaged(self, batch: np.ndarray) -> np.ndarray:
        """run() on (B, 3, H, W) averaged over GRID_SHIFTS (grid_averaged; zero-copy tensors)."""
        return grid_averaged(lambda moved: torch.from_numpy(self.run(moved.numpy())), torch.from_numpy(batch)).numpy()


def load_network(
    source,
    arch: str = dials.ARCH.default,
    *,
    backend: str = "torch",
    device: str | None = None,
    folder=None,
    hub_repo: str | None = None,
    threads: int | None = None,
) -> Network:
    """A ready Network from a zoo name, a model .safetensors, or a training checkpoint.pt (its
    first style, where it holds several), or a blend ``{name: weight}`` of one file's styles.

    folder: where zoo names are looked up (default pretrained/); hub_repo: the Hub repo tried
    next (default $STYLETRANSFER_HUB_REPO). Cached per process; a changed file loads anew.
    """
    if isinstance(source, dict):  # a blend: hashable, and rounded so a slider's steps share entries
        source = tuple(sorted((str(name), round(float(w), 3)) for name, w in source.items()))
    else:
        source = str(source)
    dials.ARCH.check(arch)
    if backend not in BACKENDS:
        raise StyleTransferError(f"unknown backend {backend!r}: choose {', '.join(BACKENDS)}")
    if isinstance(source, tuple):
        place = zoo.find(source[0][0], arch, folder) if source else None
        local = place[0] if place else None
    elif _is_file_source(source):
        local = Path(source)
    else:
        place = zoo.find(source, arch, folder)
        local = place[0] if place else None
    device = str(device) if device else None
    folder = str(folder) if folder else None
    key = ("network", source, arch, backend, device, folder, hub_repo, threads, cache.stamp(local) if local else None)

    def build() -> Network:
        module, card = _read(source, arch, folder, hub_repo)
        return Network(module, card, backend, device=device, threads=threads)

    return cache.cached(key, build, keep=NETWORKS_KEPT)


def _read(source, arch: str, folder, hub_repo) -> tuple[TransformerNet, zoo.ModelCard]:
    """load_network's one-style module and card, read from the source (not cached)."""
    if isinstance(source, tuple):
        return zoo.load_blend(dict(source), arch, folder=folder)
    if source.endswith(".pt"):
        module, card = _read_checkpoint(Path(source))
        return module.select(0), card  # a several-style run: its first style (zoo files name every style)
    try:
        return zoo.load(source, arch, folder=folder, hub_repo=hub_repo)
    except StyleTransferError:
        raise
    except Exception as error:  # a damaged weights file raises its reader's own error type
        raise StyleTransferError(
            f"the {source} network ({arch}) could not be loaded ({short_error(error)}); "
            "re-publish the model or choose another style"
        ) from None


def _is_file_source(source: str) -> bool:
    return source.endswith((".safetensors", ".pt"))


def read_model(path) -> tuple[TransformerNet, zoo.ModelCard]:
    """A model .safetensors (with its card) or a training checkpoint.pt as stored, and its card:
    a fresh module every call, a several-style network kept whole. For code that trains, grows
    or re-saves weights (training's --init, teachers and --add-style; publishing); a network
    to run comes from load_network."""
    path = Path(path)
    if path.suffix == ".safetensors":
        return zoo.load_file(path)
    return _read_checkpoint(path)


def _read_checkpoint(path: Path) -> tuple[TransformerNet, zoo.ModelCard]:
    """The network in a training checkpoint, every style of it: its ``model`` weights (their
    running ``average`` where the run keeps one) built from ``model_config``."""
    if not path.is_file():
        raise StyleTransferError(f"model file not found: {path}")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
        net = build(TransformerConfig(**ckpt["model_config"]))
        # A run's running average of its weights, where it keeps one, is what it is used as.
        net.load_state_dict({**ckpt["model"], **ckpt.get("average", {})})
    except Exception as e:
        raise StyleTransferError(f"{path} is not a training checkpoint that can be loaded ({short_error(e)})") from e
    name = path.parent.name or path.stem
    steps = int(ckpt.get("step", 0))
    return net.eval().requires_grad_(False), zoo.ModelCard(
        name=name, arch=net.config.arch, steps=steps, train_config=dict(ckpt.get("train_config", {}))
    )


def clear_cache() -> None:
    """Forget loaded networks (tests that rewrite a model file in place within a second)."""
    cache.clear()
