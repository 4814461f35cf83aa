"""The Image tab: one photo, painted instantly by a pretrained network or by Gatys optimisation."""

from __future__ import annotations

import dataclasses
import html
import os
import time
from dataclasses import dataclass
from pathlib import Path

import gradio as gr
import numpy as np

from styletransfer import universal
from styletransfer.errors import StyleTransferError
from styletransfer.events import Iterate
from styletransfer.gatys import MAX_SIZE, MIN_SIZE, GatysConfig, iterate
from styletransfer.io import images
from styletransfer.networks import DEFAULT_STRENGTH
from styletransfer.perceptual import weights

from .common import (
    ARCH_CHOICES,
    EXAMPLES_DIR,
    HEAVY_JOBS,
    PAGE_ONLY,
    SHOW_QUEUE,
    StopRequests,
    ZooStyle,
    end_run,
    example_captions,
    no_models_message,
    number,
    page_error,
    result_png,
    start_run,
    status_html,
    stop_button,
    style_network,
    tab_zoo,
    uploaded_path,
)
from .fast_painting import DEFAULT_STRENGTH as FAST_DEFAULT_STRENGTH
from .fast_painting import download_vgg16, getting_ready, load_input, paint_any, parse_weights, uploaded_inputs

EXAMPLE_PHOTOS = sorted((EXAMPLES_DIR / "photos").glob("*.jpg"))
EXAMPLE_STYLES = sorted((EXAMPLES_DIR / "styles").glob("*.jpg"))

DEFAULTS = GatysConfig()  # widget defaults come from the engine, never from here
FAST_START = "fast"  # Gatys's init: the any-painting mode's result (else "content" or "noise")
# The page starts Gatys from the fast result: measured (bench/gatys.py --inits), it reaches
# the default run's loss in fewer steps than starting from the photo.
PAGE_START = FAST_START
APP_MAX_SIZE = min(MAX_SIZE, 1024)  # the slider's top; beyond this a CPU run takes hours
# Gatys's other ranges, narrower than the engine's: the page's sliders, the API's and
# gatys_config's checks. Style scale: the any-painting start (universal.PAINTING_SCALES) allows
# no less than 0.25.
GATYS_STEPS, STYLE_STRENGTHS, STYLE_SCALES = (1, 1000), (0.0, 10.0), (0.25, 2.0)
PREVIEW_EVERY_S = 0.25  # stream at most ~4 previews a second; the last step is always sent

# Instant mode (pretrained feed-forward networks): one pass, about a second on a CPU.
INSTANT_MIN_SIZE, INSTANT_MAX_SIZE, INSTANT_DEFAULT_SIZE = 256, 2048, 1024
# Instant passes have queue slots of their own (never behind a Gatys run or a video). Two at a
# time on the 2-core CPU: bench/load.py measured 16 clients x 3 full passes at 512 px with 1, 2
# and 4 slots: p50 29.0 / 25.8 / 24.8 s, 0.53 / 0.59 / 0.58 requests a second, server peak
# 0.8 / 1.1 / 1.4 GB. More cores: raise STYLETRANSFER_INSTANT_CONCURRENCY.
INSTANT_CONCURRENCY = int(os.environ.get("STYLETRANSFER_INSTANT_CONCURRENCY", "2"))
# Gallery stand-in for a style whose painting has no NAME.jpg beside its models.
_NO_THUMBNAIL = np.full((64, 64, 3), 200, dtype=np.uint8)

COLOUR_CHOICES = [
    ("Painting's colours", "none"),
    ("Photo's colours (luminance transfer)", "luminance"),
    ("Photo's colours (histogram matching)", "histogram"),
]


# ---------------------------------------------------------------- Gatys (any painting)


def progress_text(event: Iterate, stopped: bool = False) -> str:
    """One line saying where a Gatys run is: step, scale, losses, time."""
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
    return " · ".join(parts)


def _progress_html(event: Iterate, stopped: bool = False) -> str:
    return (
        f'<div class="st-progress"><progress max="{event.total_steps}" value="{event.step}" style="width: 100%"></progress>'
        + html.escape(progress_text(event, stopped))
        + "</div>"
    )


STOPS = StopRequests()
PREPARING = "Preparing (loading the VGG16 network)…"
STOPPED_DOWNLOADING = "Stopped while downloading the VGG16 network (the download goes on for the next run)."


def gatys_config(
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
    num_paintings: int,
) -> GatysConfig:
    """The engine's settings from the page's (or a client's) values. Raises StyleTransferError.

    The app's ranges are checked here, before any work, so each dial reports one range in one
    wording (number's), whatever the init: the engine's ranges are wider, and a size of 0 would
    otherwise fail later, in the photo's loading, with a message of its own."""
    size = round(number(size, "output size", MIN_SIZE, APP_MAX_SIZE, " px"))
    steps = round(number(steps, "steps", *GATYS_STEPS))
    style_strength = number(style_strength, "style strength", *STYLE_STRENGTHS)
    style_scale = number(style_scale, "style scale", *STYLE_SCALES)
    try:
        return GatysConfig(
            size=size,
            steps=steps,
            style_weight=style_strength,
            preserve_colors=preserve_colors,
            optimizer=optimizer,
            seed=int(seed or 0),
            style_scale=style_scale,
            tv_weight=float(tv_weight or 0),
            coarse_to_fine=bool(coarse_to_fine),
            init=init,
            style_blend=parse_weights(blend_text, num_paintings),
        )
    except (TypeError, ValueError) as error:  # a client sent text where a number goes
        raise StyleTransferError(f"Gatys settings: {error}") from None


def gatys_previews(photo, paintings, settings: dict, stop):
    """A Gatys run for the page and the API. Yields status lines (str) while it gets ready
    (the first run downloads the VGG16 weights: a line a second), then (RGB uint8 image,
    Iterate event, stopped) at most every PREVIEW_EVERY_S, the last step always; after
    ``stop`` is set, the image so far, stopped=True.

    photo, paintings: raw upload payloads (or paths); settings: gatys_config's arguments.
    Raises StyleTransferError for the user's mistakes.
    """
    photo_path, style_paths = uploaded_inputs(photo, paintings)
    settings = dict(settings)
    fast_strength = settings.pop("fast_strength", FAST_DEFAULT_STRENGTH)
    config = gatys_config(**settings, num_paintings=len(style_paths))
    # The engine resizes to each scale itself; loading at the output size up front keeps
    # a 50-megapixel phone photo from costing gigabytes as a float tensor.
    content = load_input(photo_path, config.size, "photo")
    styles = [
        load_input(path, max(MIN_SIZE, round(config.size * config.style_scale)), f"painting {i}")
        for i, path in enumerate(style_paths, 1)
    ]
    if stop.is_set():  # Stop pressed while waiting in the queue
        return
    if weights.needs_download():
        yield from download_vgg16(stop.is_set)
        if stop.is_set():
            yield STOPPED_DOWNLOADING
            return
    if config.init == FAST_START:  # refine the universal mode's result (a few seconds)
        line = getting_ready()
        yield f"Painting the fast result to start from… {line or ''}".strip()
        fast = universal.load().paint(
            content,
            styles,
            universal.Settings(
                strength=float(fast_strength),
                keep_colors=config.preserve_colors != "none",
                painting_scale=config.style_scale,
                weights=config.style_blend,
            ),
        )
        config = dataclasses.replace(config, init=result_png(images.to_numpy(fast)))
    yield PREPARING
    events = iterate(content, styles, config)
    last_sent = 0.0
    try:
        for event in events:
            now = time.monotonic()
            if stop.is_set():
                yield images.to_numpy(event.image), event, True
                return
            if event.done or now - last_sent >= PREVIEW_EVERY_S:
                last_sent = now
                yield images.to_numpy(event.image), event, False
    finally:
        events.close()  # release the engine's generator (and its tensors) now


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
    fast_strength=FAST_DEFAULT_STRENGTH,
    request: gr.Request = None,
):
    """Stream (preview image, progress line) pairs while the optimisation runs.

    Gets raw component values (see preprocess=False below). After Stop, the run ends at the
    next step boundary; its last image stays in the page as the result, with a download button.
    """
    stop = STOPS.flag(request)
    settings = dict(
        size=size,
        steps=steps,
        style_strength=style_strength,
        preserve_colors=preserve_colors,
        optimizer=optimizer,
        seed=seed,
        style_scale=style_scale,
        tv_weight=tv_weight,
        coarse_to_fine=coarse_to_fine,
        init=init,
        blend_text=blend_text,
        fast_strength=fast_strength,
    )
    try:
        started = False
        for preview in gatys_previews(photo, paintings, settings, stop):
            started = True
            if isinstance(preview, str):
                yield None, status_html(preview, busy=True)
            else:
                image, event, stopped = preview
                yield image, _progress_html(event, stopped)
        if not started:
            yield gr.skip(), status_html("Stopped before it started.")
    except Exception as error:
        status, popup = page_error(error, "style transfer", "Try other images or settings.")
        yield gr.skip(), status
        raise popup from None
    finally:
        STOPS.release(request, stop)


def _start_run(request: gr.Request):
    STOPS.arm(request)
    return start_run()


def _add_example_painting(paintings, event: gr.SelectData):
    current = [item[0] if isinstance(item, (tuple, list)) else item for item in (paintings or [])]
    return current + [str(EXAMPLE_STYLES[event.index])]


# ---------------------------------------------------------------- instant (pretrained networks)


def stylize_instant(
    photo,
    style: ZooStyle | None,
    arch: str,
    strength,
    keep_colors,
    size,
    folder: Path,
    blend_with: ZooStyle | None = None,
    blend: float = 0.0,
):
    """One pass of a pretrained network -> (RGB uint8 array, status line). Raises StyleTransferError.

    blend_with, blend: a second zoo style mixed in (0..1), when both come from one several-style
    file: their scale-and-shift are blended (Dumoulin et al. 2017), one network, one pass."""
    photo_path = uploaded_path(photo)
    if not photo_path:
        raise StyleTransferError("upload a photo first (left, 'Photo'), or click an example photo")
    if style is None:
        raise StyleTransferError("no style selected: click one of the pretrained styles")
    style.require(arch, folder)
    limit = round(number(size, "output size", INSTANT_MIN_SIZE, INSTANT_MAX_SIZE, " px"))
    strength = number(strength, "style strength", 0, 1)
    started = time.perf_counter()
    try:
        original = images.open_image(photo_path)
        # min(): the size is a ceiling, the photo is never enlarged (a network adds no detail).
        content = images.load_array(original, long_side=min(limit, max(original.size)))
    except StyleTransferError as error:
        raise StyleTransferError(f"photo: {error}") from None
    blend = number(blend or 0, "blend", 0, 1)
    mixed = blend_with is not None and blend > 0 and blend_with.name != style.name
    network = style_network(style, arch, folder, blend_with=blend_with if mixed else None, blend=blend)
    styled = network.stylize(content, strength=strength, keep_colors=bool(keep_colors))
    elapsed = time.perf_counter() - started
    height, width = styled.shape[:2]
    label = f"{style.label} {1 - blend:.0%} + {blend_with.label} {blend:.0%}" if mixed else style.label
    parts = [label, arch, f"{width}x{height} in {elapsed:.2f} s"]
    if max(height, width) < limit:
        parts[-1] += f" (the photo's own size, not enlarged to {limit})"
    if strength < 1:
        parts.append(f"strength {strength:.2f}")
    if keep_colors:
        parts.append("photo's colours")
    return styled, " · ".join(parts)


def _instant_run(photo, style, arch, strength, keep_colors, size, folder, blend_with=None, blend=0.0):
    """Yield (result, status) pairs: a busy line, then the image; errors go to the page."""
    try:
        if style is not None:
            yield gr.skip(), status_html(f"Painting with {style.label}, {arch} network…", busy=True)
        image, status = stylize_instant(photo, style, arch, strength, keep_colors, size, folder, blend_with, blend)
        yield result_png(image), status_html(status)
    except Exception as error:
        status, popup = page_error(error, "instant style transfer", "Try another photo or style.")
        yield gr.skip(), status
        raise popup from None


@dataclass
class InstantWidgets:
    gallery: gr.Gallery
    arch: gr.Radio
    strength: gr.Slider
    keep_colors: gr.Checkbox
    size: gr.Slider
    blend_with: gr.Dropdown
    blend: gr.Slider


def _instant_widgets(styles: list[ZooStyle], problem: str | None, folder: Path) -> InstantWidgets | None:
    """The instant sub-tab's contents; None (and a message saying why) when there are no models."""
    if not styles:
        gr.Markdown(no_models_message(folder, problem), elem_id="zoo-empty")
        return None
    gr.Markdown(
        "Networks trained on these paintings: click a style and the photo is repainted in about a "
        "second. For a painting not listed here, use *Any painting*."
    )
    gallery = gr.Gallery(
        value=[(str(s.thumbnail) if s.thumbnail else _NO_THUMBNAIL, s.caption) for s in styles],
        label="Pretrained styles: click one",
        interactive=False,
        allow_preview=False,
        height="auto",  # all styles with their whole captions, in as many columns as fit (common.PAGE_CSS)
        object_fit="cover",
        buttons=[],
        elem_id="zoo-styles",
    )
    with gr.Row():
        arch = gr.Radio(ARCH_CHOICES, value="full", label="Network", elem_id="instant-arch")
        keep_colors = gr.Checkbox(
            value=False,
            label="Keep the photo's colours",
            elem_id="instant-keep-colors",
            info="the painting's brush strokes, the photo's colours",
        )
    with gr.Row():
        strength = gr.Slider(
            0.0,
            1.0,
            value=DEFAULT_STRENGTH,
            step=0.05,
            label="Style strength",
            elem_id="instant-strength",
            info="0 = the photo, 1 = the painting's style in full",
        )
        size = gr.Slider(
            INSTANT_MIN_SIZE,
            INSTANT_MAX_SIZE,
            value=INSTANT_DEFAULT_SIZE,
            step=16,
            label="Output size (long side, px)",
            elem_id="instant-size",
            info="a smaller photo keeps its own size (never enlarged)",
        )
    # Styles of one several-style model blend; a zoo of one-style files shows no blend controls.
    blendable = [s for s in styles if s.blendable]
    with gr.Row(visible=bool(blendable), elem_id="instant-blend-row"):
        blend_with = gr.Dropdown(
            [("none", "")] + [(s.caption, s.name) for s in blendable],
            value="",
            label="Blend with a second style",
            elem_id="instant-blend-with",
        )
        # Greyed out until a second style is chosen (_wire_instant): alone it changes nothing.
        blend = gr.Slider(
            0.0,
            1.0,
            value=0.5,
            step=0.05,
            label="Blend",
            elem_id="instant-blend",
            interactive=False,
            info="0 = the clicked style, 1 = the second style",
        )
    return InstantWidgets(gallery, arch, strength, keep_colors, size, blend_with, blend)


def _wire_instant(
    widgets: InstantWidgets, styles: list[ZooStyle], folder: Path, photo, result, progress, instant_active, selected
) -> None:
    by_name = {s.name: s for s in styles}
    controls = [widgets.arch, widgets.strength, widgets.keep_colors, widgets.size, widgets.blend_with, widgets.blend]

    def on_style_click(photo_value, arch, strength, keep_colors, size, blend_with, blend, event: gr.SelectData):
        style = styles[event.index]
        yield style.name, gr.skip(), gr.skip()  # remembered even if this run fails (no photo yet)
        runs = _instant_run(
            photo_value, style, arch, strength, keep_colors, size, folder, by_name.get(blend_with), blend
        )
        for image, status in runs:
            yield gr.skip(), image, status

    def on_change(active, name, photo_value, arch, strength, keep_colors, size, blend_with, blend):
        """A control or the photo changed: run again if instant mode shows a style, else stay quiet."""
        # A number being typed into a slider's box passes through values out of range ("1" on
        # the way to "1024"); the box clamps on blur, so wait for a valid value.
        try:
            typing = not (
                0 <= float(strength) <= 1
                and 0 <= float(blend) <= 1
                and INSTANT_MIN_SIZE <= int(size) <= INSTANT_MAX_SIZE
            )
        except (TypeError, ValueError):  # an emptied box
            typing = True
        if not active or typing or not uploaded_path(photo_value):
            yield gr.skip(), gr.skip()
            return
        style = by_name.get(name)
        if style is None:
            yield gr.skip(), status_html("Photo ready: click a pretrained style.")
            return
        yield from _instant_run(
            photo_value, style, arch, strength, keep_colors, size, folder, by_name.get(blend_with), blend
        )

    # Own queue slot: an instant result never waits behind another user's minutes-long Gatys run.
    # always_last: while one pass runs, only the newest request waits (drags do not pile up).
    # preprocess=False, as for Gatys: a broken upload gets images.open_image's clear message.
    instant = {
        "concurrency_id": "instant",
        "concurrency_limit": INSTANT_CONCURRENCY,
        "trigger_mode": "always_last",
        "show_progress": "hidden",
        "preprocess": False,
        **PAGE_ONLY,
    }
    widgets.gallery.select(on_style_click, inputs=[photo, *controls], outputs=[selected, result, progress], **instant)
    # Sliders: .change, not .release: Gradio 6.31 sends release only on pointer-up or when the
    # number box loses focus, so typing a size and pressing Enter would do nothing.
    gr.on(
        [
            photo.change,
            widgets.arch.input,
            widgets.keep_colors.input,
            widgets.strength.change,
            widgets.size.change,
            widgets.blend_with.input,
            widgets.blend.change,
        ],
        on_change,
        inputs=[instant_active, selected, photo, *controls],
        outputs=[result, progress],
        **instant,
    )
    widgets.blend_with.change(
        lambda second: gr.Slider(interactive=bool(second)),
        widgets.blend_with,
        widgets.blend,
        queue=False,
        show_progress="hidden",
        **PAGE_ONLY,
    )


# ---------------------------------------------------------------- layout


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
    fast_strength: gr.Slider
    fast: gr.Button


def _gatys_widgets() -> GatysWidgets:
    """The any-painting sub-tab's contents: paintings, the fast result's controls, Gatys's settings, Refine/Stop."""
    gr.Markdown(
        "Add any painting: a fast result appears in two or three seconds. **Refine** then optimises it step by "
        "step (Gatys et al.): a minute or two on a CPU; stop at any time and keep the image so far."
    )
    captions = example_captions()
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
        value=[(str(p), captions.get(p.name, p.stem.replace("_", " "))) for p in EXAMPLE_STYLES],
        label="Example paintings: click one to add it",
        interactive=False,
        allow_preview=False,
        height="auto",  # as the pretrained styles' gallery
        object_fit="cover",
        buttons=[],
        elem_id="example-paintings",
    )
    examples.select(_add_example_painting, inputs=[paintings], outputs=[paintings], concurrency_limit=None, **PAGE_ONLY)
    with gr.Row():
        size = gr.Slider(
            MIN_SIZE, APP_MAX_SIZE, value=DEFAULTS.size, step=16, label="Output size (long side, px)", elem_id="size"
        )
        fast_strength = gr.Slider(
            0.0,
            1.0,
            value=FAST_DEFAULT_STRENGTH,
            step=0.05,
            label="Fast result: strength",
            elem_id="fast-strength",
            info="0 = the photo, 1 = the paintings' textures in full",
        )
    colours = gr.Radio(COLOUR_CHOICES, value=DEFAULTS.preserve_colors, label="Colours", elem_id="colours")
    with gr.Row():
        steps = gr.Slider(*GATYS_STEPS, value=DEFAULTS.steps, step=1, label="Refine: steps", elem_id="steps")
        strength = gr.Slider(
            *STYLE_STRENGTHS,
            value=DEFAULTS.style_weight,
            step=0.05,
            label="Refine: style strength",
            elem_id="strength",
            info="1 = balanced; higher = more painting, less photo",
        )
    with gr.Accordion("Advanced", open=False):
        with gr.Row():
            optimizer = gr.Radio(
                [("L-BFGS (best per step)", "lbfgs"), ("Adam (steady)", "adam")],
                value=DEFAULTS.optimizer,
                label="Optimiser",
            )
            init = gr.Radio(
                [("Fast result", FAST_START), ("Photo", "content"), ("Noise", "noise")],
                value=PAGE_START,
                label="Refine starts from",
                elem_id="init",
            )
            coarse_to_fine = gr.Checkbox(
                value=DEFAULTS.coarse_to_fine,
                label="Coarse to fine",
                info="optimise small first, then upscale (better large images)",
            )
        with gr.Row():
            seed = gr.Number(value=DEFAULTS.seed, precision=0, label="Seed")
            style_scale = gr.Slider(
                *STYLE_SCALES,
                value=DEFAULTS.style_scale,
                step=0.05,
                label="Style scale",
                info="painting size relative to the output; smaller = finer brush strokes",
            )
            tv_weight = gr.Number(value=DEFAULTS.tv_weight, minimum=0, label="Smoothness (TV weight)")
            blend = gr.Textbox(label="Painting weights", placeholder="e.g. 2, 1 (one per painting; empty = equal)")
    with gr.Row():
        fast = gr.Button("Fast result", elem_id="fast")
        run = gr.Button("Refine (Gatys)", variant="primary", elem_id="run")
        stop = stop_button("stop")
    return GatysWidgets(
        paintings,
        size,
        steps,
        strength,
        colours,
        optimizer,
        seed,
        style_scale,
        tv_weight,
        coarse_to_fine,
        init,
        blend,
        run,
        stop,
        fast_strength,
        fast,
    )


def run_fast(active, photo, paintings, size, strength, colours, style_scale, blend_text, request: gr.Request = None):
    """The fast result for the page: (result, status) pairs; quiet until a photo and a painting
    are in, and while a Refine run of this page owns the result."""
    begun = time.monotonic()
    if not active or not uploaded_path(photo) or not paintings or STOPS.armed_after(request, begun):
        yield gr.skip(), gr.skip()
        return
    try:
        if weights.needs_download():  # the first run: a line a second while VGG16 downloads
            refining = lambda: STOPS.armed_after(request, begun)  # noqa: E731
            for line in download_vgg16(refining):
                yield gr.skip(), status_html(line, busy=True)
            if refining():  # Refine shows the rest of the download
                yield gr.skip(), gr.skip()
                return
        yield gr.skip(), status_html(getting_ready() or "Painting the fast result…", busy=True)
        image, status = paint_any(
            photo, paintings, size, strength, colours != "none", style_scale, blend_text, max_size=APP_MAX_SIZE
        )
        if STOPS.armed_after(request, begun):  # Refine was clicked meanwhile: its images win
            yield gr.skip(), gr.skip()
            return
        yield result_png(image), status_html(status)
    except Exception as error:
        status, popup = page_error(error, "fast style transfer", "Try other images or settings, or Refine.")
        yield gr.skip(), status
        raise popup from None


def _wire_gatys(widgets: GatysWidgets, photo, result, progress, active) -> None:
    w = widgets
    inputs = [
        photo,
        w.paintings,
        w.size,
        w.steps,
        w.strength,
        w.colours,
        w.optimizer,
        w.seed,
        w.style_scale,
        w.tv_weight,
        w.coarse_to_fine,
        w.init,
        w.blend,
        w.fast_strength,
    ]
    # The fast result shares the instant results' slots: a second, never behind a Gatys run.
    fast = {
        "concurrency_id": "instant",
        "concurrency_limit": INSTANT_CONCURRENCY,
        "trigger_mode": "always_last",
        "show_progress": "hidden",
        "preprocess": False,
        **PAGE_ONLY,
    }
    # Not on a size change: the size is typed just before Refine, and a fast result finishing
    # after that run would replace its image (a new size: click "Fast result").
    fast_result = gr.on(
        [
            w.fast.click,
            w.paintings.change,
            photo.change,
            w.fast_strength.change,
            w.colours.input,
            w.style_scale.change,
            w.blend.submit,
        ],
        run_fast,
        inputs=[active, photo, w.paintings, w.size, w.fast_strength, w.colours, w.style_scale, w.blend],
        outputs=[result, progress],
        **fast,
    )
    # preprocess=False: Gradio would decode the photo with PIL before we see it, so a broken
    # file would get its generic error; images.open_image gives the project's clear message.
    # Uploaded paths are still checked to lie in Gradio's upload folder.
    # Light handlers skip the one-job-at-a-time limit, so Stop and "add painting" answer at
    # once while a run (this user's or another's) holds the slot.
    quick = {"concurrency_limit": None, "show_progress": "hidden", **PAGE_ONLY}
    # Refine cancels a fast result still on its way: one that checked before the click could
    # otherwise land after it and hide the run's "Waiting for a free slot" line.
    job = w.run.click(_start_run, outputs=[w.run, w.stop, progress], cancels=[fast_result], **quick).then(
        run_gatys,
        inputs=inputs,
        outputs=[result, progress],
        **SHOW_QUEUE,
        show_progress_on=[progress],
        preprocess=False,
        concurrency_id=HEAVY_JOBS,  # one slot with video jobs (see app.build_app)
        **PAGE_ONLY,
    )
    # Gradio 6.31's front end fires .then() only after success, so re-enable Run both ways.
    job.then(end_run, outputs=[w.run, w.stop], **quick)
    job.failure(end_run, outputs=[w.run, w.stop], **quick)
    w.stop.click(STOPS.stop, **quick)


def build_image_tab(models_folder=None) -> None:
    """One photo, two ways to paint it: a pretrained network (instant) or Gatys (any painting).

    models_folder: where the pretrained networks are (default zoo.PRETRAINED).
    """
    folder, styles, problem = tab_zoo(models_folder)  # an unreadable model card: say so, keep the app up
    with gr.Tab("Image", id="image"):
        gr.Markdown(
            "Upload a photo, then click a pretrained style for an instant result, or choose any painting "
            "under *Any painting*."
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
            with gr.Column(scale=2), gr.Tabs(selected="instant", elem_id="image-modes"):
                with gr.Tab("Pretrained styles (instant)", id="instant", elem_id="instant-tab") as instant_tab:
                    instant = _instant_widgets(styles, problem, folder)
                with gr.Tab("Any painting", id="gatys", elem_id="gatys-tab") as gatys_tab:
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
                progress = gr.HTML(status_html("Ready."), elem_id="progress")

        # Photo changes re-run the instant style, or the fast result, of the sub-tab showing.
        quick = {"concurrency_limit": None, "show_progress": "hidden", "queue": False, **PAGE_ONLY}
        any_active = gr.State(False)
        instant_tab.select(lambda: False, outputs=[any_active], **quick)
        gatys_tab.select(lambda: True, outputs=[any_active], **quick)
        _wire_gatys(gatys, photo, result, progress, any_active)
        if instant is not None:
            instant_active = gr.State(True)
            selected = gr.State(None)  # the clicked style's name
            instant_tab.select(lambda: True, outputs=[instant_active], **quick)
            gatys_tab.select(lambda: False, outputs=[instant_active], **quick)
            _wire_instant(instant, styles, folder, photo, result, progress, instant_active, selected)
