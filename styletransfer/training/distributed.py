"""Distributed training: launched by torchrun (RANK / WORLD_SIZE in the environment), each
rank takes its slice of every step's batch, DDP averages the gradients, rank 0 alone writes."""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass

import torch

from styletransfer.errors import StyleTransferError
from styletransfer.training.config import TrainConfig


@dataclass(frozen=True)
class Dist:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def main(self) -> bool:
        return self.rank == 0


def from_env() -> Dist:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return Dist()
    return Dist(int(os.environ["RANK"]), world, int(os.environ.get("LOCAL_RANK", "0")))


def device_for(config: TrainConfig, dist: Dist) -> torch.device:
    if config.device == "cpu" or (config.device == "auto" and not torch.cuda.is_available()):
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise StyleTransferError("device 'cuda' was asked for but no CUDA GPU is available; use --device cpu")
    return torch.device("cuda", dist.local_rank if dist.enabled else torch.cuda.current_device())


@contextlib.contextmanager
def process_group(config: TrainConfig, dist: Dist, device: torch.device):
    """The torchrun process group for the length of a run (when launched by torchrun)."""
    owns_group = False
    if dist.enabled and not torch.distributed.is_initialized():
        torch.distributed.init_process_group("nccl" if device.type == "cuda" else "gloo")
        owns_group = True
    try:
        if dist.enabled and config.batch_size % dist.world_size:
            raise StyleTransferError(
                f"batch size {config.batch_size} must be a multiple of the {dist.world_size} processes"
            )
        if device.type == "cuda":
            torch.cuda.set_device(device)
        yield
    finally:
        if owns_group:
            torch.distributed.destroy_process_group()
