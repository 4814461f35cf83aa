"""The Webcam tab's in-browser mode: onnxruntime-web paints the camera in the page.

Chromium's fake camera plays the fox clip (conftest.camera_browser); the network runs in the
page (WebAssembly here: headless Chromium has no GPU adapter), over the real model zoo. The
tests print the frame rate reached, in the same run as the server path's
(test_app_webcam.py). What the server spends per painted frame (goal: next to nothing) and how
soon an unreachable registry gives up are measured by `python -m bench.load --webcam-browsers 1 4`.
"""

from __future__ import annotations

import base64
import os
import re
import time

import cv2
import numpy as np
import onnx
import pytest

from styletransfer.errors import StyleTransferError
from styletransfer.io import frames
from styletransfer.networks import load_network
from ui import browser_runtime, webcam_tab
from ui.common import zoo_styles

FRAME_TIMEOUT_MS = 180_000  # the first frame waits for the runtime (14 MB) and the network to load
MEASURE_S = 4.0
INFO = "#browser-webcam-info"


@pytest.fixture(scope="session")
def runtime():
    """onnxruntime-web in the cache (fetched from the npm registry on a fresh machine)."""
    return browser_runtime.ensure()


def frames_painted(page) -> int:
    return page.evaluate("Number(document.querySelector('#browser-webcam-output').dataset.frames || 0)")


def wait_for_frames(page, more: int, timeout: float = FRAME_TIMEOUT_MS) -> None:
    page.wait_for_function(
        "n => Number(document.querySelector('#browser-webcam-output').dataset.frames || 0) >= n",
        arg=frames_painted(page) + more,
        timeout=timeout,
    )


def open_tab(context, url: str):
    page = context.new_page()
    page.set_default_timeout(30_000)
    page.goto(url)
    page.get_by_role("tab", name="Webcam").click()
    page.locator("#browser-start").wait_for()
    return page


def start(page) -> None:
    page.click("#browser-start")
    wait_for_frames(page, 3)


def measure_fps(page, seconds: float = MEASURE_S) -> float:
    before, started = frames_painted(page), time.monotonic()
    time.sleep(seconds)
    return (frames_painted(page) - before) / (time.monotonic() - started)


def snapshot(page) -> dict:
    """The last painted frame: the camera picture the network saw and the page's painting (RGB)."""
    snap = page.evaluate("window.stBrowserWebcam.snapshot()")
    shape = (snap["height"], snap["width"], 4)
    rgba = {k: np.frombuffer(base64.b64decode(snap[k]), np.uint8).reshape(shape) for k in ("input", "output")}
    return {
        "input": rgba["input"][..., :3].copy(),
        "output": rgba["output"][..., :3].copy(),
        "backend": snap["backend"],
    }


def difference(a, b) -> float:
    return float(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64)).mean())


@pytest.fixture
def context(camera_browser, app_server, pretrained_zoo, runtime):
    context = camera_browser.new_context(viewport={"width": 1400, "height": 1000})
    try:
        yield context
    finally:
        context.close()


def test_before_start_the_view_is_a_hint_not_a_black_box(browser, app_server, pretrained_zoo, artifacts):
    """Idle, the view says what Start does; the painting's canvas (a black box when empty) waits
    for the camera."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    try:
        page = open_tab(context, app_server)
        hint = page.locator(INFO)
        assert hint.is_visible() and hint.inner_text().startswith("Press Start")
        assert page.locator("#browser-webcam-output").is_hidden()
        page.screenshot(path=str(artifacts / "app_webcam_idle.png"), full_page=True)
    finally:
        context.close()


def test_the_browser_paints_the_camera_itself(context, app_server, artifacts):
    page = open_tab(context, app_server)
    assert page.locator("#browser-webcam-output").is_hidden()
    start(page)
    assert page.locator("#browser-webcam-output").is_visible()
    lines = []
    for resolution in ("320x240", "640x480"):
        page.locator("#webcam-resolution").get_by_text(resolution.replace("x", "×")).click()
        wait_for_frames(page, 2)
        fps = measure_fps(page)
        shown = page.locator(INFO).inner_text()
        width, height = resolution.split("x")
        match = re.match(
            rf"^([0-9.]+) fps · {width}×{height} · .+, lite · (.+) in this browser · (\d+) ms a frame$", shown
        )
        assert match, shown
        network_ms = page.evaluate("window.stBrowserWebcam.timeNetwork(3)")
        lines.append(
            f"webcam {resolution} in the browser: {fps:.1f} fps reached the page over {MEASURE_S:.0f} s "
            f"({match.group(2)}; the page says {shown!r}; the network alone {network_ms:.0f} ms); "
            f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
        )
        assert fps > 0
    print("\n" + "\n".join(lines))
    (artifacts / "webcam_browser_fps.txt").write_text("\n".join(lines) + "\n")
    page.screenshot(path=str(artifacts / "app_webcam_browser.png"), full_page=True)


def test_the_page_paints_what_the_torch_network_paints(context, app_server, repo_root):
    page = open_tab(context, app_server)
    page.locator("#browser-steady input").uncheck()  # each frame alone (the blend has a test of its own)
    start(page)
    style = page.locator("#webcam-style input").input_value()
    card = {s.caption: s for s in zoo_styles(repo_root / "pretrained")}[style]
    network = load_network(card.name, "lite", backend="torch", folder=repo_root / "pretrained")

    first = snapshot(page)
    assert first["backend"] == "wasm"
    want = network.stylize(first["input"])
    assert difference(first["output"], want) < 0.5  # float32 in both; rounding differs at most
    assert np.percentile(np.abs(first["output"].astype(int) - want), 99.9) <= 2
    assert difference(first["output"], first["input"]) > 10  # painted, not the camera picture

    # The camera moves (the fox clip plays): so does the painting. Frames painted after a
    # second has passed: on a busy CPU the page may paint none within that second.
    time.sleep(1.0)
    wait_for_frames(page, 2)
    later = snapshot(page)
    assert difference(later["input"], first["input"]) > 1
    assert difference(later["output"], first["output"]) > 1

    # Strength and keep-colours act in the page as the engine's stylize does.
    page.locator("#browser-keep-colors input").check()
    strength = page.locator("#browser-strength input[type='number']")
    strength.fill("0.5")
    strength.press("Enter")
    wait_for_frames(page, 2)
    mixed = snapshot(page)
    want = network.stylize(mixed["input"], strength=0.5, keep_colors=True)
    assert difference(mixed["output"], want) < 0.5
    assert difference(mixed["output"], network.stylize(mixed["input"])) > 3  # the settings took


def test_the_steadying_blend_is_the_benchs(context, app_server, camera):
    """The page's flow-free blend (ui/browser_webcam.js) against bench/temporal.py's, which measured it."""
    from bench.temporal import still_blended

    cameras = [cv2.resize(frame, (24, 16), interpolation=cv2.INTER_AREA) for frame in camera[1][:6]]
    noise = np.random.default_rng(0)  # a painting that flickers from frame to frame
    paintings = [noise.integers(0, 256, frame.shape, dtype=np.uint8) for frame in cameras]
    rgba = [np.dstack([f, np.full(f.shape[:2], 255, np.uint8)]).ravel().tolist() for f in (*cameras, *paintings)]
    page = open_tab(context, app_server)
    got = page.evaluate("([c, p]) => window.stBrowserWebcam.stillBlendFrames(c, p, 24, 16)", [rgba[:6], rgba[6:]])
    got = [np.array(frame, np.uint8).reshape(16, 24, 4)[..., :3] for frame in got]
    want = still_blended(cameras, paintings)
    assert all(np.abs(g.astype(int) - w).max() <= 1 for g, w in zip(got, want))
    assert np.array_equal(got[0], paintings[0])  # nothing to blend with yet
    assert difference(got[3], paintings[3]) > 20  # the camera barely moved: most of the last frame is kept


def test_four_visitors_at_once_all_paint(camera_browser, app_server, pretrained_zoo, runtime):
    """Four tabs paint at once. The server's CPU time per painted frame (next to nothing: the
    server path works 70-106 ms on each) is measured by `python -m bench.load --webcam-browsers 4`."""
    contexts = [camera_browser.new_context(viewport={"width": 1000, "height": 800}) for _ in range(4)]
    try:
        pages = [open_tab(context, app_server) for context in contexts]
        for page in pages:
            page.click("#browser-start")
        for page in pages:
            wait_for_frames(page, 2)
        before = [frames_painted(page) for page in pages]
        time.sleep(MEASURE_S)
        painted = [frames_painted(page) - b for page, b in zip(pages, before)]
        print(f"\nwebcam in 4 browsers at once: {painted} frames painted in {MEASURE_S:.0f} s")
        assert all(n > 0 for n in painted)
    finally:
        for context in contexts:
            context.close()


def test_without_webassembly_the_page_falls_back_to_the_server(context, app_server, artifacts):
    context.add_init_script("delete window.WebAssembly")
    page = open_tab(context, app_server)
    page.click("#browser-start")
    notice = page.locator("#webcam-notice")
    notice.get_by_text("it has no WebAssembly").wait_for()
    assert "Switched to the server" in notice.inner_text()
    page.locator("#webcam-input").wait_for(state="visible")  # the server path's camera box
    assert page.locator("#webcam-where input[value='server']").is_checked()
    page.screenshot(path=str(artifacts / "app_webcam_fallback.png"), full_page=True)


def test_without_a_camera_the_page_falls_back_to_the_server(browser, app_server, pretrained_zoo, runtime):
    context = browser.new_context()  # a Chromium with no camera at all
    try:
        page = open_tab(context, app_server)
        page.click("#browser-start")
        page.locator("#webcam-notice").get_by_text("no camera it may read").wait_for(timeout=60_000)
        page.locator("#webcam-input").wait_for(state="visible")
    finally:
        context.close()


# ---------------------------------------------------------------- no browser


def test_the_app_serves_the_runtime_and_the_network(app_server, pretrained_zoo, runtime, repo_root):
    import httpx

    style = zoo_styles(repo_root / "pretrained")[0]
    config = webcam_tab.browser_config(style, repo_root / "pretrained")
    assert set(config) == {"model", "runtime", "label"}, config
    bundle = httpx.get(app_server + config["runtime"] + "ort.wasm.min.mjs")
    assert bundle.status_code == 200 and "javascript" in bundle.headers["content-type"]
    wasm = httpx.get(app_server + config["runtime"] + "ort-wasm-simd-threaded.wasm")
    assert wasm.status_code == 200 and wasm.headers["content-type"] == "application/wasm"
    model = httpx.get(app_server + config["model"])
    assert model.status_code == 200
    graph = onnx.load_model_from_string(model.content).graph
    assert [i.name for i in graph.input] == ["image"] and [o.name for o in graph.output] == ["stylized"]


def test_an_unreachable_registry_says_so(tmp_path, monkeypatch, random_zoo, styles):
    """How soon it gives up (goal: under 10 s): `python -m bench.load --webcam-browsers 1`."""
    monkeypatch.setenv("STYLETRANSFER_CACHE", str(tmp_path))
    monkeypatch.setenv("npm_config_registry", "http://127.0.0.1:9")  # nothing listens there
    with pytest.raises(
        StyleTransferError,
        match=r"could not fetch onnxruntime-web 1\.30\.0 from http://127\.0\.0\.1:9/"
        r".*the webcam runs on the server instead",
    ):
        browser_runtime.ensure()
    assert "could not fetch onnxruntime-web" in webcam_tab.browser_config(styles["wave"], random_zoo)["error"]
    assert not browser_runtime.is_ready()


def test_a_tampered_package_is_refused(tmp_path, monkeypatch, runtime):
    import io
    import tarfile

    archive = tmp_path / "ort.tgz"
    with tarfile.open(archive, "w:gz") as tar:
        for name in browser_runtime.FILES:
            data = (runtime / name).read_bytes()
            info = tarfile.TarInfo(f"package/dist/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    with pytest.raises(StyleTransferError, match="refusing to serve it"):
        browser_runtime._check_integrity(archive)


def test_each_style_of_a_several_style_file_is_a_small_export_of_its_own(several, tmp_path, monkeypatch, runtime):
    import onnxruntime

    monkeypatch.setenv("STYLETRANSFER_CACHE", str(tmp_path))
    monkeypatch.setattr(browser_runtime, "folder", lambda: runtime)  # the runtime already fetched
    styles = {s.name: s for s in zoo_styles(several)}
    camera = np.random.default_rng(0).integers(0, 256, (240, 320, 3), dtype=np.uint8)
    exports = {}
    for name in ("night", "wave"):
        config = webcam_tab.browser_config(styles[name], several)
        assert config["label"] == f"{styles[name].label}, lite"
        path = config["model"].removeprefix("gradio_api/file=")
        exports[name] = path
        session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
        (painted,) = session.run(None, {"image": frames.to_batch(camera)})
        want = load_network(name, "lite", backend="torch", folder=several).stylize(camera)
        assert np.abs(frames.from_batch(painted)[0].astype(int) - want).max() <= 1
    assert exports["night"] != exports["wave"]
    assert max(os.path.getsize(p) for p in exports.values()) < 1_000_000  # the page downloads it
