"""Video throughput: frames per second through the whole pipeline (decode, network,
temporal blending, H.264 encode, audio copy), as `python -m styletransfer video` runs it.

    python -m bench.video [--sizes 640x360 1280x720] [--archs lite full] [--frames 60]
                          [--backends torch onnxruntime] [--clip big_buck_bunny_audio.mp4]
                          [--temporal off blend steady]

The clip (1280x720, 25 fps, with sound) is scaled to each size; the first --frames frames
are timed (the run is stopped there, so the file is finished as a user's Stop would), after
a few warm-up frames, each cell in a process of its own (report.rows_from_child). Speed does
not depend on what a network learned: zoo models are used when present, else fresh networks
of the same architecture.

Beside each pipeline run, in the same process and just before it, the same network alone
(Network.run on one frame of the output size, as bench.fast times it) runs as many frames:
"% of network" is how much of the network's speed the whole pipeline keeps. Decoding and
encoding overlap the network (video/stylize.py), so it is high when they fit in the CPU time
the network leaves idle.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from bench.report import markdown_table, rows_from_child
from styletransfer.errors import StyleTransferError
from styletransfer.io import media
from styletransfer.networks import Network, load_network
from styletransfer.networks.transformer import TransformerConfig, build
from styletransfer.video.stylize import VideoProgress, stylize_video

REPO = Path(__file__).resolve().parent.parent

VIDEOS = REPO.parent / "shared" / "data" / "videos"
WARMUP_FRAMES = 3


def network(arch: str, backend: str, threads: int) -> Network:
    """The network as the video command prepares it (load_network: the same ONNX cache)."""
    try:
        return load_network("starry_night", arch, backend=backend, threads=threads)
    except StyleTransferError:
        return Network.from_module(build(TransformerConfig(arch=arch)), f"bench.{arch}", backend, threads=threads)


def fps(src: Path, net, scale: float, frames: int, temporal: str, out: Path) -> float:
    """Frames per second over `frames` frames after the warm-up, whole pipeline; temporal as
    the CLI's --temporal (off, blend, steady)."""
    marks: dict[int, float] = {}

    def progress(event: VideoProgress) -> None:
        marks[event.frames_done] = time.perf_counter()

    stylize_video(
        src,
        out,
        net,
        temporal=temporal != "off",
        grid_average=temporal == "steady",
        scale=scale,
        callback=progress,
        should_stop=lambda: len(marks) >= WARMUP_FRAMES + frames,
    )
    done = sorted(marks)
    first, last = done[WARMUP_FRAMES - 1], done[-1]
    return (last - first) / (marks[last] - marks[first])


def network_fps(net, width: int, height: int, frames: int) -> float:
    """Frames per second of the network alone at this size, over `frames` frames after the
    warm-up: the mean, like the pipeline's, not bench.fast's median."""
    image = np.random.default_rng(0).random((1, 3, height, width), dtype=np.float32)
    for _ in range(WARMUP_FRAMES):
        net.run(image)
    start = time.perf_counter()
    for _ in range(frames):
        net.run(image)
    return frames / (time.perf_counter() - start)


def time_cell(src: Path, info, size: str, arch: str, backend: str, args) -> list[list[str]]:
    """Rows for one size, arch and backend, one per --temporal mode. The network alone
    and the pipeline alternate --repeats times (the machine's speed drifts by tens of percent
    within minutes: neighbours in time compare best); medians of each and of the ratios."""
    scale = int(size.split("x")[0]) / info.width
    width, height = media.output_size(info, scale)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        net = network(arch, backend, args.threads)
        for temporal in args.temporal:
            alone, rates = [], []
            for _ in range(args.repeats):
                alone.append(network_fps(net, width, height, args.frames))
                rates.append(fps(src, net, scale, args.frames, temporal, tmp / "out.mp4"))
            rate, share = statistics.median(rates), statistics.median(r / a for r, a in zip(rates, alone))
            rows.append(
                [
                    size,
                    arch,
                    backend,
                    temporal,
                    f"{rate:.2f}",
                    f"{1000 / rate:.1f}",
                    f"{statistics.median(alone):.2f}",
                    f"{100 * share:.0f}%",
                ]
            )
    return rows


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clip", default="big_buck_bunny_audio.mp4")
    parser.add_argument("--sizes", nargs="+", default=["640x360", "1280x720"])
    parser.add_argument("--archs", nargs="+", default=["lite", "full"])
    parser.add_argument("--backends", nargs="+", default=["onnxruntime", "torch"])
    parser.add_argument("--frames", type=int, default=60)
    parser.add_argument(
        "--temporal", nargs="+", default=["off", "blend"], choices=["off", "blend", "steady"], help="as video's"
    )
    parser.add_argument("--repeats", type=int, default=3, help="alternations of network alone and pipeline")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)  # times one size/arch/backend
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)

    src = VIDEOS / args.clip
    info = media.probe(src)
    if args.child:
        print(json.dumps(time_cell(src, info, args.sizes[0], args.archs[0], args.backends[0], args)))
        return
    rows = []
    for size in args.sizes:
        for arch in args.archs:
            for backend in args.backends:
                rows += rows_from_child(
                    __spec__.name,
                    [
                        "--child",
                        "--clip",
                        args.clip,
                        "--sizes",
                        size,
                        "--archs",
                        arch,
                        "--backends",
                        backend,
                        "--frames",
                        str(args.frames),
                        "--threads",
                        str(args.threads),
                        "--repeats",
                        str(args.repeats),
                        "--temporal",
                        *args.temporal,
                    ],
                )
                for row in rows[-len(args.temporal) :]:
                    print(" | ".join(row), file=sys.stderr, flush=True)

    header = ["size", "arch", "backend", "temporal", "fps", "ms/frame", "network fps", "% of network"]
    print(
        f"\n{args.clip} ({info.width}x{info.height}, {info.fps:g} fps), {args.frames} frames, {args.threads} threads; "
        "decode + network + blend + H.264 encode + audio copy"
    )
    print(markdown_table(header, rows))


if __name__ == "__main__":
    main()
