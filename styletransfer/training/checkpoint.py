"""Checkpoints of a training run: everything a resume needs to continue exactly.

``checkpoint.pt`` holds the weights (``model``, unwrapped: no DDP "module." prefix) and what
builds them (``model_config``), the run's ``train_config``, the optimiser and grad-scaler
state, the ``step`` and the training seconds so far (``elapsed``), and, where the run keeps
one (``average_decay``), the running ``average`` of the weights, which is what the run is
used as. It loads with
``weights_only=True``; networks.load_network reads its network like any model file.
"""

from __future__ import annotations

import dataclasses
from dataclasses import asdict, fields
from pathlib import Path

import torch

from styletransfer.errors import StyleTransferError
from styletransfer.files import atomic_write
from styletransfer.training.config import RUNTIME_FIELDS, TrainConfig

CHECKPOINT = "checkpoint.pt"
VERSION = 1


def save(
    path: Path, *, model, config: TrainConfig, optimizer, scaler, step: int, elapsed: float, average: dict | None = None
) -> None:
    state = {
        "version": VERSION,
        "model": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "model_config": asdict(model.config),  # not config.model_config: adding a style grows it
        "train_config": asdict(config),
        "optimizer": optimizer.state_dict(),
        "scaler": scaler.state_dict() if scaler.is_enabled() else {},
        "step": step,
        "elapsed": elapsed,
    }
    if average is not None:
        state["average"] = {k: v.detach().cpu() for k, v in average.items()}
    atomic_write(path, lambda tmp: torch.save(state, tmp))


def load_for_resume(path: Path, config: TrainConfig) -> dict:
    """The checkpoint at ``path``, refused if ``config`` computes something else than its run."""
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


def compact(path: Path, out: Path) -> None:
    """A small copy of a checkpoint to keep in git between machines: weights in fp16, the
    optimiser's moments in bf16 (fp32's range: Adam's squared moments underflow in fp16).
    ``expand`` turns it back into a checkpoint that resumes (not bit for bit)."""
    ckpt = torch.load(path, map_location="cpu", weights_only=True)
    for weights in ("model", "average"):  # "average": a running mean of the weights, where a run keeps one
        if weights in ckpt:
            ckpt[weights] = {k: v.half() for k, v in ckpt[weights].items()}
    ckpt["optimizer"] = _cast_state(ckpt["optimizer"], torch.bfloat16)
    ckpt["compact"] = True
    atomic_write(out, lambda tmp: torch.save(ckpt, tmp))


def expand(path: Path, out: Path) -> None:
    """The checkpoint a ``compact`` copy came from, in fp32 again, ready to resume."""
    ckpt = torch.load(path, map_location="cpu", weights_only=True)
    for weights in ("model", "average"):
        if weights in ckpt:
            ckpt[weights] = {k: v.float() for k, v in ckpt[weights].items()}
    ckpt["optimizer"] = _cast_state(ckpt["optimizer"], torch.float32)
    ckpt.pop("compact", None)
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(out, lambda tmp: torch.save(ckpt, tmp))


def _cast_state(optimizer_state: dict, dtype: torch.dtype) -> dict:
    # Floating tensors of more than one element (moments); Adam's step counters stay as they are.
    def cast(value):
        return value.to(dtype) if torch.is_tensor(value) and value.is_floating_point() and value.numel() > 1 else value

    state = {index: {k: cast(v) for k, v in entry.items()} for index, entry in optimizer_state["state"].items()}
    return {**optimizer_state, "state": state}
