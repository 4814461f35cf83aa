"""The web app: a Gradio face over the styletransfer engine. UI only; no tensor maths here.

    python app.py [--host 127.0.0.1] [--port 7860] [--share]

Each tab is built by its own function (build_image_tab, ...) so later tabs slot in beside it.
"""

from __future__ import annotations

import argparse
import html
import logging
import os
import socket
import threading
import time
from pathlib import Path

import gradio as gr

from styletransfer import images
from styletransfer.errors import StyleTransferError
from styletransfer.events import Iterate
from styletransfer.gatys import MAX_SIZE, MIN_SIZE, GatysConfig, iterate

log = logging.getLogger("styletransfer.app")

HERE = Path(__file__).resolve().parent
EXAMPLE_PHOTOS = sorted((HERE / "examples" / "photos").glob("*.jpg"))
EXAMPLE_STYLES = sorted((HERE / "examples" / "styles").glob("*.jpg"))

DEFAULTS = GatysConfig()  # widget defaults come from the engine, never from here
APP_MAX_SIZE = min(MAX_SIZE, 1024)  # the slider's top; beyond this a CPU run takes hours
PREVIEW_EVERY_S = 0.25  # stream at most ~4 previews a second; the last step is always sent
QUEUE_MAX_SIZE = 16
MAX_FILE_SIZE = "25mb"

COLOUR_CHOICES = [
    ("Painting's colours", "none"),
    ("Photo's colours (luminance transfer)", "luminance"),
    ("Photo's colours (histogram matching)", "histogram"),
]


# ---------------------------------------------------------------- Image tab (Gatys)


def _parse_blend(text: str, num_styles: int) -> tuple[float, ...] | None:
    text = (text or "").strip()
    if not text:
        return None
    try:
        weights = tuple(float(part) for part in text.replace(";", ",").split(","))
    except ValueError:
        raise StyleTransferError(f"painting weights must be numbers separated by commas, e.g. 2, 1; got {text!r}") from None
    if len(weights) != num_styles:
        raise StyleTransferError(f"give one painting weight per painting ({num_styles}), got {len(weights)}")
    return weights


def _status_html(message: str, busy: bool = False) -> str:
    bar = '<progress style="width: 100%"></progress>' if busy else ""
    return f'<div class="st-progress">{bar}{html.escape(message)}</div>'


def _progress_html(event: Iterate, stopped: bool = False) -> str:
    height, width = event.size
    remaining = event.elapsed / event.step * (event.total_steps - event.step)
    losses = event.losses
    parts = [
        f"Step {event.step}/{event.total_steps}",
        f"scale {event.scale + 1}/{event.num_scales} ({width}×{height} px)",
        f"loss {losses['total']:.3g} (content {losses['content']:.3g}, style {losses['style']:.3g}, tv {losses['tv']:.3g})",
        f"{event.elapsed:.0f} s elapsed",
        "done" if event.done else "stopped" if stopped else f"about {remaining:.0f} s left",
    ]
    return (
        f'<div class="st-progress"><progress max="{event.total_steps}" value="{event.step}" style="width: 100%"></progress>'
        + html.escape(" · ".join(parts))
        + "</div>"
    )


def _uploaded_path(payload) -> str | None:
    """The file behind a raw (not preprocessed) Image payload or Gallery item."""
    if isinstance(payload, dict):
        payload = payload.get("image") or payload.get("video") or payload
        return payload.get("path")
    return payload  # a plain path (direct Python calls)


def _load(source, long_side: int | None, what: str):
    try:
        return images.load_tensor(source, long_side=long_side)
    except StyleTransferError as error:
        raise StyleTransferError(f"{what}: {error}") from None


class StopRequests:
    """Stop buttons, one flag per browser session.

    Stop is cooperative: the run checks its flag after every step and ends normally, so the
    last image and a "stopped" line are the final outputs. (Cancelling the generator instead
    can let a preview already on its way overwrite the page after the stop.)
    """

    def __init__(self):
        self._flags: dict[str, threading.Event] = {}
        self._lock = threading.Lock()

    def arm(self, request: gr.Request | None) -> None:
        """Run was clicked: a fresh flag for this session (set before the job is queued)."""
        if request is not None:
            with self._lock:
                self._flags[request.session_hash] = threading.Event()

    def stop(self, request: gr.Request | None) -> None:
        if request is not None:
            with self._lock:
                flag = self._flags.get(request.session_hash)
            if flag is not None:
                flag.set()

    def flag(self, request: gr.Request | None) -> threading.Event:
        with self._lock:
            found = self._flags.get(request.session_hash) if request is not None else None
        return found or threading.Event()  # a direct call or no arm(): a flag nobody sets

    def release(self, request: gr.Request | None, flag: threading.Event) -> None:
        if request is not None:
            with self._lock:
                if self._flags.get(request.session_hash) is flag:
                    del self._flags[request.session_hash]


STOPS = StopRequests()


def run_gatys(
    photo,
    paintings,
    size,
    steps,
    style_strength,
    preserve_colors,
    optimizer,
    seed,
    style_scale,
    tv_weight,
    coarse_to_fine,
    init,
    blend_text,
    request: gr.Request = None,
):
    """Stream (preview image, progress line) pairs while the optimisation runs.

    Gets raw component values (see preprocess=False below). After Stop, the run ends at the
    next step boundary; its last image stays in the page as the result, with a download button.
    """
    stop = STOPS.flag(request)
    try:
        photo_path = _uploaded_path(photo)
        if not photo_path:
            raise StyleTransferError("upload a photo first (left, 'Photo')")
        style_paths = [path for path in map(_uploaded_path, paintings or []) if path]
        if not style_paths:
            raise StyleTransferError("add at least one painting: upload one, or click an example painting")
        config = GatysConfig(
            size=int(size),
            steps=int(steps),
            style_weight=float(style_strength),
            preserve_colors=preserve_colors,
            optimizer=optimizer,
            seed=int(seed or 0),
            style_scale=float(style_scale),
            tv_weight=float(tv_weight or 0),
            coarse_to_fine=bool(coarse_to_fine),
            init=init,
            style_blend=_parse_blend(blend_text, len(style_paths)),
        )
        # The engine resizes to each scale itself; loading at the output size up front keeps
        # a 50-megapixel phone photo from costing gigabytes as a float tensor.
        content = _load(photo_path, config.size, "photo")
        styles = [
            _load(path, max(MIN_SIZE, round(config.size * config.style_scale)), f"painting {i}")
            for i, path in enumerate(style_paths, 1)
        ]
        if stop.is_set():  # Stop pressed while waiting in the queue
            yield gr.skip(), _status_html("Stopped before it started.")
            return
        yield None, _status_html("Preparing (the first run loads the VGG16 network)…", busy=True)

        events = iterate(content, styles, config)
        last_sent = 0.0
        try:
            for event in events:
                now = time.monotonic()
                if stop.is_set():
                    yield images.to_numpy(event.image), _progress_html(event, stopped=True)
                    return
                if event.done or now - last_sent >= PREVIEW_EVERY_S:
                    last_sent = now
                    yield images.to_numpy(event.image), _progress_html(event)
        finally:
            events.close()  # release the engine's generator (and its tensors) now
    except StyleTransferError as error:
        yield gr.skip(), _status_html(f"Error: {error}")
        raise gr.Error(str(error), duration=None, print_exception=False) from None
    except Exception as error:  # a bug: log it, tell the user, keep the server alive
        log.exception("style transfer failed")
        message = f"Something went wrong ({type(error).__name__}: {error}). Try other images or settings."
        yield gr.skip(), _status_html(f"Error: {message}")
        raise gr.Error(message, duration=None) from None
    finally:
        STOPS.release(request, stop)


def _start_run(request: gr.Request):
    STOPS.arm(request)
    return gr.Button(interactive=False)  # one run per page at a time; Stop ends it


def _end_run():
    return gr.Button(interactive=True)


def _add_example_painting(paintings, event: gr.SelectData):
    current = [item[0] if isinstance(item, (tuple, list)) else item for item in (paintings or [])]
    return current + [str(EXAMPLE_STYLES[event.index])]


def build_image_tab() -> None:
    """Gatys et al.: optimise an image to keep the photo's content and take the paintings' style."""
    with gr.Tab("Image", id="image"):
        gr.Markdown(
            "Optimises a new image step by step (Gatys et al.). A few hundred pixels and ~100 steps "
            "take a minute or two on a CPU; stop at any time and keep the image so far."
        )
        with gr.Row(equal_height=False):
            with gr.Column(scale=1):
                photo = gr.Image(
                    label="Photo",
                    type="filepath",
                    image_mode=None,
                    sources=["upload", "clipboard"],
                    elem_id="photo",
                    height=300,
                )
                gr.Examples(examples=[[str(p)] for p in EXAMPLE_PHOTOS], inputs=[photo], label="Example photos")
            with gr.Column(scale=1):
                paintings = gr.Gallery(
                    label="Paintings (one or more; several are blended)",
                    type="filepath",
                    file_types=["image"],
                    interactive=True,
                    columns=3,
                    height=300,
                    elem_id="paintings",
                )
                examples = gr.Gallery(
                    value=[(str(p), p.stem.replace("_", " ")) for p in EXAMPLE_STYLES],
                    label="Example paintings: click one to add it",
                    interactive=False,
                    allow_preview=False,
                    columns=6,
                    height=120,
                    elem_id="example-paintings",
                )
                examples.select(_add_example_painting, inputs=[paintings], outputs=[paintings], concurrency_limit=None)
            with gr.Column(scale=1):
                result = gr.Image(
                    label="Result",
                    type="numpy",
                    format="png",
                    interactive=False,
                    buttons=["download", "fullscreen"],
                    elem_id="result",
                    height=300,
                )
                progress = gr.HTML(_status_html("Ready."), elem_id="progress")

        with gr.Row():
            size = gr.Slider(
                MIN_SIZE, APP_MAX_SIZE, value=DEFAULTS.size, step=16, label="Output size (long side, px)", elem_id="size"
            )
            steps = gr.Slider(1, 1000, value=DEFAULTS.steps, step=1, label="Steps", elem_id="steps")
            strength = gr.Slider(
                0.0, 10.0, value=DEFAULTS.style_weight, step=0.05, label="Style strength", elem_id="strength",
                info="1 = balanced; higher = more painting, less photo",
            )
        colours = gr.Radio(COLOUR_CHOICES, value=DEFAULTS.preserve_colors, label="Colours", elem_id="colours")
        with gr.Accordion("Advanced", open=False):
            with gr.Row():
                optimizer = gr.Radio(
                    [("L-BFGS (best per step)", "lbfgs"), ("Adam (steady)", "adam")],
                    value=DEFAULTS.optimizer, label="Optimiser",
                )
                init = gr.Radio(
                    [("Photo", "content"), ("Noise", "noise")], value=DEFAULTS.init, label="Start from"
                )
                coarse_to_fine = gr.Checkbox(
                    value=DEFAULTS.coarse_to_fine, label="Coarse to fine",
                    info="optimise small first, then upscale (better large images)",
                )
            with gr.Row():
                seed = gr.Number(value=DEFAULTS.seed, precision=0, label="Seed")
                style_scale = gr.Slider(
                    0.25, 2.0, value=DEFAULTS.style_scale, step=0.05, label="Style scale",
                    info="painting size relative to the output; smaller = finer brush strokes",
                )
                tv_weight = gr.Number(value=DEFAULTS.tv_weight, minimum=0, label="Smoothness (TV weight)")
                blend = gr.Textbox(
                    label="Painting weights", placeholder="e.g. 2, 1 (one per painting; empty = equal)"
                )
        with gr.Row():
            run = gr.Button("Run", variant="primary", elem_id="run")
            stop = gr.Button("Stop", variant="stop", elem_id="stop")

        inputs = [photo, paintings, size, steps, strength, colours, optimizer, seed, style_scale, tv_weight,
                  coarse_to_fine, init, blend]
        # preprocess=False: Gradio would decode the photo with PIL before we see it, so a broken
        # file would get its generic error; images.open_image gives the project's clear message.
        # Uploaded paths are still checked to lie in Gradio's upload folder.
        # Light handlers skip the one-job-at-a-time limit, so Stop and "add painting" answer at
        # once while a run (this user's or another's) holds the slot.
        quick = {"concurrency_limit": None, "show_progress": "hidden"}
        job = run.click(_start_run, outputs=[run], **quick).then(
            run_gatys, inputs=inputs, outputs=[result, progress], show_progress="hidden", preprocess=False
        )
        # Gradio 6.31's front end fires .then() only after success, so re-enable Run both ways.
        job.then(_end_run, outputs=[run], **quick)
        job.failure(_end_run, outputs=[run], **quick)
        stop.click(STOPS.stop, **quick)


# ---------------------------------------------------------------- the app


def build_app() -> gr.Blocks:
    # Delete streamed previews older than an hour, checking every 30 minutes: each step
    # writes one PNG to Gradio's cache.
    with gr.Blocks(title="Style transfer", delete_cache=(1800, 3600)) as app:
        gr.Markdown("# Style transfer\nRepaint a photo in the style of one or more paintings.")
        with gr.Tabs():
            build_image_tab()
    # One job at a time: a single optimisation already uses every CPU core.
    app.queue(default_concurrency_limit=1, max_size=QUEUE_MAX_SIZE)
    return app


def launch_options() -> dict:
    """launch() arguments every way of serving the app shares (main() and the tests)."""
    return {
        "max_file_size": MAX_FILE_SIZE,
        # Example paintings are handed back as outputs (added to the painting list); Gradio
        # only serves files it created or allowed folders, whatever the working directory.
        "allowed_paths": [str(HERE / "examples")],
    }


def _share_server_reachable(timeout: float = 5.0) -> str | None:
    """None if Gradio's share service answers a TCP connect, else the host we could not reach.

    Checked in a thread because a DNS lookup cannot be given a timeout directly.
    """
    address = os.environ.get("GRADIO_SHARE_SERVER_ADDRESS")
    if address:
        host, _, port = address.rpartition(":")
    else:
        host, port = "api.gradio.app", "443"  # networking.GRADIO_API_SERVER's host
    outcome: list[bool] = []

    def connect():
        try:
            socket.create_connection((host, int(port)), timeout=timeout).close()
            outcome.append(True)
        except OSError:
            outcome.append(False)

    thread = threading.Thread(target=connect, daemon=True)
    thread.start()
    thread.join(timeout)
    return None if outcome == [True] else host


def main(argv: list[str] | None = None) -> None:
    # Gradio's own variables win over our defaults (Hugging Face Spaces sets 0.0.0.0:7860).
    parser = argparse.ArgumentParser(description="Style-transfer web app.")
    parser.add_argument("--host", default=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"),
                        help="address to listen on (default 127.0.0.1, or $GRADIO_SERVER_NAME)")
    parser.add_argument("--port", type=int, default=int(os.environ.get("GRADIO_SERVER_PORT", "7860")),
                        help="port (default 7860, or $GRADIO_SERVER_PORT)")
    parser.add_argument("--share", action="store_true", help="also create a temporary public gradio.live link")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")

    # Gradio would wait up to 30 s for its share service and then print a long hint; check
    # first, and fall back to serving locally with one clear line.
    unreachable = _share_server_reachable() if args.share else None
    app = build_app()
    app.launch(server_name=args.host, server_port=args.port, share=args.share and not unreachable,
               prevent_thread_lock=True, quiet=True, **launch_options())
    if args.share and not app.share_url:
        reason = f"no connection to {unreachable}" if unreachable else "the tunnel failed (see above)"
        print(f"could not create a public share link: {reason}; serving locally at {app.local_url}", flush=True)
    else:
        print(f"serving at {app.local_url}" + (f" and {app.share_url}" if app.share_url else ""), flush=True)
    print("press Ctrl+C to stop", flush=True)
    try:
        app.block_thread()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
