"""Gatys optimisation with a randomly initialised VGG16 (fast, no weights needed)."""

import dataclasses

import pytest
import torch

from styletransfer.errors import StyleTransferError
from styletransfer.gatys import GatysConfig, iterate, scale_ladder, steps_per_scale, stylize
from styletransfer.perceptual.vgg import VGG16Features


@pytest.fixture(scope="module")
def random_vgg():
    torch.manual_seed(0)
    return VGG16Features(last_layer="relu4_3")


def _images(seed=0):
    g = torch.Generator().manual_seed(seed)
    content = torch.rand(1, 3, 40, 56, generator=g)
    # A painting-like image: smooth colour blobs plus stripes.
    y, x = torch.meshgrid(torch.linspace(0, 6, 48), torch.linspace(0, 6, 48), indexing="ij")
    style = torch.stack([torch.sin(x) * 0.5 + 0.5, torch.cos(y + x) * 0.5 + 0.5, (x % 1 > 0.5).float()])[None]
    return content, style


def test_loss_falls_and_events_are_complete(random_vgg):
    content, style = _images()
    config = GatysConfig(size=56, steps=12, coarse_to_fine=False)
    events = list(iterate(content, [style], config, lossnet=random_vgg))
    assert [e.step for e in events] == list(range(1, 13))
    assert events[-1].done and events[-1].total_steps == 12
    assert events[-1].losses["style"] < 0.5 * events[0].losses["style"]
    assert events[-1].losses["total"] < events[0].losses["total"]
    assert events[-1].image.shape == (1, 3, 40, 56)
    assert events[-1].image.min() >= 0 and events[-1].image.max() <= 1
    assert all(e.elapsed >= 0 for e in events)


@pytest.mark.parametrize("optimizer", ["lbfgs", "adam"])
@pytest.mark.parametrize("init", ["content", "noise"])
def test_optimisers_and_inits_reduce_loss(random_vgg, optimizer, init):
    content, style = _images()
    config = GatysConfig(size=48, steps=8, optimizer=optimizer, init=init, coarse_to_fine=False, learning_rate=0.05)
    events = list(iterate(content, [style], config, lossnet=random_vgg))
    assert events[-1].losses["total"] < events[0].losses["total"]


def test_coarse_to_fine_ladder_and_budget(random_vgg):
    config = GatysConfig(size=512, steps=100, min_size=128)
    assert scale_ladder(config) == [128, 256, 512]
    assert scale_ladder(dataclasses.replace(config, coarse_to_fine=False)) == [512]
    assert scale_ladder(dataclasses.replace(config, steps=2)) == [256, 512]
    assert steps_per_scale(100, [128, 256, 512]) == [56, 29, 15]
    for total in (4, 7, 50, 333):
        budget = steps_per_scale(total, [100, 200, 400, 800])
        assert sum(budget) == total and min(budget) >= 1 and budget == sorted(budget, reverse=True)
    content, style = _images()
    events = list(iterate(content, [style], GatysConfig(size=64, steps=6, min_size=32), lossnet=random_vgg))
    assert [e.scale for e in events] == [0, 0, 0, 0, 1, 1]
    assert events[0].size == (23, 32) and events[-1].size == (46, 64)


def test_same_seed_same_result(random_vgg):
    content, style = _images()
    config = GatysConfig(size=48, steps=4, init="noise", seed=3, coarse_to_fine=False)
    a = stylize(content, [style], config, lossnet=random_vgg)
    b = stylize(content, [style], config, lossnet=random_vgg)
    assert torch.equal(a, b)


def test_callback_sees_every_step(random_vgg):
    content, style = _images()
    seen = []
    stylize(content, [style], GatysConfig(size=48, steps=3, coarse_to_fine=False), seen.append, lossnet=random_vgg)
    assert [e.step for e in seen] == [1, 2, 3]


def test_blending_two_styles_equals_blending_their_grams(random_vgg):
    content, style = _images()
    other = 1 - style
    config = GatysConfig(size=48, steps=2, coarse_to_fine=False)
    one_sided = stylize(
        content, [style, other], dataclasses.replace(config, style_blend=(1.0, 0.0)), lossnet=random_vgg
    )
    single = stylize(content, [style], config, lossnet=random_vgg)
    assert torch.allclose(one_sided, single, atol=1e-5)


def test_luminance_mode_keeps_photo_chroma(random_vgg):
    from styletransfer import colors

    content, style = _images()
    content = content * torch.tensor([1.0, 0.3, 0.3]).view(1, 3, 1, 1)  # a red photo
    config = GatysConfig(size=56, steps=6, coarse_to_fine=False, preserve_colors="luminance", style_weight=10)
    kept = stylize(content, [style], config, lossnet=random_vgg)

    def chroma(image):
        return colors.rgb_to_yiq(image)[:, 1:]

    assert (chroma(kept) - chroma(content)).abs().mean() < 0.02
    assert (kept - content).abs().mean() > 0.01  # but the image did change


@pytest.mark.parametrize(
    "change, words",
    [
        (dict(size=5000), "output size"),
        (dict(steps=0), "steps"),
        (dict(optimizer="sgd"), "optimiser must be one of lbfgs, adam; got 'sgd'"),
        (dict(preserve_colors="sepia"), "colours must be one of none, luminance, histogram; got 'sepia'"),
        (dict(style_layers=("relu9_9",)), "unknown layer"),
        (dict(style_blend=(1.0, 2.0)), "blend"),
        (dict(style_weight=-1.0), "style weight must be 0 or more, got -1"),
    ],
)
def test_bad_settings_raise_clear_errors(random_vgg, change, words):
    content, style = _images()
    with pytest.raises(StyleTransferError, match=words):
        next(iterate(content, [style], GatysConfig(**{"size": 48, "steps": 2, **change}), lossnet=random_vgg))


def test_no_style_is_an_error(random_vgg):
    content, _ = _images()
    with pytest.raises(StyleTransferError, match="style image"):
        next(iterate(content, [], GatysConfig(size=48, steps=2), lossnet=random_vgg))


def test_init_from_an_image_file(random_vgg, tmp_path):
    from styletransfer.io import images

    content, style = _images()
    start = torch.zeros(1, 3, 20, 28)
    start[:, 0] = 1.0  # a red picture, half the photo's size
    images.save_image(start, tmp_path / "start.png")
    config = GatysConfig(
        size=56, steps=1, coarse_to_fine=False, init=str(tmp_path / "start.png"), optimizer="adam", learning_rate=1e-4
    )
    first = next(iterate(content, [style], config, lossnet=random_vgg))
    assert first.image.shape == content.shape
    assert first.image[:, 0].mean() > 0.95 and first.image[:, 1:].mean() < 0.05  # starts from the file, resized


def test_style_scale_sets_the_painting_size(random_vgg, monkeypatch):
    from styletransfer import gatys

    seen = []
    original = gatys.images.resize_long_side
    monkeypatch.setattr(gatys.images, "resize_long_side", lambda t, n: seen.append(n) or original(t, n))
    content, style = _images()
    list(
        iterate(
            content, [style], GatysConfig(size=64, steps=1, coarse_to_fine=False, style_scale=0.5), lossnet=random_vgg
        )
    )
    assert seen == [64, 32]  # photo at the output size, painting at half of it


@pytest.mark.parametrize("init", ["content", "noise"])
def test_lbfgs_never_ends_worse_than_it_started(random_vgg, init):
    """L-BFGS without a line search can overshoot by orders of magnitude; what a user sees is
    the best image so far, so the reported loss never rises and the end is below the start."""
    content, style = _images()
    for seed in range(3):
        config = GatysConfig(size=48, steps=10, optimizer="lbfgs", init=init, seed=seed, coarse_to_fine=False)
        totals = [e.losses["total"] for e in iterate(content, [style], config, lossnet=random_vgg)]
        assert totals == sorted(totals, reverse=True)
        assert totals[-1] < totals[0]
