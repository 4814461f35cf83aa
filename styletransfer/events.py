"""Progress events. The engine never prints or draws: it hands these to a callback
(or yields them), and the CLI (tqdm), the app (streamed previews) and tests subscribe."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch


@dataclass
class Iterate:
    """One optimisation step of Gatys et al."""

    step: int  # 1-based, counted over all scales
    total_steps: int
    scale: int  # 0-based index into the coarse-to-fine ladder
    num_scales: int
    size: tuple[int, int]  # (height, width) being optimised at this scale
    losses: dict[str, float]  # "content", "style", "tv", "total" (weighted)
    elapsed: float  # seconds since the run started
    image: torch.Tensor = field(repr=False)  # (1, 3, H, W) in [0, 1], colours post-processed

    @property
    def done(self) -> bool:
        return self.step >= self.total_steps


@dataclass(frozen=True)
class Stage:
    """A part of a job that takes a while before its first step, about to begin: any_painting's
    "fast" (painting the fast result to start from), "lossnet" (loading VGG16)."""

    name: str


Callback = Callable[[Iterate], None]
