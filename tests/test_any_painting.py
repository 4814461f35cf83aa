"""The any-painting flow (styletransfer/any_painting.py): the fast result handed to Gatys as a
tensor, every setting checked before any work. A stand-in fast painter and a random VGG16:
no weights needed."""

from __future__ import annotations

import pytest
import torch

from styletransfer import any_painting, predicted, universal
from styletransfer.errors import StyleTransferError
from styletransfer.events import Iterate, Stage
from styletransfer.gatys import GatysConfig
from styletransfer.io import images
from styletransfer.perceptual.vgg import VGG16Features


class RedPainter:
    """universal.load()'s and predicted.load()'s stand-in: paints every photo plain red, and remembers its settings."""

    def __init__(self):
        self.calls = []

    def paint(self, photo, paintings, settings):
        self.calls.append((tuple(photo.shape), len(paintings), settings))
        red = torch.zeros_like(photo)
        red[:, 0] = 1.0
        return red


@pytest.fixture
def painter(monkeypatch):
    found = RedPainter()
    monkeypatch.setattr(universal, "load", lambda: found)
    monkeypatch.setattr(predicted, "load", lambda: found)
    return found


@pytest.fixture(scope="module")
def random_vgg():
    torch.manual_seed(0)
    return VGG16Features(last_layer="relu4_3")


@pytest.fixture
def files(tmp_path):
    """A photo (60x40) and a painting, as files."""
    g = torch.Generator().manual_seed(0)
    photo = images.save_image(torch.rand(1, 3, 40, 60, generator=g) * 0.2 + 0.4, tmp_path / "photo.png")
    painting = images.save_image(torch.rand(1, 3, 48, 48, generator=g), tmp_path / "painting.png")
    return photo, painting


def test_refine_starts_from_the_fast_result_as_a_tensor_and_writes_no_file(
    painter, random_vgg, files, tmp_path, monkeypatch
):
    photo, painting = files

    def no_saving(*args, **kwargs):
        raise AssertionError("the flow must not write a file")

    monkeypatch.setattr(images, "save_image", no_saving)
    before = sorted(tmp_path.iterdir())
    config = GatysConfig(size=48, steps=2, coarse_to_fine=False, optimizer="adam", learning_rate=1e-4)
    run = any_painting.refine(photo, [painting], config, texture_strength="0.6", lossnet=random_vgg)
    events = list(run)
    assert events[:2] == [Stage("fast"), Stage("lossnet")]
    steps = events[2:]
    assert [type(e) for e in steps] == [Iterate, Iterate] and steps[-1].done
    first = steps[0].image
    assert first.shape == (1, 3, 32, 48)  # the photo at the output size
    assert first[:, 0].mean() > 0.95 and first[:, 1:].mean() < 0.05  # begun from the red fast result
    ((shape, count, settings),) = painter.calls
    assert shape == (1, 3, 32, 48) and count == 1
    assert settings == universal.Settings(strength=0.6, painting_scale=config.style_scale)
    assert sorted(tmp_path.iterdir()) == before


@pytest.mark.parametrize("start", ["content", "noise"])
def test_other_starts_skip_the_fast_result(painter, random_vgg, files, start):
    photo, painting = files
    config = GatysConfig(size=48, steps=1, coarse_to_fine=False)
    events = list(any_painting.refine(photo, [painting], config, start=start, lossnet=random_vgg))
    assert events[0] == Stage("lossnet") and isinstance(events[1], Iterate)
    assert painter.calls == []


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda p, s: any_painting.refine(p, [s], start="elsewhere"), r"Refine's start \(init\) must be one of"),
        (lambda p, s: any_painting.refine(p, [s], GatysConfig(size=2048)), r"output size must be 32\.\.1024 px"),
        (lambda p, s: any_painting.refine(p, [s], texture_strength="abc"), "texture strength must be 0..1, got 'abc'"),
        (lambda p, s: any_painting.refine(p, [s], GatysConfig(style_blend=(1, 2))), "one painting weight per painting"),
        (lambda p, s: any_painting.refine(p, []), "add at least one painting"),
        (lambda p, s: any_painting.fast(p, [s], size=2000), r"output size must be 32\.\.1024 px, got 2000"),
    ],
)
def test_mistakes_are_found_before_any_work(painter, files, monkeypatch, call, message):
    photo, painting = files
    loaded = []
    original = images.load_tensor
    monkeypatch.setattr(images, "load_tensor", lambda *a, **k: loaded.append(a) or original(*a, **k))
    with pytest.raises(StyleTransferError, match=message):
        call(photo, painting)
    assert painter.calls == [] and loaded == []


def test_gatys_checks_its_settings_when_they_are_made():
    with pytest.raises(StyleTransferError, match="^optimiser must be one of lbfgs, adam; got 'sgd'$"):
        GatysConfig(optimizer="sgd")  # no images, no VGG16: the config alone


def test_fast_paints_at_the_size_asked(painter, files):
    photo, painting = files
    image = any_painting.fast(photo, [painting], 32)
    assert image.shape == (1, 3, 21, 32)
    image = any_painting.fast(photo, [painting], None)  # the photo's own size
    assert image.shape == (1, 3, 40, 60)
    with pytest.raises(StyleTransferError, match=r"^painting 1: "):
        any_painting.fast(photo, [photo.parent / "missing.png"], 32)
