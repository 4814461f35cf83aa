"""Memory of a long video run: peak RSS of `python -m styletransfer video` on 1- and 10-minute clips.

    python -m bench.video_memory [--minutes 1 10] [--size 320x180] [--arch lite]

Frames stream through decode -> network -> encode one at a time, so the peak should not grow
with the clip's length. The clips are made here (a moving test pattern with a tone, 25 fps,
AAC sound), each run is a fresh process, and its peak resident memory comes from the OS
(os.wait4 of the child).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import av
import numpy as np

from bench.report import markdown_table
from styletransfer.networks import ARCHS

REPO = Path(__file__).resolve().parent.parent

FPS = 25
SAMPLE_RATE = 22050


def make_clip(path: Path, minutes: float, width: int, height: int) -> None:
    """A moving gradient with a sine tone: cheap to encode, never the same two frames."""
    frames = round(minutes * 60 * FPS)
    y, x = np.mgrid[0:height, 0:width]
    with av.open(str(path), "w") as out:
        v = out.add_stream("libx264", rate=FPS)
        v.width, v.height, v.pix_fmt = width, height, "yuv420p"
        v.options = {"preset": "ultrafast"}
        a = out.add_stream("aac", rate=SAMPLE_RATE)
        per_frame = SAMPLE_RATE // FPS
        for i in range(frames):
            rgb = np.stack([(x + 3 * i) % 256, (y + 2 * i) % 256, (x + y + i) % 256], axis=-1).astype(np.uint8)
            for packet in v.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")):
                out.mux(packet)
            t = (np.arange(per_frame) + i * per_frame) / SAMPLE_RATE
            tone = (np.sin(2 * np.pi * 440 * t) * 3000).astype(np.int16)[None]
            sound = av.AudioFrame.from_ndarray(tone, format="s16", layout="mono")
            sound.sample_rate, sound.pts = SAMPLE_RATE, i * per_frame
            for packet in a.encode(sound):
                out.mux(packet)
        for stream in (v, a):
            for packet in stream.encode(None):
                out.mux(packet)


def peak_rss_mb(command: list[str]) -> tuple[float, float]:
    """(peak RSS in MB, seconds) of one child process."""
    started = time.perf_counter()
    child = subprocess.Popen(command, cwd=REPO)  # python -m styletransfer from the checkout
    _, status, usage = os.wait4(child.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"error: {' '.join(command)} failed")
    return usage.ru_maxrss / 1024, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, nargs="+", default=[1, 10])
    parser.add_argument("--size", default="320x180")
    parser.add_argument("--arch", default="lite", choices=ARCHS)
    parser.add_argument("--style", default="starry_night")
    args = parser.parse_args()
    width, height = map(int, args.size.split("x"))
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for minutes in args.minutes:
            clip = Path(tmp) / f"{minutes:g}min.mp4"
            make_clip(clip, minutes, width, height)
            out = Path(tmp) / f"{minutes:g}min-styled.mp4"
            mb, seconds = peak_rss_mb(
                [
                    sys.executable,
                    "-m",
                    "styletransfer",
                    "video",
                    str(clip),
                    "-s",
                    args.style,
                    "--arch",
                    args.arch,
                    "-o",
                    str(out),
                    "--quiet",
                ]
            )
            frames = round(minutes * 60 * FPS)
            rows.append([f"{minutes:g} min", str(frames), f"{mb:.0f}", f"{seconds:.0f}", f"{frames / seconds:.1f}"])
            print(" | ".join(rows[-1]), file=sys.stderr, flush=True)
    print(f"{args.size}, {FPS} fps with sound, {args.style} {args.arch}, temporal blend (the defaults)")
    print(markdown_table(["clip", "frames", "peak RSS (MB)", "seconds", "fps"], rows))


if __name__ == "__main__":
    main()
