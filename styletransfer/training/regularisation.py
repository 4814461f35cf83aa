"""Compound regularisation (Wang et al. 2020, "Consistent video style transfer via compound
regularization"): the output of a slightly warped, shifted and noisy photo must equal the same
warp of the output of the photo. Trained on stills, a network becomes steady on video, with
no optical flow or video data needed at training time.
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
