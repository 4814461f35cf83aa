"""Keeping the photo's colours (Gatys et al. 2016, "Preserving Color in Neural Artistic
Style Transfer"): either recolour the painting to the photo's palette before transfer
(histogram matching), or transfer luminance only and put the photo's chroma back. The
setting's values (none, luminance, histogram) are dials.COLORS."""

from __future__ import annotations

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


def match_color_histogram(source: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    """Affinely recolour ``source`` so its RGB mean and covariance equal ``reference``'s.

    Uses the symmetric matrix square root (the "Image Analogies" variant in Gatys et al.
    2016), which changes colours least among the transforms that match the statistics.
    """

    def stats(image):
        pixels = image.permute(1, 0, 2, 3).reshape(3, -1).double()  # (3, B*H*W)
        mean = pixels.mean(dim=1, keepdim=True)
        centred = pixels - mean
        return pixels, mean, centred @ centred.T / pixels.shape[1]

    pixels, mean_s, cov_s = stats(source)
    _, mean_r, cov_r = stats(reference)
    transform = _sqrtm(cov_r) @ _sqrtm(cov_s, inverse=True)
    out = transform @ (pixels - mean_s) + mean_r  # (3, B*H*W)
    b, _, h, w = source.shape
    return out.reshape(3, b, h, w).permute(1, 0, 2, 3).to(source.dtype).clamp(0, 1)
