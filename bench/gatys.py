"""Gatys et al.: speed and loss of single-scale vs coarse-to-fine, L-BFGS vs Adam.

    python -m bench.gatys [--sizes 256 512] [--steps 100] [--seconds 30] [--only WORD ...] [--exact]

Every run's image is scored with the same full-resolution loss (upsampled first when a
coarse-to-fine run is still at a coarse scale), so the numbers compare. Scoring time is
not counted; a run from the fast result (the universal mode, styletransfer/universal.py)
counts the seconds that result took. Goal: coarse-to-fine L-BFGS reaches the loss that single-scale L-BFGS from
the photo reaches after --steps steps in at most half the time.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
import time
from pathlib import Path

import torch

from bench.report import markdown_table
from styletransfer import universal
from styletransfer.gatys import GatysConfig, iterate
from styletransfer.io import images
from styletransfer.perceptual.loss import LossWeights, PerceptualLoss
from styletransfer.perceptual.vgg import deepest, pretrained_vgg16

SHARED = Path(__file__).resolve().parent.parent.parent / "shared" / "data"
# name: (config overrides, step budget as a multiple of --steps). Coarse steps are cheap,
# so a coarse-to-fine run can afford more of them in the same time: the 2x row shows that.
METHODS = {
    "L-BFGS single-scale": (dict(optimizer="lbfgs", coarse_to_fine=False), 1),
    "L-BFGS coarse-to-fine": (dict(optimizer="lbfgs", coarse_to_fine=True), 1),
    "L-BFGS coarse-to-fine 2x steps": (dict(optimizer="lbfgs", coarse_to_fine=True), 2),
    "L-BFGS coarse-to-fine from 128 px, 2x steps": (dict(optimizer="lbfgs", coarse_to_fine=True, min_size=128), 2),
    "L-BFGS coarse-to-fine from the fast result": (dict(optimizer="lbfgs", coarse_to_fine=True, init="fast"), 1),
    "Adam single-scale": (dict(optimizer="adam", coarse_to_fine=False), 1),
    "Adam coarse-to-fine": (dict(optimizer="adam", coarse_to_fine=True), 1),
}


def run(content, style, config, net, eval_every):
    """Returns per-step times at the final scale and a curve of (optimisation seconds, losses)."""
    photo = images.resize_long_side(content, config.size)
    painting = images.resize_long_side(style, config.size)
    judge = PerceptualLoss(
        [painting],
        content_layers=config.content_layers,
        style_layers=config.style_layers,
        weights=LossWeights(config.content_weight, config.style_weight, config.tv_weight),
        lossnet=net,
    )
    target = judge.encode_content(photo)
    curve, step_times, scoring = [], [], 0.0
    head_start, fast = 0.0, None
    if config.init == "fast":
        universal.load()  # loaded once, as in the app: not counted
        started = time.perf_counter()
        fast = universal.stylize(content, [style], size=config.size)
        head_start = time.perf_counter() - started
        config = dataclasses.replace(config, init="content")  # the start is the fast result, handed over
    last = time.perf_counter()
    for event in iterate(content, [style], config, lossnet=net, start=fast):
        now = time.perf_counter()
        if event.scale == event.num_scales - 1:
            step_times.append(now - last)
        if event.step % eval_every == 0 or event.done:
            image = images.resize_to(event.image, tuple(photo.shape[-2:]))
            with torch.no_grad():
                losses = {k: float(v) for k, v in judge(image, target).items()}
            curve.append((head_start + event.elapsed - scoring, losses))
            scoring += time.perf_counter() - now
        last = time.perf_counter()
    return step_times, curve


def time_to_reach(curve, total):
    return next((t for t, losses in curve if losses["total"] <= total), float("nan"))


def at_time(curve, seconds):
    reached = [losses for t, losses in curve if t <= seconds]
    return reached[-1]["total"] if reached else float("nan")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 512])
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument(
        "--seconds", type=float, nargs="+", default=[20, 60], help="wall-time budgets to report the loss at"
    )
    parser.add_argument("--eval-every", type=int, default=5)
    parser.add_argument("--content", default=str(SHARED / "photos" / "skimage_chelsea.jpg"))
    parser.add_argument("--style", default=str(SHARED / "styles" / "starry_night.jpg"))
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--only", nargs="+", help="run only methods whose name contains one of these words")
    parser.add_argument("--exact", action="store_true", help="--only gives whole method names")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    content, style = images.load_tensor(args.content), images.load_tensor(args.style)
    base = GatysConfig()
    net = pretrained_vgg16(last_layer=deepest((*base.content_layers, *base.style_layers)))
    print(
        f"content {Path(args.content).name}, style {Path(args.style).name}, {args.steps} steps, {args.threads} threads"
    )
    header = ["size", "method", "steps", "s/step", "total s", "style", "content", "loss"]
    header += [f"loss@{s:g}s" for s in args.seconds] + ["time to L-BFGS loss", "vs L-BFGS"]
    rows = []
    for size in args.sizes:
        reference = None
        for name, (overrides, multiple) in METHODS.items():
            if args.only and not any(word == name if args.exact else word in name for word in args.only):
                continue
            config = GatysConfig(size=size, steps=args.steps * multiple, **overrides)
            step_times, curve = run(content, style, config, net, args.eval_every)
            seconds, final = curve[-1]
            if reference is None:  # the first method, single-scale L-BFGS, sets the bar
                reference = (final["total"], seconds)
            reach = time_to_reach(curve, reference[0])
            rows.append(
                [
                    str(size),
                    name,
                    str(config.steps),
                    f"{statistics.median(step_times):.2f}",
                    f"{seconds:.1f}",
                    f"{final['style']:.4f}",
                    f"{final['content']:.3f}",
                    f"{final['total']:.2f}",
                    *[f"{at_time(curve, s):.2f}" for s in args.seconds],
                    f"{reach:.1f}",
                    f"{reach / reference[1]:.0%}" if reach == reach else "not reached",
                ]
            )
            print("  done:", " | ".join(rows[-1]), file=sys.stderr, flush=True)
    print(markdown_table(header, rows))


if __name__ == "__main__":
    main()
