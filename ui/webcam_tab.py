"""The Webcam tab: the browser's camera, repainted live by a pretrained network, either in the
visitor's browser (onnxruntime-web: ui/browser_webcam.js, ui/browser_runtime.py) or on the server."""

from __future__ import annotations

import base64
import binascii
import contextlib
import html
import logging
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import gradio as gr
from starlette.datastructures import MutableHeaders

from styletransfer import dials
from styletransfer.errors import StyleTransferError
from styletransfer.networks import onnx
from styletransfer.video import webcam

from . import browser_runtime
from .common import (
    PAGE_ONLY,
    ZooStyle,
    jpeg_img,
    no_models_message,
    slider,
    starting_choice,
    style_dropdown,
    style_network,
    tab_zoo,
)
from .learned import style_index

log = logging.getLogger("styletransfer.app")

WEBCAM_RESOLUTIONS = {"320x240": (320, 240), "640x480": (640, 480)}
WEBCAM_STREAM_EVERY_S = 0.033  # ask for ~30 frames a second; Gradio drops frames a slow pass cannot take
# A stream's turn: then Gradio ends it and the page queues it again (measured: it goes on by
# itself), behind anyone waiting, so one visitor cannot hold the camera slot.
WEBCAM_TIME_LIMIT_S = 120
# Its own queue slot, not behind a Gatys run; one stream at a time, since one already fills the CPU.
WEBCAM_CONCURRENCY = 1
# onnxruntime threads per pass. One: measured on the 2-core CPU while it was busy, one thread
# ran the lite network at 320x240 in 20 ms against 40 ms for two, and the other core is left
# for Gradio's own work per frame (the browser's frame in, the stylized frame out).
WEBCAM_THREADS = 1
# Ask the camera for 640x480: Gradio's default (1920x1440) makes the browser encode and send,
# and the server decode, up to 9x the pixels the largest resolution here uses.
WEBCAM_CONSTRAINTS = {"video": {"width": {"ideal": 640}, "height": {"ideal": 480}}}
# Gradio 6.31's webcam keeps "recording" when the camera goes away (unplugged, or taken by
# another app): it sends black frames until the time limit, holding the only webcam slot. This
# watcher presses its Stop as soon as the camera's track has ended, which ends the stream.
_WATCH_CAMERA_JS = """() => {
  if (window.__stylesCameraWatch) return;
  window.__stylesCameraWatch = setInterval(() => {
    const video = document.querySelector('#webcam-input video');
    const tracks = video && video.srcObject ? video.srcObject.getVideoTracks() : [];
    const recording = document.querySelector('#webcam-input [title="stop recording"]');
    const gone = tracks.length > 0 && tracks.every((t) => t.readyState === 'ended');
    if (recording && gone) recording.closest('button').click();
  }, 500);
}"""
_WEBCAM_IDLE = (
    '<div class="st-live st-live-idle" style="padding: 2em 1em; text-align: center">'
    "The painted stream appears here: click the camera box on the left, allow the camera, "
    "then press its record button.</div>"
)


# The page's part of the in-browser mode, run once in the page (app.launch_options' head).
BROWSER_WEBCAM_HEAD = f"<script>{(Path(__file__).with_name('browser_webcam.js')).read_text(encoding='utf-8')}</script>"
WHERE_CHOICES = [("In this browser (frames stay on your device)", "browser"), ("On the server", "server")]
# Until Start, only the hint shows, in a light box (common.PAGE_CSS): the painting's canvas appears
# once the camera is on (browser_webcam.js marks the view "st-started"), not as a big black box.
_BROWSER_IDLE = (
    '<div class="st-live" id="browser-webcam">'
    '<video id="browser-webcam-video" playsinline muted style="display: none"></video>'
    '<canvas id="browser-webcam-grab" style="display: none"></canvas>'
    '<canvas id="browser-webcam-output" width="320" height="240" '
    'style="width: 100%; max-width: 640px; transform: scaleX(-1); background: #222"></canvas>'
    '<div class="st-live-info" id="browser-webcam-info">Press Start: your camera is painted here, on this '
    "device; no frame is sent anywhere.</div></div>"
)


class CrossOriginIsolation:
    """ASGI middleware: the headers that make the page cross-origin isolated, which browsers
    require before a page may share memory between threads (SharedArrayBuffer): without them
    onnxruntime-web runs on one thread. "credentialless" (not "require-corp") so resources from
    other hosts still load, without cookies. Inside another site's frame (a Space's page) the
    page is not isolated and runs on one thread, as before."""

    HEADERS = {"Cross-Origin-Opener-Policy": "same-origin", "Cross-Origin-Embedder-Policy": "credentialless"}

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in self.HEADERS.items():
                    headers.setdefault(name, value)
            await send(message)

        return await self.app(scope, receive, send_with_headers)


def served_paths() -> list[str]:
    """Folders the app serves for the in-browser mode: the runtime and the exported networks."""
    return [str(browser_runtime.folder()), str(onnx.cache_folder())]


def _file_url(path: Path) -> str:
    """A URL, relative to the page, for a file the app serves (launch's allowed_paths)."""
    return "gradio_api/file=" + quote(str(Path(path).resolve()))


def browser_config(style: ZooStyle | None, folder: Path) -> dict:
    """What the page needs to paint the camera itself: the style's lite network as ONNX and the
    runtime's folder ({"model", "runtime", "label"}), or {"error": why} so it falls back to the server."""
    try:
        if style is None:
            raise StyleTransferError("choose a style first")
        network = _live_model(style, "lite", folder)
        runtime = browser_runtime.ensure()
    except StyleTransferError as error:
        return {"error": str(error)}
    return {
        "model": _file_url(network.session.path),
        "runtime": _file_url(runtime) + "/",
        "label": f"{style.label}, lite",
    }


def _live_model(style: ZooStyle, arch: str, folder: Path):
    return style_network(style, arch, folder, backend="onnxruntime", threads=WEBCAM_THREADS)


def _frame_bytes(payload) -> bytes | None:
    """The compressed frame in a raw streamed Image payload, which Gradio's webcam sends as an
    inline data: URL. Nothing else is read: no file path from a client is ever opened here."""
    url = payload.get("url") if isinstance(payload, dict) else None
    if not isinstance(url, str) or not url.startswith("data:"):
        return None
    try:
        return base64.b64decode(url.partition(",")[2])
    except binascii.Error:
        return None


def _live_html(frame: webcam.LiveFrame, style: ZooStyle, arch: str, note: str = "") -> str:
    info = [
        f"{frame.fps:.1f} fps",
        f"{frame.width}×{frame.height}",
        f"{style.label}, {arch}",
        f"{frame.seconds * 1000:.0f} ms a frame",
    ]
    if note:
        info.insert(0, note)
    image = jpeg_img(
        frame.jpeg,
        "the stylized camera frame",
        f"display: block; width: 100%; max-width: {max(640, frame.width)}px; height: auto",
    )
    return f'<div class="st-live">{image}<div class="st-live-info">{html.escape(" · ".join(info))}</div></div>'


@dataclass
class LiveSession:
    """What one page keeps between frames (in a gr.State, so it goes when the page closes)."""

    stream: webcam.LiveStream
    last: webcam.LiveFrame | None = None
    style: ZooStyle | None = None
    arch: str = ""


def live_frame(
    frame, style: ZooStyle | None, arch: str, resolution: str, temporal, session: LiveSession | None, folder: Path
):
    """One camera frame -> (HTML with the stylized frame and the frame rate, session)."""
    session = session or LiveSession(webcam.LiveStream())
    data = _frame_bytes(frame)
    if data is None:  # no frame yet, or not one a browser sends
        return gr.skip(), session
    if style is None:
        raise StyleTransferError("choose a style first")
    if resolution not in WEBCAM_RESOLUTIONS:
        raise StyleTransferError(f"unknown resolution {resolution!r}; choose {' or '.join(WEBCAM_RESOLUTIONS)}")
    model = _live_model(style, arch, folder)
    try:
        out = session.stream.process(data, model, WEBCAM_RESOLUTIONS[resolution], temporal=bool(temporal))
    except StyleTransferError:
        log.warning("skipped a camera frame that could not be decoded (%d bytes)", len(data))
        return gr.skip(), session  # one bad frame; the stream goes on
    session.last, session.style, session.arch = out, style, arch
    return _live_html(out, style, arch), session


def live_ended(session: LiveSession | None):
    """The recording ended (Stop, the time limit, the camera gone): keep the last frame, say so."""
    if session is None or session.last is None:
        return _WEBCAM_IDLE
    return _live_html(
        session.last, session.style, session.arch, note="Camera stopped: press its record button to start again"
    )


def build_webcam_tab(models_folder=None) -> None:
    """The browser's camera, repainted live by a pretrained lite network: in the visitor's browser
    (the default: no frame leaves the device, any number of visitors at once) or on the server."""
    folder, styles, problem = tab_zoo(models_folder)
    with gr.Tab("Webcam", id="webcam") as tab:
        gr.Markdown(
            "Your camera, repainted as it streams. **In this browser** (the default) the network runs on your "
            "device: press Start and allow the camera; no frame is sent anywhere. **On the server** works in any "
            "browser: click the camera box, allow the camera, then press its record button; one stream runs "
            f"at a time there, and after {WEBCAM_TIME_LIMIT_S // 60} minutes a stream goes back to the queue so "
            "others get a turn."
        )
        if not styles:
            gr.Markdown(no_models_message(folder, problem), elem_id="webcam-zoo-empty")
            return
        by_name = style_index(styles)  # live: it finds the paintings learned later (ui/learned.py)
        first_style, first_arch = starting_choice(styles, "lite")
        style = style_dropdown(styles, first_style, "webcam-style")
        with gr.Row():
            where = gr.Radio(WHERE_CHOICES, value="browser", label="Where the network runs", elem_id="webcam-where")
            resolution = gr.Radio(
                [("320×240 (smooth)", "320x240"), ("640×480 (sharper, slower)", "640x480")],
                value="320x240",
                label="Resolution",
                elem_id="webcam-resolution",
            )
        gr.HTML(
            '<div id="webcam-notice"></div>', padding=False, elem_id="webcam-notice-box"
        )  # why the page fell back to the server
        with gr.Row(equal_height=False) as browser_row:
            with gr.Column(scale=1):
                strength = slider(dials.STYLE_MIX, info=None, elem_id="browser-strength")
                keep_colors = gr.Checkbox(False, label="Keep the camera's colours", elem_id="browser-keep-colors")
                steady = gr.Checkbox(
                    True,
                    label="Steady between frames",
                    elem_id="browser-steady",
                    info="still parts of the picture stop shimmering; a little trailing on slow motion",
                )
                with gr.Row():
                    start = gr.Button("Start", variant="primary", elem_id="browser-start")
                    stop = gr.Button("Stop", elem_id="browser-stop")
            with gr.Column(scale=1):
                gr.HTML(_BROWSER_IDLE, elem_id="browser-webcam-view")
        with gr.Row(equal_height=False, visible=False) as server_row:
            with gr.Column(scale=1):
                camera = gr.Image(
                    label="Camera",
                    sources=["webcam"],
                    streaming=True,
                    elem_id="webcam-input",
                    height=360,
                    webcam_options=gr.WebcamOptions(mirror=True, constraints=WEBCAM_CONSTRAINTS),
                )
                arch = gr.Radio(
                    [("Lite (fast)", "lite"), ("Full (best quality, slow)", "full")],
                    value=first_arch,
                    label="Network",
                    elem_id="webcam-arch",
                )
                # On by default: 1.8 ms a frame at 320x240 (measured), against the flicker of
                # a network that sees each frame alone.
                temporal = gr.Checkbox(
                    value=True,
                    label="Steady between frames",
                    elem_id="webcam-temporal",
                    info="temporal blending: less flicker, a little trailing on fast motion",
                )
            with gr.Column(scale=1):
                output = gr.HTML(_WEBCAM_IDLE, elem_id="webcam-output")
        session = gr.State(None)
        config = gr.JSON(visible=False)  # browser_config's answer, handed to the page's script

        def on_frame(frame, style_name, arch, resolution, temporal, session):
            try:
                return live_frame(frame, by_name.get(style_name), arch, resolution, temporal, session, folder)
            except StyleTransferError as error:
                raise gr.Error(str(error), duration=None, print_exception=False) from None

        def prepare(style_name, arch, where):
            """Get the chosen network ready before the first frame needs it: exported for the
            browser (and the runtime fetched), or loaded for the server."""
            style = by_name.get(style_name)
            if where == "browser":
                return browser_config(style, folder)
            if style is not None and arch in style.archs:
                with contextlib.suppress(StyleTransferError):  # the first frame reports it
                    _live_model(style, arch, folder)
            return gr.skip()

        # preprocess=False: the frame arrives as the browser's JPEG and is decoded at the size
        # needed (io.images.decode_jpeg), instead of at full size by Gradio.
        stream = camera.stream(
            on_frame,
            inputs=[camera, style, arch, resolution, temporal, session],
            outputs=[output, session],
            stream_every=WEBCAM_STREAM_EVERY_S,
            time_limit=WEBCAM_TIME_LIMIT_S,
            concurrency_id="webcam",
            concurrency_limit=WEBCAM_CONCURRENCY,
            show_progress="hidden",
            preprocess=False,
            **PAGE_ONLY,
        )
        stream.then(live_ended, inputs=[session], outputs=[output], show_progress="hidden", queue=False, **PAGE_ONLY)
        quiet = {"show_progress": "hidden", **PAGE_ONLY}
        gr.on(
            [tab.select, style.change, arch.change],
            prepare,
            inputs=[style, arch, where],
            outputs=[config],
            concurrency_limit=None,
            **quiet,
        ).then(
            None,
            [config, resolution, strength, keep_colors, steady],
            js="(...a) => window.stBrowserWebcam.restyle(...a)",
            **quiet,
        )
        tab.select(None, js=_WATCH_CAMERA_JS, **PAGE_ONLY)

        start.click(prepare, inputs=[style, arch, where], outputs=[config], concurrency_limit=None, **quiet).then(
            None,
            [config, resolution, strength, keep_colors, steady],
            js="(...a) => window.stBrowserWebcam.start(...a)",
            **quiet,
        )
        stop.click(None, js="() => window.stBrowserWebcam.stop()", **PAGE_ONLY)
        gr.on(
            [resolution.change, strength.change, keep_colors.change, steady.change],
            None,
            [resolution, strength, keep_colors, steady],
            js="(...a) => window.stBrowserWebcam.set(...a)",
            **PAGE_ONLY,
        )
        where.change(
            lambda w: (gr.update(visible=w == "browser"), gr.update(visible=w == "server")),
            [where],
            [browser_row, server_row],
            queue=False,
            **quiet,
        )
        where.change(
            None, js="() => { if (window.stBrowserWebcam.running()) window.stBrowserWebcam.stop(); }", **PAGE_ONLY
        )
