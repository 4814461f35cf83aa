"""The recipe behind pretrained/: train, look at, and publish the zoo's models.

    python -m scripts.train_zoo train [--only NAME ...] [--arch full|lite]   # resumable
    python -m scripts.train_zoo preview NAME [--arch lite] [-o sheet.png]   # held-out photos
    python -m scripts.train_zoo publish [--only NAME ...]                   # -> pretrained/

The first style (The Starry Night) is trained from scratch (BASE_STEPS); every other one starts
from its weights and is fine-tuned (FULL_STEPS): styles differ mostly in instance-norm
statistics, so a fine-tune needs a fraction of the steps a fresh network does, which is what
makes a zoo trainable on a 2-core CPU. Each `lite` twin is distilled from its `full` model
(the base's from scratch, the others starting from the base's lite twin), then fine-tuned for
steady video (`lite_stable`), as is each full model (`full_stable`); those ship. Runs live in --runs
(default ../runs/zoo) and resume where they stopped: kill this script at any time.
Photos named in HELD_OUT_PHOTOS are never trained on; the models' cards record that (their
train_config's "exclude"), and previews and bench/quality.py judge the models on them.
"""

from __future__ import annotations

import argparse
import hashlib
import os
from dataclasses import dataclass, replace
from pathlib import Path

from styletransfer import training
from styletransfer.io import images
from styletransfer.networks import ARCHS, load_network, zoo
from styletransfer.training import log

ROOT = Path(__file__).resolve().parent.parent

DATA = Path("../shared/data")  # relative to the repo root (main() changes to it), as in the run configs
PAINTINGS = DATA / "styles"
PHOTOS = DATA / "photos"
PREVIEW_PHOTOS = ("skimage_chelsea.jpg", "skimage_astronaut.jpg", "skimage_coffee.jpg", "skimage_rocket.jpg")

# Photos of ../shared/data/photos that the zoo models never train on: bench/quality.py and the
# previews judge the models on them (the app's example photos are among them).
HELD_OUT_PHOTOS = ("skimage_*", "sklearn_*", "set5_*", "set14_*")
THUMBNAIL_SIZE = 256
WARMUP_STEPS = 400
WARMUP_STYLE_WEIGHT = 0.15
BASE_STEPS = 600
FULL_STEPS = 350
LITE_BASE_STEPS = 600
LITE_STEPS = 300
# Then each lite model is fine-tuned for steady video (compound regularisation, Wang et al.
# 2020), still distilling its full twin. Measured on starry_night (bench/temporal.py, 3 clips):
# weight 5 cut E_warp to 0.23-0.38x of per-frame at -1..-3% contrast and +15% style loss;
# 30 cut it to 0.03-0.10x but blurred the strokes (+32% style loss).
STABLE_STEPS = 300
STABLE_TEMPORAL_WEIGHT = 5.0
STABLE_LR = 5e-4
# The full models get the same fine-tune against their perceptual losses. Measured on
# starry_night (3 clips): weight 30 gave E_warp 0.41-0.45x of per-frame at -0.6..-6.5% contrast
# and +5-8% style loss; 200 washed the picture out (-24..-35% contrast). A low learning rate:
# the fresh Adam state of a fine-tune otherwise knocks the style loss up for a hundred steps.
FULL_STABLE_STEPS = 200
FULL_STABLE_TEMPORAL_WEIGHT = 30.0
FULL_STABLE_LR = 2e-4


@dataclass(frozen=True)
class Style:
    name: str
    file: str
    title: str
    artist: str
    year: str
    style_weight: float = 0.05
    style_size: int = 384  # smaller = finer strokes


STYLES = (
    Style("starry_night", "starry_night.jpg", "The Starry Night", "Vincent van Gogh", "1889"),
    Style("great_wave", "great_wave.jpg", "The Great Wave off Kanagawa", "Katsushika Hokusai", "c. 1830-1831"),
    Style("the_scream", "the_scream.jpg", "The Scream", "Edvard Munch", "1893"),
    Style("composition_vii", "composition_vii.jpg", "Composition VII", "Wassily Kandinsky", "1913"),
    Style("udnie", "udnie_picabia.jpg", "Udnie (Young American Girl, The Dance)", "Francis Picabia", "1913"),
    Style("woman_with_hat", "woman_with_hat_matisse.jpg", "Woman with a Hat", "Henri Matisse", "1905"),
    Style("shipwreck", "shipwreck_turner.jpg", "The Wreck of a Transport Ship", "J. M. W. Turner", "c. 1810"),
    Style("water_lilies", "water_lilies_monet.jpg", "Water Lilies", "Claude Monet", "1919"),
)
BY_NAME = {s.name: s for s in STYLES}


def base_config(**changes) -> training.TrainConfig:
    """What every zoo run shares: crops, batch, learning rate, held-out photos."""
    common = dict(
        content_dir=str(PHOTOS),
        exclude=HELD_OUT_PHOTOS,
        batch_size=2,
        crop_size=192,
        lr=1e-3,
        checkpoint_every=100,
        log_every=10,
    )
    return training.TrainConfig(**{**common, **changes})


def runs_for(runs: Path, style: Style) -> dict[str, tuple[Path, training.TrainConfig]]:
    """The run folders and configs of one style, in training order.

    The first style is the base. Its `warmup` run starts from random weights with a higher
    style weight (WARMUP_STYLE_WEIGHT: from scratch, a low one leaves the network stuck
    near flat images), then its `full` run continues at the style's own weight. Every other
    style's `full` starts from the base's.
    """
    base = STYLES[0]
    painting = str(PAINTINGS / style.file)
    full_dir, lite_dir = runs / f"{style.name}.full", runs / f"{style.name}.lite"
    settings = dict(style=painting, style_weight=style.style_weight, style_size=style.style_size)
    stages = {}
    if style == base:
        warmup_dir = runs / f"{style.name}.warmup"
        stages["warmup"] = (warmup_dir, base_config(**{**settings, "style_weight": WARMUP_STYLE_WEIGHT}, arch="full", steps=WARMUP_STEPS))
        full = base_config(**settings, arch="full", steps=BASE_STEPS, init=str(warmup_dir / training.CHECKPOINT), seed=1)
    else:
        full = base_config(**settings, arch="full", steps=FULL_STEPS, init=str(runs / f"{base.name}.full" / training.CHECKPOINT))
    stages["full"] = (full_dir, full)
    full_stable = replace(full, steps=FULL_STABLE_STEPS, temporal_weight=FULL_STABLE_TEMPORAL_WEIGHT, lr=FULL_STABLE_LR,
                          init=str(full_dir / training.CHECKPOINT), seed=2)
    stages["full_stable"] = (runs / f"{style.name}.full_stable", full_stable)
    # Distillation only (content and style weights 0): no VGG pass, a few times cheaper a step.
    lite = base_config(
        style=painting,
        style_size=style.style_size,
        arch="lite",
        steps=LITE_BASE_STEPS if style == base else LITE_STEPS,
        content_weight=0,
        style_weight=0,
        teacher=str(full_dir / training.CHECKPOINT),
        init="" if style == base else str(runs / f"{base.name}.lite" / training.CHECKPOINT),
    )
    stages["lite"] = (lite_dir, lite)
    stable = replace(lite, steps=STABLE_STEPS, temporal_weight=STABLE_TEMPORAL_WEIGHT, lr=STABLE_LR, init=str(lite_dir / training.CHECKPOINT))
    stages["lite_stable"] = (runs / f"{style.name}.lite_stable", stable)
    return stages


def _checkpoint(folder: Path) -> dict | None:
    import torch

    path = folder / training.CHECKPOINT
    return torch.load(path, map_location="cpu", weights_only=True) if path.exists() else None


def _steps_done(folder: Path) -> int:
    ckpt = _checkpoint(folder)
    return ckpt["step"] if ckpt else 0


def run(folder: Path, config: training.TrainConfig) -> None:
    from tqdm import tqdm

    done = _steps_done(folder)
    if done >= config.steps:
        print(f"{folder.name}: done ({done} steps)")
        return
    with tqdm(total=config.steps, initial=done, desc=folder.name, unit="step", mininterval=5) as bar:

        def show(event: training.TrainStep) -> None:
            bar.update(1)
            bar.set_postfix({k: f"{v:.3g}" for k, v in event.losses.items() if v})

        training.train(config, folder, resume=done > 0, callback=show)


def cmd_train(args) -> None:
    styles = [BY_NAME[n] for n in args.only] if args.only else list(STYLES)
    for arch in args.arch:
        for style in [STYLES[0], *(s for s in styles if s != STYLES[0])]:  # the base first
            stages = runs_for(args.runs, style)
            if arch == "lite" and _steps_done(stages["full"][0]) < stages["full"][1].steps:
                print(f"{style.name}.lite: waiting for {style.name}.full to finish (its teacher)")
                continue
            for stage in ("warmup", "full", "full_stable") if arch == "full" else ("lite", "lite_stable"):
                if stage in stages:
                    run(*stages[stage])


def cmd_preview(args) -> None:
    """A contact sheet: the painting, then held-out photos stylized by the run's checkpoint."""
    from PIL import Image

    folder, config = runs_for(args.runs, BY_NAME[args.name])[args.arch]
    network = load_network(args.checkpoint or folder / training.CHECKPOINT)
    tiles = [images.to_pil(images.load_tensor(config.style, long_side=args.size))]
    for name in PREVIEW_PHOTOS:
        tiles.append(Image.fromarray(network.stylize(images.load_array(PHOTOS / name, long_side=args.size))))
    height = args.size
    tiles = [t.resize((round(t.width * height / t.height), height)) for t in tiles]
    sheet = Image.new("RGB", (sum(t.width for t in tiles), height), "white")
    x = 0
    for t in tiles:
        sheet.paste(t, (x, 0))
        x += t.width
    out = args.output or folder / "preview.png"
    sheet.save(out)
    print(out)


def cmd_publish(args) -> None:
    styles = [BY_NAME[n] for n in args.only] if args.only else list(STYLES)
    for style in styles:
        stages = runs_for(args.runs, style)
        # The steady fine-tunes ship; a full model whose steady run has not finished yet ships as it is.
        full_stage = "full_stable" if _steps_done(stages["full_stable"][0]) >= stages["full_stable"][1].steps else "full"
        for arch, stage in (("full", full_stage), ("lite", "lite_stable")):
            folder, config = stages[stage]
            path = folder / training.CHECKPOINT
            ckpt = _checkpoint(folder)
            if ckpt is None or ckpt["step"] < config.steps:
                print(f"skip {style.name}.{arch}: not trained yet ({ckpt['step'] if ckpt else 0} of {config.steps} steps)")
                continue
            rows = log.read_csv(folder / "losses.csv")
            card = zoo.ModelCard(
                name=style.name,
                arch=arch,
                title=style.title,
                artist=style.artist,
                year=style.year,
                train_config=ckpt["train_config"],
                steps=ckpt["step"],
                losses={k: v for k, v in rows[-1].items() if k not in ("step", "seconds")} if rows else {},
                style_sha256=hashlib.sha256(Path(config.style).read_bytes()).hexdigest(),
            )
            print(zoo.save(load_network(path).module, card, args.folder))
        # The app's gallery shows the painting: a small copy beside the models (zoo.thumbnail).
        thumb = images.to_pil(images.load_tensor(PAINTINGS / style.file, long_side=THUMBNAIL_SIZE))
        thumb.save(Path(args.folder) / f"{style.name}.jpg", quality=88)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=Path, default=ROOT.parent / "runs" / "zoo")
    sub = parser.add_subparsers(required=True)
    p = sub.add_parser("train")
    p.add_argument("--only", nargs="+", choices=list(BY_NAME))
    p.add_argument("--arch", nargs="+", default=list(ARCHS), choices=ARCHS)
    p.set_defaults(run=cmd_train)
    p = sub.add_parser("preview")
    p.add_argument("name", choices=list(BY_NAME))
    p.add_argument("--arch", default="full", choices=["full", "full_stable", "lite", "lite_stable"])
    p.add_argument("--checkpoint", type=Path)
    p.add_argument("--size", type=int, default=320)
    p.add_argument("-o", "--output", type=Path)
    p.set_defaults(run=cmd_preview)
    p = sub.add_parser("publish")
    p.add_argument("--only", nargs="+", choices=list(BY_NAME))
    p.add_argument("--folder", type=Path, default=zoo.PRETRAINED)
    p.set_defaults(run=cmd_publish)
    args = parser.parse_args(argv)
    args.runs = args.runs.resolve()
    os.chdir(ROOT)
    args.run(args)


if __name__ == "__main__":
    main()
