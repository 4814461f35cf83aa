"""A running average of a model's weights, kept beside its training: what a run publishes,
since with a few images a step the weights after any one optimiser step are noisy. Used by
the transformer loop (loop.py) and the decoder recipe (scripts/train_decoders.py)."""

from __future__ import annotations

import torch
from torch import nn


class RunningAverage:
    """An exponential moving average of ``module``'s floating-point weights, updated in place:
    continued from ``saved`` (a checkpoint's), or begun at the module's weights of today."""

    def __init__(self, module: nn.Module, decay: float, saved: dict | None = None):
        # state_dict's tensors share storage with the parameters: the optimiser's in-place
        # steps show through them, so they are looked up once.
        live = {k: v for k, v in module.state_dict().items() if v.is_floating_point()}
        self.weights = {k: (saved[k].to(v.device) if saved else v).detach().clone() for k, v in live.items()}
        self._targets = list(self.weights.values())
        self._sources = [live[k] for k in self.weights]
        self.decay = decay

    def update(self) -> None:
        torch._foreach_lerp_(self._targets, self._sources, 1.0 - self.decay)
