"""The whitening and colouring transforms (styletransfer/wct.py) of the universal mode."""

from __future__ import annotations

import pytest
import torch

from styletransfer import wct
from styletransfer.errors import StyleTransferError


def correlated(channels: int, height: int, width: int, seed: int, scale: float = 1.0) -> torch.Tensor:
    """Feature maps with a random mean and strongly correlated channels."""
    generator = torch.Generator().manual_seed(seed)
    mixing = torch.randn(channels, channels, generator=generator, dtype=torch.float64) * scale
    noise = torch.randn(channels, height * width, generator=generator, dtype=torch.float64)
    offset = torch.randn(channels, 1, generator=generator, dtype=torch.float64) * 3
    return (mixing @ noise + offset).reshape(1, channels, height, width).float()


def statistics(features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    flat = features[0].reshape(features.shape[1], -1).double()
    mean = flat.mean(dim=1, keepdim=True)
    centred = flat - mean
    return mean.squeeze(1), centred @ centred.T / (flat.shape[1] - 1)


def test_whitened_features_have_identity_covariance_and_no_mean():
    content = correlated(16, 24, 20, seed=0)
    mean, covariance = statistics(wct.whiten(content))
    assert torch.allclose(mean, torch.zeros(16, dtype=torch.float64), atol=1e-6)
    assert torch.allclose(covariance, torch.eye(16, dtype=torch.float64), atol=1e-4)


def test_colored_features_take_the_paintings_mean_and_covariance():
    content, painting = correlated(16, 24, 20, seed=0), correlated(16, 10, 12, seed=1, scale=2.0)
    out = wct.transfer(content, [painting])
    assert out.shape == content.shape and out.dtype == content.dtype  # the content's size, not the painting's
    (mean, covariance), (want_mean, want_covariance) = statistics(out), statistics(painting)
    assert torch.allclose(mean, want_mean, atol=1e-3)
    assert torch.allclose(covariance, want_covariance, rtol=1e-3, atol=1e-3)


def test_strength_blends_with_the_content_and_weights_mix_paintings():
    content = correlated(8, 12, 12, seed=0)
    first, second = correlated(8, 12, 12, seed=1), correlated(8, 12, 12, seed=2, scale=3.0)
    assert torch.allclose(wct.transfer(content, [first], strength=0.0), content)
    full = wct.transfer(content, [first])
    assert torch.allclose(wct.transfer(content, [first], strength=0.25), 0.25 * full + 0.75 * content, atol=1e-5)
    assert torch.allclose(wct.transfer(content, [first, second], weights=[1, 0]), full, atol=1e-5)
    assert torch.allclose(wct.transfer(content, [first, first], weights=[2, 5]), full, atol=1e-5)
    half = wct.transfer(content, [first, second])
    assert torch.allclose(half, (full + wct.transfer(content, [second])) / 2, atol=1e-4)


def test_the_ridge_whitens_strong_directions_and_leaves_weak_ones_small():
    generator = torch.Generator().manual_seed(5)
    scales = torch.tensor([10.0, 8.0, 6.0, 0.1, 0.1, 0.1], dtype=torch.float64)  # three signals, three noise
    basis, _ = torch.linalg.qr(torch.randn(6, 6, generator=generator, dtype=torch.float64))
    content = (basis @ (scales[:, None] * torch.randn(6, 400, generator=generator, dtype=torch.float64))).reshape(
        1, 6, 20, 20
    )
    _, covariance = statistics(
        wct._apply(
            wct.statistics(content, "content", ridge=0.1).inverse_root, torch.zeros(6, 1, dtype=torch.float64), content
        )
    )
    variances = torch.diagonal(basis.T @ covariance @ basis)  # along the content's own directions
    assert ((variances[:3] > 0.8) & (variances[:3] < 1)).all()  # strong: nearly whitened
    assert (variances[3:] < 0.01).all()  # noise: exact whitening lifts it to 1
    _, exact = statistics(wct.whiten(content))
    assert torch.allclose(torch.diagonal(basis.T @ exact @ basis), torch.ones(6, dtype=torch.float64), atol=1e-3)
    painting = correlated(6, 10, 10, seed=6)
    assert torch.allclose(
        wct.transfer(content.float(), [painting], ridge=0.0), wct.transfer(content.float(), [painting])
    )
    with pytest.raises(StyleTransferError, match="ridge must be >= 0"):
        wct.transfer(content.float(), [painting], ridge=-1)


def test_flat_and_tiny_paintings_give_finite_features():
    content = correlated(8, 12, 12, seed=0)
    flat = torch.full((1, 8, 6, 6), 0.5)  # a single-colour painting: covariance of rank 0
    out = wct.transfer(content, [flat])
    assert torch.isfinite(out).all()
    assert torch.allclose(out, flat.mean(dim=(2, 3), keepdim=True).expand_as(out), atol=1e-5)  # its one colour
    low_rank = correlated(8, 2, 1, seed=3)  # two positions: rank 1
    assert torch.isfinite(wct.transfer(content, [low_rank])).all()
    constant_channel = content.clone()
    constant_channel[:, 3] = 1.0  # a dead channel in the content
    assert torch.isfinite(wct.transfer(constant_channel, [correlated(8, 6, 6, seed=4)])).all()


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda c, p: wct.transfer(c, []), "at least one painting"),
        (lambda c, p: wct.transfer(c, [p], weights=[1, 1]), "one non-negative weight per painting"),
        (lambda c, p: wct.transfer(c, [p], weights=[0]), "not all zero"),
        (lambda c, p: wct.transfer(c, [p[:, :4]]), "content has 8 channels, the painting 4"),
        (lambda c, p: wct.transfer(c[0], [p]), r"must be \(1, C, H, W\)"),
        (lambda c, p: wct.transfer(c[:, :, :1, :1], [p]), "at least 2 positions"),
    ],
)
def test_bad_inputs_say_what_is_wrong(call, message):
    content, painting = correlated(8, 6, 6, seed=0), correlated(8, 6, 6, seed=1)
    with pytest.raises(StyleTransferError, match=message):
        call(content, painting)
