"""Quality of the zoo's models: style and content loss of full and lite next to Gatys.

    python -m bench.quality [--folder pretrained/] [--only NAME ...] [--photos 4] [--size 512]
                            [--gatys-steps 100] [--out artifacts/quality/]

For every style in the zoo and every held-out photo (the photos its card's training config
excluded: never trained on), the full and lite outputs and a Gatys result for the same photo and painting are scored
with one yardstick, so the numbers compare across methods:

- style loss: the perceptual loss's style term (perceptual/loss.py: relative Gram error averaged
  over relu1_2, relu2_2, relu3_3, relu4_3), output against the painting, the painting at the card's style_size (the size
  the networks were trained against). Gatys runs with style_scale = style_size / size, so it
  optimises toward that same painting.
- content loss: perceptual.loss.relative_mse of features at relu2_2 (the networks' training target)
  and at relu4_2 (Gatys'), output against the photo.

Lower is better for both; they pull against each other, so read them together and look at
the contact sheets (painting | photo | full | lite | gatys per row) written to --out.
Seconds per image: feed-forward in torch eager, Gatys for --gatys-steps steps.
"""

from __future__ import annotations

import argparse
import fnmatch
import math
import statistics
import sys
import time
from pathlib import Path

import torch
from tqdm import tqdm

from bench.report import markdown_table
from styletransfer import gatys
from styletransfer.errors import StyleTransferError
from styletransfer.io import images
from styletransfer.io.images import IMAGE_SUFFIXES
from styletransfer.networks import ARCHS, load_network, zoo
from styletransfer.perceptual.loss import STYLE_LAYERS, PerceptualLoss, relative_mse
from styletransfer.perceptual.vgg import VGG16Features, deepest, pretrained_vgg16
from styletransfer.training import TrainConfig

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared" / "data"
CONTENT_LAYERS = ("relu2_2", "relu4_2")
METHODS = (*ARCHS, "gatys")


# ------------------------------------------------------------------------- the yardstick


def lossnet() -> VGG16Features:
    """The ImageNet VGG16, deep enough for every layer measured here."""
    return pretrained_vgg16(last_layer=deepest((*STYLE_LAYERS, *CONTENT_LAYERS)))


def yardstick(net: VGG16Features, painting: torch.Tensor) -> PerceptualLoss:
    """The perceptual loss against one painting, its Gram matrices encoded once."""
    return PerceptualLoss([painting], content_layers=CONTENT_LAYERS, style_layers=STYLE_LAYERS, lossnet=net)


@torch.no_grad()
def content_losses(net: VGG16Features, image: torch.Tensor, photo: torch.Tensor) -> dict[str, float]:
    """Relative feature error at each of CONTENT_LAYERS; 0 for the photo itself."""
    image = images.resize_to(image, tuple(photo.shape[-2:]))  # a no-op for same-size outputs
    ours, theirs = net(image, CONTENT_LAYERS), net(photo, CONTENT_LAYERS)
    return {n: float(relative_mse(ours[n].float(), theirs[n].float())) for n in CONTENT_LAYERS}


# ------------------------------------------------------------------------------ inputs


def held_out_photos(folder: Path, count: int, patterns: tuple[str, ...]) -> list[Path]:
    """The first ``count`` photos (sorted by name) matching ``patterns``: the photos the zoo's
    training excluded (its cards' train_config["exclude"])."""
    if not folder.is_dir():
        raise StyleTransferError(f"photo folder not found: {folder}; pass --photo-dir")
    if not patterns:
        raise StyleTransferError("the models' cards name no held-out photos (train_config['exclude']): nothing is safe to judge on")
    found = sorted(
        p for p in folder.iterdir()
        if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES and any(fnmatch.fnmatch(p.name, x) for x in patterns)
    )
    if not found:
        raise StyleTransferError(f"no held-out photos ({', '.join(patterns)}) in {folder}; pass --photo-dir")
    return found[:count]


def held_out_patterns(styles: dict[str, dict[str, zoo.ModelCard]]) -> tuple[str, ...]:
    """Photo patterns every measured model's training excluded."""
    excluded = [set(card.train_config.get("exclude", ())) for cards in styles.values() for card in cards.values()]
    return tuple(sorted(set.intersection(*excluded))) if excluded else ()


def painting_path(card: zoo.ModelCard) -> Path:
    """The painting a model was trained on: its recorded path, else the shared styles folder."""
    recorded = card.painting or str(card.train_config.get("style", ""))  # a several-style file's entry, or the run's painting
    if not recorded:
        raise StyleTransferError(f"model {card.name} ({card.arch}): its card records no painting (painting, or train_config['style'])")
    candidates = [Path(recorded), REPO / recorded, SHARED / "styles" / Path(recorded).name]
    for path in candidates:
        if path.is_file():
            return path
    raise StyleTransferError(
        f"model {card.name} ({card.arch}): painting {recorded} not found, nor {candidates[-1]}; "
        "put the painting there or fix the card's train_config['style']"
    )


def zoo_styles(folder: Path, only: list[str] | None) -> dict[str, dict[str, zoo.ModelCard]]:
    """{style name: {arch: card}} for the models in folder, optionally only some names."""
    styles: dict[str, dict[str, zoo.ModelCard]] = {}
    for card in zoo.available(folder):
        if card.arch in ARCHS:
            styles.setdefault(card.name, {})[card.arch] = card
    if not styles:
        raise StyleTransferError(f"no models in {folder}; pass --folder with NAME.ARCH.safetensors + .json files")
    if only:
        unknown = sorted(set(only) - set(styles))
        if unknown:
            raise StyleTransferError(f"no model named {', '.join(unknown)} in {folder}; available: {', '.join(styles)}")
        styles = {name: archs for name, archs in styles.items() if name in only}
    return styles


# ------------------------------------------------------------------------------ outputs


def contact_sheet(rows: list[list[torch.Tensor | None]], labels: list[str], cell: int):
    """A PIL image: one row of cells per photo, each image fitted into a cell x cell box."""
    from PIL import Image, ImageDraw

    header = 18
    sheet = Image.new("RGB", (cell * len(labels), header + cell * len(rows)), "white")
    draw = ImageDraw.Draw(sheet)
    for col, label in enumerate(labels):
        draw.text((col * cell + 4, 3), label, fill=(0, 0, 0))
    for r, row in enumerate(rows):
        for col, image in enumerate(row):
            if image is None:
                continue
            tile = images.to_pil(images.resize_long_side(image, cell))
            x = col * cell + (cell - tile.width) // 2
            y = header + r * cell + (cell - tile.height) // 2
            sheet.paste(tile, (x, y))
    return sheet


def ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}x" if b > 0 else "n/a"


def geomean(values: list[float]) -> float:
    values = [v for v in values if v > 0 and math.isfinite(v)]
    return math.exp(statistics.fmean(math.log(v) for v in values)) if values else float("nan")


# --------------------------------------------------------------------------------- run


def measure_style(name, cards, photos, args, net, progress) -> tuple[dict[str, dict[str, float]], list]:
    """Averages {method: {metric: value}} over the photos, and the contact-sheet rows."""
    first = next(iter(cards.values()))
    path = painting_path(first)
    style_size = int(first.train_config.get("style_size", TrainConfig().style_size))
    painting = images.load_tensor(path, long_side=style_size)
    loss = yardstick(net, painting)
    models = {arch: load_network(name, arch, folder=args.folder) for arch in ARCHS if arch in cards}
    methods = [m for m in METHODS if m in models or (m == "gatys" and args.gatys_steps > 0)]
    # Gatys matches the painting at size * style_scale: make that the yardstick's style_size.
    scale = min(4.0, max(0.05, style_size / args.size))
    if scale != style_size / args.size:
        tqdm.write(f"note: {name}: Gatys style scale {style_size / args.size:g} clamped to {scale:g}; "
                   f"its painting is not at the yardstick's {style_size} px", file=sys.stderr)
    config = gatys.GatysConfig(size=args.size, steps=max(1, args.gatys_steps), style_scale=scale)
    scores = {m: [] for m in methods}
    sheet_rows = []
    for k, photo_path in enumerate(photos):
        photo = images.load_tensor(photo_path, long_side=args.size)
        if k == 0:
            for model in models.values():  # untimed warm-up: first-call allocations are not the net's speed
                model(photo)
        outputs = {}
        for method in methods:
            start = time.perf_counter()
            if method == "gatys":
                output = gatys.stylize(photo, [painting], config, lossnet=net)
            else:
                output = models[method](photo)
            seconds = time.perf_counter() - start
            outputs[method] = output
            scores[method].append({"style": loss.style_distance(output), **content_losses(net, output, photo), "seconds": seconds})
            progress.update(1)
        sheet_rows.append([painting, photo, *(outputs.get(m) for m in METHODS)])
    averages = {m: {key: statistics.fmean(s[key] for s in runs) for key in runs[0]} for m, runs in scores.items()}
    return averages, sheet_rows


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--folder", type=Path, default=zoo.PRETRAINED, help="zoo folder (NAME.ARCH.safetensors + .json)")
    parser.add_argument("--only", nargs="+", metavar="NAME", help="measure only these styles")
    parser.add_argument("--photo-dir", type=Path, default=SHARED / "photos")
    parser.add_argument("--photos", type=int, default=4, help="how many held-out photos (the first N by name)")
    parser.add_argument("--size", type=int, default=512, help="output long side in pixels")
    parser.add_argument("--gatys-steps", type=int, default=100, help="0 skips Gatys")
    parser.add_argument("--out", type=Path, default=REPO / "artifacts" / "quality", help="folder for the contact sheets")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.photos < 1:
        parser.error("--photos must be >= 1")
    if not gatys.MIN_SIZE <= args.size <= gatys.MAX_SIZE:
        parser.error(f"--size must be {gatys.MIN_SIZE}..{gatys.MAX_SIZE}")
    if args.gatys_steps < 0:
        parser.error("--gatys-steps must be >= 0")

    try:
        styles = zoo_styles(args.folder, args.only)
        photos = held_out_photos(args.photo_dir, args.photos, held_out_patterns(styles))
        for cards in styles.values():
            painting_path(next(iter(cards.values())))  # fail now, not after an hour
        net = lossnet()
        args.out.mkdir(parents=True, exist_ok=True)
        per_image = sum(len(c) for c in styles.values()) + (args.gatys_steps > 0) * len(styles)
        results, sheets = {}, []
        with tqdm(total=per_image * len(photos), desc="outputs", unit="img", file=sys.stderr) as progress:
            for name, cards in styles.items():
                results[name], rows = measure_style(name, cards, photos, args, net, progress)
                labels = ["painting", "photo", *(m for m in METHODS if m in results[name] or m in ARCHS)]
                rows = [row[: len(labels)] for row in rows]
                sheet = args.out / f"{name}_{args.size}.png"
                images.save_image(contact_sheet(rows, labels, min(args.size, 512)), sheet)
                sheets.append(sheet)
    except StyleTransferError as error:
        sys.exit(f"error: {error}")

    print(f"{len(photos)} held-out photos ({', '.join(p.name for p in photos)}), {args.size} px, "
          f"Gatys {args.gatys_steps} steps, {args.threads} threads; lower losses are better")
    header = ["style", "method", "style loss", "content relu2_2", "content relu4_2", "s/image"]
    rows = [
        [name, method, f"{r['style']:.4f}", f"{r['relu2_2']:.3f}", f"{r['relu4_2']:.3f}", f"{r['seconds']:.2f}"]
        for name, by_method in results.items() for method, r in by_method.items()
    ]
    print(markdown_table(header, rows))

    print("\nSummary (ratios to full; style loss above 1x is style that lite or Gatys gives up):")
    lite_style, lite_speed = [], []
    for name, r in results.items():
        parts = []
        if "full" in r and "lite" in r:
            lite_style.append(r["lite"]["style"] / r["full"]["style"] if r["full"]["style"] > 0 else float("nan"))
            lite_speed.append(r["full"]["seconds"] / r["lite"]["seconds"] if r["lite"]["seconds"] > 0 else float("nan"))
            parts.append(f"lite style loss {ratio(r['lite']['style'], r['full']['style'])}, "
                         f"content relu4_2 {ratio(r['lite']['relu4_2'], r['full']['relu4_2'])}, "
                         f"{ratio(r['full']['seconds'], r['lite']['seconds'])} faster")
        if "full" in r and "gatys" in r:
            parts.append(f"Gatys style loss {ratio(r['gatys']['style'], r['full']['style'])}, "
                         f"content relu4_2 {ratio(r['gatys']['relu4_2'], r['full']['relu4_2'])}")
        print(f"- {name}: " + ("; ".join(parts) if parts else "only one method, nothing to compare"))
    if len(lite_style) > 1:
        print(f"- all styles (geometric mean): lite style loss {geomean(lite_style):.2f}x full's, {geomean(lite_speed):.2f}x faster")
    print("\nContact sheets (painting | photo | full | lite | gatys per row):")
    for sheet in sheets:
        print(f"  {sheet}")


if __name__ == "__main__":
    main()
