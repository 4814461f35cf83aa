"""Training feed-forward style networks (Johnson et al. 2016), resumable and distributed.

One painting, a folder of photos: the network learns to turn any photo into that painting's
style by minimising VGG16 perceptual losses (content at one layer, Gram matrices at several,
total variation), optionally plus

- compound regularisation (Wang et al. 2020, "Consistent video style transfer via compound
  regularization"): the output of a slightly warped, shifted and noisy photo must equal the
  same warp of the output of the photo. Trained on stills, the network becomes steady on
  video, with no optical flow or video data needed at training time.
- distillation from a trained teacher (used to train `lite` models from `full` ones).

Reproducibility without iterator state: every random draw of step k (which photos, crops,
flips, flows, noise) comes from a generator seeded by (seed, k, ...). Resuming at step k
therefore reproduces the same batches; a checkpoint holds weights, optimiser state and the
step, and training 2 + 2 steps gives bit-identical weights to 4 straight.

Distributed: launched by torchrun (RANK / WORLD_SIZE in the environment), each rank takes its
slice of every step's batch, DDP averages the gradients, rank 0 alone writes files.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import fnmatch
import functools
import json
import math
import os
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from styletransfer import images
from styletransfer.errors import StyleTransferError
from styletransfer.files import atomic_write
from styletransfer.gatys import STYLE_SCALE
from styletransfer.lossnet import LAYER_INDEX, VGG16Features, deepest, pretrained_vgg16
from styletransfer.losses import gram_matrix, relative_mse, total_variation
from styletransfer.transformer import TransformerConfig, TransformerNet, build

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff", ".gif")
CHECKPOINT = "checkpoint.pt"
CSV_COLUMNS = ("step", "content", "style", "tv", "temporal", "distill", "reconstruct", "total", "seconds")
CHECKPOINT_VERSION = 1
# Photos of ../shared/data/photos that the zoo models never train on: bench/quality.py and the
# app's example photos judge the models on them.
HELD_OUT_PHOTOS = ("skimage_*", "sklearn_*", "set5_*", "set14_*")
# Fields that may differ when resuming: they change how a run is executed, not what it computes.
RUNTIME_FIELDS = frozenset({"steps", "checkpoint_every", "log_every", "device", "num_workers", "channels_last"})


@dataclass(frozen=True)
class TrainConfig:
    style: str = ""  # the painting
    content_dir: str = ""  # photos, searched recursively
    # File-name patterns (fnmatch) of photos kept out of training, e.g. the held-out photos
    # that bench/quality.py and the app's examples judge the models on.
    exclude: tuple[str, ...] = ()
    arch: str = "full"  # transformer.ARCHS
    blur: bool = True  # anti-aliased downsampling (transformer.TransformerConfig.blur)
    steps: int = 40_000  # Johnson et al.: 2 epochs of COCO's 80k images at batch 4
    batch_size: int = 4  # over all ranks together
    crop_size: int = 256
    # Scale jitter: each crop covers this fraction (drawn uniformly) of the photo's shorter
    # side before being resized to crop_size, so the network sees textures at many scales.
    crop_scale: tuple[float, float] = (0.5, 1.0)
    lr: float = 1e-3  # Adam
    content_weight: float = 1.0
    # Same dimensionless losses and STYLE_SCALE as gatys.py, so 1 means "balanced" there;
    # a feed-forward net matches style less closely, so this is a starting point, not tuned.
    style_weight: float = 1.0
    tv_weight: float = 0.0  # the sigmoid output and blurred downsampling already keep it smooth
    content_layer: str = "relu2_2"  # Johnson et al.
    style_layers: tuple[str, ...] = ("relu1_2", "relu2_2", "relu3_3", "relu4_3")
    style_size: int = 512  # long side the painting is resized to (sets brush-stroke scale)
    temporal_weight: float = 0.0  # compound regularisation; 0 = off
    temporal_flow: float = 2.0  # largest smooth-flow displacement, pixels at crop_size
    temporal_shift: int = 4  # largest global translation, whole pixels
    temporal_noise: float = 0.02  # std of Gaussian noise added to the warped photo
    teacher: str = ""  # a trained model (checkpoint.pt or .safetensors) to distil; "" = none
    # Start from a trained model of the same arch instead of random weights. Fine-tuning a
    # network trained on another painting reaches a new style in a fraction of the steps:
    # styles differ mostly in instance-norm statistics (Dumoulin et al. 2017).
    init: str = ""
    distill_weight: float = 1.0
    # L1 to the photo itself. With the content and style weights at 0 it trains an autoencoder
    # in minutes (no VGG pass), a starting point (--init) that keeps the photo readable from
    # the first step of style training instead of after thousands.
    reconstruct_weight: float = 0.0
    seed: int = 0
    checkpoint_every: int = 1000
    log_every: int = 10
    device: str = "auto"  # "cpu", "cuda" or "auto"
    amp: str = "off"  # "off", "bf16" or "fp16"; CUDA only (ignored on CPU)
    channels_last: bool = False  # faster on GPUs; slower on the 2-core CPU (NOTES.md)
    num_workers: int = 0  # DataLoader processes decoding photos

    def __post_init__(self):
        # Lists from the CLI or JSON become tuples, so the config stays hashable and comparable.
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, list):
                object.__setattr__(self, f.name, tuple(value))
        validate(self)

    @property
    def model_config(self) -> TransformerConfig:
        return TransformerConfig(arch=self.arch, blur=self.blur)


def validate(c: TrainConfig) -> None:
    def need(ok, message):
        if not ok:
            raise StyleTransferError(message)

    c.model_config  # unknown arch: its own message
    need(c.steps >= 1, f"steps must be >= 1, got {c.steps}")
    need(c.batch_size >= 1, f"batch size must be >= 1, got {c.batch_size}")
    need(16 <= c.crop_size <= 2048, f"crop size must be 16..2048 px, got {c.crop_size}")
    need(len(c.crop_scale) == 2 and 0 < c.crop_scale[0] <= c.crop_scale[1] <= 1, f"crop scale must be two numbers 0 < lo <= hi <= 1, got {c.crop_scale}")
    need(c.lr > 0, f"learning rate must be > 0, got {c.lr}")
    weights = (c.content_weight, c.style_weight, c.tv_weight, c.temporal_weight, c.distill_weight, c.reconstruct_weight)
    need(min(weights) >= 0, "loss weights must be >= 0")
    for name in (c.content_layer, *c.style_layers):
        need(name in LAYER_INDEX and name.startswith("relu"), f"unknown VGG16 layer {name!r}; use names like relu2_2")
    need(len(c.style_layers) >= 1, "give at least one style layer")
    need(32 <= c.style_size <= 4096, f"style size must be 32..4096 px, got {c.style_size}")
    need(c.temporal_flow >= 0 and c.temporal_shift >= 0 and c.temporal_noise >= 0, "temporal flow, shift and noise must be >= 0")
    need(c.checkpoint_every >= 1 and c.log_every >= 1, "checkpoint_every and log_every must be >= 1")
    need(c.device in ("auto", "cpu", "cuda"), f"device must be auto, cpu or cuda, got {c.device!r}")
    need(c.amp in ("off", "bf16", "fp16"), f"amp must be off, bf16 or fp16, got {c.amp!r}")
    need(c.num_workers >= 0, "num_workers must be >= 0")


@dataclass
class TrainStep:
    """Progress of one training step (given to the callback on rank 0)."""

    step: int  # 1-based
    total_steps: int
    losses: dict[str, float]  # averaged over ranks; "total" is weighted
    elapsed: float  # training seconds, over all sessions of a resumed run


# ------------------------------------------------------------------------------ data


def list_images(folder, exclude: Sequence[str] = ()) -> list[Path]:
    """Image files under folder (recursive, sorted so every rank and resume sees one order),
    leaving out names that match a pattern in exclude."""
    folder = Path(folder)
    if not folder.is_dir():
        raise StyleTransferError(f"content folder not found: {folder}")
    files = sorted(
        p
        for p in folder.rglob("*")
        if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file() and not any(fnmatch.fnmatch(p.name, x) for x in exclude)
    )
    if not files:
        raise StyleTransferError(f"no images ({', '.join(IMAGE_SUFFIXES)}) found in {folder}")
    return files


def step_generator(seed: int, step: int, *stream: int) -> torch.Generator:
    """A generator owned by (seed, step, stream...): the same draws whenever step k is rerun."""
    key = (seed, step, *stream)
    value = 0
    for part in key:  # a fixed mix (Python's hash() of a tuple is not stable across versions)
        value = (value * 1_000_003 + int(part) + 1) % (2**63)
    return torch.Generator().manual_seed(value)


class StepBatches(torch.utils.data.Dataset):
    """Item k is this rank's share of step k's batch: (B / world, 3, crop, crop) in [0, 1].

    Photos are visited in a fresh random order each epoch; an unreadable photo is skipped
    with a warning and the next one in the folder takes its place.
    """

    def __init__(self, files: Sequence[Path], config: TrainConfig, rank: int = 0, world_size: int = 1):
        self.files = list(files)
        self.config = config
        self.rank, self.world_size = rank, world_size
        self.local = config.batch_size // world_size
        self.bad: set[int] = set()

    def __len__(self) -> int:
        return self.config.steps

    @functools.lru_cache(maxsize=2)
    def _order(self, epoch: int) -> torch.Tensor:
        return torch.randperm(len(self.files), generator=step_generator(self.config.seed, epoch, 1))

    def __getitem__(self, step: int) -> torch.Tensor:
        n, b = len(self.files), self.config.batch_size
        crops = []
        for i in range(self.rank * self.local, (self.rank + 1) * self.local):
            position = step * b + i
            index = int(self._order(position // n)[position % n])
            crops.append(self._crop(index, step_generator(self.config.seed, step, 2, i)))
        return torch.cat(crops)

    def _crop(self, index: int, generator: torch.Generator) -> torch.Tensor:
        # Draw every random number before touching the file, so a skipped photo does not
        # change what its replacement is cut with.
        c = self.config
        u = torch.rand(4, generator=generator).tolist()
        for k in range(len(self.files)):
            candidate = (index + k) % len(self.files)
            if candidate in self.bad:
                continue
            try:
                photo = images.to_tensor(images.open_image(self.files[candidate]))
            except StyleTransferError as error:
                self.bad.add(candidate)
                warnings.warn(f"skipping unreadable training image {self.files[candidate]}: {error}", stacklevel=2)
                continue
            return random_crop(photo, c.crop_size, c.crop_scale, u)
        raise StyleTransferError("none of the training images could be read")


def random_crop(photo: torch.Tensor, size: int, scale: tuple[float, float], u: Sequence[float]) -> torch.Tensor:
    """A square crop covering a fraction of the shorter side, resized to size, maybe mirrored.

    u: four uniform [0, 1) numbers (scale, x, y, flip), drawn by the caller.
    """
    height, width = photo.shape[-2:]
    side = max(1, round(min(height, width) * (scale[0] + (scale[1] - scale[0]) * u[0])))
    top = min(int(u[2] * (height - side + 1)), height - side)
    left = min(int(u[1] * (width - side + 1)), width - side)
    crop = images.resize_to(photo[..., top : top + side, left : left + side], (size, size))
    return crop.flip(-1) if u[3] < 0.5 else crop


# ------------------------------------------------------------- compound regularisation


def warp(image: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
    """Backward warp: out(p) = image(p + flow(p)), bilinear; flow (B, 2, H, W) in pixels (x, y).

    Outside the image the border pixel is repeated. A constant integer flow (dx, dy) equals
    torch.roll(image, (-dy, -dx)) away from the borders.
    """
    b, _, h, w = image.shape
    ys = torch.arange(h, dtype=flow.dtype, device=flow.device).view(1, h, 1)
    xs = torch.arange(w, dtype=flow.dtype, device=flow.device).view(1, 1, w)
    # align_corners=True: -1 and 1 are the centres of the corner pixels.
    gx = 2 * (xs + flow[:, 0]) / max(w - 1, 1) - 1  # (B, H, W)
    gy = 2 * (ys + flow[:, 1]) / max(h - 1, 1) - 1
    grid = torch.stack((gx, gy), dim=-1).to(image.dtype)  # (B, H, W, 2)
    return F.grid_sample(image, grid, mode="bilinear", padding_mode="border", align_corners=True)


def random_flow(batch: int, height: int, width: int, magnitude: float, shift: int, generator: torch.Generator, grid: int = 4) -> torch.Tensor:
    """Smooth random motion plus a global integer translation: (B, 2, H, W) pixels.

    The smooth part is a grid x grid field of uniform displacements in [-magnitude, magnitude]
    upsampled bicubically, like the slow non-rigid motion between neighbouring video frames.
    """
    coarse = (torch.rand(batch, 2, grid, grid, generator=generator) * 2 - 1) * magnitude
    smooth = F.interpolate(coarse, size=(height, width), mode="bicubic", align_corners=True)
    offset = torch.randint(-shift, shift + 1, (batch, 2, 1, 1), generator=generator).to(smooth.dtype)
    return smooth + offset


def moved_photo(photo: torch.Tensor, flow: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
    """x' = warp(x) + noise, the "next frame" of Wang et al. 2020, kept in [0, 1]."""
    return (warp(photo, flow) + noise).clamp(0, 1)


def compound_loss(output: torch.Tensor, moved_output: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
    """mean |T(x') - warp(T(x))|^2 (Wang et al. 2020): the noise is not in the second term."""
    return (moved_output.float() - warp(output.float(), flow)).pow(2).mean()


# ------------------------------------------------------------------------------ losses


class Perceptual:
    """Content, style and TV losses against one painting whose Grams are encoded once."""

    def __init__(self, lossnet: VGG16Features, painting: torch.Tensor, config: TrainConfig):
        self.net, self.config = lossnet, config
        self.layers = {config.content_layer, *config.style_layers}
        with torch.no_grad():
            features = lossnet(painting, config.style_layers)
            self.grams = {n: gram_matrix(features[n].float()) for n in config.style_layers}  # (1, C, C)

    def __call__(self, photo: torch.Tensor, output: torch.Tensor) -> dict[str, torch.Tensor]:
        c = self.config
        with torch.no_grad():
            target = self.net(photo, [c.content_layer])[c.content_layer].float()
        features = self.net(output, self.layers)
        content = _mean_relative_mse(features[c.content_layer].float(), target)
        style = 0
        for name in c.style_layers:
            gram = gram_matrix(features[name].float())  # (B, C, C)
            style = style + _mean_relative_mse(gram, self.grams[name].expand_as(gram))
        return {"content": content, "style": style / len(c.style_layers), "tv": total_variation(output.float())}


def _mean_relative_mse(input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """losses.relative_mse of each image, averaged over the batch.

    Not relative_mse of the whole batch (a ratio of sums): a mean of per-image terms makes
    the loss, and so the gradient that DDP averages, the same however the batch is split.
    """
    return torch.stack([relative_mse(a, b) for a, b in zip(input, target)]).mean()


def random_lossnet(layers: Sequence[str], seed: int = 0) -> VGG16Features:
    """An untrained VGG16 (for tests and smoke runs: no weights needed), the same on every rank."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return VGG16Features(None, last_layer=deepest(layers))


def load_model(path) -> TransformerNet:
    """A trained network from a checkpoint.pt written here, or a model .safetensors with its card."""
    path = Path(path)
    if path.suffix == ".safetensors":
        from styletransfer import zoo

        return zoo.load_file(path)[0]
    if not path.is_file():
        raise StyleTransferError(f"model file not found: {path}")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
        net = build(TransformerConfig(**ckpt["model_config"]))
        net.load_state_dict(ckpt["model"])
    except Exception as e:
        raise StyleTransferError(f"{path} is not a training checkpoint that can be loaded ({e})") from e
    return net.eval().requires_grad_(False)


# ------------------------------------------------------------------ outputs on disk


def save_checkpoint(path: Path, state: dict) -> None:
    atomic_write(path, lambda tmp: torch.save(state, tmp))


def _read_csv(path: Path) -> list[dict[str, float]]:
    if not path.is_file():
        return []
    with open(path, newline="") as f:
        # A column the file predates reads as 0, so older runs resume and plot as before.
        return [{k: float(row.get(k) or 0) for k in CSV_COLUMNS} for row in csv.DictReader(f)]


def _write_csv(path: Path, rows: list[dict[str, float]]) -> None:
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
    colours = {"total": (0, 0, 0), "content": (31, 119, 180), "style": (214, 39, 40), "tv": (44, 160, 44), "temporal": (148, 103, 189), "distill": (255, 127, 14), "reconstruct": (140, 86, 75)}
    series = {k: [(r["step"], r[k]) for r in rows if r[k] > 0 and math.isfinite(r[k])] for k in colours}
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
                draw.ellipse([x - 2, y - 2, x + 2, y + 2], fill=colours[name])
            else:
                draw.line(coords, fill=colours[name], width=2)
            draw.text((width - right + 10, top + 16 * k), name, fill=colours[name])
    atomic_write(path, lambda tmp: im.save(tmp, format="PNG"))


# ------------------------------------------------------------------------ distributed


@dataclass(frozen=True)
class _Dist:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def main(self) -> bool:
        return self.rank == 0


def _dist_from_env() -> _Dist:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return _Dist()
    return _Dist(int(os.environ["RANK"]), world, int(os.environ.get("LOCAL_RANK", "0")))


def _device(config: TrainConfig, dist: _Dist) -> torch.device:
    if config.device == "cpu" or (config.device == "auto" and not torch.cuda.is_available()):
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise StyleTransferError("device 'cuda' was asked for but no CUDA GPU is available; use --device cpu")
    return torch.device("cuda", dist.local_rank if dist.enabled else torch.cuda.current_device())


# ------------------------------------------------------------------------------ train


def train(
    config: TrainConfig,
    out,
    *,
    resume: bool = False,
    callback: Callable[[TrainStep], None] | None = None,
    lossnet: VGG16Features | None = None,
) -> Path:
    """Train to config.steps, writing checkpoint.pt, losses.csv/.png and config.json in out.

    resume: continue from out/checkpoint.pt (the config may differ only in RUNTIME_FIELDS).
    lossnet: VGG16 to measure losses with (default: the pretrained one). Returns the
    checkpoint path. Under torchrun, call it on every rank.
    """
    out = Path(out)
    path = out / CHECKPOINT
    dist = _dist_from_env()
    device = _device(config, dist)
    owns_group = False
    if dist.enabled and not torch.distributed.is_initialized():
        torch.distributed.init_process_group("nccl" if device.type == "cuda" else "gloo")
        owns_group = True
    try:
        if dist.enabled and config.batch_size % dist.world_size:
            raise StyleTransferError(f"batch size {config.batch_size} must be a multiple of the {dist.world_size} processes")
        if device.type == "cuda":
            torch.cuda.set_device(device)
        return _train(config, out, path, dist, device, resume, callback, lossnet)
    finally:
        if owns_group:
            torch.distributed.destroy_process_group()


def _train(config, out, path, dist, device, resume, callback, lossnet) -> Path:
    if not config.style or not config.content_dir:
        raise StyleTransferError("training needs a painting (style) and a folder of photos (content_dir)")
    files = list_images(config.content_dir, config.exclude)
    painting = images.load_tensor(config.style, long_side=config.style_size)
    ckpt = None
    if path.exists():
        if not resume:
            raise StyleTransferError(f"{path} already exists: pass --resume to continue it, or choose another --out folder")
        ckpt = _load_checkpoint(path, config)
    elif resume:
        raise StyleTransferError(f"cannot resume: {path} does not exist")
    start = ckpt["step"] if ckpt else 0
    if start >= config.steps:
        raise StyleTransferError(f"{path} is already at step {start}: ask for more --steps than that to continue")

    memory = torch.channels_last if config.channels_last else torch.contiguous_format
    with torch.random.fork_rng(devices=[]):  # initial weights from the seed, global RNG untouched
        torch.manual_seed(config.seed)
        model = build(config.model_config)
    if ckpt:
        model.load_state_dict(ckpt["model"])
    elif config.init:
        _init_from(model, config)
    model = model.to(device, memory_format=memory).train()
    net = model
    if dist.enabled:
        net = nn.parallel.DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    if ckpt:
        optimizer.load_state_dict(ckpt["optimizer"])
    use_amp = config.amp != "off" and device.type == "cuda"  # CPU autocast would only slow this down
    amp_dtype = torch.float16 if config.amp == "fp16" else torch.bfloat16
    # fp16 gradients underflow without loss scaling; bf16 has fp32's range and needs none.
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp and config.amp == "fp16")
    if ckpt and ckpt.get("scaler"):
        scaler.load_state_dict(ckpt["scaler"])

    vgg = lossnet or pretrained_vgg16(last_layer=deepest((config.content_layer, *config.style_layers)))
    vgg = vgg.to(device)
    objective = Perceptual(vgg, painting.to(device), config)
    teacher = load_model(config.teacher).to(device, memory_format=memory) if config.teacher else None

    data = StepBatches(files, config, dist.rank, dist.world_size)
    loader = torch.utils.data.DataLoader(
        data, batch_size=None, sampler=range(start, config.steps), num_workers=config.num_workers, pin_memory=device.type == "cuda"
    )
    csv_path = out / "losses.csv"
    rows: list[dict[str, float]] = []
    if dist.main:
        out.mkdir(parents=True, exist_ok=True)
        rows = [r for r in _read_csv(csv_path) if r["step"] <= start]  # drop rows logged after the checkpoint
        _write_csv(csv_path, rows)
        text = json.dumps({"train_config": asdict(config), "model_config": asdict(config.model_config)}, indent=2)
        atomic_write(out / "config.json", lambda tmp: tmp.write_text(text + "\n"))

    elapsed_before = ckpt["elapsed"] if ckpt else 0.0
    began = time.perf_counter()
    pending: list[torch.Tensor] = []
    names = ("content", "style", "tv", "temporal", "distill", "reconstruct", "total")
    for step, batch in zip(range(start + 1, config.steps + 1), loader):
        photo = batch.to(device, non_blocking=True).contiguous(memory_format=memory)
        autocast = torch.autocast("cuda", dtype=amp_dtype) if use_amp else contextlib.nullcontext()
        temporal = config.temporal_weight > 0
        if temporal:
            # Drawn for the whole batch and sliced, so any split over ranks trains the same.
            g = step_generator(config.seed, step - 1, 3)
            b, _, h, w = photo.shape
            mine = slice(dist.rank * b, (dist.rank + 1) * b)
            flow = random_flow(config.batch_size, h, w, config.temporal_flow, config.temporal_shift, g)[mine].to(device)
            noise = torch.randn((config.batch_size, 3, h, w), generator=g)[mine].mul(config.temporal_noise).to(device)
            # One forward for both: DDP allows one forward per backward, and instance norm
            # is per image, so batching changes nothing.
            both = torch.cat([photo, moved_photo(photo, flow, noise).contiguous(memory_format=memory)])
        with autocast:
            if temporal:
                output, moved_output = net(both).chunk(2)
            else:
                output = net(photo)
            zero = output.new_zeros((), dtype=torch.float32)
            if config.content_weight or config.style_weight:
                terms = objective(photo, output)
            else:  # pure distillation: no VGG pass at all, several times cheaper per step
                terms = {"content": zero, "style": zero, "tv": total_variation(output.float())}
            terms["temporal"] = compound_loss(output, moved_output, flow) if temporal else zero
            terms["distill"] = zero
            terms["reconstruct"] = (output.float() - photo.float()).abs().mean() if config.reconstruct_weight else zero
            if teacher is not None:
                with torch.no_grad():
                    target = teacher(photo).float()
                terms["distill"] = (output.float() - target).abs().mean()
        total = (
            config.content_weight * terms["content"]
            + STYLE_SCALE * config.style_weight * terms["style"]
            + config.tv_weight * terms["tv"]
            + config.temporal_weight * terms["temporal"]
            + config.distill_weight * terms["distill"]
            + config.reconstruct_weight * terms["reconstruct"]
        )
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(total).backward()
        scaler.step(optimizer)
        scaler.update()

        values = torch.stack([terms[n].detach().float() for n in names[:-1]] + [total.detach().float()])
        if dist.enabled:
            torch.distributed.all_reduce(values)
            values /= dist.world_size
        losses = dict(zip(names, values.tolist()))
        if not math.isfinite(losses["total"]):
            raise StyleTransferError(f"training diverged at step {step} (loss {losses['total']}); lower --lr or the style weight")
        elapsed = elapsed_before + time.perf_counter() - began
        pending.append(values.cpu())
        if dist.main:
            if step % config.log_every == 0 or step == config.steps:
                mean = torch.stack(pending).mean(0).tolist()  # the interval's mean: a smoother curve
                rows.append({"step": step, **dict(zip(names, mean)), "seconds": round(elapsed, 3)})
                _write_csv(csv_path, rows)
                pending = []
            if step % config.checkpoint_every == 0 or step == config.steps:
                state = {
                    "version": CHECKPOINT_VERSION,
                    "model": {k: v.detach().cpu() for k, v in model.state_dict().items()},  # unwrapped: no "module." prefix
                    "model_config": asdict(config.model_config),
                    "train_config": asdict(config),
                    "optimizer": optimizer.state_dict(),
                    "scaler": scaler.state_dict() if scaler.is_enabled() else {},
                    "step": step,
                    "elapsed": elapsed,
                }
                save_checkpoint(path, state)
                plot_losses(rows, out / "losses.png")
            if callback is not None:
                callback(TrainStep(step=step, total_steps=config.steps, losses=losses, elapsed=elapsed))
        elif step % config.log_every == 0:
            pending = []
    if dist.enabled:
        torch.distributed.barrier()  # no rank returns before rank 0 has written the checkpoint
    return path


def _init_from(model: TransformerNet, config: TrainConfig) -> None:
    source = load_model(config.init)
    if source.config != model.config:
        raise StyleTransferError(f"--init {config.init} is a {source.config.arch} network (blur={source.config.blur}); this run trains {config.arch} (blur={config.blur})")
    model.load_state_dict({k: v.float() for k, v in source.state_dict().items()})


def _load_checkpoint(path: Path, config: TrainConfig) -> dict:
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        raise StyleTransferError(f"cannot read {path} ({e}); it may be damaged: remove it to start over") from e
    # A field the saved run predates counts as its default: old runs resume after upgrades.
    saved = {**asdict(TrainConfig()), **ckpt.get("train_config", {})}
    mine = asdict(config)
    differ = sorted(k for k in mine if k not in RUNTIME_FIELDS and _plain(saved.get(k)) != _plain(mine[k]))
    if differ:
        raise StyleTransferError(
            f"cannot resume {path}: settings differ from the saved run ({', '.join(differ)}); use the same ones, or another --out"
        )
    return ckpt


def _plain(value):
    return list(value) if isinstance(value, (tuple, list)) else value


def config_from_checkpoint(path, **overrides) -> TrainConfig:
    """The TrainConfig saved in a checkpoint, with some fields replaced (e.g. steps)."""
    try:
        saved = torch.load(Path(path), map_location="cpu", weights_only=True)["train_config"]
    except FileNotFoundError:
        raise StyleTransferError(f"cannot resume: {path} does not exist") from None
    except Exception as e:
        raise StyleTransferError(f"cannot read {path} ({e})") from e
    known = {f.name for f in fields(TrainConfig)}
    return dataclasses.replace(TrainConfig(**{k: v for k, v in saved.items() if k in known}), **overrides)
