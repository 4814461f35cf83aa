"""Steady video from stills, with no optical flow or video data at training time.

- Compound regularisation (Wang et al. 2020, "Consistent video style transfer via compound
  regularization"): the output of a slightly warped, shifted and noisy photo must equal the
  same warp of the output of the photo.
- Shift equivariance: the output of the photo moved by 1-3 whole pixels must be the output
  moved the same way. The networks work at 1/4 resolution, so what they paint can depend on
  where a pixel falls in the 4x4 grid; shifts by multiples of 4 were measured 40-60x steadier
  than shifts of 1-3 px (painted zoo, 2026-12-06). A camera that pans a pixel a frame then
  repaints every stroke each frame: the boil of issue 27. Unlike compound regularisation's
  sub-pixel warp, a whole-pixel shift moves texture exactly, so this loss does not reward blur.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


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


def random_flow(
    batch: int, height: int, width: int, magnitude: float, shift: int, generator: torch.Generator, grid: int = 4
) -> torch.Tensor:
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


SHIFT_PERIOD = 4  # the networks' total stride: shifts by multiples of it are already steady
SHIFT_MARGIN = 16  # pixels kept out of the shift loss at every edge (and the rolled-in strip)


def random_shifts(batch: int, generator: torch.Generator) -> list[tuple[int, int]]:
    """(dy, dx) per image, each 0..SHIFT_PERIOD-1 and not both 0: every phase of the grid."""
    codes = torch.randint(1, SHIFT_PERIOD * SHIFT_PERIOD, (batch,), generator=generator).tolist()
    return [divmod(code, SHIFT_PERIOD) for code in codes]


def shifted_photo(photo: torch.Tensor, shifts: list[tuple[int, int]]) -> torch.Tensor:
    """Each image rolled down and right by its (dy, dx): what the next frame of a pan shows."""
    return torch.stack([image.roll((dy, dx), dims=(-2, -1)) for image, (dy, dx) in zip(photo, shifts)])


def shift_loss(output: torch.Tensor, shifted_output: torch.Tensor, shifts: list[tuple[int, int]]) -> torch.Tensor:
    """mean |T(roll(x)) - roll(T(x))|^2 away from the edges and the rolled-in strip, where
    padding and the roll's wrap make the two differ for any network."""
    h, w = output.shape[-2:]
    m = min(SHIFT_MARGIN, (min(h, w) - SHIFT_PERIOD) // 4)  # small crops (tests) keep half their side
    terms = []
    for out, moved, (dy, dx) in zip(output.float(), shifted_output.float(), shifts):
        region = (slice(None), slice(m + dy, h - m), slice(m + dx, w - m))
        terms.append((moved - out.roll((dy, dx), dims=(-2, -1)))[region].pow(2).mean())
    return torch.stack(terms).mean()
