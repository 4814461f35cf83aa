"""The feed-forward networks: any size in, same size out, in range, trainable, exportable."""

import dataclasses

import pytest
import torch

from styletransfer.errors import StyleTransferError
from styletransfer.networks.transformer import (
    ARCHS,
    MIN_SIDE,
    Deperiod,
    TransformerConfig,
    build,
    count_macs,
    pad_to_multiple,
)

CONFIGS = [TransformerConfig(arch, blur) for arch in ARCHS for blur in (True, False)] + [
    TransformerConfig("lite", deperiod=True)
]
IDS = [f"{c.arch}-{'blur' if c.blur else 'noblur'}{'-deperiod' if c.deperiod else ''}" for c in CONFIGS]


pytestmark = pytest.mark.usefixtures("one_thread")  # tiny inputs: threads cost more than they save


def net(config: TransformerConfig, seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    return build(config)


@pytest.mark.parametrize("config", CONFIGS, ids=IDS)
@pytest.mark.parametrize("shape", [(1, 3, 37, 53), (2, 3, 17, 9), (1, 3, MIN_SIDE, MIN_SIDE), (3, 3, 24, 32)])
def test_output_has_input_shape_and_stays_in_range(config, shape):
    image = torch.rand(shape)
    out = net(config)(image)
    assert out.shape == image.shape
    assert out.dtype == image.dtype
    assert torch.isfinite(out).all()
    assert out.min() >= 0 and out.max() <= 1


def test_extreme_inputs_stay_in_range():
    model = net(TransformerConfig("lite"))
    for image in (torch.zeros(1, 3, 16, 16), torch.ones(1, 3, 16, 16), torch.rand(1, 3, 16, 16) * 50 - 25):
        out = model(image)
        assert torch.isfinite(out).all() and out.min() >= 0 and out.max() <= 1


def test_input_is_not_modified():
    image = torch.rand(1, 3, 19, 23)
    before = image.clone()
    net(TransformerConfig("lite"))(image)
    assert torch.equal(image, before)


def test_too_small_image_is_a_clear_user_error():
    with pytest.raises(StyleTransferError, match="at least 8"):
        net(TransformerConfig("lite"))(torch.rand(1, 3, 7, 40))


def test_wrong_channels_are_rejected():
    with pytest.raises(ValueError, match="RGB"):
        net(TransformerConfig("lite"))(torch.rand(1, 4, 16, 16))


def test_unknown_arch_is_a_clear_user_error():
    with pytest.raises(StyleTransferError, match="full, lite"):
        TransformerConfig("huge")


def test_pad_to_multiple_reflects_and_keeps_the_original_top_left():
    x = torch.arange(5.0).view(1, 1, 1, 5).expand(1, 1, 6, 5)
    padded = pad_to_multiple(x, 4)
    assert padded.shape == (1, 1, 8, 8)
    assert torch.equal(padded[..., :6, :5], x)
    assert padded[0, 0, 0].tolist() == [0, 1, 2, 3, 4, 3, 2, 1]  # reflection, edge not repeated
    assert pad_to_multiple(torch.rand(1, 3, 8, 12), 4).shape == (1, 3, 8, 12)


@pytest.mark.parametrize("config", CONFIGS, ids=IDS)
def test_every_parameter_gets_a_gradient(config):
    model = net(config)
    image = torch.rand(2, 3, 21, 18)
    loss = (model(image) - torch.rand(2, 3, 21, 18)).pow(2).mean()
    loss.backward()
    largest = max(p.grad.abs().max() for p in model.parameters())
    for name, p in model.named_parameters():
        # Relative: a parameter the maths makes dead (e.g. a bias right before instance norm)
        # still gets rounding noise ~1e-9 of the largest gradient; live ones get > 1e-2.
        assert p.grad.abs().max() > 1e-4 * largest, name


def test_config_round_trips_through_asdict():
    for config in CONFIGS:
        d = dataclasses.asdict(config)
        assert TransformerConfig(**d) == config
        assert build(TransformerConfig(**d)).config == config


def test_blur_changes_the_output_but_not_the_learned_weights():
    # Blur is a fixed buffer kept out of state_dict: blur on/off share checkpoint keys.
    a, b = net(TransformerConfig("lite", blur=True)), net(TransformerConfig("lite", blur=False))
    assert a.state_dict().keys() == b.state_dict().keys()
    b.load_state_dict(a.state_dict())
    image = torch.rand(1, 3, 16, 16)
    assert not torch.allclose(a(image), b(image), atol=1e-4)


@pytest.mark.parametrize("config", CONFIGS, ids=IDS)
def test_state_dict_save_and_load_reproduce_the_output(config, tmp_path):
    model = net(config, seed=1)
    path = tmp_path / "model.pt"
    torch.save({"config": dataclasses.asdict(config), "model": model.state_dict()}, path)
    saved = torch.load(path, weights_only=True)
    rebuilt = net(TransformerConfig(**saved["config"]), seed=2)  # different init, then overwritten
    image = torch.rand(1, 3, 20, 15)
    assert not torch.equal(rebuilt(image), model(image))
    rebuilt.load_state_dict(saved["model"])
    assert torch.equal(rebuilt(image), model(image))


@pytest.mark.parametrize("config", CONFIGS, ids=IDS)
def test_batched_equals_stacked_single_runs(config):
    model = net(config)
    images = torch.rand(3, 3, 13, 22)
    batched = model(images)
    stacked = torch.cat([model(image[None]) for image in images])
    assert torch.allclose(batched, stacked, atol=1e-6)


def test_train_and_eval_compute_the_same():
    model = net(TransformerConfig("full"))
    image = torch.rand(1, 3, 16, 16)
    train_out = model.train()(image)
    assert torch.equal(model.eval()(image), train_out)


def phase_pattern(image: torch.Tensor) -> torch.Tensor:
    """The mean of each of the 16 positions mod 4, minus the image mean: (C, 4, 4)."""
    h, w = image.shape[-2] // 4 * 4, image.shape[-1] // 4 * 4
    x = image[0, :, :h, :w]
    return x.unflatten(1, (-1, 4)).unflatten(3, (-1, 4)).mean((1, 3)) - x.mean((1, 2))[:, None, None]


def test_deperiod_removes_a_period_4_pattern_and_keeps_smooth_images():
    filt = Deperiod()
    ys, xs = torch.meshgrid(torch.linspace(0, 1, 96), torch.linspace(0, 1, 120), indexing="ij")
    smooth = torch.stack([0.2 + 0.5 * xs, 0.8 - 0.6 * ys, 0.3 + 0.3 * xs - 0.2 * ys])[None]  # linear ramps
    grid = torch.rand(1, 3, 4, 4).repeat(1, 1, 24, 30)  # a period-4 pattern over the whole image
    out = filt(smooth + grid)
    inside = (..., slice(filt.border, -filt.border), slice(filt.border, -filt.border))  # where no window is cut
    assert (out - smooth - grid.mean((2, 3), keepdim=True))[inside].abs().max() < 1e-5
    assert (filt(smooth) - smooth)[inside].abs().max() < 1e-5
    assert phase_pattern(out).abs().max() < 0.02 < phase_pattern(smooth + grid).abs().max()
    constant = torch.full((1, 3, 9, 13), 0.3)  # exactly kept everywhere, borders too
    assert torch.allclose(filt(constant), constant, atol=1e-6)
    assert filt(torch.rand(2, 3, MIN_SIDE, 11)).shape == (2, 3, MIN_SIDE, 11)


def test_deperiod_network_loads_the_same_weights_and_loses_its_grid():
    # A network whose head adds a period-4 pattern (what trained networks learned): the
    # deperiod network, with the same weights, gives the same picture without the pattern.
    plain = net(TransformerConfig("lite"))
    with torch.no_grad():
        plain.head[1].bias.zero_()
    filtered = build(TransformerConfig("lite", deperiod=True))
    assert filtered.state_dict().keys() == plain.state_dict().keys()
    filtered.load_state_dict(plain.state_dict())
    ys, xs = torch.meshgrid(torch.linspace(0, 1, 64), torch.linspace(0, 1, 80), indexing="ij")
    photo = torch.stack([xs, ys, 0.5 * (xs + ys)])[None]
    stamp = 2.0 * torch.rand(1, 3, 4, 4).repeat(1, 1, 16, 20)
    plain.head.register_forward_hook(lambda module, args, out: out + stamp[..., : out.shape[-2], : out.shape[-1]])
    filtered.head.register_forward_hook(lambda module, args, out: out + stamp[..., : out.shape[-2], : out.shape[-1]])
    with torch.no_grad():
        a, b = plain(photo), filtered(photo)
    assert phase_pattern(a).abs().max() > 0.05 and phase_pattern(b).abs().max() < 0.01
    assert b.min() > 0 and b.max() < 1  # the filter acts on the logits: still in range


def test_count_macs_of_a_single_conv():
    conv = torch.nn.Conv2d(3, 5, 3, padding=1)
    assert count_macs(conv, 10, 12) == 10 * 12 * 5 * 3 * 3 * 3


def test_lite_needs_at_most_a_twelfth_of_full():
    full = count_macs(net(TransformerConfig("full")), 256, 256)
    lite = count_macs(net(TransformerConfig("lite")), 256, 256)
    # Full, by hand: 153,792 MACs per pixel in the convs, plus 9 per output of the two blurs,
    # which run on the 2-px padded 32-channel full-size and 64-channel half-size maps.
    assert full == 256 * 256 * 153_792 + 9 * (32 * 258 * 258 + 64 * 130 * 130)
    assert lite * 12 <= full


def test_a_few_adam_steps_fit_a_target_image():
    torch.manual_seed(0)
    model = build(TransformerConfig("lite"))
    photo = torch.rand(1, 3, 16, 16)
    target = 1 - photo  # a learnable mapping: the negative
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(30):
        optimizer.zero_grad()
        loss = (model(photo) - target).pow(2).mean()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]


@pytest.mark.parametrize("arch", ARCHS)
def test_blur_makes_the_output_follow_a_one_pixel_shift_more_closely(arch):
    # Same seed, same weights (Blur has none): only the anti-aliasing differs. Untrained
    # networks, so this checks the wiring, not the final video quality.
    image = torch.rand(1, 3, 48, 53, generator=torch.Generator().manual_seed(0))

    def shift_error(blur: bool) -> float:
        errors = []
        for seed in (0, 1):
            model = net(TransformerConfig(arch, blur), seed=seed)
            with torch.no_grad():
                a, b = model(image[..., :-1]), model(image[..., 1:])  # b is a shifted left by 1
            inner_a, inner_b = a[..., 8:-8, 9:-8], b[..., 8:-8, 8:-9]  # same pixels, borders skipped
            errors.append(((inner_a - inner_b).abs().mean() / a.std()).item())
        return sum(errors) / len(errors)

    assert shift_error(blur=True) < 0.9 * shift_error(blur=False)


# ---------------------------------------------------------------- several styles (conditional instance norm)


def _several(arch, styles=3, seed=0):
    torch.manual_seed(seed)
    net = build(TransformerConfig(arch=arch)).widen(styles)
    with torch.no_grad():  # give every style rows of its own
        for p in net.parameters():
            if p.ndim == 2:
                p.add_(0.2 * torch.randn_like(p))
    return net


@pytest.mark.parametrize("arch", ARCHS)
def test_several_styles_share_convs_and_keys(arch):
    one = build(TransformerConfig(arch=arch))
    many = one.widen(4)
    assert set(many.state_dict()) == set(one.state_dict())  # the same keys: rows (S, C) where one has (C,)
    norms = {k: v for k, v in many.state_dict().items() if v.ndim == 2}
    assert norms and all(v.shape[0] == 4 for v in norms.values())
    x = torch.rand(2, 3, 37, 50)
    with torch.no_grad():
        assert torch.allclose(many(x, 2), one(x), atol=1e-6)  # every style starts as the network widened


@pytest.mark.parametrize("arch", ARCHS)
def test_a_row_or_a_blend_is_a_one_style_network(arch):
    net = _several(arch)
    x = torch.rand(3, 3, 29, 40)
    with torch.no_grad():
        mixed = net(x, torch.tensor([2, 0, 1]))  # one style per image in one batch
        for b, s in enumerate((2, 0, 1)):
            single = net.select(s)
            assert single.config.styles == 1
            assert torch.allclose(mixed[b : b + 1], single(x[b : b + 1]), atol=1e-5)
        blend = torch.tensor([0.25, 0.75, 0.0])
        assert torch.allclose(net(x, blend), net.select(blend)(x), atol=1e-5)
        assert not torch.allclose(net.select(0)(x), net.select(1)(x), atol=1e-3)


def test_several_styles_need_a_style_and_one_style_refuses_one():
    with pytest.raises(ValueError, match="say which"):
        _several("lite")(torch.rand(1, 3, 16, 16))
    with pytest.raises(ValueError, match="one style"):
        build(TransformerConfig(arch="lite"))(torch.rand(1, 3, 16, 16), 0)
    with pytest.raises(StyleTransferError, match="styles"):
        TransformerConfig(styles=0)
