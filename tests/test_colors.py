import torch

from styletransfer import colors


def test_yiq_round_trip():
    image = torch.rand(2, 3, 5, 4)
    assert torch.allclose(colors.yiq_to_rgb(colors.rgb_to_yiq(image)), image, atol=1e-5)


def test_histogram_matching_matches_mean_and_covariance():
    g = torch.Generator().manual_seed(0)
    source = torch.rand(1, 3, 32, 32, generator=g) * torch.tensor([0.3, 0.6, 0.2]).view(1, 3, 1, 1)
    reference = 0.2 + 0.5 * torch.rand(1, 3, 32, 32, generator=g)
    out = colors.match_color_histogram(source, reference)

    def stats(image):
        pixels = image.reshape(3, -1).double()
        return pixels.mean(1), torch.cov(pixels)

    (mean_o, cov_o), (mean_r, cov_r) = stats(out), stats(reference)
    assert torch.allclose(mean_o, mean_r, atol=2e-3)
    assert torch.allclose(cov_o, cov_r, atol=2e-3)


def test_with_chroma_of_takes_luminance_from_one_and_color_from_other():
    grey = torch.full((1, 3, 4, 4), 0.5)
    red = torch.tensor([0.8, 0.2, 0.2]).view(1, 3, 1, 1).expand(1, 3, 4, 4)
    out = colors.with_chroma_of(grey, red)
    assert torch.allclose(colors.rgb_to_yiq(out)[:, 0], colors.rgb_to_yiq(grey)[:, 0], atol=1e-4)
    assert out[0, 0, 0, 0] > out[0, 1, 0, 0]  # red stays red


def test_luminance_only_is_grey_and_matches_reference_statistics():
    image = torch.rand(1, 3, 16, 16) * 0.3
    like = 0.4 + 0.4 * torch.rand(1, 3, 16, 16)
    grey = colors.luminance_only(image, like=like)
    assert torch.equal(grey[:, 0], grey[:, 1]) and torch.equal(grey[:, 1], grey[:, 2])
    y_like = colors.rgb_to_yiq(like)[:, 0]
    assert abs(grey[:, 0].mean() - y_like.mean()) < 0.02


def test_a_mixed_palette_is_the_palette_of_the_pooled_pixels():
    g = torch.Generator().manual_seed(1)
    dark = 0.3 * torch.rand(1, 3, 8, 8, generator=g)
    bright = 0.5 + 0.4 * torch.rand(1, 3, 8, 8, generator=g) * torch.tensor([1.0, 0.2, 0.6]).view(1, 3, 1, 1)
    mixed = colors.Palette.mixed([colors.Palette.of(dark), colors.Palette.of(bright)], [0.25, 0.75])
    pooled = colors.Palette.of(torch.cat([dark, bright, bright, bright], dim=3))  # bright: 3 of 4 pixels
    torch.testing.assert_close(mixed.mean, pooled.mean)
    torch.testing.assert_close(mixed.cov, pooled.cov)
    matched = colors.match_palette(dark, mixed)
    torch.testing.assert_close(colors.Palette.of(matched).mean, mixed.mean, atol=2e-3, rtol=0)
