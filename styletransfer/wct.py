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

Exact whitening lifts every direction of the content's covariance to unit variance, the
weakest too; in a coarse-to-fine cascade those are mostly the previous decoder's noise, which
the painting's colouring then turns into blotches. ``ridge`` whitens with
(covariance + ridge * mean eigenvalue)^-1/2 instead: strong directions are whitened, weak
ones stay small (Tikhonov-regularised whitening).

Whitening, colouring, the mix of paintings and the strength blend are all affine, so
``transfer`` folds them into one C x C matrix and one offset and applies that once, in
float32 (level 1 of a 512 px image has 262,144 positions: float64 there cost 1.7 s, this
0.1 s). A painting's statistics (``Statistics``) can be computed once and reused.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from styletransfer.errors import StyleTransferError

EIGEN_FLOOR = 1e-5  # relative to the largest eigenvalue


@dataclass(frozen=True)
class Statistics:
    """A feature map's mean (C, 1) and the square root of its covariance and that root's
    (pseudo-)inverse, (C, C), all float64."""

    mean: torch.Tensor
    root: torch.Tensor
    inverse_root: torch.Tensor

    @property
    def channels(self) -> int:
        return self.mean.shape[0]


def _flat(features: torch.Tensor, name: str) -> torch.Tensor:
    if features.ndim != 4 or features.shape[0] != 1:
        raise StyleTransferError(f"{name} features must be (1, C, H, W), got {tuple(features.shape)}")
    if features.shape[2] * features.shape[3] < 2:
        raise StyleTransferError(
            f"{name} features need at least 2 positions for a covariance, got {tuple(features.shape)}"
        )
    return features[0].reshape(features.shape[1], -1)


def statistics(features: torch.Tensor, name: str = "painting", ridge: float = 0.0) -> Statistics:
    """The mean and covariance roots of (1, C, H, W) features; ``ridge`` > 0 regularises the
    inverse root (for whitening) by that many mean eigenvalues."""
    flat = _flat(features, name)
    mean = flat.double().mean(dim=1, keepdim=True)
    centred = flat.float() - mean.float()
    # float32 products, float64 sum of squares would be exact-er, but the covariance only has
    # to be right to ~1e-5 relative: below that its eigenvalues are dropped anyway.
    covariance = (centred @ centred.T).double() / (flat.shape[1] - 1)
    values, vectors = torch.linalg.eigh(covariance)
    keep = values > EIGEN_FLOOR * values.max().clamp_min(1e-12)
    values, vectors = values[keep], vectors[:, keep]
    root = vectors @ torch.diag(values.sqrt()) @ vectors.T
    inverse_root = vectors @ torch.diag((values + ridge * values.mean()).rsqrt()) @ vectors.T
    return Statistics(mean, root, inverse_root)


def _apply(matrix: torch.Tensor, offset: torch.Tensor, features: torch.Tensor) -> torch.Tensor:
    """matrix @ features + offset on (1, C, H, W) features, in the features' dtype."""
    flat = features[0].reshape(features.shape[1], -1)
    out = torch.addmm(offset.to(flat.dtype), matrix.to(flat.dtype), flat)
    return out.reshape(features.shape[1:]).unsqueeze(0)


def whiten(features: torch.Tensor) -> torch.Tensor:
    """(1, C, H, W) -> the same shape, centred and decorrelated: covariance = identity on the
    kept eigen-directions (float64)."""
    stats = statistics(features, "content")
    return _apply(stats.inverse_root, -stats.inverse_root @ stats.mean, features.double())


def color(white: torch.Tensor, painting: torch.Tensor | Statistics) -> torch.Tensor:
    """Whitened (1, C, H, W) features -> the same, with the painting features' mean and covariance."""
    _flat(white, "whitened")
    target = painting if isinstance(painting, Statistics) else statistics(painting)
    _check_channels(white.shape[1], target)
    return _apply(target.root, target.mean, white.double())


def _check_channels(channels: int, painting: Statistics) -> None:
    if channels != painting.channels:
        raise StyleTransferError(f"content has {channels} channels, the painting {painting.channels}")


def transfer(
    content: torch.Tensor,
    paintings: Sequence[torch.Tensor | Statistics],
    weights: Sequence[float] | None = None,
    strength: float = 1.0,
    ridge: float = 0.0,
) -> torch.Tensor:
    """Content features carrying the paintings' statistics: each painting's colouring of the
    whitened content, mixed by ``weights`` (normalised; equal by default), then blended with the
    content by ``strength`` (0 = the content, 1 = fully the paintings'; the texture strength, checked
    where the user sets it: dials.TEXTURE_STRENGTH, universal.Settings). Paintings are feature
    maps or their precomputed ``statistics``. ``ridge``: regularised whitening (see above;
    0 = exact). Returns content's dtype."""
    if not paintings:
        raise StyleTransferError("at least one painting is needed")
    weights = [1.0] * len(paintings) if weights is None else [float(w) for w in weights]
    if len(weights) != len(paintings) or any(w < 0 for w in weights) or sum(weights) <= 0:
        raise StyleTransferError(f"need one non-negative weight per painting, not all zero; got {weights}")
    if ridge < 0:
        raise StyleTransferError(f"ridge must be >= 0, got {ridge}")
    mine = statistics(content, "content", ridge)
    targets = [p if isinstance(p, Statistics) else statistics(p) for p in paintings]
    for target in targets:
        _check_channels(content.shape[1], target)
    total = sum(weights)
    # out = strength * sum_i w_i (R_i W (x - m) + m_i) + (1 - strength) * x, with W whitening
    # and R_i painting i's colouring: one matrix and one offset.
    coloring = sum((w / total) * t.root for w, t in zip(weights, targets))
    target_mean = sum((w / total) * t.mean for w, t in zip(weights, targets))
    identity = torch.eye(mine.channels, dtype=torch.float64)
    matrix = strength * coloring @ mine.inverse_root + (1.0 - strength) * identity
    offset = strength * (target_mean - coloring @ mine.inverse_root @ mine.mean)
    return _apply(matrix, offset, content)
