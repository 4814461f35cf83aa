"""Analytic checks of the loss terms (kornia-style: constant input, known case, batching, gradcheck)."""

import torch

from styletransfer.perceptual.loss import gram_matrix, relative_mse, total_variation


def test_gram_of_hand_built_map():
    # Two channels over 2x2 pixels: a = [1, 2, 3, 4], b = [1, 0, 1, 0].
    features = torch.tensor([[[[1.0, 2.0], [3.0, 4.0]], [[1.0, 0.0], [1.0, 0.0]]]])
    expected = torch.tensor([[[30.0, 4.0], [4.0, 2.0]]]) / (2 * 2 * 2)
    assert torch.allclose(gram_matrix(features), expected)


def test_gram_is_symmetric_and_batched_like_stacked_single_runs():
    features = torch.randn(3, 5, 7, 6)
    batched = gram_matrix(features)
    stacked = torch.cat([gram_matrix(f[None]) for f in features])
    assert batched.shape == (3, 5, 5)
    assert torch.allclose(batched, stacked, atol=1e-6)
    assert torch.allclose(batched, batched.transpose(1, 2))


def test_gram_does_not_depend_on_spatial_size_for_a_tiled_map():
    tile = torch.randn(1, 4, 3, 3)
    assert torch.allclose(gram_matrix(tile), gram_matrix(tile.repeat(1, 1, 4, 4)), atol=1e-5)


def test_total_variation_of_constant_is_zero():
    assert total_variation(torch.full((2, 3, 9, 7), 0.3)).item() == 0.0


def test_total_variation_of_ramp():
    a = 0.05
    ramp = (torch.arange(10) * a).view(1, 1, 1, 10).expand(1, 3, 6, 10)
    assert torch.isclose(total_variation(ramp), torch.tensor(a * a))
    assert torch.isclose(total_variation(ramp.transpose(-1, -2)), torch.tensor(a * a))


def test_relative_mse_is_zero_at_target_and_scale_free():
    target = torch.randn(4, 4)
    assert relative_mse(target, target).item() == 0.0
    x = torch.randn(4, 4)
    assert torch.isclose(relative_mse(3 * x, 3 * target), relative_mse(x, target), rtol=1e-5)


def test_gradcheck_float64():
    x = torch.randn(1, 2, 4, 3, dtype=torch.float64, requires_grad=True)
    target = torch.randn(1, 2, 2, dtype=torch.float64)
    assert torch.autograd.gradcheck(lambda t: relative_mse(gram_matrix(t), target), (x,))
    assert torch.autograd.gradcheck(total_variation, (x,))
