"""Training data: crops of photos, the same for step k however often it is run.

Reproducibility without iterator state: every random draw of step k (which photos, crops,
flips) comes from a generator seeded by (seed, k, ...). Resuming at step k therefore
reproduces the same batches.
"""

from __future__ import annotations

import fnmatch
import functools
import warnings
from collections.abc import Sequence
from pathlib import Path

import torch

from styletransfer.errors import StyleTransferError
from styletransfer.io import images
from styletransfer.io.images import IMAGE_SUFFIXES
from styletransfer.training.config import TrainConfig


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

    @functools.lru_cache(maxsize=2)  # noqa: B019 (the dataset lives as long as its run)
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


def style_indices(config: TrainConfig, step: int, rank: int = 0, world_size: int = 1) -> torch.Tensor | None:
    """The painting each image of step ``step`` is matched to, (B / world,) indices, or None
    for a one-painting run. Images take the paintings in turn across steps, so every painting
    gets the same share of the training however the batch is split over ranks."""
    count = len(config.styles)
    if not count:
        return None
    local = config.batch_size // world_size
    first = (step - 1) * config.batch_size + rank * local
    return torch.arange(first, first + local) % count
