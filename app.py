"""The web app: a Gradio face over the styletransfer engine. UI only; no tensor maths here.

    python app.py [--host 127.0.0.1] [--port 7860] [--share]

The Image tab paints a photo two ways: instantly with a pretrained network from the model zoo
(pretrained/, or $STYLETRANSFER_PRETRAINED), or with Gatys optimisation for any painting.

Each tab is built by its own function (build_image_tab, ...) so later tabs slot in beside it.
"""

from __future__ import annotations

import argparse
import functools
import html
import logging
import math
import os
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import gradio as gr
import numpy as np

from styletransfer import fast, images, zoo
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
    except StyleTransferError as error:
        yield gr.skip(), _status_html(f"Error: {error}")
        raise gr.Error(str(error), duration=None, print_exception=False) from None
    except Exception as error:  # a bug: log it, tell the user, keep the server alive
        log.exception("instant style transfer failed")
        message = f"Something went wrong ({type(error).__name__}: {error}). Try another photo or style."
        yield gr.skip(), _status_html(f"Error: {message}")
        raise gr.Error(message, duration=None) from None


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
        run_gatys, inputs=inputs, outputs=[result, progress], show_progress="hidden", preprocess=False
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


# ---------------------------------------------------------------- the app


def build_app(models_folder=None) -> gr.Blocks:
    """The whole app. models_folder: the pretrained networks (default zoo.PRETRAINED)."""
    # Delete streamed previews older than an hour, checking every 30 minutes: each step
    # writes one PNG to Gradio's cache.
    with gr.Blocks(title="Style transfer", delete_cache=(1800, 3600)) as app:
        gr.Markdown("# Style transfer\nRepaint a photo in the style of one or more paintings.")
        with gr.Tabs():
            build_image_tab(models_folder)
    # One Gatys job at a time: a single optimisation already uses every CPU core. (Instant
    # passes have their own slot, see _wire_instant.)
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
