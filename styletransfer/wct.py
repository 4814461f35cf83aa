"""Whitening and colouring transforms on feature maps (Li et al. 2017, "Universal Style
Transfer via Feature Transforms"): the maths of the universal any-painting mode.

Whitening removes a content feature map's correlations (its covariance becomes the identity);
colouring gives it the painting's mean and covariance. Between an encoder and a decoder that
only learnt to invert the encoder, this paints with any painting, no training per style.

Feature maps are (1, C, H, W) tensors; the statistics are over the H*W positions. The
eigen-decompositions run in float64: in float32 the small eigenvalues of deep layers (C = 512)
come out negative or noisy and their inverse square roots blow up. Eigenvalues below
EIGEN_FLOOR (relative to the largest) are dropped, as in the paper's code, so flat or tiny
paintings, whose covariance has low rank, give finite features.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from styletransfer.errors import StyleTransferError

EIGEN_FLOOR = 1e-5  # relative to the largest eigenvalue


def _flat(features: torch.Tensor, name: str) -> torch.Tensor:
    if features.ndim != 4 or features.shape[0] != 1:
        raise StyleTransferError(f"{name} features must be (1, C, H, W), got {tuple(features.shape)}")
    if features.shape[2] * features.shape[3] < 2:
        raise StyleTransferError(f"{name} features need at least 2 positions for a covariance, got {tuple(features.shape)}")
    return features[0].reshape(features.shape[1], -1).double()


def _statistics(flat: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(mean (C, 1), eigenvalues kept (K,), their eigenvectors (C, K)) of the (C, N) features."""
    mean = flat.mean(dim=1, keepdim=True)
    centred = flat - mean
    covariance = centred @ centred.T / (flat.shape[1] - 1)
    values, vectors = torch.linalg.eigh(covariance)
    keep = values > EIGEN_FLOOR * values.max().clamp_min(1e-12)
    return mean, values[keep], vectors[:, keep]


def whiten(features: torch.Tensor) -> torch.Tensor:
    """(1, C, H, W) -> the same shape, centred and decorrelated: covariance = identity on the
    kept eigen-directions (float64)."""
    flat = _flat(features, "content")
    mean, values, vectors = _statistics(flat)
    white = vectors @ torch.diag(values.rsqrt()) @ vectors.T @ (flat - mean)
    return white.reshape(features.shape[1:]).unsqueeze(0)


def colour(white: torch.Tensor, painting: torch.Tensor) -> torch.Tensor:
    """Whitened (1, C, H, W) features -> the same, with the painting features' mean and covariance."""
    flat, target = _flat(white, "whitened"), _flat(painting, "painting")
    if flat.shape[0] != target.shape[0]:
        raise StyleTransferError(f"content has {flat.shape[0]} channels, the painting {target.shape[0]}")
    mean, values, vectors = _statistics(target)
    coloured = vectors @ torch.diag(values.sqrt()) @ vectors.T @ flat + mean
    return coloured.reshape(white.shape[1:]).unsqueeze(0)


def transfer(content: torch.Tensor, paintings: Sequence[torch.Tensor], weights: Sequence[float] | None = None,
             strength: float = 1.0) -> torch.Tensor:
    """Content features carrying the paintings' statistics: each painting's colouring of the
    whitened content, mixed by ``weights`` (normalised; equal by default), then blended with the
    content by ``strength`` (0 = the content, 1 = fully the paintings'). Returns content's dtype."""
    if not paintings:
        raise StyleTransferError("at least one painting is needed")
    weights = [1.0] * len(paintings) if weights is None else [float(w) for w in weights]
    if len(weights) != len(paintings) or any(w < 0 for w in weights) or sum(weights) <= 0:
        raise StyleTransferError(f"need one non-negative weight per painting, not all zero; got {weights}")
    if not 0.0 <= strength <= 1.0:
        raise StyleTransferError(f"strength must be 0..1, got {strength}")
    white = whiten(content)
    total = sum(weights)
    mixed = sum((w / total) * colour(white, painting) for w, painting in zip(weights, paintings))
    out = strength * mixed + (1.0 - strength) * content.double()
    return out.to(content.dtype)
