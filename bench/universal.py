"""The any-painting fast results: seconds and peak memory by output size, for the predicted
network (styletransfer/predicted.py, the app's default) and the universal mode (universal.py).

    python -m bench.universal [--methods predicted universal] [--sizes 320x240 512x512 1024x768] [--repeats 3]

Per method and size, in a process of its own (report.rows_from_child: peak memory is the
process's): a first answer (a painting never seen: its features read too), a repeat with the
same painting (remembered, as the page does), and the peak resident memory. The photo and the
painting are real (skimage_chelsea, The Starry Night); the networks are the shipped ones,
loaded before timing (the "load" column: the universal mode's export to onnxruntime, the
predictor's VGG16 and lite in torch). Quality against the peer and Gatys: bench/quality.py
--methods predicted universal peer gatys.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
import time
from pathlib import Path

import torch

from bench.report import markdown_table, rows_from_child
from styletransfer import predicted, universal
from styletransfer.io import images

SHARED = Path(__file__).resolve().parent.parent.parent / "shared" / "data"


def measure(method: str, size: str, repeats: int) -> list[str]:
    width, height = map(int, size.split("x"))
    started = time.perf_counter()
    model = universal.Universal() if method == "universal" else predicted.Predicted()
    load = time.perf_counter() - started
    photo = images.resize_to(images.load_tensor(SHARED / "photos" / "skimage_chelsea.jpg"), (height, width))
    painting = images.load_tensor(SHARED / "styles" / "starry_night.jpg", long_side=max(width, height))
    model.paint(images.resize_to(photo, (64, 64)), [painting])  # warm the sessions up
    first, again = [], []
    for _ in range(repeats):
        model.forget_paintings()
        started = time.perf_counter()
        model.paint(photo, [painting])
        first.append(time.perf_counter() - started)
        started = time.perf_counter()
        model.paint(photo, [painting])
        again.append(time.perf_counter() - started)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    seconds = statistics.median(again)
    return [
        method,
        size,
        f"{load:.1f}",
        f"{statistics.median(first):.2f}",
        f"{seconds:.2f}",
        f"{1 / seconds:.2f}",
        f"{peak_mb:.0f}",
    ]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--methods", nargs="+", default=["predicted", "universal"], choices=["predicted", "universal"])
    parser.add_argument("--sizes", nargs="+", default=["320x240", "512x512", "1024x768"])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps([measure(method, size, args.repeats) for method in args.methods for size in args.sizes]))
        return
    rows = []
    for method in args.methods:
        for size in args.sizes:
            options = ["--child", "--methods", method, "--sizes", size, "--repeats", str(args.repeats)]
            rows += rows_from_child(__spec__.name, options)
            print("  done:", " | ".join(rows[-1]), file=sys.stderr, flush=True)
    print(
        f"{os.cpu_count()} threads, torch {torch.__version__}; universal: onnxruntime, deep levels at {universal.DEEP_SCALE}x"
    )
    headers = ["method", "size", "load s", "first answer s", "same painting s", "fps", "peak MB"]
    print(markdown_table(headers, rows))


if __name__ == "__main__":
    main()
