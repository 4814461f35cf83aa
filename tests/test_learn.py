"""Learning a painting in the background (styletransfer/training/learn.py, learner.py): tiny jobs
(2 steps a network at 32 px, an untrained VGG16) added to the shipped zoo in pretrained/."""

from __future__ import annotations

import shutil
import time

import numpy as np
import pytest

from styletransfer.errors import StyleTransferError
from styletransfer.networks import Network, load_network, zoo
from styletransfer.training import learn
from styletransfer.training.learn import LearnConfig
from styletransfer.training.learner import Learner

JOB_TIMEOUT_S = 600  # tiny jobs take ~30 s; a busy 2-core CPU may take much longer


def tiny_config(repo_root, **overrides) -> LearnConfig:
    settings = dict(
        steps=2,
        preview_every=1,
        preview_size=32,
        photos=str(repo_root / "examples" / "photos"),
        lossnet="random",
        train={"crop_size": 32, "style_size": 64, "batch_size": 1, "device": "cpu"},
    )
    return LearnConfig(**{**settings, **overrides})


@pytest.fixture
def painting(repo_root, tmp_path):
    path = tmp_path / "Night Café.jpg"  # a name to make a style name of
    shutil.copy(repo_root / "examples" / "styles" / "starry_night.jpg", path)
    return path


@pytest.fixture
def learner(repo_root, tmp_path, pretrained_zoo):
    made = Learner(tiny_config(repo_root), home=tmp_path / "home")
    yield made
    made.close()


def test_a_job_learns_the_painting_into_both_networks_and_it_stays(learner, painting, repo_root, tmp_path):
    job = learner.submit(painting)
    status = learner.wait(job, JOB_TIMEOUT_S)
    assert status.state == "done", status.error
    assert status.name == "night_cafe" and status.title == "Night Café"
    assert status.archs_done == ["lite", "full"] and status.step == status.total == 4
    assert not status.predicted  # an untrained VGG16: no predicted first version (the predictor reads the real one)
    assert status.preview_step == 4 and (tmp_path / "home" / "jobs" / job / "preview.jpg").is_file()
    assert not (tmp_path / "home" / "jobs" / job / "full").exists()  # the runs go once published

    # Listed beside the shipped styles, in a zoo folder of its own, with its thumbnail.
    folder = learn.learned_folder(tmp_path / "home")
    cards = zoo.available(folder)
    assert [(c.name, c.arch, c.title) for c in cards] == [
        ("night_cafe", "full", "Night Café"),
        ("night_cafe", "lite", "Night Café"),
    ]
    assert zoo.thumbnail("night_cafe", folder) is not None
    assert "night_cafe" in learn.taken_names(None, folder) and "starry_night" in learn.taken_names(None, folder)
    photo = np.random.default_rng(0).integers(0, 256, (40, 56, 3), dtype=np.uint8)
    for arch in ("full", "lite"):
        assert load_network("night_cafe", arch, folder=folder).stylize(photo).shape == photo.shape

    # Another Learner on the same folder (the app restarted) sees the job and the style, and a
    # second painting of that name gets a name of its own.
    again = Learner(tiny_config(repo_root, steps=1, archs=["lite"]), home=tmp_path / "home")
    try:
        assert again.status(job).state == "done"
        second = again.wait(again.submit(painting, name="Night café"), JOB_TIMEOUT_S)
        assert second.state == "done" and second.name == "night_cafe_2"
        assert {c.name for c in zoo.available(folder)} == {"night_cafe", "night_cafe_2"}
    finally:
        again.close()


def test_a_job_shows_a_predicted_first_version_at_once_and_trains_lite_from_it(
    repo_root, tmp_path, painting, pretrained_zoo
):
    from styletransfer import predicted
    from styletransfer.io import images

    config = tiny_config(repo_root, archs=["lite"], lossnet="pretrained", steps=3, steps_from_prediction=2)
    assert (config.steps_for("lite", True), config.steps_for("lite", False), config.steps_for("full", True)) == (
        2,
        3,
        3,
    )
    # The job's first act, alone: the predicted network goes to the learned folder at once.
    folder, learned = tmp_path / "job", tmp_path / "learned"
    folder.mkdir()
    status = learn.JobStatus(id="job", name="night_cafe", title="Night Café")
    request = {"name": "night_cafe", "title": "Night Café"}
    start = learn._predicted_start(config, zoo.PRETRAINED, request, painting, learned, folder, status)
    assert start.is_file() and status.predicted and learn.JobStatus.read(folder).predicted
    (card,) = zoo.available(learned)
    assert (card.name, card.arch, card.steps) == ("night_cafe", "lite", 0)
    assert card.train_config["predicted_by"] == predicted.PREDICTOR_FILE
    photo = np.random.default_rng(0).integers(0, 256, (40, 56, 3), dtype=np.uint8)
    expected = predicted.load().style_network([images.load_tensor(painting)])
    ours = load_network("night_cafe", "lite", folder=learned).stylize(photo)
    theirs = Network.from_module(expected).stylize(photo)
    assert np.abs(ours.astype(int) - theirs.astype(int)).mean() < 1.0  # stored as fp16

    # A whole job: the trained network takes the first version's place.
    made = Learner(config, home=tmp_path / "home")
    try:
        done = made.wait(made.submit(painting), JOB_TIMEOUT_S)
    finally:
        made.close()
    assert done.state == "done" and done.predicted and done.archs_done == ["lite"], done.error
    assert done.step == done.total == 2  # lite's fewer steps from the predicted start
    (card,) = zoo.available(learn.learned_folder(tmp_path / "home"))
    assert card.steps == 2 and card.train_config["init"].endswith("night_cafe.lite.safetensors")


def test_a_bad_image_is_refused_in_one_line_and_nothing_is_queued(learner, tmp_path):
    bad = tmp_path / "painting.jpg"
    bad.write_bytes(b"this is not a JPEG")
    with pytest.raises(StyleTransferError) as caught:
        learner.submit(bad)
    assert "\n" not in str(caught.value) and "painting.jpg" in str(caught.value)
    assert learner.jobs() == []
    with pytest.raises(StyleTransferError, match="no learning job"):
        learner.status("../../etc")


def test_one_job_runs_at_a_time_and_the_next_knows_its_place(repo_root, tmp_path, painting, pretrained_zoo):
    slow = Learner(tiny_config(repo_root, steps=10_000), home=tmp_path / "home")
    try:
        first, second = slow.submit(painting), slow.submit(painting)
        assert slow.status(second).state == "queued" and slow.status(second).ahead == 1
        assert slow.status(first).name == "night_cafe" and slow.status(second).name == "night_cafe_2"
        assert slow.cancel(second).state == "cancelled"
        while slow.status(first).state == "queued":  # until the worker thread takes it (at once)
            time.sleep(0.05)
        assert slow.status(first).state == "running"
        assert slow.cancel(first).state == "cancelled"
        assert zoo.available(learn.learned_folder(tmp_path / "home")) == []
    finally:
        slow.close()


def test_a_job_that_fails_says_why_in_one_line(repo_root, tmp_path, painting, pretrained_zoo):
    broken = Learner(tiny_config(repo_root, photos=str(tmp_path / "no photos")), home=tmp_path / "home")
    try:
        status = broken.wait(broken.submit(painting), JOB_TIMEOUT_S)
    finally:
        broken.close()
    assert status.state == "failed" and "content folder not found" in status.error and "\n" not in status.error
    assert zoo.available(learn.learned_folder(tmp_path / "home")) == []


def test_settings_come_from_the_environment(monkeypatch):
    monkeypatch.setenv(learn.ENV_CONFIG, '{"steps": 7, "archs": ["lite"]}')
    config = LearnConfig.from_env(photos="/somewhere")
    assert (config.steps, config.archs, config.photos, config.preview_every) == (7, ("lite",), "/somewhere", 25)
    monkeypatch.setenv(learn.ENV_CONFIG, '{"stpes": 7}')
    with pytest.raises(StyleTransferError, match="STYLETRANSFER_LEARN_CONFIG"):
        LearnConfig.from_env()


def test_names_come_from_titles_and_never_clash():
    assert learn.style_name("Night Café (1888).png") == "night_cafe_1888_png"
    assert learn.style_name("  ***  ") == "painting"
    assert learn.unique_name("wave", {"wave", "wave_2"}) == "wave_3"
