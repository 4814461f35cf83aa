"""The Webcam tab: the browser's camera, repainted live by a pretrained network."""

from __future__ import annotations

import base64
import binascii
import html
import logging
from dataclasses import dataclass
from pathlib import Path

import gradio as gr

from styletransfer.errors import StyleTransferError
from styletransfer.video import webcam

from .common import PAGE_ONLY, ZooStyle, jpeg_img, no_models_message, starting_choice, style_network, tab_zoo

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
    info = [f"{frame.fps:.1f} fps", f"{frame.width}×{frame.height}", f"{style.label}, {arch}",
            f"{frame.seconds * 1000:.0f} ms a frame"]
    if note:
        info.insert(0, note)
    image = jpeg_img(frame.jpeg, "the stylized camera frame",
                     f"display: block; width: 100%; max-width: {max(640, frame.width)}px; height: auto")
    return f'<div class="st-live">{image}<div class="st-live-info">{html.escape(" · ".join(info))}</div></div>'


@dataclass
class LiveSession:
    """What one page keeps between frames (in a gr.State, so it goes when the page closes)."""

    stream: webcam.LiveStream
    last: webcam.LiveFrame | None = None
    style: ZooStyle | None = None
    arch: str = ""


def live_frame(frame, style: ZooStyle | None, arch: str, resolution: str, temporal, session: LiveSession | None,
               folder: Path):
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
    return _live_html(session.last, session.style, session.arch,
                      note="Camera stopped: press its record button to start again")


def build_webcam_tab(models_folder=None) -> None:
    """The browser's camera, repainted live by a pretrained network (lite in onnxruntime by default)."""
    folder, styles, problem = tab_zoo(models_folder)
    with gr.Tab("Webcam", id="webcam") as tab:
        gr.Markdown(
            "Your camera, repainted as it streams. Click the camera box, allow the camera, then press its "
            "record button. One stream runs at a time: after "
            f"{WEBCAM_TIME_LIMIT_S // 60} minutes a stream goes back to the queue, so others get a turn. The lite "
            "network keeps up on a CPU; the full one looks better but runs a few frames a second."
        )
        if not styles:
            gr.Markdown(no_models_message(folder, problem), elem_id="webcam-zoo-empty")
            return
        by_name = {s.name: s for s in styles}
        first_style, first_arch = starting_choice(styles, "lite")
        with gr.Row(equal_height=False):
            with gr.Column(scale=1):
                camera = gr.Image(
                    label="Camera", sources=["webcam"], streaming=True, elem_id="webcam-input", height=360,
                    webcam_options=gr.WebcamOptions(mirror=True, constraints=WEBCAM_CONSTRAINTS),
                )
                # Its own row: beside another control, the captions ran under the dropdown's arrow.
                style = gr.Dropdown(
                    [(s.caption, s.name) for s in styles], value=first_style, label="Style",
                    elem_id="webcam-style",
                )
                with gr.Row():
                    arch = gr.Radio(
                        [("Lite (fast)", "lite"), ("Full (best quality, slow)", "full")], value=first_arch,
                        label="Network", elem_id="webcam-arch",
                    )
                    resolution = gr.Radio(
                        [("320×240 (smooth)", "320x240"), ("640×480 (sharper, slower)", "640x480")],
                        value="320x240", label="Resolution", elem_id="webcam-resolution",
                    )
                # On by default: 1.8 ms a frame at 320x240 (measured), against the flicker of
                # a network that sees each frame alone.
                temporal = gr.Checkbox(
                    value=True, label="Steady between frames", elem_id="webcam-temporal",
                    info="temporal blending: less flicker, a little trailing on fast motion",
                )
            with gr.Column(scale=1):
                output = gr.HTML(_WEBCAM_IDLE, elem_id="webcam-output")
        session = gr.State(None)

        def on_frame(frame, style_name, arch, resolution, temporal, session):
            try:
                return live_frame(frame, by_name.get(style_name), arch, resolution, temporal, session, folder)
            except StyleTransferError as error:
                raise gr.Error(str(error), duration=None, print_exception=False) from None

        def prepare(style_name, arch):
            """Load (and if needed export) the chosen network before the first frame needs it."""
            style = by_name.get(style_name)
            if style is not None and arch in style.archs:
                try:
                    _live_model(style, arch, folder)
                except StyleTransferError:
                    pass  # the first frame reports it

        # preprocess=False: the frame arrives as the browser's JPEG and is decoded at the size
        # needed (io.frames.decode_jpeg), instead of at full size by Gradio.
        stream = camera.stream(
            on_frame, inputs=[camera, style, arch, resolution, temporal, session], outputs=[output, session],
            stream_every=WEBCAM_STREAM_EVERY_S, time_limit=WEBCAM_TIME_LIMIT_S, concurrency_id="webcam",
            concurrency_limit=WEBCAM_CONCURRENCY, show_progress="hidden", preprocess=False, **PAGE_ONLY,
        )
        stream.then(live_ended, inputs=[session], outputs=[output], show_progress="hidden", queue=False,
                    **PAGE_ONLY)
        gr.on([tab.select, style.change, arch.change], prepare, inputs=[style, arch], concurrency_limit=None,
              show_progress="hidden", **PAGE_ONLY)
        tab.select(None, js=_WATCH_CAMERA_JS, **PAGE_ONLY)
