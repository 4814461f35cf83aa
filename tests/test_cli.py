"""The command-line contract other tools rely on, run as a real subprocess."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from styletransfer import cli

REPO = Path(__file__).resolve().parent.parent


def run_cli(*args, cwd):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    command = [sys.executable, "-m", "styletransfer", *map(str, args)]
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)


def test_gatys_end_to_end_with_two_styles(shared_data, repo_root, tmp_path):
    out = tmp_path / "out.png"
    styles = shared_data / "styles"
    result = run_cli(
        "gatys",
        shared_data / "photos" / "skimage_coffee.jpg",
        styles / "great_wave.jpg",
        styles / "the_scream.jpg",
        "-o",
        out,
        "--size",
        96,
        "--steps",
        5,
        "--style-blend",
        2,
        1,
        cwd=repo_root,
    )
    assert result.returncode == 0, result.stderr
    assert Image.open(out).size == (96, 64)  # coffee is 512x341


@pytest.mark.parametrize(
    "make_content, extra, words",
    [
        (lambda p: p.write_bytes(b""), [], "empty"),
        (lambda p: p.write_text("hello"), [], "not an image"),
        (None, ["--size", "99999"], "output size"),
        (None, ["--optimizer", "sgd"], "optimizer"),
        (None, ["-o", "out.xyz"], "xyz"),
    ],
)
def test_bad_input_exits_non_zero_with_one_line(shared_data, repo_root, tmp_path, make_content, extra, words):
    content = shared_data / "photos" / "skimage_coffee.jpg"
    if make_content:
        content = tmp_path / "photo.jpg"
        make_content(content)
    args = ["gatys", content, shared_data / "styles" / "great_wave.jpg", "--steps", 1, "--size", 64]
    args += extra if "-o" in extra else ["-o", tmp_path / "out.png", *extra]
    result = run_cli(*args, cwd=tmp_path if "-o" in extra else repo_root)
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:"), result.stderr
    assert words in lines[0].lower()


def test_missing_style_file(repo_root, shared_data, tmp_path):
    result = run_cli(
        "gatys",
        shared_data / "photos" / "skimage_coffee.jpg",
        tmp_path / "nope.jpg",
        "-o",
        tmp_path / "o.png",
        cwd=repo_root,
    )
    assert result.returncode == 2 and "nope.jpg" in result.stderr


def test_weights_info_and_verify(repo_root):
    info = run_cli("weights", "info", cwd=repo_root)
    assert info.returncode == 0 and "cache_file" in info.stdout
    verify = run_cli("weights", "verify", cwd=repo_root)
    assert verify.returncode == 0, verify.stderr
    assert "parameters: 14714688" in verify.stdout


def test_defaults_come_from_the_config():
    from styletransfer.gatys import GatysConfig

    args = cli.build_parser().parse_args(["gatys", "a.jpg", "b.jpg", "-o", "c.png"])
    assert args.size == GatysConfig().size and args.steps == GatysConfig().steps


@pytest.mark.parametrize(
    ("given", "expected"), [([], None), (["--teacher-grid-average"], True), (["--no-teacher-grid-average"], False)]
)
def test_a_yes_or_no_training_setting_is_a_flag(given, expected):
    """A bool field is --x / --no-x (argparse's bool("False") would be True); unset keeps the run's own on --resume."""
    args = cli.build_parser().parse_args(["train", "--out", "run", *given])
    assert getattr(args, "teacher_grid_average", None) is expected


@pytest.fixture
def model_folder(tmp_path):
    import torch

    from styletransfer.networks import zoo
    from styletransfer.networks.transformer import TransformerConfig, build

    torch.manual_seed(0)
    folder = tmp_path / "models"
    for arch in ("full", "lite"):
        card = zoo.ModelCard(name="wave", arch=arch, title="The Great Wave off Kanagawa", artist="Hokusai")
        zoo.save(build(TransformerConfig(arch=arch)), card, folder)
    return folder


def test_list_prints_name_arch_title(repo_root, model_folder):
    result = run_cli("list", "--folder", model_folder, cwd=repo_root)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "wave full The Great Wave off Kanagawa",
        "wave lite The Great Wave off Kanagawa",
    ]


def test_stylize_with_a_model_file(repo_root, shared_data, model_folder, tmp_path):
    out = tmp_path / "out.jpg"
    model = model_folder / "wave.lite.safetensors"
    result = run_cli(
        "stylize", shared_data / "photos" / "skimage_coffee.jpg", "-s", model, "-o", out, "--size", 101, cwd=repo_root
    )
    assert result.returncode == 0, result.stderr
    width, height = Image.open(out).size
    # coffee is 512x341: 341 * 101 / 512 = 67.3; JPEG draft decoding at 1/4 scale rounds the
    # small side up first (86 px), which can tip it to 68.
    assert width == 101 and height in (67, 68)


def test_export_onnx_runs_at_any_size(repo_root, model_folder, tmp_path):
    import numpy as np
    import onnxruntime

    out = tmp_path / "wave.onnx"
    result = run_cli("export", model_folder / "wave.full.safetensors", "--onnx", out, cwd=repo_root)
    assert result.returncode == 0, result.stderr
    session = onnxruntime.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    image = np.random.rand(1, 3, 45, 31).astype(np.float32)
    (styled,) = session.run(None, {"image": image})
    assert styled.shape == image.shape and styled.dtype == np.float32 and styled.min() >= 0 and styled.max() <= 1


def test_unknown_model_is_one_line(repo_root, shared_data, tmp_path):
    result = run_cli(
        "stylize",
        shared_data / "photos" / "skimage_coffee.jpg",
        "-s",
        "no_such_style",
        "-o",
        tmp_path / "o.png",
        cwd=repo_root,
    )
    assert result.returncode == 2
    assert (
        result.stderr.strip().startswith("error: no model named 'no_such_style'")
        and len(result.stderr.strip().splitlines()) == 1
    )
