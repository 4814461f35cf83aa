"""Train the universal mode's decoders (networks/decoder.py): VGG16 features of a photo in,
the same photo out, one decoder per level (--levels: by default those the mode uses), all in
one loop (they share the encoder pass).

    python -m scripts.train_decoders train [--steps N] [--runs ../runs]   # resumable: rerun to continue
    python -m scripts.train_decoders publish [--folder pretrained/]        # -> universal.decoders.safetensors
    python -m scripts.train_decoders snapshot | restore                    # compact copy in checkpoints/

Losses (Li et al. 2017): pixel MSE, plus the reconstruction's own features against the
photo's at the decoder's level (relative squared error, so every level weighs alike). The
feature term sharpens what pixel MSE leaves soft but costs three times as much per step on
the CPU (a VGG forward and backward through the output), so the first ``pixel_only`` steps
go without it. No paintings are needed: the transforms (wct.py) bring the style.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from safetensors.torch import save_file
from tqdm import tqdm

from styletransfer.files import atomic_write
from styletransfer.networks.decoder import DECODERS_FILE, LAYER, LEVELS, Decoder
from styletransfer.perceptual.vgg import pretrained_vgg16
from styletransfer.training import checkpoint
from styletransfer.training.average import RunningAverage
from styletransfer.training.catalogue import HELD_OUT_PHOTOS, PHOTOS
from styletransfer.training.config import TrainConfig
from styletransfer.training.data import StepBatches, list_images
from styletransfer.universal import CASCADE

REPO = Path(__file__).resolve().parent.parent
RUN_NAME = "decoders"
SNAPSHOT = REPO / "checkpoints" / "universal" / "decoders.pt"
PUBLISHED = DECODERS_FILE  # where the mode reads them (networks/decoder.py)
LOG = "losses.csv"
# Settings that may change between resumes: they do not alter what the optimiser does.
# (Each decoder learns from its own loss only, so training fewer levels leaves the others as they were.)
RESUMABLE_CHANGES = ("steps", "checkpoint_every", "log_every", "average_decay", "levels")
COLUMNS = ("step", *(f"pixel{level}" for level in LEVELS), *(f"feature{level}" for level in LEVELS), "elapsed")


@dataclass(frozen=True)
class DecoderConfig:
    steps: int = 6000
    batch_size: int = 8
    crop_size: int = 128  # fully convolutional: what they learn at 128 px holds at 512
    crop_scale: tuple[float, float] = (0.3, 1.0)
    lr: float = 3e-4
    width: float = 0.5  # decoder.py: a quarter of VGG's cost at level 4
    feature_weight: float = 0.1  # the relative feature error is ~10x the pixel MSE; this keeps colours in charge
    pixel_only: int = 1500  # steps before the feature term joins
    seed: int = 7
    levels: tuple[int, ...] = tuple(sorted(CASCADE))  # the levels the mode uses
    average_decay: float = 0.998  # publish a running average of the weights (~500 steps): Adam's last step is noisy
    checkpoint_every: int = 100
    log_every: int = 10


def read_log(path: Path) -> list[dict[str, str]]:
    if not path.is_file():
        return []
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def write_log(path: Path, rows: list[dict]) -> None:
    def write(tmp):
        with open(tmp, "w", newline="") as f:
            writer = csv.DictWriter(f, COLUMNS, restval="")
            writer.writeheader()
            writer.writerows(rows)

    atomic_write(path, write)


def decoders(width: float) -> torch.nn.ModuleDict:
    return torch.nn.ModuleDict({str(level): Decoder(level, width) for level in LEVELS})


def losses(
    nets: torch.nn.ModuleDict, encoder, photos: torch.Tensor, levels, with_features: bool, feature_weight: float
):
    with torch.no_grad():
        targets = encoder(photos, [LAYER[level] for level in levels])
    terms = {}
    for level in levels:
        out = nets[str(level)](targets[LAYER[level]])
        terms[f"pixel{level}"] = (out - photos).pow(2).mean()
        if with_features:
            target = targets[LAYER[level]]
            mine = encoder(out, [LAYER[level]])[LAYER[level]]
            terms[f"feature{level}"] = (
                feature_weight * (mine - target).pow(2).mean() / target.pow(2).mean().clamp_min(1e-8)
            )
    return terms


def train(runs: Path, config: DecoderConfig) -> Path:
    folder = runs / RUN_NAME
    folder.mkdir(parents=True, exist_ok=True)
    ckpt_path = folder / "checkpoint.pt"
    torch.manual_seed(config.seed)
    nets = decoders(config.width)
    optimizer = torch.optim.Adam(nets.parameters(), lr=config.lr)
    step, elapsed = 0, 0.0
    saved_average = None
    if ckpt_path.exists():
        saved = torch.load(ckpt_path, map_location="cpu", weights_only=True)
        mine = {k: v for k, v in asdict(config).items() if k not in RESUMABLE_CHANGES}
        theirs = {k: saved["config"].get(k) for k in mine}
        if json.loads(json.dumps(theirs)) != json.loads(json.dumps(mine)):
            raise SystemExit(f"{ckpt_path} was trained with other settings ({theirs}); use another --runs")
        nets.load_state_dict(saved["model"])
        optimizer.load_state_dict(saved["optimizer"])
        step, elapsed = saved["step"], saved["elapsed"]
        saved_average = saved.get("average")  # runs from before the average start it from their weights
    files = list_images(PHOTOS, exclude=HELD_OUT_PHOTOS)
    batches = StepBatches(
        files,
        TrainConfig(
            steps=config.steps + 1,
            batch_size=config.batch_size,
            crop_size=config.crop_size,
            crop_scale=config.crop_scale,
            seed=config.seed,
            content_dir=str(PHOTOS),
        ),
    )
    encoder = pretrained_vgg16(LAYER[max(config.levels)])
    rows = [r for r in read_log(folder / LOG) if float(r["step"]) <= step]
    average = RunningAverage(nets, config.average_decay, saved_average)

    def save():
        state = {
            "model": nets.state_dict(),
            "average": average.weights,
            "optimizer": optimizer.state_dict(),
            "step": step,
            "elapsed": elapsed,
            "config": asdict(config),
        }
        atomic_write(ckpt_path, lambda tmp: torch.save(state, tmp))
        write_log(folder / LOG, rows)

    bar = tqdm(total=config.steps, initial=step, desc="decoders", unit="step")
    while step < config.steps:
        started = time.perf_counter()
        step += 1
        terms = losses(nets, encoder, batches[step], config.levels, step > config.pixel_only, config.feature_weight)
        total = sum(terms.values())
        optimizer.zero_grad(set_to_none=True)
        total.backward()
        optimizer.step()
        average.update()
        elapsed += time.perf_counter() - started
        if step % config.log_every == 0:
            row = {"step": step, **{k: f"{v.item():.5g}" for k, v in terms.items()}, "elapsed": f"{elapsed:.1f}"}
            rows.append(row)
            bar.set_postfix({k: v for k, v in row.items() if k.startswith("pixel")})
        bar.update(1)
        if step % config.checkpoint_every == 0 or step == config.steps:
            save()
    bar.close()
    return ckpt_path


def publish(runs: Path, folder: Path) -> Path:
    """The decoders the mode uses (their running average) as fp16 safetensors, settings in the metadata."""
    saved = torch.load(runs / RUN_NAME / "checkpoint.pt", map_location="cpu", weights_only=True)
    levels = sorted(CASCADE)  # what the mode uses (a run may have trained others)
    tensors = {
        k: v.half().contiguous()
        for k, v in saved.get("average", saved["model"]).items()
        if int(k.split(".")[0]) in levels
    }
    metadata = {
        "width": str(saved["config"]["width"]),
        "levels": ",".join(map(str, levels)),
        "steps": str(saved["step"]),
        "train_config": json.dumps(saved["config"]),
        "photos": f"{PHOTOS.name} without {', '.join(HELD_OUT_PHOTOS)}",
    }
    out = folder / PUBLISHED
    atomic_write(out, lambda tmp: save_file(tensors, str(tmp), metadata=metadata), suffix=".safetensors")
    return out


def snapshot(runs: Path) -> Path:
    """A compact copy to commit: fp16 weights, bf16 optimiser moments (resumes, not bit for bit)."""
    SNAPSHOT.parent.mkdir(parents=True, exist_ok=True)
    checkpoint.compact(runs / RUN_NAME / "checkpoint.pt", SNAPSHOT)
    return SNAPSHOT


def restore(runs: Path) -> Path:
    out = runs / RUN_NAME / "checkpoint.pt"
    checkpoint.expand(SNAPSHOT, out)
    return out


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=Path, default=REPO.parent / "runs")
    sub = parser.add_subparsers(dest="command", required=True)
    t = sub.add_parser("train")
    for field in dataclasses.fields(DecoderConfig):
        if field.type in ("int", "float"):
            t.add_argument(
                "--" + field.name.replace("_", "-"),
                type={"int": int, "float": float}[field.type],
                default=field.default,
            )
    t.add_argument("--levels", type=int, nargs="+", choices=LEVELS, default=DecoderConfig.levels)
    p = sub.add_parser("publish")
    p.add_argument("--folder", type=Path, default=REPO / "pretrained")
    sub.add_parser("snapshot")
    sub.add_parser("restore")
    args = parser.parse_args(argv)
    if args.command == "train":
        values = {f.name: getattr(args, f.name) for f in dataclasses.fields(DecoderConfig) if hasattr(args, f.name)}
        values["levels"] = tuple(sorted(set(values["levels"])))
        print(train(args.runs, DecoderConfig(**values)))
    elif args.command == "publish":
        print(publish(args.runs, args.folder))
    else:
        print({"snapshot": snapshot, "restore": restore}[args.command](args.runs))


if __name__ == "__main__":
    main()
