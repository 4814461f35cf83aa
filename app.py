"""The web app: a Gradio face over the styletransfer engine. UI only; no tensor maths here.

    python app.py [--host 127.0.0.1] [--port 7860] [--share]

The Image tab paints a photo two ways: instantly with a pretrained network from the model zoo
(pretrained/, or $STYLETRANSFER_PRETRAINED), or with Gatys optimisation for any painting.
The Video tab stylises an uploaded clip with a zoo network (sound kept); the Webcam tab
repaints the browser's camera live.

Each tab is built by its own function (build_image_tab, ...) so later tabs slot in beside it.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import functools
import html
import logging
import math
import os
import shutil
import socket
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import gradio as gr
import numpy as np

from styletransfer import fast, fastvideo, images, live, video, weights, zoo
from styletransfer.errors import StyleTransferError
from styletransfer.events import Iterate
from styletransfer.gatys import MAX_SIZE, MIN_SIZE, GatysConfig, iterate
from styletransfer.video import DamagedVideoError, VideoProgress, VideoResult

log = logging.getLogger("styletransfer.app")

HERE = Path(__file__).resolve().parent
EXAMPLE_PHOTOS = sorted((HERE / "examples" / "photos").glob("*.jpg"))
EXAMPLE_STYLES = sorted((HERE / "examples" / "styles").glob("*.jpg"))

DEFAULTS = GatysConfig()  # widget defaults come from the engine, never from here
APP_MAX_SIZE = min(MAX_SIZE, 1024)  # the slider's top; beyond this a CPU run takes hours
PREVIEW_EVERY_S = 0.25  # stream at most ~4 previews a second; the last step is always sent
QUEUE_MAX_SIZE = 16
# Long jobs (a Gatys run, a video) share one queue slot: either one already uses every core.
HEAVY_JOBS = "heavy"
MAX_FILE_SIZE = "25mb"

# Instant mode (pretrained feed-forward networks): one pass, about a second on a CPU.
INSTANT_MIN_SIZE, INSTANT_MAX_SIZE, INSTANT_DEFAULT_SIZE = 256, 2048, 1024
# Its own queue slot, one pass at a time: a pass already uses every core, and one slot keeps a
# user's requests in order (the newest result is the one that stays).
INSTANT_CONCURRENCY = 1
GALLERY_COLUMNS, GALLERY_ROW_PX = 4, 125
ARCH_CHOICES = [("Full (best quality)", "full"), ("Lite (fastest)", "lite")]
# Gallery stand-in for a style whose painting has no NAME.jpg beside its models.
_NO_THUMBNAIL = np.full((64, 64, 3), 200, dtype=np.uint8)

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


def _page_error(error: Exception, job: str, hint: str) -> tuple[str, gr.Error]:
    """The status line and the pop-up for a failed job. A StyleTransferError is the user's
    (its message says what to do); anything else is a bug: logged, and reported without
    taking the server down."""
    if isinstance(error, StyleTransferError):
        return _status_html(f"Error: {error}"), gr.Error(str(error), duration=None, print_exception=False)
    log.exception("%s failed", job)
    message = f"Something went wrong ({type(error).__name__}: {error}). {hint}"
    return _status_html(f"Error: {message}"), gr.Error(message, duration=None)


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
    except Exception as error:
        status, popup = _page_error(error, "style transfer", "Try other images or settings.")
        yield gr.skip(), status
        raise popup from None
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



# ---------------------------------------------------------------- Image tab (instant: pretrained networks)


@dataclass(frozen=True)
class ZooStyle:
    """One painting of the model zoo, as the gallery shows it (it may have several networks)."""

    name: str
    label: str  # "The Starry Night (Vincent van Gogh)": the status line
    caption: str  # "The Starry Night — Vincent van Gogh, 1889": the gallery
    archs: tuple[str, ...]
    thumbnail: Path | None


def zoo_styles(folder) -> list[ZooStyle]:
    """The styles in a model folder, one per painting, in zoo.available's order."""
    cards: dict[str, list[zoo.ModelCard]] = {}
    for card in zoo.available(folder):
        cards.setdefault(card.name, []).append(card)
    styles = []
    for name, same in cards.items():
        card = same[0]
        title = card.title or name.replace("_", " ")
        by = ", ".join(part for part in (card.artist, card.year) if part)
        styles.append(ZooStyle(
            name=name,
            label=f"{title} ({card.artist})" if card.artist else title,
            caption=f"{title} — {by}" if by else title,
            archs=tuple(c.arch for c in same),
            thumbnail=zoo.thumbnail(name, folder),
        ))
    return styles


def _no_models_message(folder: Path, problem: str | None) -> str:
    if problem:
        why = f"The model folder `{folder}` could not be read: {problem}"
    else:
        why = f"No pretrained styles in `{folder}` yet."
    return (
        f"**{why}** Train the zoo with `python scripts/train_zoo.py train` and copy the models here with "
        "`python scripts/train_zoo.py publish` (or point `$STYLETRANSFER_PRETRAINED` at a folder of models). "
        "Meanwhile, *Any painting (Gatys)* works with any painting."
    )


@functools.lru_cache(maxsize=32)
def _cached_model(name: str, arch: str, folder: str):
    """Load each network once per process; a style click must not re-read its weights."""
    net, _card = zoo.load(name, arch, folder=folder)
    return net


def _load_model(style: ZooStyle, arch: str, folder: Path):
    try:
        return _cached_model(style.name, arch, str(folder))
    except StyleTransferError as error:
        raise StyleTransferError(f"the {style.label} network ({arch}) could not be loaded: {error}") from None
    except Exception as error:  # a damaged weights file raises the reader's own error type
        log.exception("loading %s (%s) failed", style.name, arch)
        raise StyleTransferError(
            f"the {style.label} network ({arch}) could not be loaded ({type(error).__name__}: {error}); "
            "re-publish the model or choose another style"
        ) from None


def stylise_instant(photo, style: ZooStyle | None, arch: str, strength, keep_colors, size, folder: Path):
    """One pass of a pretrained network -> (RGB uint8 array, status line). Raises StyleTransferError."""
    photo_path = _uploaded_path(photo)
    if not photo_path:
        raise StyleTransferError("upload a photo first (left, 'Photo'), or click an example photo")
    if style is None:
        raise StyleTransferError("no style selected: click one of the pretrained styles")
    if arch not in style.archs:
        raise StyleTransferError(
            f"{style.label} has no {arch} network in {folder}; choose {' or '.join(style.archs)}"
        )
    limit = int(size)
    if not INSTANT_MIN_SIZE <= limit <= INSTANT_MAX_SIZE:
        raise StyleTransferError(f"output size must be {INSTANT_MIN_SIZE} to {INSTANT_MAX_SIZE} px, got {limit}")
    started = time.perf_counter()
    try:
        original = images.open_image(photo_path)
        # min(): the size is a ceiling, the photo is never enlarged (a network adds no detail).
        content = images.load_tensor(original, long_side=min(limit, max(original.size)))
    except StyleTransferError as error:
        raise StyleTransferError(f"photo: {error}") from None
    net = _load_model(style, arch, folder)
    styled = fast.apply(net, content, strength=float(strength), keep_colors=bool(keep_colors))
    elapsed = time.perf_counter() - started
    height, width = styled.shape[-2:]
    parts = [style.label, arch, f"{width}x{height} in {elapsed:.2f} s"]
    if max(height, width) < limit:
        parts[-1] += f" (the photo's own size, not enlarged to {limit})"
    if float(strength) < 1:
        parts.append(f"strength {float(strength):.2f}")
    if keep_colors:
        parts.append("photo's colours")
    return images.to_numpy(styled), " · ".join(parts)


def _instant_run(photo, style, arch, strength, keep_colors, size, folder):
    """Yield (result, status) pairs: a busy line, then the image; errors go to the page."""
    try:
        if style is not None:
            yield gr.skip(), _status_html(f"Painting with {style.label}, {arch} network…", busy=True)
        image, status = stylise_instant(photo, style, arch, strength, keep_colors, size, folder)
        yield image, _status_html(status)
    except Exception as error:
        status, popup = _page_error(error, "instant style transfer", "Try another photo or style.")
        yield gr.skip(), status
        raise popup from None


@dataclass
class InstantWidgets:
    gallery: gr.Gallery
    arch: gr.Radio
    strength: gr.Slider
    keep_colors: gr.Checkbox
    size: gr.Slider


def _instant_widgets(styles: list[ZooStyle], problem: str | None, folder: Path) -> InstantWidgets | None:
    """The instant sub-tab's contents; None (and a message saying why) when there are no models."""
    if not styles:
        gr.Markdown(_no_models_message(folder, problem), elem_id="zoo-empty")
        return None
    gr.Markdown(
        "Networks trained on one painting each: click a style and the photo is repainted in about a "
        "second. For a painting not listed here, use *Any painting (Gatys)*."
    )
    gallery = gr.Gallery(
        value=[(str(s.thumbnail) if s.thumbnail else _NO_THUMBNAIL, s.caption) for s in styles],
        label="Pretrained styles: click one",
        interactive=False,
        allow_preview=False,
        columns=GALLERY_COLUMNS,
        height=GALLERY_ROW_PX * math.ceil(len(styles) / GALLERY_COLUMNS) + 40,  # all styles, no scrolling
        object_fit="cover",
        buttons=[],
        elem_id="zoo-styles",
    )
    with gr.Row():
        arch = gr.Radio(ARCH_CHOICES, value="full", label="Network", elem_id="instant-arch")
        keep_colors = gr.Checkbox(
            value=False, label="Keep the photo's colours", elem_id="instant-keep-colors",
            info="the painting's brush strokes, the photo's colours",
        )
    with gr.Row():
        strength = gr.Slider(
            0.0, 1.0, value=1.0, step=0.05, label="Style strength", elem_id="instant-strength",
            info="0 = the photo, 1 = the painting's style in full",
        )
        size = gr.Slider(
            INSTANT_MIN_SIZE, INSTANT_MAX_SIZE, value=INSTANT_DEFAULT_SIZE, step=16,
            label="Output size (long side, px)", elem_id="instant-size",
            info="a smaller photo keeps its own size (never enlarged)",
        )
    return InstantWidgets(gallery, arch, strength, keep_colors, size)


def _wire_instant(widgets: InstantWidgets, styles: list[ZooStyle], folder: Path, photo, result, progress,
                  instant_active, selected) -> None:
    by_name = {s.name: s for s in styles}
    controls = [widgets.arch, widgets.strength, widgets.keep_colors, widgets.size]

    def on_style_click(photo_value, arch, strength, keep_colors, size, event: gr.SelectData):
        style = styles[event.index]
        yield style.name, gr.skip(), gr.skip()  # remembered even if this run fails (no photo yet)
        for image, status in _instant_run(photo_value, style, arch, strength, keep_colors, size, folder):
            yield gr.skip(), image, status

    def on_change(active, name, photo_value, arch, strength, keep_colors, size):
        """A control or the photo changed: run again if instant mode shows a style, else stay quiet."""
        # A number being typed into a slider's box passes through values out of range ("1" on
        # the way to "1024"); the box clamps on blur, so wait for a valid value.
        try:
            typing = not (0 <= float(strength) <= 1 and INSTANT_MIN_SIZE <= int(size) <= INSTANT_MAX_SIZE)
        except (TypeError, ValueError):  # an emptied box
            typing = True
        if not active or typing or not _uploaded_path(photo_value):
            yield gr.skip(), gr.skip()
            return
        style = by_name.get(name)
        if style is None:
            yield gr.skip(), _status_html("Photo ready: click a pretrained style.")
            return
        yield from _instant_run(photo_value, style, arch, strength, keep_colors, size, folder)

    # Own queue slot: an instant result never waits behind another user's minutes-long Gatys run.
    # always_last: while one pass runs, only the newest request waits (drags do not pile up).
    # preprocess=False, as for Gatys: a broken upload gets images.open_image's clear message.
    instant = {
        "concurrency_id": "instant", "concurrency_limit": INSTANT_CONCURRENCY, "trigger_mode": "always_last",
        "show_progress": "hidden", "preprocess": False,
    }
    widgets.gallery.select(on_style_click, inputs=[photo, *controls], outputs=[selected, result, progress], **instant)
    # Sliders: .change, not .release: Gradio 6.31 sends release only on pointer-up or when the
    # number box loses focus, so typing a size and pressing Enter would do nothing.
    gr.on(
        [photo.change, widgets.arch.input, widgets.keep_colors.input, widgets.strength.change, widgets.size.change],
        on_change, inputs=[instant_active, selected, photo, *controls], outputs=[result, progress], **instant,
    )


# ---------------------------------------------------------------- Image tab: layout


@dataclass
class GatysWidgets:
    paintings: gr.Gallery
    size: gr.Slider
    steps: gr.Slider
    strength: gr.Slider
    colours: gr.Radio
    optimizer: gr.Radio
    seed: gr.Number
    style_scale: gr.Slider
    tv_weight: gr.Number
    coarse_to_fine: gr.Checkbox
    init: gr.Radio
    blend: gr.Textbox
    run: gr.Button
    stop: gr.Button


def _gatys_widgets() -> GatysWidgets:
    """The Gatys sub-tab's contents: paintings, settings, Run/Stop."""
    gr.Markdown(
        "Optimises a new image step by step (Gatys et al.), for any painting. A few hundred pixels and "
        "~100 steps take a minute or two on a CPU; stop at any time and keep the image so far."
    )
    paintings = gr.Gallery(
        label="Paintings (one or more; several are blended)",
        type="filepath",
        file_types=["image"],
        interactive=True,
        columns=4,
        height=240,
        elem_id="paintings",
    )
    examples = gr.Gallery(
        value=[(str(p), p.stem.replace("_", " ")) for p in EXAMPLE_STYLES],
        label="Example paintings: click one to add it",
        interactive=False,
        allow_preview=False,
        columns=4,
        height=270,
        buttons=[],
        elem_id="example-paintings",
    )
    examples.select(_add_example_painting, inputs=[paintings], outputs=[paintings], concurrency_limit=None)
    with gr.Row():
        size = gr.Slider(
            MIN_SIZE, APP_MAX_SIZE, value=DEFAULTS.size, step=16, label="Output size (long side, px)", elem_id="size"
        )
        steps = gr.Slider(1, 1000, value=DEFAULTS.steps, step=1, label="Steps", elem_id="steps")
    with gr.Row():
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
    return GatysWidgets(paintings, size, steps, strength, colours, optimizer, seed, style_scale, tv_weight,
                        coarse_to_fine, init, blend, run, stop)


def _wire_gatys(widgets: GatysWidgets, photo, result, progress) -> None:
    w = widgets
    inputs = [photo, w.paintings, w.size, w.steps, w.strength, w.colours, w.optimizer, w.seed, w.style_scale,
              w.tv_weight, w.coarse_to_fine, w.init, w.blend]
    # preprocess=False: Gradio would decode the photo with PIL before we see it, so a broken
    # file would get its generic error; images.open_image gives the project's clear message.
    # Uploaded paths are still checked to lie in Gradio's upload folder.
    # Light handlers skip the one-job-at-a-time limit, so Stop and "add painting" answer at
    # once while a run (this user's or another's) holds the slot.
    quick = {"concurrency_limit": None, "show_progress": "hidden"}
    job = w.run.click(_start_run, outputs=[w.run], **quick).then(
        run_gatys, inputs=inputs, outputs=[result, progress], show_progress="hidden", preprocess=False,
        concurrency_id=HEAVY_JOBS,  # one slot with video jobs (see build_app)
    )
    # Gradio 6.31's front end fires .then() only after success, so re-enable Run both ways.
    job.then(_end_run, outputs=[w.run], **quick)
    job.failure(_end_run, outputs=[w.run], **quick)
    w.stop.click(STOPS.stop, **quick)


def build_image_tab(models_folder=None) -> None:
    """One photo, two ways to paint it: a pretrained network (instant) or Gatys (any painting).

    models_folder: where the pretrained networks are (default zoo.PRETRAINED).
    """
    folder = Path(models_folder) if models_folder is not None else zoo.PRETRAINED
    try:
        styles, problem = zoo_styles(folder), None
    except StyleTransferError as error:  # an unreadable model card: say so, keep the app up
        styles, problem = [], str(error)
    with gr.Tab("Image", id="image"):
        gr.Markdown(
            "Upload a photo, then click a pretrained style for an instant result, or choose any painting "
            "under *Any painting (Gatys)*."
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
            with gr.Column(scale=2):
                with gr.Tabs(selected="instant", elem_id="image-modes"):
                    with gr.Tab("Pretrained styles (instant)", id="instant", elem_id="instant-tab") as instant_tab:
                        instant = _instant_widgets(styles, problem, folder)
                    with gr.Tab("Any painting (Gatys)", id="gatys", elem_id="gatys-tab") as gatys_tab:
                        gatys = _gatys_widgets()
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

        _wire_gatys(gatys, photo, result, progress)
        if instant is not None:
            # Photo changes re-run the instant style only while its sub-tab is the one showing.
            instant_active = gr.State(True)
            selected = gr.State(None)  # the clicked style's name
            quick = {"concurrency_limit": None, "show_progress": "hidden", "queue": False}
            instant_tab.select(lambda: True, outputs=[instant_active], **quick)
            gatys_tab.select(lambda: False, outputs=[instant_active], **quick)
            _wire_instant(instant, styles, folder, photo, result, progress, instant_active, selected)


# ---------------------------------------------------------------- Video tab

VIDEO_PROGRESS_EVERY_S = 0.5  # progress lines (with a preview frame) at most twice a second
VIDEO_PREVIEW_PX = 240  # long side of the preview frame in the progress line
VIDEO_MIN_SCALE, VIDEO_MAX_SCALE = 0.1, 1.0  # never enlarged: a network adds no detail
VIDEO_STOPS = StopRequests()  # its own flags: Stop in one tab must not end another tab's run
AUDIO_TEXT = {"copied": "with its sound", "re-encoded": "with its sound (re-encoded to AAC)", "none": "no sound track"}


def _zoo(models_folder) -> tuple[Path, list[ZooStyle], str | None]:
    """(folder, styles, problem) for a tab: an unreadable model card leaves the app up, with a message."""
    folder = Path(models_folder) if models_folder is not None else zoo.PRETRAINED
    try:
        return folder, zoo_styles(folder), None
    except StyleTransferError as error:
        return folder, [], str(error)


def _starting_choice(styles: list[ZooStyle], arch: str) -> tuple[str, str]:
    """(style name, arch) a tab starts with: the first style that has ``arch``, so the defaults
    work even while a zoo is incomplete; else the first style with a network it has."""
    for style in styles:
        if arch in style.archs:
            return style.name, arch
    return styles[0].name, styles[0].archs[0]


def _seconds_text(seconds: float) -> str:
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def _jpeg_img(jpeg: bytes, alt: str, style: str) -> str:
    """An <img> holding the frame inline: no file per frame in Gradio's cache, no extra request."""
    data = base64.b64encode(jpeg).decode("ascii")
    return f'<img src="data:image/jpeg;base64,{data}" alt="{html.escape(alt)}" style="{style}">'


def _video_progress_html(event: VideoProgress) -> str:
    done, total = event.frames_done, event.total_frames
    if total:
        bar = f'<progress max="{total}" value="{min(done, total)}" style="width: 100%"></progress>'
    else:
        bar = '<progress style="width: 100%"></progress>'
    parts = [
        f"Frame {done}/{total}" if total else f"Frame {done}",
        f"{event.fps:.2g} fps" if event.fps < 10 else f"{event.fps:.0f} fps",
        f"about {_seconds_text(event.seconds_left)} left" if event.seconds_left is not None else "length unknown",
        f"{_seconds_text(event.elapsed)} elapsed",
    ]
    preview = ""
    if event.frame is not None:
        preview = _jpeg_img(live.encode_jpeg(event.frame, max_side=VIDEO_PREVIEW_PX), "the latest stylised frame",
                            "display: block; margin-top: 6px")
    return f'<div class="st-progress">{bar}{html.escape(" · ".join(parts))}{preview}</div>'


def _video_result_text(result: VideoResult) -> str:
    if result.stopped:
        head = f"Stopped: the first {result.frames} frames ({result.duration:.1f} s) are saved"
    else:
        head = f"Done: {result.frames} frames ({result.duration:.1f} s)"
    speed = f" ({result.frames / result.elapsed:.2g} fps)" if result.elapsed > 0 else ""
    took = f"took {_seconds_text(result.elapsed)}{speed}"
    text = f"{head}, {result.width}×{result.height}, {AUDIO_TEXT[result.audio]} · {took}"
    if result.damaged_packets:
        text += f" · {result.damaged_packets} damaged parts of the input were skipped"
    return text


def video_job(source, style: ZooStyle | None, arch: str, strength, keep_colors, scale, temporal, folder: Path,
              stop: threading.Event):
    """Yield (video, download button, status HTML) triples while a video is stylised.

    Raises StyleTransferError for bad input (before the network loads). After Stop, or when the
    input breaks off, the frames done so far are a playable file, offered like a finished one.
    """
    src = _uploaded_path(source)
    if not src:
        raise StyleTransferError("upload a video first (left, 'Video')")
    if style is None:
        raise StyleTransferError("choose a style first")
    if arch not in style.archs:
        raise StyleTransferError(f"{style.label} has no {arch} network in {folder}; choose {' or '.join(style.archs)}")
    name = Path(src).name
    # Written outside Gradio's cache, which copies the result in when it is shown (and deletes
    # that copy with the rest of its cache); this folder goes when the job ends.
    workdir = Path(tempfile.mkdtemp(prefix="styletransfer-video-"))
    try:
        yield from _video_steps(src, style, arch, strength, keep_colors, scale, temporal, folder, stop, workdir)
    except StyleTransferError as error:
        # FFmpeg's messages quote the file's path: say only its name (server folders stay private).
        raise StyleTransferError(str(error).replace(src, name).replace(str(workdir), "…")) from None
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _video_steps(src: str, style: ZooStyle, arch: str, strength, keep_colors, scale, temporal, folder: Path,
                 stop: threading.Event, workdir: Path):
    """video_job's steps, given the upload's path and a scratch folder for the output."""
    name = Path(src).name
    dst = workdir / f"{Path(src).stem}-{style.name}.mp4"
    info = fastvideo.check(src, dst, strength=float(strength), scale=float(scale))
    if stop.is_set():  # Stop pressed while waiting in the queue
        yield gr.skip(), gr.skip(), _status_html("Stopped before it started.")
        return
    width, height = video.output_size(info, float(scale))
    length = f"{info.frames} frames" if info.frames else "a video"
    yield None, gr.update(visible=False), _status_html(
        f"Loading the {style.label} network ({arch}) for {length} at {width}×{height}…", busy=True
    )
    net = _load_model(style, arch, folder)

    latest: list[VideoProgress | None] = [None]
    outcome: dict = {}
    finished, abandoned = threading.Event(), threading.Event()

    def work():
        try:
            outcome["result"] = fastvideo.stylize(
                src, dst, net, strength=float(strength), keep_colors=bool(keep_colors), temporal=bool(temporal),
                scale=float(scale), callback=lambda event: latest.__setitem__(0, event),
                should_stop=lambda: stop.is_set() or abandoned.is_set(),
            )
        except BaseException as error:  # handed to the generator, which reports it
            outcome["error"] = error
        finally:
            finished.set()

    # The engine reports through a callback; a worker thread lets this generator stream the
    # progress meanwhile.
    worker = threading.Thread(target=work, name="video-job", daemon=True)
    worker.start()
    try:
        sent = None
        while not finished.wait(VIDEO_PROGRESS_EVERY_S):
            event = latest[0]
            if event is not None and event is not sent:
                sent = event
                yield gr.skip(), gr.skip(), _video_progress_html(event)
    finally:
        abandoned.set()  # the page went away (this generator was closed): end at the next frame
        worker.join()

    error = outcome.get("error")
    if isinstance(error, DamagedVideoError):
        result = error.result
        status = (f"{name} is damaged or breaks off early: the {result.frames} frames that could be decoded "
                  f"are saved. " + _video_result_text(result))
        gr.Warning(f"{name} is damaged or breaks off early; the frames that could be decoded are saved.")
    elif error is not None and stop.is_set() and latest[0] is None and isinstance(error, StyleTransferError):
        yield gr.skip(), gr.skip(), _status_html("Stopped before the first frame: nothing to save.")
        return
    elif error is not None:
        raise error
    else:
        result = outcome["result"]
        status = _video_result_text(result)
    path = str(result.path)
    # gr.update, not gr.DownloadButton(value=...): the constructor would copy the file into
    # Gradio's cache at once, a copy outside the cache's clean-up.
    yield path, gr.update(value=path, visible=True), _status_html(status)


@dataclass
class VideoWidgets:
    source: gr.Video
    style: gr.Dropdown
    arch: gr.Radio
    strength: gr.Slider
    keep_colors: gr.Checkbox
    scale: gr.Slider
    temporal: gr.Checkbox
    run: gr.Button
    stop: gr.Button
    result: gr.Video
    download: gr.DownloadButton
    progress: gr.HTML


def _video_widgets(styles: list[ZooStyle]) -> VideoWidgets:
    first_style, first_arch = _starting_choice(styles, "full")
    with gr.Row(equal_height=False):
        with gr.Column(scale=1):
            # Read with preprocess=False (see _wire_video), as the Image tab does: the engine
            # opens the upload itself, so a bad file gets its one-line message.
            source = gr.Video(label="Video", sources=["upload"], elem_id="video-input", height=300)
        with gr.Column(scale=1):
            style = gr.Dropdown(
                [(s.caption, s.name) for s in styles], value=first_style, label="Style", elem_id="video-style"
            )
            arch = gr.Radio(ARCH_CHOICES, value=first_arch, label="Network", elem_id="video-arch")
            strength = gr.Slider(
                0.0, 1.0, value=1.0, step=0.05, label="Style strength", elem_id="video-strength",
                info="0 = the video, 1 = the painting's style in full",
            )
            scale = gr.Slider(
                VIDEO_MIN_SCALE, VIDEO_MAX_SCALE, value=VIDEO_MAX_SCALE, step=0.05, label="Output scale",
                elem_id="video-scale", info="of the video's own size; 0.5 = half the width and height, 4× faster",
            )
            with gr.Row():
                keep_colors = gr.Checkbox(value=False, label="Keep the video's colours", elem_id="video-keep-colors")
                temporal = gr.Checkbox(
                    value=True, label="Steady between frames", elem_id="video-temporal",
                    info="temporal blending along the motion: far less flicker",
                )
            with gr.Row():
                run = gr.Button("Run", variant="primary", elem_id="video-run")
                stop = gr.Button("Stop", variant="stop", elem_id="video-stop")
        with gr.Column(scale=1):
            result = gr.Video(
                label="Result", interactive=False, buttons=["download"], elem_id="video-result", height=300
            )
            download = gr.DownloadButton("Download the video", visible=False, elem_id="video-download")
            progress = gr.HTML(_status_html("Ready."), elem_id="video-progress")
    return VideoWidgets(source, style, arch, strength, keep_colors, scale, temporal, run, stop, result, download,
                        progress)


def _wire_video(w: VideoWidgets, styles: list[ZooStyle], folder: Path) -> None:
    by_name = {s.name: s for s in styles}

    def start(request: gr.Request):
        VIDEO_STOPS.arm(request)
        # Shown until the job gets the slot (a Gatys run or another video may hold it).
        waiting = _status_html("Waiting for a free slot (one long job runs at a time)…", busy=True)
        return gr.Button(interactive=False), waiting

    def run(source, style_name, arch, strength, keep_colors, scale, temporal, request: gr.Request = None):
        stop = VIDEO_STOPS.flag(request)
        try:
            yield from video_job(source, by_name.get(style_name), arch, strength, keep_colors, scale, temporal, folder,
                                 stop)
        except Exception as error:
            status, popup = _page_error(error, "video style transfer", "Try another video or style.")
            yield gr.skip(), gr.skip(), status
            raise popup from None
        finally:
            VIDEO_STOPS.release(request, stop)

    quick = {"concurrency_limit": None, "show_progress": "hidden"}
    inputs = [w.source, w.style, w.arch, w.strength, w.keep_colors, w.scale, w.temporal]
    job = w.run.click(start, outputs=[w.run, w.progress], **quick).then(
        run, inputs=inputs, outputs=[w.result, w.download, w.progress], show_progress="hidden", preprocess=False,
        concurrency_id=HEAVY_JOBS,
    )
    job.then(_end_run, outputs=[w.run], **quick)
    job.failure(_end_run, outputs=[w.run], **quick)
    w.stop.click(VIDEO_STOPS.stop, **quick)


def build_video_tab(models_folder=None) -> None:
    """Upload a clip, download it stylised by a pretrained network, with its sound."""
    folder, styles, problem = _zoo(models_folder)
    with gr.Tab("Video", id="video"):
        gr.Markdown(
            "Upload a clip: every frame is repainted by a pretrained network and the sound is kept. "
            "On a CPU the full network manages about a frame a second at 640×360 (the lite one is several "
            "times faster); Stop keeps the frames done so far as a shorter video."
        )
        if not styles:
            gr.Markdown(_no_models_message(folder, problem), elem_id="video-zoo-empty")
            return
        _wire_video(_video_widgets(styles), styles, folder)


# ---------------------------------------------------------------- Webcam tab

WEBCAM_RESOLUTIONS = {"320x240": (320, 240), "640x480": (640, 480)}
WEBCAM_STREAM_EVERY_S = 0.033  # ask for ~30 frames a second; Gradio drops frames a slow pass cannot take
# A stream's turn: then Gradio ends it and the page queues it again (measured: it goes on by
# itself), behind anyone waiting, so one visitor cannot hold the camera slot.
WEBCAM_TIME_LIMIT_S = 120
# Its own queue slot, not behind a Gatys run; one stream at a time, since one already fills the CPU.
WEBCAM_CONCURRENCY = 1
# onnxruntime threads per pass. One: measured on the 2-core CPU while it was busy, one thread
# ran the lite network at 320x240 in 20 ms against 40 ms for two, and the other core is left
# for Gradio's own work per frame (the browser's frame in, the stylised frame out).
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


@functools.lru_cache(maxsize=8)
def _cached_onnx(name: str, arch: str, folder: str):
    """Each network in onnxruntime, exported once (to the cache folder) and loaded once per process."""
    net = _cached_model(name, arch, folder)
    return live.onnx_model(net, f"{name}.{arch}", weights.cache_dir() / "onnx", threads=WEBCAM_THREADS)


def _live_model(style: ZooStyle, arch: str, folder: Path):
    if arch not in style.archs:
        raise StyleTransferError(f"{style.label} has no {arch} network in {folder}; choose {' or '.join(style.archs)}")
    _load_model(style, arch, folder)  # the torch network first: its errors are worded for users
    try:
        return _cached_onnx(style.name, arch, str(folder))
    except StyleTransferError as error:
        raise StyleTransferError(f"the {style.label} network ({arch}) could not be prepared: {error}") from None


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


def _live_html(frame: live.LiveFrame, style: ZooStyle, arch: str, note: str = "") -> str:
    info = [f"{frame.fps:.1f} fps", f"{frame.width}×{frame.height}", f"{style.label}, {arch}",
            f"{frame.seconds * 1000:.0f} ms a frame"]
    if note:
        info.insert(0, note)
    image = _jpeg_img(frame.jpeg, "the stylised camera frame",
                      f"display: block; width: 100%; max-width: {max(640, frame.width)}px; height: auto")
    return f'<div class="st-live">{image}<div class="st-live-info">{html.escape(" · ".join(info))}</div></div>'


@dataclass
class LiveSession:
    """What one page keeps between frames (in a gr.State, so it goes when the page closes)."""

    stream: live.LiveStream
    last: live.LiveFrame | None = None
    style: ZooStyle | None = None
    arch: str = ""


def live_frame(frame, style: ZooStyle | None, arch: str, resolution: str, temporal, session: LiveSession | None,
               folder: Path):
    """One camera frame -> (HTML with the stylised frame and the frame rate, session)."""
    session = session or LiveSession(live.LiveStream())
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
    folder, styles, problem = _zoo(models_folder)
    with gr.Tab("Webcam", id="webcam") as tab:
        gr.Markdown(
            "Your camera, repainted as it streams. Click the camera box, allow the camera, then press its "
            "record button. One stream runs at a time: after "
            f"{WEBCAM_TIME_LIMIT_S // 60} minutes a stream goes back to the queue, so others get a turn. The lite "
            "network keeps up on a CPU; the full one looks better but runs a few frames a second."
        )
        if not styles:
            gr.Markdown(_no_models_message(folder, problem), elem_id="webcam-zoo-empty")
            return
        by_name = {s.name: s for s in styles}
        first_style, first_arch = _starting_choice(styles, "lite")
        with gr.Row(equal_height=False):
            with gr.Column(scale=1):
                camera = gr.Image(
                    label="Camera", sources=["webcam"], streaming=True, elem_id="webcam-input", height=360,
                    webcam_options=gr.WebcamOptions(mirror=True, constraints=WEBCAM_CONSTRAINTS),
                )
                with gr.Row():
                    style = gr.Dropdown(
                        [(s.caption, s.name) for s in styles], value=first_style, label="Style",
                        elem_id="webcam-style",
                    )
                    arch = gr.Radio(
                        [("Lite (fast)", "lite"), ("Full (best quality, slow)", "full")], value=first_arch,
                        label="Network", elem_id="webcam-arch",
                    )
                with gr.Row():
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
        # needed (live.decode_frame), instead of at full size by Gradio.
        stream = camera.stream(
            on_frame, inputs=[camera, style, arch, resolution, temporal, session], outputs=[output, session],
            stream_every=WEBCAM_STREAM_EVERY_S, time_limit=WEBCAM_TIME_LIMIT_S, concurrency_id="webcam",
            concurrency_limit=WEBCAM_CONCURRENCY, show_progress="hidden", preprocess=False,
        )
        stream.then(live_ended, inputs=[session], outputs=[output], show_progress="hidden", queue=False)
        gr.on([tab.select, style.change, arch.change], prepare, inputs=[style, arch], concurrency_limit=None,
              show_progress="hidden")
        tab.select(None, js=_WATCH_CAMERA_JS)


# ---------------------------------------------------------------- the app


def build_app(models_folder=None) -> gr.Blocks:
    """The whole app. models_folder: the pretrained networks (default zoo.PRETRAINED)."""
    # Delete streamed previews older than an hour, checking every 30 minutes: each step
    # writes one PNG to Gradio's cache.
    with gr.Blocks(title="Style transfer", delete_cache=(1800, 3600)) as app:
        gr.Markdown("# Style transfer\nRepaint a photo in the style of one or more paintings.")
        with gr.Tabs():
            build_image_tab(models_folder)
            build_video_tab(models_folder)
            build_webcam_tab(models_folder)
    # One long job at a time: a Gatys run or a video (their shared HEAVY_JOBS slot) already
    # uses every CPU core. Instant passes and the webcam have slots of their own
    # (_wire_instant, build_webcam_tab).
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
