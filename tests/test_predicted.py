"""The fast any-painting result (styletransfer/predicted.py): the shipped predictor with the
shipped lite network and the real VGG16, on real paintings the predictor never saw."""

from __future__ import annotations

import shutil

import pytest
import torch

from scripts.style_predictor import HELD_OUT_PAINTINGS
from styletransfer import any_painting, colors, predicted, universal
from styletransfer.errors import StyleTransferError
from styletransfer.io import images
from styletransfer.networks import zoo
from styletransfer.perceptual.loss import STYLE_LAYERS, gram_distance, style_grams
from styletransfer.training.catalogue import PAINTINGS, STYLES

REPO = zoo.PRETRAINED.parent


@pytest.fixture(scope="module")
def model():
    return predicted.load()


@pytest.fixture(scope="module")
def photo():
    path = sorted((REPO / "examples" / "photos").glob("*.jpg"))[0]
    return images.load_tensor(path, long_side=192)


def _painting(name: str, side: int = 256) -> torch.Tensor:
    style = next(s for s in STYLES if s.name == name)
    return images.load_tensor(REPO / PAINTINGS / style.file, long_side=side)


def _style_distance(vgg, image: torch.Tensor, painting: torch.Tensor) -> float:
    """The Gram distance at the style layers, as training measures it."""
    with torch.inference_mode():
        grams = [style_grams(vgg(x, STYLE_LAYERS), STYLE_LAYERS) for x in (image, painting)]
    return float(gram_distance(*grams))


def test_the_shipped_predictor_was_trained_for_the_shipped_lite():
    info = predicted.Predicted().info
    assert info["lite_file"] == "zoo.lite.safetensors"
    assert info["lite_sha256"] == predicted.file_sha256(zoo.PRETRAINED / "zoo.lite.safetensors")
    assert set(info["held_out_paintings"]) == set(HELD_OUT_PAINTINGS)


@pytest.mark.usefixtures("shared_data")
def test_a_painting_it_never_saw_moves_the_photo_toward_that_painting(model, photo):
    """The Scream (held out of its training): the result's Grams are nearer The Scream's than
    the photo's are, and nearer than with another held-out painting's rows."""
    scream, lilies = _painting("the_scream"), _painting("water_lilies")
    painted = model.paint(photo, [scream], universal.Settings(strength=1.0))
    other = model.paint(photo, [lilies], universal.Settings(strength=1.0))
    assert painted.shape == photo.shape and float(painted.min()) >= 0 and float(painted.max()) <= 1
    to_scream = lambda image: _style_distance(model.vgg, image, scream)  # noqa: E731
    assert to_scream(painted) < 0.6 * to_scream(photo)
    assert to_scream(painted) < to_scream(other)


@pytest.mark.usefixtures("shared_data")
def test_strength_mixes_with_the_photo_and_keep_colors_keeps_its_chroma(model, photo):
    scream = _painting("the_scream")
    full = model.paint(photo, [scream], universal.Settings(strength=1.0))
    torch.testing.assert_close(model.paint(photo, [scream], universal.Settings(strength=0.0)), photo)
    half = model.paint(photo, [scream], universal.Settings(strength=0.5))
    torch.testing.assert_close(half, torch.lerp(photo, full, 0.5))
    kept = model.paint(photo, [scream], universal.Settings(strength=1.0, keep_colors=True))
    chroma = lambda image: colors.rgb_to_yiq(image)[:, 1:]  # noqa: E731
    assert float((chroma(kept) - chroma(photo)).abs().mean()) < 0.002  # clipping to RGB moves a few pixels
    assert float((chroma(full) - chroma(photo)).abs().mean()) > 0.02


@pytest.mark.usefixtures("shared_data")
def test_several_paintings_mix_their_rows_by_weight(model):
    scream, udnie = _painting("the_scream"), _painting("udnie")
    alone = model.rows([scream])
    only_first = model.rows([scream, udnie], weights=(1.0, 0.0))
    halves = model.rows([scream, udnie], weights=(2.0, 2.0))
    for name in alone:
        torch.testing.assert_close(only_first[name], alone[name])
        torch.testing.assert_close(halves[name], (alone[name] + model.rows([udnie])[name]) / 2)
    with pytest.raises(StyleTransferError, match="2 weights for 1 paintings"):
        model.rows([scream], weights=(1.0, 1.0))
    with pytest.raises(StyleTransferError, match="add at least one painting"):
        model.rows([])


@pytest.mark.usefixtures("shared_data")
def test_the_style_network_is_a_plain_one_style_lite_network(model, photo):
    scream = _painting("the_scream")
    net = model.style_network([scream])
    assert net.config.arch == "lite" and net.config.styles == 1
    with torch.inference_mode():
        plain = net(photo)
    # paint adds only the palette pull to the network's own picture
    pulled = torch.lerp(plain, colors.match_palette(plain, model.read(scream).palette), predicted.PALETTE_PULL)
    torch.testing.assert_close(pulled, model.paint(photo, [scream], universal.Settings(strength=1.0)))


@pytest.mark.usefixtures("shared_data")
def test_the_colours_are_pulled_toward_the_paintings_palette(model, photo):
    """Udnie's rows alone tint the photo violet; the pull brings the colours nearer the
    painting's (mean and covariance), mixed paintings toward their pooled palette."""
    udnie, lilies = _painting("udnie"), _painting("water_lilies")
    with torch.inference_mode():
        plain = model.style_network([udnie])(photo)
    painted = model.paint(photo, [udnie], universal.Settings(strength=1.0))
    target = colors.Palette.of(udnie)

    def off(image, palette=target):
        own = colors.Palette.of(image)
        return float((own.mean - palette.mean).norm() + (own.cov - palette.cov).norm())

    assert off(painted) < 0.9 * off(plain)
    weights = (1.0, 3.0)
    with torch.inference_mode():
        plain_both = model.style_network([udnie, lilies], weights)(photo)
    both = model.paint(photo, [udnie, lilies], universal.Settings(strength=1.0, weights=weights))
    pooled = colors.Palette.mixed([target, colors.Palette.of(lilies)], [0.25, 0.75])
    assert off(both, pooled) < 0.9 * off(plain_both, pooled)


def test_a_predictor_for_another_lite_network_is_refused_in_one_line(tmp_path):
    shutil.copy(predicted.predictor_path(), tmp_path / predicted.PREDICTOR_FILE)
    other = bytearray((zoo.PRETRAINED / "zoo.lite.safetensors").read_bytes())
    other[-1] ^= 1  # republished lite: other convolutions
    (tmp_path / "zoo.lite.safetensors").write_bytes(bytes(other))
    with pytest.raises(StyleTransferError, match="was trained for another zoo.lite.safetensors: retrain it"):
        predicted.Predicted(tmp_path / predicted.PREDICTOR_FILE)
    with pytest.raises(StyleTransferError, match="predictor is missing"):
        predicted.Predicted(tmp_path / "nowhere.safetensors")


def test_the_fast_result_uses_the_chosen_painter(tmp_path):
    g = torch.Generator().manual_seed(0)
    photo = images.save_image(torch.rand(1, 3, 48, 64, generator=g), tmp_path / "photo.png")
    painting = images.save_image(torch.rand(1, 3, 64, 64, generator=g), tmp_path / "painting.png")
    by_network = any_painting.fast(photo, [painting], 64)
    by_transform = any_painting.fast(photo, [painting], 64, method="universal")
    assert by_network.shape == by_transform.shape == (1, 3, 48, 64)
    assert float((by_network - by_transform).abs().mean()) > 0.01
    torch.testing.assert_close(
        by_network, predicted.load().paint(images.load_tensor(photo, long_side=64), [images.load_tensor(painting)])
    )
