"""The one way to get a feed-forward network: ``load_network(name | file | checkpoint)``.

Whatever the caller (the CLI, every tab of the app, video, the webcam, training's --init and
teachers, the benchmarks), a network comes from here, ready on its backend and device:

- a zoo name (pretrained/, then a Hub repo: networks/zoo.py), a model ``.safetensors`` with
  its card beside it, a training ``checkpoint.pt`` (training/checkpoint.py writes them), or
  a blend of styles of one several-style model, ``{name: weight, ...}``;
- backend "torch" (the module, on ``device``), "onnxruntime" (exported once per weights to
  the cache, networks/onnx.py; 1.3x torch's speed for full and 2.5x for lite on the 2-core
  CPU, bench/fast.py) or "auto" (torch on a GPU when there is one, else onnxruntime);
- loaded once per process (a style click must not re-read its weights), reloaded when the
  file changes.

A Network runs the frame path: HxWx3 uint8 RGB frames in, the same out (``stylize``), with
the user's dials (strength, keep colours) applied once, on the network's output.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import torch

from styletransfer import colors
from styletransfer.errors import StyleTransferError, short_error
from styletransfer.io import frames
from styletransfer.networks import onnx, zoo
from styletransfer.networks.transformer import ARCHS, TransformerConfig, TransformerNet, build

BACKENDS = ("auto", "onnxruntime", "torch")
DEFAULT_STRENGTH = 1.0  # the full style; 0 gives the photo back
GPU_BATCH = 8  # frames per network call on a GPU; a CPU gains nothing from batches (bench/video.py)


def check_strength(strength) -> float:
    if isinstance(strength, bool) or not isinstance(strength, (int, float)) or not 0 <= strength <= 1:
        raise StyleTransferError(f"style strength must be 0..1, got {strength}")
    return float(strength)


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
        """A network built in code (tests, benchmarks) rather than loaded from a file."""
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

    def stylize(self, rgb: np.ndarray, *, strength: float = DEFAULT_STRENGTH, keep_colors: bool = False) -> np.ndarray:
        """(H, W, 3) or (B, H, W, 3) uint8 RGB -> the same shape, stylised.

        strength blends the stylised frame with the photo (0 = photo, 1 = the network's
        output); keep_colors puts the photo's chroma back under the painting's luminance.
        """
        strength = check_strength(strength)
        batch = frames.to_batch(rgb)  # the one conversion in
        styled = self.run(batch)
        if keep_colors or strength < 1:
            # Zero-copy tensors over the arrays; skipped at the defaults, so the webcam's
            # onnxruntime path runs no torch operator per frame (its idle threads would spin).
            photo, out = torch.from_numpy(batch), torch.from_numpy(styled)
            if keep_colors:
                out = colors.with_chroma_of(out, photo)
            styled = torch.lerp(photo, out, strength).numpy()
        out = frames.from_batch(styled)  # the one conversion out
        return out[0] if np.asarray(rgb).ndim == 3 else out


def load_network(
    source,
    arch: str = "full",
    *,
    backend: str = "torch",
    device: str | None = None,
    folder=None,
    hub_repo: str | None = None,
    threads: int | None = None,
) -> Network:
    """A ready Network from a zoo name, a model .safetensors, or a training checkpoint.pt.

    folder: where zoo names are looked up (default pretrained/); hub_repo: the Hub repo tried
    next (default $STYLETRANSFER_HUB_REPO). Cached per process; a changed file loads anew.
    """
    if isinstance(source, dict):  # a blend: hashable, and rounded so a slider's steps share entries
        source = tuple(sorted((str(name), round(float(w), 3)) for name, w in source.items()))
    else:
        source = str(source)
    if arch not in ARCHS:
        raise StyleTransferError(f"unknown arch {arch!r}: choose one of {', '.join(ARCHS)}")
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
    stamp = None
    if local is not None and local.is_file():
        stat = local.stat()
        stamp = (stat.st_mtime_ns, stat.st_size)
    return _load(
        source,
        arch,
        backend,
        str(device) if device else None,
        str(folder) if folder else None,
        hub_repo,
        threads,
        stamp,
    )


@functools.lru_cache(maxsize=32)
def _load(source, arch, backend, device, folder, hub_repo, threads, stamp) -> Network:
    del stamp  # part of the cache key only
    if isinstance(source, tuple):
        module, card = zoo.load_blend(dict(source), arch, folder=folder)
    elif source.endswith(".pt"):
        module, card = read_checkpoint(Path(source))
    else:
        try:
            module, card = zoo.load(source, arch, folder=folder, hub_repo=hub_repo)
        except StyleTransferError:
            raise
        except Exception as error:  # a damaged weights file raises its reader's own error type
            raise StyleTransferError(
                f"the {source} network ({arch}) could not be loaded ({short_error(error)}); "
                "re-publish the model or choose another style"
            ) from None
    return Network(module, card, backend, device=device, threads=threads)


def _is_file_source(source: str) -> bool:
    return source.endswith((".safetensors", ".pt"))


def load_module(source) -> TransformerNet:
    """The torch module in a model .safetensors or a training checkpoint.pt, as trained: a
    several-style network stays one (training's --init and teachers; everything that runs a
    network takes load_network's one-style Network instead)."""
    path = Path(source)
    if path.suffix == ".safetensors":
        return zoo.load_file(path)[0]
    return read_checkpoint(path, select=False)[0]


def read_checkpoint(path: Path, select: bool = True) -> tuple[TransformerNet, zoo.ModelCard]:
    """The network in a training checkpoint: its ``model`` weights (their running ``average``
    where the run keeps one) built from ``model_config``
    (a several-style run's first style, unless ``select`` is False)."""
    if not path.is_file():
        raise StyleTransferError(f"model file not found: {path}")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
        net = build(TransformerConfig(**ckpt["model_config"]))
        # A run's running average of its weights, where it keeps one, is what it is used as.
        net.load_state_dict({**ckpt["model"], **ckpt.get("average", {})})
        if select:
            net = net.select(0)  # a several-style run: its first style (zoo files name every style)
    except Exception as e:
        raise StyleTransferError(f"{path} is not a training checkpoint that can be loaded ({short_error(e)})") from e
    name = path.parent.name or path.stem
    steps = int(ckpt.get("step", 0))
    return net.eval().requires_grad_(False), zoo.ModelCard(
        name=name, arch=net.config.arch, steps=steps, train_config=dict(ckpt.get("train_config", {}))
    )


def clear_cache() -> None:
    """Forget loaded networks (tests that rewrite a model file in place within a second)."""
    _load.cache_clear()
