"""A pretrained network over a video file: the one recipe the CLI's ``video`` command and the
app's Video tab share.

``check()`` first: it is cheap (output path, dials, the input's streams, the output size), so
a bad file fails in one line before a model is loaded. Then ``stylize()`` runs the network on
every frame, steadied by the temporal blender unless told otherwise, and writes an .mp4 with
the input's sound (see video.stylize_video).
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import torch

from styletransfer import fast, runtime, video, weights
from styletransfer.errors import StyleTransferError

BACKENDS = ("auto", "onnxruntime", "torch")
GPU_BATCH = 8  # frames per network call on a GPU; a CPU gains nothing from batches (bench/video.py)


def network(net, name: str, backend: str = "auto", *, threads: int | None = None):
    """The network a video goes through.

    auto: torch on the GPU when there is one, else onnxruntime. onnxruntime: exported once per
    weights to the cache, 1.3x torch's speed for full and 2.5x for lite at 640x360 on the 2-core
    CPU (bench/fast.py). torch: the module itself, on the GPU when there is one.
    """
    if backend not in BACKENDS:
        raise StyleTransferError(f"unknown backend {backend!r}: choose {', '.join(BACKENDS)}")
    gpu = torch.cuda.is_available()
    if backend == "torch" or (backend == "auto" and gpu):
        return net.cuda() if gpu else net
    return runtime.onnx_model(net, name, weights.cache_dir() / "onnx", threads=threads)


def batch_size_for(net) -> int:
    """GPU_BATCH for a network on a GPU, else 1."""
    return GPU_BATCH if fast.device_of(net).type == "cuda" else 1


def check(src, dst, *, strength: float = 1.0, scale: float = 1.0) -> video.VideoInfo:
    """Raise StyleTransferError now for anything that would make the run fail; returns the input's info."""
    video.check_output_path(dst, src)
    if not 0 <= strength <= 1:
        raise StyleTransferError(f"style strength must be 0..1, got {strength}")
    info = video.probe(src)
    video.output_size(info, scale, Path(src).name)
    return info


def stylize(
    src,
    dst,
    net,
    *,
    strength: float = 1.0,
    keep_colors: bool = False,
    temporal: bool = True,
    scale: float = 1.0,
    callback: Callable[[video.VideoProgress], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    batch_size: int | None = None,
) -> video.VideoResult:
    """Stylise ``src`` with ``net`` (a zoo network or an OnnxModel) into the .mp4 ``dst``.

    temporal: blend each frame with the previous output along the optical flow
    (temporal.TemporalBlender), which removes most of the flicker of per-frame stylisation.
    batch_size: frames per network call (default: batch_size_for(net)); the blender still
    sees them one by one, in order. The rest as in video.stylize_video (stop, progress,
    damaged input).
    """
    blender = None
    if temporal:
        from styletransfer.temporal import TemporalBlender  # OpenCV loads only when used

        blender = TemporalBlender()
    return video.stylize_video(
        src,
        dst,
        lambda frame: fast.apply(net, frame, strength=strength, keep_colors=keep_colors),
        scale=scale,
        postprocess=blender,
        callback=callback,
        should_stop=should_stop,
        batch_size=batch_size if batch_size is not None else batch_size_for(net),
    )
