"""The recipe behind pretrained/: one network per arch holding every painting, trained,
looked at, and published.

    python -m scripts.train_zoo [--device cpu|cuda] train [--arch full lite]   # resumable
    python -m scripts.train_zoo [--device cpu|cuda] preview [--arch lite]      # held-out photos
    python -m scripts.train_zoo [--device cpu|cuda] publish [--folder pretrained/]  # -> zoo.ARCH.*
    python -m scripts.train_zoo snapshot | restore   # compact checkpoints in checkpoints/, across machines

(After `pip install -e .`, `python scripts/train_zoo.py ...` works the same.)

Dumoulin et al. 2017 ("A Learned Representation for Artistic Style"): the paintings share
every convolution and differ in their norms' scale and shift (transformer.py, styles > 1),
so each batch trains several paintings and N paintings cost about what one did. Stages,
each a resumable run folder under --runs (kill this script at any time):

1. ``autoencoder``: the full network learns to give the photo back (L1, no VGG pass, cheap),
   so style training starts from a network that keeps the photo instead of a texture
   generator that has to learn the photo back (measured: from scratch on the CPU, the photo
   was gone after 1,200 steps).
2. ``full``: every painting at once, perceptual losses plus compound regularisation
   (steady video from the start), starting from the autoencoder.
3. ``full_steady``: a short fine-tune towards ``full``'s own painting averaged over its pixel
   grid (video's "Extra steady", at one network run a frame), the other losses kept. This is
   the ``full`` that is published.
4. ``lite_distil``: the real-time network learns ``full``'s outputs pixel by pixel (L1, no VGG
   pass, cheap), with compound regularisation. This gets its colours and layout, but a
   network 1/22 of full's size cannot copy the strokes exactly, so L1 averages them away
   (measured: a blurred ``full``, style ratio 0.53 against full's 0.18).
5. ``lite``: from there, the perceptual losses against the paintings (as ``full``) give the
   strokes back, and distillation keeps it close to ``full``.
6. ``lite_steady``: the same for ``lite``, the ``lite`` that is published.

``--device cuda`` is the paper's scale (256 px crops, batch 16, 20k steps, bf16, channels-last,
photos decoded by worker processes); ``cpu`` is what a 2-core machine can do across sessions.
Photos named in HELD_OUT_PHOTOS are never trained on; the cards record that (their
train_config's "exclude"), and previews and bench/quality.py judge the models on them.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import os
import time
from dataclasses import dataclass
from pathlib import Path

from styletransfer import training
from styletransfer.io import images
from styletransfer.networks import ARCHS, Network, read_model, zoo
from styletransfer.training import checkpoint, log
from styletransfer.training.catalogue import DATA, HELD_OUT_PHOTOS, PAINTINGS, PHOTOS, STYLES

ROOT = Path(__file__).resolve().parent.parent  # main() changes to it: the catalogue's paths are relative to it
PREVIEW_PHOTOS = ("skimage_chelsea.jpg", "skimage_astronaut.jpg", "skimage_coffee.jpg")
THUMBNAIL_SIZE = 256
COLLECTION = "zoo"  # the published files: zoo.full.safetensors, zoo.lite.safetensors


@dataclass(frozen=True)
class Preset:
    """How big a run the hardware affords; what is learned is the same."""

    crop_size: int
    style_size: int  # the painting's long side against crop_size: sets the brush-stroke scale
    batch_size: int
    autoencoder_steps: int
    full_steps: int
    full_steady_steps: int
    lite_distil_steps: int
    lite_steps: int
    lite_steady_steps: int
    amp: str = "off"
    channels_last: bool = False
    num_workers: int = 0
    checkpoint_every: int = 100
    log_every: int = 10
    full_temporal_from: int = 0  # full's compound regularisation only after this step (a stable fine-tune)
    full_temporal_weight: float = 10.0  # its weight: 10 throughout a run; stronger as a short fine-tune
    lite_temporal_from: int = 0  # lite's shift equivariance only after this step (a stable fine-tune)


PRESETS = {
    # 2 cores: a full step of batch 4 at 128 px takes ~2 s (NOTES), so `full` is ~10 h over sessions.
    # Compound regularisation's second pass costs 31% of a step here (3.06 vs 2.10 s, measured
    # 2026-11-30), so it is the last 2,000 steps' stable fine-tune (steps up to 2,700 had it too).
    # The style loss had flattened by 14,000 (-1.5% per 1,000 steps; style ratio 0.149 at 10,000,
    # 0.147 at 13,100 on the held-out photos), so style-only training stops there rather than at 18,000 and
    # spends the 2 h saved on shipping: the stable fine-tune and lite are what the zoo waits for.
    # The fine-tune's weight, 60, was measured as it ran (the loss settings' comment below).
    # lite: 4,000 distillation steps (~0.55 s each, no VGG pass), then 5,000 with the perceptual
    # losses (~1.3 s each). 2,000 shipped first; 3,000 more (2026-12-01) took the held-out style
    # ratio from 0.240 to 0.208 (16 paintings x 2 photos at 384 px) and thinned its hatching.
    # Then 1,000 steps of stable fine-tune with the shift loss (issue 27, 2026-12-06: the painted
    # lite boiled on panning video, 4.9x the clip's own E_warp blended; SHIFT_WEIGHT below).
    # (The CPU run's first 5,000 lite steps had compound regularisation on too, at 0.6% of the loss.)
    # full: 600 more steps with the shift loss too (16,000-16,600, issue 27), as lite's below; a run
    # from scratch has it from 14,000, with compound regularisation.
    "cpu": Preset(
        crop_size=128,
        style_size=256,
        batch_size=4,
        autoencoder_steps=300,
        full_steps=16_600,
        full_steady_steps=400,
        lite_distil_steps=4_000,
        lite_steps=6_000,
        lite_steady_steps=400,
        full_temporal_from=14_000,
        full_temporal_weight=60.0,
        lite_temporal_from=5_000,
    ),
    # One H100/H200: Johnson et al.'s 256 px and more than their batch, bf16, no per-step host syncs
    # (training/loop.py), photos decoded by 12 worker processes.
    "cuda": Preset(
        crop_size=256,
        style_size=512,
        batch_size=16,
        autoencoder_steps=1_000,
        full_steps=20_000,
        full_steady_steps=400,
        lite_distil_steps=4_000,
        lite_steps=10_000,
        lite_steady_steps=400,
        amp="bf16",
        channels_last=True,
        num_workers=12,
        checkpoint_every=2_000,
        log_every=100,
    ),
}

# Loss settings, the same on every device; a starting point, not yet a measured optimum. The CPU
# pilot (2026-11-29, 128 px, 8 paintings) found the loss favours a texture generator over the
# photo once STYLE_SCALE x style weight outweighs content's bounded relative error (1-2), and
# style rows separate slowly: style weight 0.15, lr 5e-4, relu2_2 content (Johnson et al.).
# Compound regularisation 5 for lite. For full, 10 where it trains throughout (the GPU preset);
# 60 as the CPU preset's stable fine-tune, measured as the CPU run's fine-tune went
# (Starry Night per frame on fox.mp4, 30 frames at 320 px; the old stable full: E_warp 0.91e-3,
# contrast 0.166): at 10, steps 14,000-14,500 took E_warp from 9.16e-3 to 7.43e-3; at 30
# (the old zoo's weight), 14,500-15,000 took it to 5.40e-3 with contrast 0.181 -> 0.171 and the
# held-out style ratio unchanged (0.172), so the run went on at 60 from 15,000.
CONTENT_LAYER = "relu2_2"
# full trains through transformer.Deperiod: without it the network stamps a period-4 grid from
# its upsamplings on every output (the zoo's fine cross-hatch, up to +-17 grey levels at step
# 9,400), which the style loss rewards. The CPU run turned it on at step 9,400 (its weights and
# Adam state carry over: the filter has no parameters).
DEPERIOD = True
STYLE_WEIGHT = 0.15
LITE_TEMPORAL_WEIGHT = 5.0
# Shift equivariance (training/regularisation.py): the painted zoo painted by where a pixel falls
# in the networks' 4x4 grid (a 1-3 px shift changed lite's output 40-60x more than a 4 px one),
# so panning video boiled. Pilots of 200 steps from the finished lite (2026-12-06, fox.mp4 and
# street_bikes.mp4 at 320 px, 4 paintings; style ratio on 16 paintings x 1 held-out photo):
# weight 300 took per-frame E_warp 2.3x down for a style ratio 0.247 -> 0.296; 1,500 took it
# 5x down for 0.414 (the fine cross-hatch went, and Gram statistics count it as style); compound
# regularisation at 1,000 took it 3.9x down for a 54% higher ratio. 300 steadies without blur.
SHIFT_WEIGHT = 300.0  # both archs; full's CPU fine-tune (16,000-16,600) took its style ratio 0.150 -> 0.164
# lite's perceptual stage keeps distillation to full at 10 (L1 ~0.05, a tenth of the total): in
# 300-step pilots from the distilled lite (2026-12-01, 16 paintings x 2 held-out photos at 384),
# weight 0 and 10 reached the same style ratio (0.303, 0.310; from 0.528) and 10 stayed nearer
# the photo (content 11.9 vs 12.4) and full's look.
LITE_DISTILL_WEIGHT = 10.0
# ... and learns not to stamp the upsamplings' period-4 grid (full trains through Deperiod
# instead, which would cost lite 8-18% of its speed). Without it, the grid grew with the style
# (pattern std 0.18 grey levels distilled, 1.1 after 300 perceptual steps, 2.05 after 1,000);
# at 50 the 300-step pilot gave 0.38 for a style ratio of 0.319 against 0.310.
LITE_PERIOD_WEIGHT = 50.0
# The steady stages' distillation weight, towards the network's own painting averaged over its grid (issue
# 27: what a flat wall looks like under a pan is phase-locked hatching, which the average
# removes). Pilots from the finished lite (2026-12-07, 16 paintings; style ratio on the 64
# held-out pairs, shipped 0.205; per-frame E_warp against the clip's own on fox.mp4 at 320 px,
# 4 paintings, shipped 22.8x): weight 30 for 300 steps 0.212 / 19.5x; 300 for 300 steps 0.232 /
# 15.3x; 100 for 600 steps 0.232 / 14.3x; 150 for 900 steps 0.247 / 12.0x; the average itself
# 0.316 / ~9x. The longer and stronger, the steadier and the less painted: 100 for 400 steps
# keeps the style ratio within issue 27's 10% (lite 0.225 / 15.9x; full 0.164 -> 0.179, fox
# 21.5 -> 15.7x).
STEADY_DISTILL_WEIGHT = 100.0
LR = 5e-4
# What a stage publishes is the running average of its weights over ~500 steps: with batch 4,
# per-step losses jump by +-40% and the last step's weights are as noisy.
AVERAGE_DECAY = 0.998


def stages(
    runs: Path, preset: Preset, device: str = "auto", data: Path = DATA
) -> dict[str, tuple[Path, training.TrainConfig]]:
    """The run folders and configs, in training order. data: where photos/ and styles/ are
    (../shared/data, or a pack of them for a lent machine)."""
    common = dict(
        content_dir=str(data / PHOTOS.name),
        exclude=HELD_OUT_PHOTOS,
        crop_size=preset.crop_size,
        batch_size=preset.batch_size,
        lr=LR,
        checkpoint_every=preset.checkpoint_every,
        log_every=preset.log_every,
        device=device,
        amp=preset.amp,
        channels_last=preset.channels_last,
        num_workers=preset.num_workers,
        style_size=preset.style_size,
        average_decay=AVERAGE_DECAY,
    )
    paintings = tuple(str(data / PAINTINGS.name / p.file) for p in STYLES)
    folders = {name: runs / name for name in STAGES}
    autoencoder = training.TrainConfig(
        **common,
        style=paintings[0],
        arch="full",
        steps=preset.autoencoder_steps,
        content_weight=0,
        style_weight=0,
        reconstruct_weight=1.0,  # no VGG pass
    )
    full = training.TrainConfig(
        **common,
        styles=paintings,
        arch="full",
        steps=preset.full_steps,
        content_layer=CONTENT_LAYER,
        style_weight=STYLE_WEIGHT,
        temporal_weight=preset.full_temporal_weight,
        temporal_from=preset.full_temporal_from,
        init=str(folders["autoencoder"] / training.CHECKPOINT),
        seed=1,
        deperiod=DEPERIOD,
        shift_weight=SHIFT_WEIGHT,
    )
    # lite has no Deperiod: the filter would cost it 8-18% of its speed (640x360 on 2 cores, 185
    # vs 200-225 ms). Its perceptual stage learns not to stamp the grid instead (LITE_PERIOD_WEIGHT).
    teacher = str(folders["full"] / training.CHECKPOINT)
    lite_distil = training.TrainConfig(
        **common,
        styles=paintings,
        arch="lite",
        steps=preset.lite_distil_steps,
        content_weight=0,
        style_weight=0,
        temporal_weight=LITE_TEMPORAL_WEIGHT,
        teacher=teacher,
        seed=2,
    )
    lite = training.TrainConfig(
        **common,
        styles=paintings,
        arch="lite",
        steps=preset.lite_steps,
        content_layer=CONTENT_LAYER,
        style_weight=STYLE_WEIGHT,
        temporal_weight=LITE_TEMPORAL_WEIGHT,
        teacher=teacher,
        distill_weight=LITE_DISTILL_WEIGHT,
        period_weight=LITE_PERIOD_WEIGHT,
        init=str(folders["lite_distil"] / training.CHECKPOINT),
        seed=3,
        shift_weight=SHIFT_WEIGHT,
        temporal_from=preset.lite_temporal_from,
    )
    full_steady = _steady(full, folders["full"], preset.full_steady_steps)
    lite_steady = _steady(lite, folders["lite"], preset.lite_steady_steps)
    configs = (autoencoder, full, full_steady, lite_distil, lite, lite_steady)
    return {name: (folders[name], config) for name, config in zip(STAGES, configs)}


def _steady(config: training.TrainConfig, folder: Path, steps: int) -> training.TrainConfig:
    """A stage's steady fine-tune: from its finished network, towards that network's own
    painting averaged over its pixel grid, every other loss as it was."""
    finished = str(folder / training.CHECKPOINT)
    return dataclasses.replace(
        config,
        steps=steps,
        init=finished,
        teacher=finished,
        teacher_grid_average=True,
        distill_weight=STEADY_DISTILL_WEIGHT,
        temporal_from=0,
    )


def _steps_done(folder: Path) -> int:
    path = folder / training.CHECKPOINT
    return _steps_in(path) if path.exists() else 0


def run(folder: Path, config: training.TrainConfig, stop_after: float | None = None) -> None:
    """Train one stage to its steps (or for stop_after seconds), resuming what is there."""
    from tqdm import tqdm

    done = _steps_done(folder)
    if done >= config.steps:
        print(f"{folder.name}: done ({done} steps)")
        return
    with tqdm(total=config.steps, initial=done, desc=folder.name, unit="step", mininterval=5) as bar:

        def show(event: training.TrainStep) -> None:
            bar.n = event.step
            bar.set_postfix({k: f"{v:.3g}" for k, v in event.losses.items() if v})

        training.train(config, folder, resume=done > 0, callback=show, stop_after=stop_after)


# With --minutes, the share of the time left that each stage may take (the last one takes
# the rest). The autoencoder needs no VGG pass and few steps; the lite network learns from
# full's outputs, so full gets most; each steady stage is a short fine-tune of the stage before.
TIME_SHARES = {"autoencoder": 0.1, "full": 0.7, "full_steady": 0.2, "lite_distil": 0.3, "lite": 0.8}
STAGES = ("autoencoder", "full", "full_steady", "lite_distil", "lite", "lite_steady")  # in training order
PUBLISHED = {"full": "full_steady", "lite": "lite_steady"}  # the stage whose network each arch ships
SETUP_SECONDS = 20  # loading VGG, the paintings and the loader's workers before a stage's clock starts
clock = time.monotonic  # the deadline's clock (a test stops it)


def cmd_train(args) -> None:
    plan = stages(args.runs, PRESETS[args.device], args.device, args.data)
    order = [name for name in STAGES if name == "autoencoder" or name.split("_")[0] in args.arch]
    if "full" not in args.arch:  # lite alone still needs its teacher
        order.insert(1, "full")
    deadline = clock() + 60 * args.minutes if args.minutes else None
    for name in order:
        stop_after = None
        if deadline is not None:
            left = deadline - clock() - SETUP_SECONDS
            stop_after = left * (TIME_SHARES.get(name, 1.0) if name != order[-1] else 1.0)
            if stop_after <= 0:
                print(f"{name}: no time left (--minutes {args.minutes:g})")
                break
        run(*plan[name], stop_after=stop_after)


def _trained(folder: Path, config: training.TrainConfig, partial: bool = False):
    """The stage's checkpoint when it is finished (or, partial, when it has any steps)."""
    import torch

    path = folder / training.CHECKPOINT
    ckpt = torch.load(path, map_location="cpu", weights_only=True) if path.exists() else None
    return ckpt if ckpt is not None and (partial or ckpt["step"] >= config.steps) else None


def cmd_preview(args) -> None:
    """A contact sheet: per painting, the painting then held-out photos in its style."""
    from PIL import Image

    folder, config = stages(args.runs, PRESETS[args.device])[PUBLISHED[args.arch]]
    net, _ = read_model(args.checkpoint or folder / training.CHECKPOINT)
    size = args.size
    rows = []
    for index, painting in enumerate(STYLES[: net.config.styles]):
        network = Network.from_module(net.select(index), painting.name)
        tiles = [images.to_pil(images.load_tensor(PAINTINGS / painting.file, long_side=size))]
        tiles += [
            Image.fromarray(network.stylize(images.load_array(PHOTOS / name, long_side=size)))
            for name in PREVIEW_PHOTOS
        ]
        rows.append([t.resize((round(t.width * size / t.height), size)) for t in tiles])
    width = max(sum(t.width for t in row) for row in rows)
    sheet = Image.new("RGB", (width, size * len(rows)), "white")
    for r, row in enumerate(rows):
        x = 0
        for t in row:
            sheet.paste(t, (x, r * size))
            x += t.width
    out = args.output or folder / "preview.jpg"
    out.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(out, quality=88)
    print(out)


def cmd_publish(args) -> None:
    plan = stages(args.runs, PRESETS[args.device])
    folder = Path(args.folder)
    entries = [
        {
            "name": p.name,
            "title": p.title,
            "artist": p.artist,
            "year": p.year,
            "painting": str(PAINTINGS / p.file),
            "style_sha256": hashlib.sha256((PAINTINGS / p.file).read_bytes()).hexdigest(),
        }
        for p in STYLES
    ]
    for arch in args.arch:
        run_folder, config = plan[PUBLISHED[arch]]
        ckpt = _trained(run_folder, config, args.partial)
        if ckpt is None:
            print(
                f"skip {arch}: not trained yet ({_steps_done(run_folder)} of {config.steps} steps; --partial publishes it as it is)"
            )
            continue
        rows = log.read_csv(run_folder / "losses.csv")
        losses = (
            {k: v for k, v in rows[-1].items() if k not in ("step", "seconds")}
            if rows
            else _published_losses(folder, arch, ckpt["step"])
        )
        card = zoo.ModelCard(
            name=COLLECTION,
            arch=arch,
            title="The painted zoo",
            styles=entries,
            train_config=ckpt["train_config"],
            steps=ckpt["step"],
            losses=losses,
        )
        print(zoo.save(read_model(run_folder / training.CHECKPOINT)[0], card, folder))
        # The one-style files these styles replace would be found first (zoo.find): remove them.
        for p in STYLES:
            for old in (folder / f"{p.name}.{arch}.safetensors", folder / f"{p.name}.{arch}.json"):
                old.unlink(missing_ok=True)
    for p in STYLES:  # the app's gallery shows the painting: a small copy beside the models
        thumb = images.to_pil(images.load_tensor(PAINTINGS / p.file, long_side=THUMBNAIL_SIZE))
        thumb.save(folder / f"{p.name}.jpg", quality=88)


def _published_losses(folder: Path, arch: str, step: int) -> dict[str, float]:
    """The final losses on the card already published for this step: a run restored from a
    snapshot (which keeps no log) republishes without wiping them."""
    path = zoo.local_path(COLLECTION, arch, folder).with_suffix(".json")
    card = zoo.ModelCard.from_json(path) if path.exists() else None
    return card.losses if card is not None and card.steps == step else {}


# A lent GPU gets the repository and what a call carries, 64 MiB in all (the device tool's
# README): the pack is that, less the code (~1.5 MB) and a margin. VGG16's convolutions in
# fp16 take 29 MB; photos fill the rest.
PACK = Path(".gpu")
PACK_MEGABYTES = 60.0
PACK_PHOTO_SIDE = 256  # short side: the GPU preset's crops are 256 px (Johnson et al. resized COCO to 256)
PACK_QUALITY = 85


def cmd_pack(args) -> None:
    """Everything the GPU preset reads, in one folder that travels with a device call: VGG16
    in fp16 (vgg16.safetensors, for $STYLETRANSFER_VGG16_WEIGHTS), the paintings at the
    preset's style size (styles/), and as many training photos as fit (photos/; held-out
    ones never), in a fixed random order so any budget is a fair sample."""
    import random

    from PIL import Image
    from safetensors.torch import save_file
    from tqdm import tqdm

    from styletransfer.perceptual.weights import load_vgg16_state_dict
    from styletransfer.training.data import list_images

    out, budget = args.out, args.megabytes * 1e6
    for sub in ("photos", "styles"):
        (out / sub).mkdir(parents=True, exist_ok=True)
        for old in (out / sub).iterdir():
            old.unlink()
    vgg = {k: v.half().contiguous() for k, v in load_vgg16_state_dict().items()}
    save_file(vgg, str(out / "vgg16.safetensors"))
    style_size = PRESETS["cuda"].style_size
    for p in STYLES:
        images.to_pil(images.load_tensor(PAINTINGS / p.file, long_side=style_size)).save(
            out / "styles" / p.file, quality=95
        )
    used = sum(f.stat().st_size for f in out.rglob("*") if f.is_file())
    photos = list_images(PHOTOS, HELD_OUT_PHOTOS)
    random.Random(0).shuffle(photos)
    packed = 0
    for photo in tqdm(photos, desc="photos", unit="photo", mininterval=2):
        im = images.open_image(photo)
        scale = PACK_PHOTO_SIDE / min(im.size)
        if scale < 1:
            im = im.resize((round(im.width * scale), round(im.height * scale)), Image.Resampling.LANCZOS)
        target = out / "photos" / f"{photo.stem}.jpg"
        im.save(target, quality=PACK_QUALITY)
        if used + target.stat().st_size > budget:
            target.unlink()
            break
        used += target.stat().st_size
        packed += 1
    print(f"{out}: {packed} of {len(photos)} training photos, {len(STYLES)} paintings, VGG16 fp16; {used / 1e6:.1f} MB")


def cmd_snapshot(args) -> None:
    """Compact copies of the runs' checkpoints into the repository (checkpoints/), so the
    training goes on from there on another machine (`restore`)."""
    for name, (folder, _) in stages(args.runs, PRESETS[args.device]).items():
        if (folder / training.CHECKPOINT).exists():
            out = args.snapshots / f"{name}.pt"
            out.parent.mkdir(parents=True, exist_ok=True)
            checkpoint.compact(folder / training.CHECKPOINT, out)
            print(f"{out} ({_steps_done(folder)} steps, {out.stat().st_size / 1e6:.1f} MB)")


def cmd_restore(args) -> None:
    """The snapshots back into --runs where a run has no checkpoint (or an older one)."""
    for name, (folder, _) in stages(args.runs, PRESETS[args.device]).items():
        snapshot = args.snapshots / f"{name}.pt"
        if snapshot.exists() and _steps_done(folder) < _steps_in(snapshot):
            checkpoint.expand(snapshot, folder / training.CHECKPOINT)
            print(f"{folder} resumes at step {_steps_done(folder)}")


def _steps_in(path: Path) -> int:
    import torch

    return torch.load(path, map_location="cpu", weights_only=True)["step"]


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=Path, default=ROOT.parent / "runs" / "painted_zoo")
    parser.add_argument(
        "--device", choices=sorted(PRESETS), default="cpu", help="the preset (and device) to train with"
    )
    parser.add_argument(
        "--data", type=Path, default=DATA, help="the folder holding photos/ and styles/ (or a pack of them)"
    )
    parser.add_argument(
        "--snapshots",
        type=Path,
        default=ROOT / "checkpoints" / "painted_zoo",
        help="where snapshot writes and restore reads compact checkpoints",
    )
    sub = parser.add_subparsers(required=True)
    p = sub.add_parser("train")
    p.add_argument("--arch", nargs="+", default=list(ARCHS), choices=ARCHS)
    p.add_argument(
        "--minutes", type=float, help="end every stage within this wall-clock time (a lent GPU's fixed time)"
    )
    p.set_defaults(run=cmd_train)
    p = sub.add_parser("preview")
    p.add_argument("--arch", default="full", choices=ARCHS)
    p.add_argument("--checkpoint", type=Path)
    p.add_argument("--size", type=int, default=256)
    p.add_argument("-o", "--output", type=Path)
    p.set_defaults(run=cmd_preview)
    sub.add_parser("snapshot").set_defaults(run=cmd_snapshot)
    sub.add_parser("restore").set_defaults(run=cmd_restore)
    p = sub.add_parser("publish")
    p.add_argument("--arch", nargs="+", default=list(ARCHS), choices=ARCHS)
    p.add_argument("--folder", type=Path, default=zoo.PRETRAINED)
    p.add_argument("--partial", action="store_true", help="publish stages that stopped short of their steps too")
    p.set_defaults(run=cmd_publish)
    p = sub.add_parser("pack", help="photos, paintings and VGG16 in one folder small enough to travel to a lent GPU")
    p.add_argument("--out", type=Path, default=ROOT / PACK)
    p.add_argument("--megabytes", type=float, default=PACK_MEGABYTES, help="size limit of the whole pack")
    p.set_defaults(run=cmd_pack)
    args = parser.parse_args(argv)
    args.runs, args.snapshots = args.runs.resolve(), args.snapshots.resolve()
    args.folder = Path(args.folder).resolve() if hasattr(args, "folder") else None
    if hasattr(args, "out"):
        args.out = args.out.resolve()
    os.chdir(ROOT)
    args.run(args)


if __name__ == "__main__":
    main()
