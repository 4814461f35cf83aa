"""Training the fast any-painting result (styletransfer/predicted.py): predict the shipped
`lite` network's per-painting norm rows (its scale-and-shift, networks/transformer.py's StyleNorm)
from any painting, with the convolutions kept as they are (Ghiasi et al. 2017, "Exploring the
structure of a real-time, arbitrary neural artistic stylization network", cut down to the rows).

    python -m scripts.style_predictor train [--minutes 35] [--run ../runs/style_predictor]  # resumable
    python -m scripts.style_predictor eval [--run ../runs/style_predictor]
    python -m scripts.style_predictor publish [--run ../runs/style_predictor]  # -> pretrained/

A compact copy of the run (predictor and optimizer state) is kept in checkpoints/style_predictor/:
copy it into the run folder to go on training on another machine.

The painting is described by the channel means and log standard deviations of its VGG16
features at the four style layers (1,920 numbers); a small MLP maps them to the 1,088 row values.
Training paints random photo crops with the predicted rows and minimises `lite`'s own training
loss (relu2_2 content, Gram style, the zoo card's weights) against random views of 12 of the 16
paintings: crops at several scales, and most of them with their hues rotated and saturation
changed, so that a palette is something to predict rather than to remember. The other four
(HELD_OUT_PAINTINGS) are never seen, and `eval` judges them on bench.quality's yardstick
beside the universal mode. Caveat: `lite`'s convolutions were trained with all 16 paintings.
"""

from __future__ import annotations

import argparse
import math
import random
import statistics
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.func import functional_call

from styletransfer import dials, predicted, universal
from styletransfer.colors import rgb_to_yiq, yiq_to_rgb
from styletransfer.io import images
from styletransfer.networks import read_model
from styletransfer.networks.network import GRID_SHIFTS, grid_averaged
from styletransfer.networks.transformer import TransformerNet
from styletransfer.perceptual.loss import STYLE_LAYERS, STYLE_SCALE, batch_relative_mse, gram_distance, style_grams
from styletransfer.perceptual.vgg import pretrained_vgg16
from styletransfer.predicted import RowPredictor, describe, zoo_rows
from styletransfer.training.catalogue import PAINTINGS, STYLES
from styletransfer.training.data import list_images

REPO = Path(__file__).resolve().parent.parent
LITE = REPO / "pretrained" / "zoo.lite.safetensors"
HELD_OUT_PAINTINGS = ("the_scream", "udnie", "water_lilies", "cezanne_landscape")
CHECKPOINT = "predictor.pt"
CROP = 128  # photo crops, as the CPU zoo trained lite
VIEW = 192  # painting views: the zoo's style_size (256) scaled by 0.8-1.4, then cropped to this


def paint(network: TransformerNet, photo: torch.Tensor, rows: dict[str, torch.Tensor]) -> torch.Tensor:
    """The several-style network with each image's own rows: the rows stand in for the
    network's (S, C) tables, and image i picks row i (an identity style mix)."""
    network.style_weights = lambda style, batch, device: torch.eye(batch, device=device)
    try:
        return functional_call(network, rows, (photo, "per-image rows"))
    finally:
        del network.style_weights  # back to the class's own


def painting_view(painting: torch.Tensor) -> torch.Tensor:
    """A random view: scale, square crop, and mostly a hue rotation and saturation change."""
    _, _, h, w = painting.shape
    scale = 256 * random.uniform(0.8, 1.4) / max(h, w)
    view = F.interpolate(painting, scale_factor=scale, mode="bilinear", antialias=True, align_corners=False)
    _, _, h, w = view.shape
    side = min(h, w, VIEW)
    y, x = random.randint(0, h - side), random.randint(0, w - side)
    view = view[:, :, y : y + side, x : x + side]
    if random.random() < 0.7:
        yiq = rgb_to_yiq(view)
        angle, saturation = random.uniform(-math.pi, math.pi), random.uniform(0.6, 1.4)
        i, q = yiq[:, 1], yiq[:, 2]
        cos, sin = saturation * math.cos(angle), saturation * math.sin(angle)
        view = yiq_to_rgb(torch.stack([yiq[:, 0], cos * i - sin * q, sin * i + cos * q], 1)).clamp(0, 1)
    return view


def train(
    run: Path,
    minutes: float,
    max_steps: int | None,
    photos: int,
    batch: int = 4,
    content_scale: float = 1.0,
    steady_weight: float = 0.0,
    held_out: tuple[str, ...] = HELD_OUT_PAINTINGS,
) -> int:
    """Train (resuming from run/predictor.pt) until ``minutes`` pass or ``max_steps`` is reached.
    ``content_scale`` multiplies the card's content weight (more of the photo kept, less style);
    ``steady_weight`` pulls each painting toward its own average over the pixel grid, as the
    zoo's steady stages do (scripts/train_zoo.py's STEADY_DISTILL_WEIGHT): steadier on video.
    ``held_out``: the paintings never shown (default HELD_OUT_PAINTINGS; () trains on all 16)."""
    network, card = read_model(LITE)
    network.eval().requires_grad_(False)
    vgg = pretrained_vgg16(last_layer="relu4_3").eval().requires_grad_(False)
    config = card.train_config
    paintings = [images.load_tensor(REPO / PAINTINGS / s.file, long_side=400) for s in STYLES if s.name not in held_out]
    files = list_images(REPO / config["content_dir"], config["exclude"])
    random.Random(0).shuffle(files)
    crops = [images.load_tensor(f, long_side=200) for f in files[:photos]]
    crops = [c for c in crops if min(c.shape[-2:]) >= CROP]
    predictor = RowPredictor(zoo_rows(network))
    optimizer = torch.optim.Adam(predictor.parameters(), lr=1e-3)
    run.mkdir(parents=True, exist_ok=True)
    step = 0
    if (run / CHECKPOINT).exists():
        state = torch.load(run / CHECKPOINT)
        predictor.load_state_dict(state["predictor"])
        optimizer.load_state_dict(state["optimizer"])
        step = state["step"]
    save = lambda: torch.save(  # noqa: E731
        {"predictor": predictor.state_dict(), "optimizer": optimizer.state_dict(), "step": step, "held_out": held_out},
        run / CHECKPOINT,
    )
    end, history, started = time.time() + minutes * 60, [], time.time()
    while time.time() < end and (max_steps is None or step < max_steps):
        photo = []
        for _ in range(batch):
            crop = random.choice(crops)
            y, x = random.randint(0, crop.shape[2] - CROP), random.randint(0, crop.shape[3] - CROP)
            photo.append(crop[:, :, y : y + CROP, x : x + CROP])
        photo = torch.cat(photo)
        views = [painting_view(random.choice(paintings)) for _ in range(batch)]
        with torch.no_grad():
            description = torch.cat([describe(vgg, v) for v in views])
            targets = [style_grams(vgg(v, STYLE_LAYERS), STYLE_LAYERS) for v in views]
            target = {n: torch.cat([t[n] for t in targets]) for n in STYLE_LAYERS}
            content = vgg(photo, [config["content_layer"]])[config["content_layer"]].float()
        rows = predictor(description)
        out = paint(network, photo, rows)
        features = vgg(out, STYLE_LAYERS)
        style = gram_distance(style_grams(features, STYLE_LAYERS), target)
        loss = (
            content_scale
            * config["content_weight"]
            * batch_relative_mse(features[config["content_layer"]].float(), content)
        )
        loss = loss + STYLE_SCALE * config["style_weight"] * style
        if steady_weight:
            with torch.no_grad():
                tiled = {name: value.detach().repeat(len(GRID_SHIFTS), 1) for name, value in rows.items()}
                target = grid_averaged(lambda moved, tiled=tiled: paint(network, moved, tiled), photo)
            loss = loss + steady_weight * (out - target).abs().mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        step += 1
        history.append(float(style.detach()))
        if step % 25 == 0:
            seconds = (time.time() - started) / len(history)
            print(f"step {step}: style {statistics.fmean(history[-25:]):.3f}, {seconds:.2f} s a step", flush=True)
            save()
    save()
    return step


def publish(run: Path, out: Path) -> Path:
    """The run's predictor as the engine reads it (predicted.PREDICTOR_FILE), for the shipped lite."""
    network, _ = read_model(LITE)
    state = torch.load(run / CHECKPOINT)
    predictor = RowPredictor(zoo_rows(network))
    predictor.load_state_dict(state["predictor"])
    info = {"steps": state["step"], "held_out_paintings": list(state.get("held_out", HELD_OUT_PAINTINGS))}
    return predicted.save(predictor, LITE, out, info)


def evaluate(run: Path, strengths=(1.0, dials.TEXTURE_STRENGTH.default)) -> None:
    """The held-out paintings on bench.quality's yardstick: the run's predictor, published and
    read back as the app reads it, at each strength; the universal mode at its defaults."""
    from bench.quality import EVAL_PHOTOS, Yardstick, contact_sheet, geomean, held_out

    yardstick = Yardstick()
    model = predicted.Predicted(publish(run, run / predicted.PREDICTOR_FILE), lite_file=LITE)
    photos = []
    for path in held_out(EVAL_PHOTOS[:4]):
        image = images.load_tensor(path, long_side=384)
        features = yardstick.features(image)
        photos.append({"image": image, "features": features, "grams": yardstick.grams(features)})
    methods = [f"predicted, strength {s:g}" for s in strengths] + ["universal"]
    scores: dict[str, list[dict]] = {method: [] for method in methods}
    for style in (s for s in STYLES if s.name in HELD_OUT_PAINTINGS):
        painting = images.load_tensor(REPO / PAINTINGS / style.file, long_side=384)
        target = yardstick.grams(yardstick.features(painting))
        started = time.perf_counter()
        model.read(painting)
        print(f"{style.name}: rows predicted in {time.perf_counter() - started:.2f} s")
        sheet = []
        for photo in photos:
            outputs = [model.paint(photo["image"], [painting], universal.Settings(strength=s)) for s in strengths]
            outputs.append(universal.load().paint(photo["image"], [painting]))
            for method, output in zip(methods, outputs):
                scores[method].append(yardstick.score(output, photo, target))
            sheet.append([painting, photo["image"], *outputs])
        contact_sheet(sheet, ["painting", "photo", *methods], 256).save(run / f"{style.name}.png")
    for method, runs in scores.items():
        print(
            f"{method}: style ratio {geomean([r['ratio'] for r in runs]):.3f}, "
            f"content {statistics.fmean(r['content'] for r in runs):.1f}, "
            f"structure {statistics.fmean(r['structure'] for r in runs):.3f}"
        )


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["train", "eval", "publish"])
    parser.add_argument("--run", type=Path, default=REPO.parent / "runs" / "style_predictor")
    parser.add_argument("--minutes", type=float, default=35.0, help="train: stop after this long (resumable)")
    parser.add_argument("--steps", type=int, help="train: stop at this step")
    parser.add_argument("--photos", type=int, default=700, help="train: how many training photos to load")
    parser.add_argument("--content-scale", type=float, default=1.0, help="train: times the card's content weight")
    parser.add_argument("--steady-weight", type=float, default=0.0, help="train: the pull toward the grid average")
    parser.add_argument(
        "--held-out",
        nargs="*",
        default=list(HELD_OUT_PAINTINGS),
        help="train: paintings never shown (none: all 16; eval always judges HELD_OUT_PAINTINGS)",
    )
    args = parser.parse_args(argv)
    if args.command == "train":
        train(
            args.run,
            args.minutes,
            args.steps,
            args.photos,
            content_scale=args.content_scale,
            steady_weight=args.steady_weight,
            held_out=tuple(args.held_out),
        )
    elif args.command == "eval":
        evaluate(args.run)
    else:
        print(publish(args.run, predicted.predictor_path(REPO / "pretrained")))


if __name__ == "__main__":
    main()
