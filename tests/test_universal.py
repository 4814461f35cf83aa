"""The universal any-painting mode (styletransfer/universal.py) with the shipped decoders: they
reconstruct photos they never saw, the mode paints, its controls work, bad paintings get a
clear message, and the CLI contract holds. The transforms' maths: test_wct.py."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from PIL import Image

from styletransfer import universal
from styletransfer.errors import StyleTransferError
from styletransfer.io import images
from tests.test_cli import run_cli

# Held-out photos (training/catalogue.py: HELD_OUT_PHOTOS, never trained on).
HELD_OUT = ("skimage_astronaut.jpg", "set14_img_004.jpg")
# Reconstruction floors (dB at 256 px), a few dB under what the shipped decoders measure
# (printed by the test; the note of issue 11 has the numbers).
MIN_PSNR = {1: 26.0, 2: 23.0, 3: 19.0}  # measured at 2,100 steps: 27.7, 25.1, 21.0


@pytest.fixture(scope="module")
def model():
    return universal.Universal()


@pytest.fixture(scope="module")
def photo(shared_data):
    return images.load_tensor(shared_data / "photos" / HELD_OUT[0], long_side=256)


@pytest.fixture(scope="module")
def starry(shared_data):
    return images.load_tensor(shared_data / "styles" / "starry_night.jpg", long_side=256)


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    return 10 * math.log10(1.0 / float((a.clamp(0, 1) - b).pow(2).mean()))


def test_decoders_reconstruct_held_out_photos(model, shared_data):
    measured = {}
    for level in universal.CASCADE:  # the levels the mode uses
        values = []
        for name in HELD_OUT:
            photo = images.load_tensor(shared_data / "photos" / name, long_side=256)
            photo = photo[..., : photo.shape[-2] // 8 * 8, : photo.shape[-1] // 8 * 8]
            (features,) = model.encode((level,), photo)
            values.append(psnr(model.decode(level, features), photo))
        measured[level] = sum(values) / len(values)
    print("reconstruction PSNR (dB) by level:", {k: round(v, 1) for k, v in measured.items()})
    for level, value in measured.items():
        assert value >= MIN_PSNR[level], f"level {level}: {value:.1f} dB"


def gram_distance(a: torch.Tensor, b: torch.Tensor, model) -> float:
    """Mean relative Gram distance over the mode's levels' features."""
    total = 0.0
    for level in universal.CASCADE:
        (fa,), (fb,) = model.encode((level,), a), model.encode((level,), b)
        ga, gb = (f[0].flatten(1) @ f[0].flatten(1).T / f[0][0].numel() for f in (fa, fb))
        total += float((ga - gb).pow(2).sum() / gb.pow(2).sum())
    return total / len(universal.CASCADE)


def test_painting_takes_the_paintings_statistics_and_keeps_the_photo_size(model, photo, starry):
    out = model.paint(photo, [starry])
    assert out.shape == photo.shape and out.dtype == torch.float32
    assert float(out.min()) >= 0 and float(out.max()) <= 1
    full = model.paint(photo, [starry], universal.Settings(strength=1.0))
    before, after, nearest = (gram_distance(image, starry, model) for image in (photo, out, full))
    print(f"Gram distance to the painting: photo {before:.3f}, painted {after:.3f}, at strength 1 {nearest:.3f}")
    # The ridge (universal.RIDGE) leaves the photo's weakest feature directions weak, so even
    # strength 1 matches the painting's statistics only in part (measured 0.293 and 0.249
    # against the photo's 0.562).
    assert nearest < after < 0.6 * before and nearest < 0.5 * before


def test_odd_sizes_and_strength(model, photo, starry):
    odd = photo[..., :201, :173]
    assert model.paint(odd, [starry]).shape == odd.shape
    gentle = model.paint(photo, [starry], universal.Settings(strength=0.2))
    full = model.paint(photo, [starry], universal.Settings(strength=1.0))
    print(f"PSNR to the photo: strength 0.2 {psnr(gentle, photo):.1f} dB, 1.0 {psnr(full, photo):.1f} dB")
    # A gentler painting stays nearer the photo.
    assert psnr(gentle, photo) > psnr(full, photo) + 1


def test_keep_colors_keeps_the_photos_chroma(model, photo, starry):
    from styletransfer.colors import rgb_to_yiq

    kept = model.paint(photo, [starry], universal.Settings(keep_colors=True))
    chroma = lambda image: rgb_to_yiq(image)[:, 1:]  # noqa: E731
    assert float((chroma(kept) - chroma(photo)).abs().mean()) < 0.02


def test_several_paintings_mix_by_weight(model, photo, starry, shared_data):
    scream = images.load_tensor(shared_data / "styles" / "the_scream.jpg", long_side=256)
    only_first = model.paint(photo, [starry, scream], universal.Settings(weights=(1.0, 0.0)))
    assert torch.allclose(only_first, model.paint(photo, [starry]), atol=2e-3)
    mixed = model.paint(photo, [starry, scream])
    assert psnr(mixed, only_first) < 40  # the second painting changed it
    with pytest.raises(StyleTransferError, match="2 weights for 1 paintings"):
        model.paint(photo, [starry], universal.Settings(weights=(1.0, 2.0)))


def test_painting_scale_changes_the_strokes_and_paintings_are_remembered(model, photo, starry):
    small = model.paint(photo, [starry], universal.Settings(painting_scale=0.5))
    assert psnr(small, model.paint(photo, [starry])) < 35
    first = model.painting_statistics(starry, 256)
    assert model.painting_statistics(starry.clone(), 256) is first  # same pixels: not encoded again


def test_onnxruntime_matches_torch(photo, starry):
    ort = universal.Universal(backend="onnxruntime").paint(photo, [starry])
    eager = universal.Universal(backend="torch").paint(photo, [starry])
    assert float((ort - eager).abs().max()) < 0.02


@pytest.mark.parametrize(
    "make, words",
    [
        (lambda: torch.rand(1, 3, 8, 300), "too small"),
        (lambda: torch.rand(1, 4, 64, 64), "one RGB image"),
    ],
)
def test_bad_paintings_get_a_clear_message(model, photo, make, words):
    with pytest.raises(StyleTransferError, match=words):
        model.paint(photo, [make()])


def test_a_photo_over_the_size_limit_is_refused(model, starry):
    with pytest.raises(StyleTransferError, match="too large .* at most 1024 px"):
        model.paint(torch.rand(1, 3, 1100, 60), [starry])


def test_greyscale_transparent_and_huge_paintings_load_and_paint(model, photo, tmp_path):
    rng = np.random.default_rng(0)
    grey = tmp_path / "grey.png"
    Image.fromarray(rng.integers(0, 255, (120, 90), dtype=np.uint8), "L").save(grey)
    transparent = tmp_path / "rgba.png"
    Image.fromarray(rng.integers(0, 255, (100, 140, 4), dtype=np.uint8), "RGBA").save(transparent)
    huge = tmp_path / "huge.jpg"
    Image.fromarray(rng.integers(0, 255, (4000, 3000, 3), dtype=np.uint8)).save(huge)
    for path in (grey, transparent, huge):
        painting = images.load_tensor(path, long_side=256)
        assert model.paint(photo, [painting]).shape == photo.shape


def test_missing_decoders_say_how_to_get_them(tmp_path):
    with pytest.raises(StyleTransferError, match="decoders are missing.*train_decoders"):
        universal.Universal(tmp_path / "nothing.safetensors")


# ------------------------------------------------------------------------------ CLI


def test_cli_paints_with_any_paintings(shared_data, repo_root, tmp_path):
    out = tmp_path / "out.png"
    styles = shared_data / "styles"
    result = run_cli(
        "stylize",
        shared_data / "photos" / "skimage_coffee.jpg",
        "--painting",
        styles / "great_wave.jpg",
        styles / "the_scream.jpg",
        "--painting-weights",
        2,
        1,
        "-o",
        out,
        "--size",
        160,
        "--strength",
        0.8,
        "--keep-colors",
        cwd=repo_root,
    )
    assert result.returncode == 0, result.stderr
    assert Image.open(out).size == (160, 107)  # coffee is 512x341


@pytest.mark.parametrize(
    "extra, words",
    [
        (["--painting", "missing.jpg"], "missing.jpg"),
        (["--painting", "PAINTING", "--painting-weights", "1", "2"], "2 --painting-weights for 1 paintings"),
        (["--painting", "PAINTING", "--strength", "2"], "texture strength must be 0..1, got 2"),
        (["--painting", "PAINTING", "-s", "starry_night"], "not allowed with argument"),
        (["-s", "starry_night", "--painting-scale", "2"], "go with --painting"),
    ],
)
def test_cli_bad_input_gives_one_line_and_nonzero(shared_data, repo_root, tmp_path, extra, words):
    painting = str(shared_data / "styles" / "great_wave.jpg")
    extra = [painting if part == "PAINTING" else part for part in extra]
    result = run_cli(
        "stylize",
        shared_data / "photos" / "skimage_coffee.jpg",
        *extra,
        "-o",
        tmp_path / "o.png",
        "--size",
        64,
        cwd=repo_root,
    )
    assert result.returncode != 0
    assert words in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
