"""The zoo recipe (scripts/train_zoo.py): the stages each style trains through, in order."""

import importlib.util
import sys
from pathlib import Path

import pytest

from styletransfer import train

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "train_zoo.py"


@pytest.fixture(scope="module")
def recipe():
    spec = importlib.util.spec_from_file_location("train_zoo", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_the_base_style_starts_from_scratch_and_every_other_from_the_base(recipe, tmp_path):
    base = recipe.runs_for(tmp_path, recipe.STYLES[0])
    assert list(base) == ["warmup", "full", "full_stable", "lite", "lite_stable"]
    assert base["warmup"][1].init == "" and base["lite"][1].init == ""
    assert base["full"][1].init == str(base["warmup"][0] / train.CHECKPOINT)
    other = recipe.runs_for(tmp_path, recipe.STYLES[1])
    assert "warmup" not in other
    assert other["full"][1].init == str(base["full"][0] / train.CHECKPOINT)
    assert other["lite"][1].init == str(base["lite"][0] / train.CHECKPOINT)


def test_lite_models_distil_their_full_twin_and_are_then_made_steady(recipe, tmp_path):
    for style in recipe.STYLES:
        stages = recipe.runs_for(tmp_path, style)
        full_dir, lite_dir = stages["full"][0], stages["lite"][0]
        stable_dir, stable = stages["lite_stable"]
        for config in (stages["lite"][1], stable):
            assert config.arch == "lite" and config.teacher == str(full_dir / train.CHECKPOINT)
            assert config.content_weight == 0 and config.style_weight == 0  # no VGG pass
        assert stages["lite"][1].temporal_weight == 0
        assert stable.temporal_weight == recipe.STABLE_TEMPORAL_WEIGHT > 0
        assert stable.init == str(lite_dir / train.CHECKPOINT)
        assert stable_dir.name == f"{style.name}.lite_stable"
        steady_full = stages["full_stable"][1]
        assert steady_full.init == str(full_dir / train.CHECKPOINT) and steady_full.arch == "full"
        assert steady_full.temporal_weight == recipe.FULL_STABLE_TEMPORAL_WEIGHT > 0
        assert steady_full.style_weight == stages["full"][1].style_weight and steady_full.style == stages["full"][1].style


def test_no_style_trains_on_the_held_out_photos(recipe, tmp_path):
    for style in recipe.STYLES:
        for _, config in recipe.runs_for(tmp_path, style).values():
            assert tuple(config.exclude) == tuple(train.HELD_OUT_PHOTOS)
            assert (SCRIPT.parent.parent / config.style).is_file()  # paths are relative to the repo root
