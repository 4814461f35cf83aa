"""The zoo recipe (scripts/train_zoo.py): the stages each style trains through, in order."""

from pathlib import Path

import pytest

from styletransfer import training

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def recipe():
    from scripts import train_zoo

    return train_zoo


def test_the_base_style_starts_from_scratch_and_every_other_from_the_base(recipe, tmp_path):
    base = recipe.runs_for(tmp_path, recipe.STYLES[0])
    assert list(base) == ["warmup", "full", "full_stable", "lite", "lite_stable"]
    assert base["warmup"][1].init == "" and base["lite"][1].init == ""
    assert base["full"][1].init == str(base["warmup"][0] / training.CHECKPOINT)
    other = recipe.runs_for(tmp_path, recipe.STYLES[1])
    assert "warmup" not in other
    assert other["full"][1].init == str(base["full"][0] / training.CHECKPOINT)
    assert other["lite"][1].init == str(base["lite"][0] / training.CHECKPOINT)


def test_lite_models_distil_their_full_twin_and_are_then_made_steady(recipe, tmp_path):
    for style in recipe.STYLES:
        stages = recipe.runs_for(tmp_path, style)
        full_dir, lite_dir = stages["full"][0], stages["lite"][0]
        stable_dir, stable = stages["lite_stable"]
        for config in (stages["lite"][1], stable):
            assert config.arch == "lite" and config.teacher == str(full_dir / training.CHECKPOINT)
            assert config.content_weight == 0 and config.style_weight == 0  # no VGG pass
        assert stages["lite"][1].temporal_weight == 0
        assert stable.temporal_weight == recipe.STABLE_TEMPORAL_WEIGHT > 0
        assert stable.init == str(lite_dir / training.CHECKPOINT)
        assert stable_dir.name == f"{style.name}.lite_stable"
        steady_full = stages["full_stable"][1]
        assert steady_full.init == str(full_dir / training.CHECKPOINT) and steady_full.arch == "full"
        assert steady_full.temporal_weight == recipe.FULL_STABLE_TEMPORAL_WEIGHT > 0
        assert steady_full.style_weight == stages["full"][1].style_weight and steady_full.style == stages["full"][1].style


def test_no_style_trains_on_the_held_out_photos(recipe, tmp_path):
    for style in recipe.STYLES:
        for _, config in recipe.runs_for(tmp_path, style).values():
            assert tuple(config.exclude) == tuple(recipe.HELD_OUT_PHOTOS)
            assert (REPO / config.style).is_file()  # paths are relative to the repo root
