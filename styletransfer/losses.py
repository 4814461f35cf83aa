"""Loss terms of neural style transfer: small pure functions on tensors."""

from __future__ import annotations

import torch


def gram_matrix(features: torch.Tensor) -> torch.Tensor:
    """Channel co-occurrence of a feature map: (B, C, H, W) -> (B, C, C).

    Divided by C*H*W (Johnson et al.) so that style targets computed at one image size
    stay comparable at another, which coarse-to-fine and style scale rely on.
    """
    b, c, h, w = features.shape
    flat = features.reshape(b, c, h * w)  # (B, C, H*W)
    return flat @ flat.transpose(1, 2) / (c * h * w)


def relative_mse(input: torch.Tensor, target: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Squared error divided by the target's own energy.

    Departs from Gatys et al., who weight raw squared errors per layer: their magnitudes
    differ by orders of magnitude between layers and with image size, so the per-layer
    weights had to be retuned for every setting. Dividing by ||target||^2 makes each term
    dimensionless, so weights of 1 mean "every layer counts the same" at any size.
    """
    return (input - target).pow(2).sum() / (target.pow(2).sum() + eps)


def total_variation(image: torch.Tensor) -> torch.Tensor:
    """Mean squared difference between neighbouring pixels, horizontal plus vertical.

    Zero for a constant image; a^2 for a ramp rising by a per pixel along one axis.
    """
    dx = image[..., :, 1:] - image[..., :, :-1]
    dy = image[..., 1:, :] - image[..., :-1, :]
    return dx.pow(2).mean() + dy.pow(2).mean()
