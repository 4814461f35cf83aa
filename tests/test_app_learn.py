"""The Learn a painting tab (ui/learn.py) and /learn, /learn_status: tiny jobs (2 steps a network
at 32 px, an untrained VGG16) over the app's real zoo, as another program and a visitor see them."""

from __future__ import annotations

import dataclasses
import re
import shutil
import time

import pytest
from conftest import choose_option, dropdown_text
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError
from PIL import Image
from test_learn import JOB_TIMEOUT_S, tiny_config

from styletransfer.training import learn
from styletransfer.training.learner import Learner


@pytest.fixture
def tiny_jobs(repo_root, pretrained_zoo):
    """The app's queue swapped for one of tiny jobs, over the session's $STYLETRANSFER_HOME (which
    the galleries read); what it learned is gone afterwards, from the galleries too."""
    from ui import learn as learn_page
    from ui import learned

    made = Learner(tiny_config(repo_root))
    old = learn_page.use_learner(made)
    try:
        yield made
    finally:
        learn_page.use_learner(old)
        made.close()
        shutil.rmtree(learn.home(), ignore_errors=True)
        learned.sync()


@pytest.fixture
def painting(repo_root, tmp_path):
    path = tmp_path / "Sunflowers.jpg"
    shutil.copy(repo_root / "examples" / "styles" / "the_scream.jpg", path)
    return path


def test_learn_and_follow_a_job_through_the_api(app_server, tiny_jobs, painting, repo_root, tmp_path):
    from ui.common import tab_zoo
    from ui.webcam_tab import browser_config

    client = Client(app_server, verbose=False)
    job = client.predict(painting=handle_file(painting), name="", api_name="/learn")
    deadline = time.monotonic() + JOB_TIMEOUT_S
    while (status := client.predict(job_id=job, api_name="/learn_status"))["state"] in ("queued", "running"):
        assert time.monotonic() < deadline, status
        time.sleep(1)
    assert status["state"] == "done", status["error"]
    assert (status["name"], status["title"], status["archs_done"]) == ("sunflowers", "Sunflowers", ["lite", "full"])

    # Offered like a shipped style: /stylize paints with it, the webcam exports its lite network.
    photo = repo_root / "examples" / "photos" / "skimage_coffee.jpg"
    png = client.predict(photo=handle_file(photo), style="sunflowers", arch="lite", api_name="/stylize")
    assert Image.open(png).size == Image.open(photo).size
    folder, styles, _ = tab_zoo(None)
    learned_style = next(s for s in styles if s.name == "sunflowers")
    assert learned_style.caption == "Sunflowers (learned)" and learned_style.folder == learn.learned_folder()
    assert browser_config(learned_style, folder)["model"].endswith(".onnx")

    bad = tmp_path / "bad.png"
    bad.write_text("not a picture")
    with pytest.raises(AppError) as caught:
        client.predict(painting=handle_file(bad), name="x", api_name="/learn")
    assert "bad.png" in str(caught.value) and "\n" not in str(caught.value)
    with pytest.raises(AppError, match="no learning job"):
        client.predict(job_id="0123456789ab", api_name="/learn_status")


def test_a_visitor_learns_a_painting_and_finds_it_in_the_galleries(page, tiny_jobs, painting, repo_root, artifacts):
    page.get_by_role("tab", name="Learn a painting").click()
    page.locator("#learn-painting input[type=file]").set_input_files(str(painting))
    page.locator("#learn-painting img").first.wait_for(state="visible")
    page.locator("#learn-name textarea, #learn-name input").first.fill("Page Painting")
    page.click("#learn-run")
    progress = page.locator("#learn-progress .st-progress")
    progress.get_by_text(re.compile(r"Preparing to learn|Learning “Page Painting”")).wait_for(timeout=60_000)
    page.screenshot(path=str(artifacts / "learn_running.png"))
    progress.get_by_text("Learned “Page Painting”").wait_for(timeout=JOB_TIMEOUT_S * 1000)
    page.locator("#learn-preview img").first.wait_for(state="visible")
    page.screenshot(path=str(artifacts / "learn_done.png"), full_page=True)

    # A reloaded page finds its job again (its id is in the browser's local storage).
    page.reload()
    page.get_by_role("tab", name="Learn a painting").click()
    progress.get_by_text("Learned “Page Painting”").wait_for(timeout=30_000)

    # The Image tab's gallery offers it and paints with it; the webcam's list has it too.
    page.get_by_role("tab", name="Image").click()
    page.locator("#photo input[type=file]").set_input_files(
        str(repo_root / "examples" / "photos" / "skimage_coffee.jpg")
    )
    page.locator("#photo img").first.wait_for(state="visible")
    item = page.locator("#zoo-styles .thumbnail-item", has_text="Page Painting (learned)")
    item.click()
    page.locator("#result img").first.wait_for(state="visible", timeout=120_000)
    page.get_by_role("tab", name="Webcam").click()
    # The Video and Webcam tabs say where a visitor's own painting comes from.
    assert "Learn a painting tab adds it" in page.locator("#webcam-style").inner_text()
    choose_option(page, "webcam-style", "Page Painting (learned)")
    assert dropdown_text(page, "webcam-style")["text"] == "Page Painting (learned)"


def test_the_progress_line_says_where_a_job_stands():
    from styletransfer.training.learn import JobStatus
    from ui.learn import progress_html

    job = JobStatus(id="0123456789ab", name="wave", title="Wave <1>", total=600)
    assert "2 paintings ahead of yours" in progress_html(dataclasses.replace(job, ahead=2))
    running = progress_html(
        dataclasses.replace(job, state="running", arch="full", step=340, eta_s=410, archs_done=["lite"])
    )
    assert (
        'value="340"' in running and "step 340/600 · about 6 min 50 s left" in running and "Wave &lt;1&gt;" in running
    )
    assert "Ready already with lite" in running
    failed = progress_html(dataclasses.replace(job, state="failed", error="painting.jpg is not an image"))
    assert "Error: painting.jpg is not an image" in failed
