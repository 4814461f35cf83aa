"""A run's log on disk: losses.csv (one row per log interval) and losses.png, its curves."""

from __future__ import annotations

import csv
import math
from pathlib import Path

from styletransfer.files import atomic_write

# Every loss term a run can have, in the order of the CSV's columns and the plot's legend.
TERMS = ("content", "style", "tv", "temporal", "distill", "reconstruct", "period", "shift")
CSV_COLUMNS = ("step", *TERMS, "total", "seconds")


def read_csv(path: Path) -> list[dict[str, float]]:
    if not path.is_file():
        return []
    with open(path, newline="") as f:
        # A column the file predates reads as 0, so older runs resume and plot as before.
        return [{k: float(row.get(k) or 0) for k in CSV_COLUMNS} for row in csv.DictReader(f)]


def write_csv(path: Path, rows: list[dict[str, float]]) -> None:
    def write(tmp):
        with open(tmp, "w", newline="") as f:
            writer = csv.DictWriter(f, CSV_COLUMNS)
            writer.writeheader()
            for row in rows:
                writer.writerow({k: _fmt(row[k]) for k in CSV_COLUMNS})

    atomic_write(path, write)


def _fmt(value: float) -> str:
    return str(int(value)) if float(value).is_integer() and abs(value) < 1e15 else f"{value:.6g}"


def plot_losses(rows: list[dict[str, float]], path: Path, size: tuple[int, int] = (720, 400)) -> None:
    """A log-scale loss curve drawn with Pillow: one line per non-zero loss term."""
    from PIL import Image, ImageDraw

    width, height = size
    left, right, top, bottom = 60, 110, 20, 30
    im = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(im)
    palette = [
        (31, 119, 180),
        (214, 39, 40),
        (44, 160, 44),
        (148, 103, 189),
        (255, 127, 14),
        (140, 86, 75),
        (227, 119, 194),
    ]
    colors = {"total": (0, 0, 0), **dict(zip(TERMS, palette))}
    series = {k: [(r["step"], r[k]) for r in rows if r[k] > 0 and math.isfinite(r[k])] for k in colors}
    series = {k: v for k, v in series.items() if v}
    draw.rectangle([left, top, width - right, height - bottom], outline=(128, 128, 128))
    if series:
        steps = [s for v in series.values() for s, _ in v]
        logs = [math.log10(y) for v in series.values() for _, y in v]
        x0, x1 = min(steps), max(max(steps), min(steps) + 1)
        y0, y1 = math.floor(min(logs)), math.ceil(max(logs))
        y1 = max(y1, y0 + 1)

        def xy(step, value):
            x = left + (step - x0) / (x1 - x0) * (width - left - right)
            y = height - bottom - (math.log10(value) - y0) / (y1 - y0) * (height - top - bottom)
            return x, y

        for decade in range(y0, y1 + 1):
            _, y = xy(x0, 10.0**decade)
            draw.line([left, y, width - right, y], fill=(230, 230, 230))
            draw.text((4, y - 6), f"1e{decade}", fill=(80, 80, 80))
        draw.text((left, height - bottom + 8), f"step {x0:g}", fill=(80, 80, 80))
        draw.text((width - right - 60, height - bottom + 8), f"step {x1:g}", fill=(80, 80, 80))
        for k, (name, points) in enumerate(series.items()):
            coords = [xy(s, v) for s, v in points]
            if len(coords) == 1:
                x, y = coords[0]
                draw.ellipse([x - 2, y - 2, x + 2, y + 2], fill=colors[name])
            else:
                draw.line(coords, fill=colors[name], width=2)
            draw.text((width - right + 10, top + 16 * k), name, fill=colors[name])
    atomic_write(path, lambda tmp: im.save(tmp, format="PNG"))
