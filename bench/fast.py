"""Feed-forward networks: milliseconds per frame and frames per second, torch vs onnxruntime.

    python -m bench.fast [--sizes 256x256 640x360 1280x720 1920x1080] [--seconds 3]

Speed does not depend on what a network learned, so freshly initialised networks are timed
(trained zoo models time the same). On a machine with CUDA, torch on the GPU is added.
Reference points on the 2-core CPU (../shared/NOTES.md): the pytorch/examples network runs
640x360 at 0.88 fps in torch and 1.49 fps in onnxruntime.

Each cell (backend, arch, size) is timed in a process of its own (report.rows_from_child).
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import statistics
import sys
import tempfile
import time

import torch

from bench.report import markdown_table, rows_from_child
from styletransfer.networks import Network
from styletransfer.networks.transformer import ARCHS, TransformerConfig, build, count_macs


def median_seconds(run, seconds: float, warmup: int = 2) -> float:
    for _ in range(warmup):
        run()
    times, start = [], time.perf_counter()
    while time.perf_counter() - start < seconds or len(times) < 3:
        t = time.perf_counter()
        run()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def time_backend(backend: str, args) -> list[list[str]]:
    """Rows for one backend, timed in this process."""
    torch.set_num_threads(args.threads)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["STYLETRANSFER_CACHE"] = tmp  # a fresh export, not one cached by an earlier run
        for arch in args.archs:
            device = "cuda" if backend == "cuda" else "cpu"
            network = Network.from_module(
                build(TransformerConfig(arch=arch)),
                f"bench.{arch}",
                "onnxruntime" if backend == "onnxruntime" else "torch",
                device=device,
                threads=args.threads,
            )
            for size in args.sizes:
                width, height = map(int, size.split("x"))
                image = torch.rand(1, 3, height, width).numpy()
                gmacs = count_macs(build(TransformerConfig(arch=arch)), height, width) / 1e9
                seconds = median_seconds(functools.partial(_run_once, network, image, device), args.seconds)
                rows.append([arch, size, f"{gmacs:.2f}", backend, f"{seconds * 1e3:.1f}", f"{1 / seconds:.1f}"])
                print("  done:", " | ".join(rows[-1]), file=sys.stderr, flush=True)
    return rows


def _run_once(network: Network, image, device: str) -> None:
    network.run(image)  # what the frame path calls: numpy in, numpy out
    if device == "cuda":
        torch.cuda.synchronize()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", nargs="+", default=["256x256", "640x360", "1280x720", "1920x1080"])
    parser.add_argument("--archs", nargs="+", default=list(ARCHS))
    parser.add_argument("--seconds", type=float, default=3.0, help="timing budget per cell")
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--backend", help=argparse.SUPPRESS)  # set for the child processes
    args = parser.parse_args()

    if args.backend:  # a child: time one backend, hand the rows back as JSON
        print(json.dumps(time_backend(args.backend, args)))
        return
    backends = ["torch", "onnxruntime"] + (["cuda"] if torch.cuda.is_available() else [])
    rows = []
    for backend in backends:
        for arch in args.archs:
            for size in args.sizes:
                rows += rows_from_child(
                    __spec__.name,
                    [
                        "--backend",
                        backend,
                        "--sizes",
                        size,
                        "--archs",
                        arch,
                        "--seconds",
                        str(args.seconds),
                        "--threads",
                        str(args.threads),
                    ],
                )
    rows.sort(key=lambda r: (args.archs.index(r[0]), args.sizes.index(r[1]), backends.index(r[3])))

    header = ["arch", "size", "GMACs", "backend", "ms/frame", "fps"]
    print(f"{args.threads} threads, torch {torch.__version__}")
    print(markdown_table(header, rows))


if __name__ == "__main__":
    main()
