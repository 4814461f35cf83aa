"""Training a feed-forward style network (Johnson et al. 2016): the loop, top to bottom.

One painting, a folder of photos: the network learns to turn any photo into that painting's
style by minimising the perceptual loss (perceptual/loss.py), optionally plus compound
regularisation for steady video (regularisation.py), distillation from a trained teacher
(how `lite` models learn from `full` ones) and L1 to the photo itself (an autoencoder to
start from). Config in config.py, data in data.py, checkpoints in checkpoint.py, the log in
log.py, torchrun in distributed.py. Training 2 + 2 steps gives bit-identical weights to 4.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import torch
from torch import nn

from styletransfer.errors import StyleTransferError
from styletransfer.files import atomic_write
from styletransfer.io import images
from styletransfer.networks import read_model
from styletransfer.networks.network import GRID_SHIFTS, grid_averaged
from styletransfer.networks.transformer import Deperiod, TransformerConfig, TransformerNet, build
from styletransfer.perceptual.loss import STYLE_SCALE, PerceptualLoss, total_variation
from styletransfer.perceptual.vgg import VGG16Features
from styletransfer.training import checkpoint, distributed, log
from styletransfer.training.average import RunningAverage
from styletransfer.training.config import TrainConfig
from styletransfer.training.data import StepBatches, list_images, step_generator, style_indices
from styletransfer.training.regularisation import (
    compound_loss,
    moved_photo,
    random_flow,
    random_shifts,
    shift_loss,
    shifted_photo,
)


@dataclass
class TrainStep:
    """Progress, given to the callback on rank 0 at every log step (config.log_every)."""

    step: int  # 1-based
    total_steps: int
    losses: dict[str, float]  # averaged over ranks; "total" is weighted
    elapsed: float  # training seconds, over all sessions of a resumed run


def train(
    config: TrainConfig,
    out,
    *,
    resume: bool = False,
    callback: Callable[[TrainStep], None] | None = None,
    lossnet: VGG16Features | None = None,
    stop_after: float | None = None,
) -> Path:
    """Train to config.steps, writing checkpoint.pt, losses.csv/.png and config.json in out.

    resume: continue from out/checkpoint.pt (the config may differ only in RUNTIME_FIELDS).
    lossnet: VGG16 to measure losses with (default: the pretrained one). stop_after: seconds of
    this call after which the run ends early, at the next log step, with a checkpoint there (a
    lent machine's fixed time; a resume goes on from it). Returns the checkpoint path. Under
    torchrun, call it on every rank.
    """
    dist = distributed.from_env()
    device = distributed.device_for(config, dist)
    with distributed.process_group(config, dist, device):
        return _train(config, Path(out), dist, device, resume, callback, lossnet, stop_after)


def _train(
    config: TrainConfig,
    out: Path,
    dist: distributed.Dist,
    device: torch.device,
    resume: bool,
    callback,
    lossnet,
    stop_after: float | None = None,
) -> Path:
    # ---- the run so far
    path = out / checkpoint.CHECKPOINT
    if not config.paintings or not config.content_dir:
        raise StyleTransferError("training needs a painting (style, or styles) and a folder of photos (content_dir)")
    files = list_images(config.content_dir, config.exclude)
    paintings = [images.load_tensor(path, long_side=config.style_size) for path in config.paintings]
    if path.exists() and not resume:
        raise StyleTransferError(f"{path} already exists: pass --resume to continue it, or choose another --out folder")
    if resume and not path.exists():
        raise StyleTransferError(f"cannot resume: {path} does not exist")
    ckpt = checkpoint.load_for_resume(path, config) if resume else None
    start = ckpt["step"] if ckpt else 0
    if start >= config.steps:
        raise StyleTransferError(f"{path} is already at step {start}: ask for more --steps than that to continue")

    # ---- model, optimiser, losses
    if device.type == "cuda":
        # Every step has the same shapes (square crops): cuDNN times its kernels once and keeps the fastest.
        torch.backends.cudnn.benchmark = True
    memory = torch.channels_last if config.channels_last else torch.contiguous_format
    with torch.random.fork_rng(devices=[]):  # initial weights from the seed, global RNG untouched
        torch.manual_seed(config.seed)
        model = build(config.model_config)
    if config.add_to:  # the model grown by one style (a resume rebuilds that shape below)
        model = read_model(config.add_to)[0].add_style()
    if ckpt:
        model = build(TransformerConfig(**ckpt["model_config"]))
        model.load_state_dict(ckpt["model"])
    elif config.init and config.add_to:
        _start_new_row(model, config.init)
    elif config.init:
        _init_from(model, config)
    model = model.to(device, memory_format=memory).train()
    # Adding a style trains its row alone: the other rows get zero gradients (one-hot style
    # weights), and the shared convolutions are frozen.
    trained = model.style_parameters() if config.add_to else list(model.parameters())
    if config.add_to:
        model.requires_grad_(False)
        for p in trained:
            p.requires_grad_(True)
    # Continued from the checkpoint's, or begun now (a fresh run, or one that kept none before).
    average = None
    if config.average_decay:
        average = RunningAverage(model, config.average_decay, ckpt.get("average") if ckpt else None)
    net = (
        nn.parallel.DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
        if dist.enabled
        else model
    )
    optimizer = torch.optim.Adam(trained, lr=config.lr)
    use_amp = config.amp != "off" and device.type == "cuda"  # CPU autocast would only slow this down
    amp_dtype = torch.float16 if config.amp == "fp16" else torch.bfloat16
    # fp16 gradients underflow without loss scaling; bf16 has fp32's range and needs none.
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp and config.amp == "fp16")
    if ckpt:
        optimizer.load_state_dict(ckpt["optimizer"])
        if ckpt.get("scaler"):
            scaler.load_state_dict(ckpt["scaler"])
    perceptual = None
    if config.content_weight or config.style_weight:  # pure distillation needs no VGG pass at all
        perceptual = PerceptualLoss(
            [painting.to(device) for painting in paintings],
            content_layers=(config.content_layer,),
            style_layers=config.style_layers,
            weights=config.perceptual_weights,
            lossnet=lossnet.to(device) if lossnet is not None else None,
            each=bool(config.styles),  # several paintings: one target each, not their blend
        )
        perceptual.net.to(device)
    teacher = read_model(config.teacher)[0].to(device) if config.teacher else None
    if teacher is not None and teacher.config.styles != model.config.styles:
        raise StyleTransferError(
            f"the teacher {config.teacher} has {teacher.config.styles} styles; this run trains {model.config.styles}"
        )

    # ---- data and the log
    data = StepBatches(files, config, dist.rank, dist.world_size)
    loader = torch.utils.data.DataLoader(
        data,
        batch_size=None,
        sampler=range(start, config.steps),
        num_workers=config.num_workers,
        pin_memory=device.type == "cuda",
    )
    csv_path = out / "losses.csv"
    rows: list[dict[str, float]] = []
    if dist.main:
        out.mkdir(parents=True, exist_ok=True)
        rows = [r for r in log.read_csv(csv_path) if r["step"] <= start]  # drop rows logged after the checkpoint
        log.write_csv(csv_path, rows)
        text = json.dumps({"train_config": asdict(config), "model_config": asdict(config.model_config)}, indent=2)
        atomic_write(out / "config.json", lambda tmp: tmp.write_text(text + "\n"))
    weights = config.loss_weights
    elapsed_before = ckpt["elapsed"] if ckpt else 0.0
    began = time.perf_counter()
    pending: list[torch.Tensor] = []

    # ---- the loop
    for step, batch in zip(range(start + 1, config.steps + 1), loader):
        photo = batch.to(device, non_blocking=True).contiguous(memory_format=memory)
        autocast = torch.autocast("cuda", dtype=amp_dtype) if use_amp else contextlib.nullcontext()
        style = style_indices(config, step, dist.rank, dist.world_size)
        if config.add_to:  # every image gets the new painting, the last row
            style = torch.full((photo.shape[0],), model.config.styles - 1)
        style = style.to(device) if style is not None else None
        with autocast:
            terms = _loss_terms(config, net, photo, style, perceptual, teacher, step, dist, memory)
        total = sum(weights[name] * (STYLE_SCALE if name == "style" else 1) * terms[name] for name in log.TERMS)
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(total).backward()
        scaler.step(optimizer)
        scaler.update()
        if average is not None:
            average.update()

        values = torch.stack([terms[n].detach().float() for n in log.TERMS] + [total.detach().float()])
        if dist.enabled:
            torch.distributed.all_reduce(values)
            values /= dist.world_size
        pending.append(values)  # stays on the device: no host sync but at log steps (a GPU never waits)
        elapsed = elapsed_before + time.perf_counter() - began
        last = step == config.steps
        if step % config.log_every == 0 or last:
            steps = torch.stack(pending).cpu()  # (interval, terms): the one sync per interval
            pending = []
            if not steps.isfinite().all():
                bad = step - len(steps) + 1 + int((~steps.isfinite().all(1)).nonzero()[0])
                raise StyleTransferError(f"training diverged at step {bad}; lower --lr or the style weight")
            losses = dict(zip((*log.TERMS, "total"), steps[-1].tolist()))
            if stop_after is not None and not last:
                # Decided at log steps only, where the host waits for the device anyway;
                # every rank takes rank 0's decision.
                out_of_time = torch.tensor([float(time.perf_counter() - began >= stop_after)], device=device)
                if dist.enabled:
                    torch.distributed.broadcast(out_of_time, 0)
                last = bool(out_of_time.item())
            if dist.main:
                mean = steps.mean(0).tolist()  # the interval's mean: a smoother curve
                rows.append({"step": step, **dict(zip((*log.TERMS, "total"), mean)), "seconds": round(elapsed, 3)})
                log.write_csv(csv_path, rows)
                if callback is not None:
                    callback(TrainStep(step=step, total_steps=config.steps, losses=losses, elapsed=elapsed))
        if dist.main and (step % config.checkpoint_every == 0 or last):
            checkpoint.save(
                path,
                model=model,
                config=config,
                optimizer=optimizer,
                scaler=scaler,
                step=step,
                elapsed=elapsed,
                average=average.weights if average is not None else None,
            )
            log.plot_losses(rows, out / "losses.png")
        if last:
            break
    if dist.enabled:
        torch.distributed.barrier()  # no rank returns before rank 0 has written the checkpoint
    return path


_DEPERIOD = Deperiod()  # no weights: one for every run


def period_loss(image: torch.Tensor) -> torch.Tensor:
    """L1 of the local period-4 pattern in image (what transformer.Deperiod removes): 0 for
    smooth images, large for the grid nearest-neighbour upsamplings stamp. Only pixels the
    filter's whole reach sees count: nearer the borders it would take ramps for a pattern
    too (about half of a 128 px crop), and a grid is stamped everywhere anyway."""
    image = image.float()
    margin = min(_DEPERIOD.border, (min(image.shape[-2:]) - 1) // 2)
    inner = (slice(None), slice(None), slice(margin, image.shape[-2] - margin), slice(margin, image.shape[-1] - margin))
    return (image - _DEPERIOD(image))[inner].abs().mean()


def _loss_terms(
    config: TrainConfig,
    net,
    photo: torch.Tensor,
    style: torch.Tensor | None,
    perceptual: PerceptualLoss | None,
    teacher: TransformerNet | None,
    step: int,
    dist: distributed.Dist,
    memory,
) -> dict[str, torch.Tensor]:
    """Every term of log.TERMS for one batch (unweighted); zero for the terms switched off.
    style: each image's painting, (B,) indices, for a several-style run (else None)."""
    # A one-style network takes no style argument; a several-style one, each image's.
    run = (lambda x, s: net(x)) if style is None else net
    steady = step > config.temporal_from  # compound regularisation and shift equivariance, on the same schedule
    temporal = config.temporal_weight > 0 and steady
    shifting = config.shift_weight > 0 and steady
    # Every image the step needs through the network, in one forward: DDP allows one forward
    # per backward, and instance norm is per image, so batching changes nothing.
    inputs = [photo]
    if temporal or shifting:
        # Drawn for the whole batch and sliced, so any split over ranks trains the same.
        g = step_generator(config.seed, step - 1, 3)
        b, _, h, w = photo.shape
        mine = slice(dist.rank * b, (dist.rank + 1) * b)
        if temporal:
            flow = random_flow(config.batch_size, h, w, config.temporal_flow, config.temporal_shift, g)[mine].to(
                photo.device
            )
            noise = (
                torch.randn((config.batch_size, 3, h, w), generator=g)[mine].mul(config.temporal_noise).to(photo.device)
            )
            inputs.append(moved_photo(photo, flow, noise).contiguous(memory_format=memory))
        if shifting:
            shifts = random_shifts(config.batch_size, g)[mine]
            inputs.append(shifted_photo(photo, shifts).contiguous(memory_format=memory))
    outputs = run(torch.cat(inputs), None if style is None else style.repeat(len(inputs))).chunk(len(inputs))
    output = outputs[0]
    zero = output.new_zeros((), dtype=torch.float32)
    if perceptual is not None:
        terms = perceptual(output, perceptual.encode_content(photo), style)
    else:
        terms = {"content": zero, "style": zero, "tv": total_variation(output.float())}
    terms["temporal"] = compound_loss(output, outputs[1], flow) if temporal else zero
    terms["shift"] = shift_loss(output, outputs[-1], shifts) if shifting else zero
    terms["reconstruct"] = (output.float() - photo.float()).abs().mean() if config.reconstruct_weight else zero
    terms["period"] = period_loss(output) if config.period_weight else zero
    terms["distill"] = zero
    if teacher is not None:
        with torch.no_grad():
            target = _teacher_output(teacher, photo, style, config.teacher_grid_average)
        terms["distill"] = (output.float() - target).abs().mean()
    return terms


def _teacher_output(teacher: TransformerNet, photo, style, grid_average: bool) -> torch.Tensor:
    """The teacher's painting of the batch; grid_average: as Network.stylize(grid_average=True)."""
    run = (lambda x, s: teacher(x)) if style is None else teacher
    if not grid_average:
        return run(photo, style).float()
    copies = len(GRID_SHIFTS)  # each image's style goes with each of its moved copies
    return grid_averaged(lambda moved: run(moved, None if style is None else style.repeat(copies)), photo)


def _start_new_row(model: TransformerNet, init: str) -> None:
    """The grown model's new (last) row from a one-style model's norms (add_to with init)."""
    source, _ = read_model(init)
    if source.config.styles != 1 or source.config.arch != model.config.arch:
        raise StyleTransferError(
            f"--init {init} must be a one-style {model.config.arch} network to start the new style from"
        )
    norms = source.state_dict()
    with torch.no_grad():
        for name, rows in model.named_parameters():
            if rows.ndim == 2:
                rows[-1] = norms[name].float()


def _init_from(model: TransformerNet, config: TrainConfig) -> None:
    source, _ = read_model(config.init)
    if source.config.styles == 1 and model.config.styles > 1:
        source = source.widen(model.config.styles)  # every painting starts from that network
    # Deperiod holds no weights: a network trained without it can continue through it.
    if replace(source.config, deperiod=model.config.deperiod) != model.config:
        raise StyleTransferError(
            f"--init {config.init} is a {source.config.arch} network (blur={source.config.blur}); this run trains {config.arch} (blur={config.blur})"
        )
    model.load_state_dict({k: v.float() for k, v in source.state_dict().items()})
