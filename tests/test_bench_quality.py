"""bench/quality.py: its yardstick (real VGG16 weights, fetched into the cache on first use)
and one tiny end-to-end run over a zoo of untrained networks."""

import subprocess
import sys

import pytest
import torch
from PIL import Image

from styletransfer.io import images
from styletransfer.networks import zoo
from styletransfer.networks.transformer import TransformerConfig, build


@pytest.fixture(scope="module")
def quality():
    from bench import quality

    return quality


@pytest.fixture(scope="module")
def net(quality):
    return quality.lossnet()


@pytest.fixture(scope="module")
def photo_and_painting(shared_data):
    photo = images.load_tensor(shared_data / "photos" / "skimage_chelsea.jpg", long_side=64)
    painting = images.load_tensor(shared_data / "styles" / "starry_night.jpg", long_side=64)
    return photo, painting


def test_content_loss_is_zero_for_the_photo_itself(quality, net, photo_and_painting):
    photo, painting = photo_and_painting
    assert quality.content_losses(net, photo, photo) == {"relu2_2": 0.0, "relu4_2": 0.0}
    other = quality.content_losses(net, images.resize_to(painting, tuple(photo.shape[-2:])), photo)
    assert set(other) == {"relu2_2", "relu4_2"} and min(other.values()) > 0.1


def test_style_loss_is_zero_for_the_painting_and_positive_for_a_photo(quality, net, photo_and_painting):
    photo, painting = photo_and_painting
    yardstick = quality.yardstick(net, painting)
    assert yardstick.style_distance(painting) == pytest.approx(0.0, abs=1e-6)
    assert yardstick.style_distance(photo) > 0.1


def _tiny_zoo(folder, style):
    torch.manual_seed(0)
    config = {"style": str(style), "style_size": 64, "exclude": ["skimage_*", "set14_*"]}  # what it never trained on
    card = zoo.ModelCard(name="t", arch="full", title="T", train_config=config)
    for arch in ("lite", "full"):
        zoo.save(build(TransformerConfig(arch=arch)), card, folder)


def _run(repo_root, *args):
    return subprocess.run(
        [sys.executable, "-m", "bench.quality", *map(str, args)],
        capture_output=True, text=True, cwd=repo_root, timeout=600,
    )


def test_bench_prints_a_row_per_method_and_writes_a_contact_sheet(repo_root, shared_data, tmp_path):
    _tiny_zoo(tmp_path / "zoo", repo_root / "examples" / "styles" / "starry_night.jpg")
    out = tmp_path / "out"
    result = _run(repo_root, "--folder", tmp_path / "zoo", "--photo-dir", shared_data / "photos",
                  "--size", 64, "--photos", 1, "--gatys-steps", 2, "--out", out, "--threads", 1)
    assert result.returncode == 0, result.stderr
    rows = [line.split("|")[1:-1] for line in result.stdout.splitlines() if line.startswith("| t ")]
    assert [cells[1].strip() for cells in rows] == ["full", "lite", "gatys"]
    for cells in rows:
        numbers = [float(c) for c in cells[2:]]
        assert len(numbers) == 4 and all(n >= 0 for n in numbers)
    sheet = out / "t_64.png"
    assert str(sheet) in result.stdout
    with Image.open(sheet) as im:
        # painting | photo | full | lite | gatys, one 64 px row under an 18 px header
        assert im.size == (5 * 64, 18 + 64)


def test_bench_names_a_missing_painting(repo_root, shared_data, tmp_path):
    _tiny_zoo(tmp_path / "zoo", tmp_path / "nowhere" / "no_such_painting.jpg")
    result = _run(repo_root, "--folder", tmp_path / "zoo", "--photo-dir", shared_data / "photos",
                  "--size", 64, "--photos", 1, "--gatys-steps", 0, "--out", tmp_path / "out")
    assert result.returncode != 0
    assert "no_such_painting.jpg not found" in result.stderr
