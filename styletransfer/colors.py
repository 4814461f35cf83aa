"""Keeping the photo's colours (Gatys et al. 2016, "Preserving Color in Neural Artistic
Style Transfer"): either recolour the painting to the photo's palette before transfer
(histogram matching), or transfer luminance only and put the photo's chroma back. The
setting's values (none, luminance, histogram) are dials.COLORS."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

_RGB_TO_YIQ = torch.tensor([[0.299, 0.587, 0.114], [0.595716, -0.274453, -0.321263], [0.211456, -0.522591, 0.311135]])
_YIQ_TO_RGB = torch.linalg.inv(_RGB_TO_YIQ)


def _apply_matrix(matrix: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
    return torch.einsum("ij,bjhw->bihw", matrix.to(image), image)


def rgb_to_yiq(image: torch.Tensor) -> torch.Tensor:
    return _apply_matrix(_RGB_TO_YIQ, image)


def yiq_to_rgb(image: torch.Tensor) -> torch.Tensor:
    return _apply_matrix(_YIQ_TO_RGB, image)


def luminance_only(image: torch.Tensor, like: torch.Tensor | None = None) -> torch.Tensor:
    """The image's luminance as a grey RGB image; with ``like``, its mean and spread are
    matched to ``like``'s luminance (so a dark painting does not darken the photo)."""
    y = rgb_to_yiq(image)[:, :1]
    if like is not None:
        y_like = rgb_to_yiq(like)[:, :1]
        y = (y - y.mean()) / (y.std() + 1e-6) * y_like.std() + y_like.mean()
    return y.clamp(0, 1).expand(-1, 3, -1, -1)


def with_chroma_of(styled: torch.Tensor, content: torch.Tensor) -> torch.Tensor:
    """Luminance from ``styled``, chroma (I, Q) from ``content`` (same size)."""
    y = rgb_to_yiq(styled)[:, :1]
    iq = rgb_to_yiq(content)[:, 1:]
    return yiq_to_rgb(torch.cat([y, iq], dim=1)).clamp(0, 1)


def _sqrtm(cov: torch.Tensor, inverse: bool = False) -> torch.Tensor:
    values, vectors = torch.linalg.eigh(cov)
    values = values.clamp_min(1e-8)
    power = -0.5 if inverse else 0.5
    return vectors @ torch.diag(values**power) @ vectors.T


def _pixels(image: torch.Tensor) -> torch.Tensor:
    """(B, 3, H, W) -> (3, B*H*W) in float64."""
    return image.permute(1, 0, 2, 3).reshape(3, -1).double()


@dataclass(frozen=True)
class Palette:
    """An image's colours as their RGB mean (3, 1) and covariance (3, 3), in float64."""

    mean: torch.Tensor
    cov: torch.Tensor

    @classmethod
    def of(cls, image: torch.Tensor) -> Palette:
        pixels = _pixels(image)
        mean = pixels.mean(dim=1, keepdim=True)
        centred = pixels - mean
        return cls(mean, centred @ centred.T / pixels.shape[1])

    @classmethod
    def mixed(cls, palettes: Sequence[Palette], weights: Sequence[float]) -> Palette:
        """The palette of the paintings' pixels pooled, each painting's share by weight."""
        mean = sum(w * p.mean for w, p in zip(weights, palettes))
        second = sum(w * (p.cov + p.mean @ p.mean.T) for w, p in zip(weights, palettes))
        return cls(mean, second - mean @ mean.T)


def match_palette(source: torch.Tensor, palette: Palette) -> torch.Tensor:
    """Affinely recolour ``source`` so its RGB mean and covariance are ``palette``'s.

    Uses the symmetric matrix square root (the "Image Analogies" variant in Gatys et al.
    2016), which changes colours least among the transforms that match the statistics.
    """
    own = Palette.of(source)
    pixels = _pixels(source)
    transform = _sqrtm(palette.cov) @ _sqrtm(own.cov, inverse=True)
    out = transform @ (pixels - own.mean) + palette.mean  # (3, B*H*W)
    b, _, h, w = source.shape
    return out.reshape(3, b, h, w).permute(1, 0, 2, 3).to(source.dtype).clamp(0, 1)


def match_color_histogram(source: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    """``source`` recoloured to ``reference``'s RGB mean and covariance (match_palette)."""
    return match_palette(source, Palette.of(reference))
