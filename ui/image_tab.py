"""The Image tab: one photo, painted instantly by a pretrained network or by any painting (a fast
result, then Gatys optimisation). Layout and wiring: the jobs are ui/jobs.py's, the dials the engine's."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import gradio as gr
import numpy as np

from styletransfer import dials
from styletransfer.gatys import GatysConfig

from .common import (
    EXAMPLES_DIR,
    HEAVY_JOBS,
    INSTANT_CONCURRENCY,
    PAGE_ONLY,
    SHOW_QUEUE,
    ZooStyle,
    choice_radio,
    end_run,
    example_captions,
    no_models_message,
    number_box,
    slider,
    status_html,
    stop_button,
    tab_zoo,
    uploaded_path,
)
from .jobs import STOPS, instant_run, run_fast, run_gatys, start_refine
from .learned import style_index

EXAMPLE_PHOTOS = sorted((EXAMPLES_DIR / "photos").glob("*.jpg"))
EXAMPLE_STYLES = sorted((EXAMPLES_DIR / "styles").glob("*.jpg"))

# Gallery stand-in for a style whose painting has no NAME.jpg beside its models.
_NO_THUMBNAIL = np.full((64, 64, 3), 200, dtype=np.uint8)

# The instant passes and the fast result: queue slots of their own, a second each, never behind
# a Gatys run or another user's minutes-long job. always_last: while one pass runs, only the
# newest request waits (drags do not pile up). preprocess=False, as for Gatys: a broken upload
# gets images.open_image's clear message.
INSTANT_QUEUE = {
    "concurrency_id": "instant",
    "concurrency_limit": INSTANT_CONCURRENCY,
    "trigger_mode": "always_last",
    "show_progress": "hidden",
    "preprocess": False,
    **PAGE_ONLY,
}


def _add_example_painting(paintings, event: gr.SelectData):
    current = [item[0] if isinstance(item, (tuple, list)) else item for item in (paintings or [])]
    return current + [str(EXAMPLE_STYLES[event.index])]


# ---------------------------------------------------------------- instant (pretrained networks)


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
        arch = choice_radio(dials.ARCH, elem_id="instant-arch")
        keep_colors = gr.Checkbox(
            value=False,
            label="Keep the photo's colours",
            elem_id="instant-keep-colors",
            info="the painting's brush strokes, the photo's colours",
        )
    with gr.Row():
        strength = slider(dials.STYLE_MIX, elem_id="instant-strength")
        size = slider(dials.INSTANT_SIZE, elem_id="instant-size")
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
        blend = slider(dials.STYLE_BLEND, elem_id="instant-blend", interactive=False)
    return InstantWidgets(gallery, arch, strength, keep_colors, size, blend_with, blend)


def _wire_instant(
    widgets: InstantWidgets, styles: list[ZooStyle], folder: Path, photo, result, progress, instant_active, selected
) -> None:
    by_name = style_index(styles)  # live: it finds the paintings learned later (ui/learned.py)
    controls = [widgets.arch, widgets.strength, widgets.keep_colors, widgets.size, widgets.blend_with, widgets.blend]

    def on_style_click(photo_value, arch, strength, keep_colors, size, blend_with, blend, event: gr.SelectData):
        style = styles[event.index]
        yield style.name, gr.skip(), gr.skip()  # remembered even if this run fails (no photo yet)
        runs = instant_run(
            photo_value, style, arch, strength, keep_colors, size, folder, by_name.get(blend_with), blend
        )
        for image, status in runs:
            yield gr.skip(), image, status

    def on_change(active, name, photo_value, arch, strength, keep_colors, size, blend_with, blend):
        """A control or the photo changed: run again if instant mode shows a style, else stay quiet."""
        # A number being typed into a slider's box passes through values out of range ("1" on
        # the way to "1024"), or none (an emptied box); the box clamps on blur, so wait for a valid value.
        typing = not (
            dials.STYLE_MIX.accepts(strength) and dials.STYLE_BLEND.accepts(blend) and dials.INSTANT_SIZE.accepts(size)
        )
        if not active or typing or not uploaded_path(photo_value):
            yield gr.skip(), gr.skip()
            return
        style = by_name.get(name)
        if style is None:
            yield gr.skip(), status_html("Photo ready: click a pretrained style.")
            return
        yield from instant_run(
            photo_value, style, arch, strength, keep_colors, size, folder, by_name.get(blend_with), blend
        )

    widgets.gallery.select(
        on_style_click, inputs=[photo, *controls], outputs=[selected, result, progress], **INSTANT_QUEUE
    )
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
        **INSTANT_QUEUE,
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
    colors: gr.Radio
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
    fast_method: gr.Radio
    fast: gr.Button


def _gatys_widgets() -> GatysWidgets:
    """The any-painting sub-tab's contents: paintings, the fast result's controls, Gatys's settings, Refine/Stop."""
    gr.Markdown(
        "Add any painting: a fast result appears in under a second. **Refine** then optimises it step by "
        "step (Gatys et al.): a minute or two on a CPU; stop at any time and keep the image so far. "
        "For a painting in the Video and Webcam tabs too, use *Learn a painting*: it is there in seconds."
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
        # One size for both: the fast result's range (dials.PAINT_SIZE) is Refine's on the page.
        size = slider(dials.GATYS_SIZE, elem_id="size")
        fast_strength = slider(dials.TEXTURE_STRENGTH, label="Fast result: texture strength", elem_id="fast-strength")
    colors = choice_radio(dials.COLORS, elem_id="colours")
    with gr.Row():
        steps = slider(dials.STEPS, label="Refine: steps", elem_id="steps")
        strength = slider(dials.STYLE_WEIGHT, label="Refine: style weight", elem_id="strength")
    with gr.Accordion("Advanced", open=False):
        fast_method = choice_radio(dials.FAST_METHOD, elem_id="fast-method")
        with gr.Row():
            optimizer = choice_radio(dials.OPTIMIZER)
            init = choice_radio(dials.REFINE_START, label="Refine starts from", elem_id="init")
            coarse_to_fine = gr.Checkbox(
                value=GatysConfig.coarse_to_fine,  # the engine's default
                label="Coarse to fine",
                info="optimise small first, then upscale (better large images)",
            )
        with gr.Row():
            seed = number_box(dials.SEED)
            style_scale = slider(dials.STYLE_SCALE)
            tv_weight = number_box(dials.TV_WEIGHT)
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
        colors,
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
        fast_method,
        fast,
    )


def _wire_gatys(widgets: GatysWidgets, photo, result, progress, active) -> None:
    w = widgets
    inputs = [
        photo,
        w.paintings,
        w.size,
        w.steps,
        w.strength,
        w.colors,
        w.optimizer,
        w.seed,
        w.style_scale,
        w.tv_weight,
        w.coarse_to_fine,
        w.init,
        w.blend,
        w.fast_strength,
        w.fast_method,
    ]
    # Not on a size change: the size is typed just before Refine, and a fast result finishing
    # after that run would replace its image (a new size: click "Fast result").
    fast_result = gr.on(
        [
            w.fast.click,
            w.paintings.change,
            photo.change,
            w.fast_strength.change,
            w.colors.input,
            w.style_scale.change,
            w.blend.submit,
            w.fast_method.input,
        ],
        run_fast,
        inputs=[active, photo, w.paintings, w.size, w.fast_strength, w.colors, w.style_scale, w.blend, w.fast_method],
        outputs=[result, progress],
        **INSTANT_QUEUE,
    )
    # preprocess=False: Gradio would decode the photo with PIL before we see it, so a broken
    # file would get its generic error; images.open_image gives the project's clear message.
    # Uploaded paths are still checked to lie in Gradio's upload folder.
    # Light handlers skip the one-job-at-a-time limit, so Stop and "add painting" answer at
    # once while a run (this user's or another's) holds the slot.
    quick = {"concurrency_limit": None, "show_progress": "hidden", **PAGE_ONLY}
    # Refine cancels a fast result still on its way: one that checked before the click could
    # otherwise land after it and hide the run's "Waiting for a free slot" line.
    job = w.run.click(start_refine, outputs=[w.run, w.stop, progress], cancels=[fast_result], **quick).then(
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
