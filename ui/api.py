"""The app's API for other programs (gradio_client), a stable contract apart from the page:

    from gradio_client import Client, handle_file
    client = Client("http://127.0.0.1:7860/")
    client.predict(handle_file("photo.jpg"), "starry_night", "full", 1.0, False, 1024, api_name="/stylize")
    client.predict(handle_file("photo.jpg"), [handle_file("painting.jpg")], 512, api_name="/paint")
    client.predict(handle_file("photo.jpg"), [handle_file("painting.jpg")], 512, 100, api_name="/gatys")
    client.predict(handle_file("clip.mp4"), "starry_night", "lite", api_name="/video")

Each endpoint has inputs of its own, on components the page never shows, so the page can
change without breaking a client, and the page's own events stay private (not in the API).
Their ranges, choices and defaults are the engine's dials (styletransfer/dials.py), as the
page's are; the endpoints call the engine (instant.stylize, any_painting.fast, the Gatys run
through ui/jobs.gatys_previews, the Video tab's job), reading their requests as the page does
(ui/jobs.py). Mistakes come back as the app's one-line message (gradio_client raises AppError
with it).
"""

from __future__ import annotations

import threading

import gradio as gr

from styletransfer import any_painting, dials, instant
from styletransfer.errors import StyleTransferError
from styletransfer.gatys import GatysConfig
from styletransfer.io import images

from .common import (
    HEAVY_JOBS,
    INSTANT_CONCURRENCY,
    ZooStyle,
    number_box,
    page_error,
    result_png,
    slider,
    style_source,
    tab_zoo,
)
from .jobs import fast_settings, gatys_previews, progress_text, uploaded_photo
from .learned import style_index
from .video_tab import video_job


def _style(name, styles: dict[str, ZooStyle]) -> ZooStyle:
    style = styles.get(name)
    if style is None:
        known = ", ".join(styles) or "none (the model folder is empty)"
        raise StyleTransferError(f"no pretrained style named {name!r}; the styles are: {known}")
    return style


def _radio(choice: dials.Choice, **options) -> gr.Radio:
    """An input for one of the engine's choices: its values, its default, the parameter's name."""
    return gr.Radio(list(choice.values), **{"value": choice.default, "label": choice.name, **options})


def _answer(error: Exception, job: str):
    """Raise the error as the client will see it: the app's own line for the user's mistakes."""
    _, popup = page_error(error, job, "Try other inputs.")
    raise popup from None


def build_api(models_folder=None) -> None:
    """The /stylize, /paint, /gatys and /video endpoints (inside the app's Blocks)."""
    folder, found, _ = tab_zoo(models_folder)
    styles = style_index(found)  # live: it finds the paintings learned later (ui/learned.py)
    names = list(styles)

    def stylize(photo, style, arch, strength, keep_colors, size):
        """A photo repainted by a pretrained network (one pass, about a second): the image as PNG."""
        try:
            chosen = _style(style, styles)
            photo_path = uploaded_photo(photo, ", or click an example photo")
            source, where = style_source(chosen, arch, folder)
            image = instant.stylize(
                photo_path,
                source,
                arch,
                size=size,
                enlarge=False,
                strength=strength,
                keep_colors=keep_colors,
                what=chosen.label,
                folder=where,
            )
            return result_png(image)
        except Exception as error:
            _answer(error, "API /stylize")

    def paint(photo, paintings, size, strength, keep_colors, painting_scale, painting_weights, fast_method):
        """Any paintings in under a second, no model per painting (fast_method: "predicted", a
        network set for the paintings, or "universal", a feature transform): the image as PNG."""
        try:
            photo_path, painting_paths, settings = fast_settings(
                photo, paintings, strength, keep_colors, painting_scale, painting_weights
            )
            image = any_painting.fast(photo_path, painting_paths, size, settings, fast_method)
            return result_png(images.to_numpy(image))
        except Exception as error:
            _answer(error, "API /paint")

    def gatys(
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
        painting_weights,
        fast_method,
    ):
        """Gatys optimisation for any paintings: streams (preview image, progress line), the last
        is the result. fast_method: what paints the fast result it starts from (init "fast")."""
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
            blend_text=painting_weights,
            fast_method=fast_method,
        )
        try:
            # A client cancels by closing the connection, which closes this generator: no Stop flag.
            for preview in gatys_previews(photo, paintings, settings, threading.Event()):
                if isinstance(preview, str):  # getting ready (the first run downloads VGG16)
                    yield None, preview
                else:
                    image, event, _ = preview
                    yield image, progress_text(event)
        except Exception as error:
            _answer(error, "API /gatys")

    def video(clip, style, arch, strength, keep_colors, scale, temporal, extra_steady=False):
        """A clip repainted frame by frame by a pretrained network, its sound kept: the .mp4.
        extra_steady: the network averaged over its pixel grid (steadier on slow pans, 4x slower)."""
        try:
            chosen = _style(style, styles)
            for path, _, _ in video_job(
                clip, chosen, arch, strength, keep_colors, scale, temporal, folder, threading.Event(), extra_steady
            ):
                if isinstance(path, str):  # the finished file (video_job deletes it once resumed)
                    yield path
        except Exception as error:
            _answer(error, "API /video")

    # The inputs, hidden: what the API documents (types, choices, defaults) comes from them, and
    # their ranges and defaults from the engine's dials (a label is a parameter's name).
    with gr.Column(visible=False, elem_id="api-only"):
        photo = gr.Image(type="filepath", label="photo")
        style = gr.Dropdown(names, value=names[0] if names else None, label="style")
        arch = _radio(dials.ARCH)
        strength = slider(dials.STYLE_MIX, label="strength")
        keep_colors = gr.Checkbox(False, label="keep_colors")
        size = slider(dials.INSTANT_SIZE, step=1, label="size")
        stylized = gr.Image(type="numpy", format="png", label="image")
        trigger = gr.Button()
        trigger.click(
            stylize,
            [photo, style, arch, strength, keep_colors, size],
            stylized,
            api_name="stylize",
            preprocess=False,
            concurrency_id="instant",
            concurrency_limit=INSTANT_CONCURRENCY,
        )

        paintings = gr.File(file_count="multiple", file_types=["image"], label="paintings")
        gatys_size = slider(dials.GATYS_SIZE, step=1, label="size")
        steps = slider(dials.STEPS, label="steps")
        style_strength = slider(dials.STYLE_WEIGHT, label="style_strength")  # the style weight
        preserve_colors = _radio(dials.COLORS)
        optimizer = _radio(dials.OPTIMIZER)
        seed = number_box(dials.SEED, label="seed")
        style_scale = slider(dials.STYLE_SCALE, label="style_scale")
        tv_weight = number_box(dials.TV_WEIGHT, label="tv_weight")
        coarse_to_fine = gr.Checkbox(GatysConfig.coarse_to_fine, label="coarse_to_fine")
        init = _radio(dials.REFINE_START)
        weights = gr.Textbox("", label="painting_weights")
        fast_method = _radio(dials.FAST_METHOD)
        painted = gr.Image(type="numpy", format="png", label="image")
        progress = gr.Textbox(label="progress")
        trigger = gr.Button()
        trigger.click(
            gatys,
            [
                photo,
                paintings,
                gatys_size,
                steps,
                style_strength,
                preserve_colors,
                optimizer,
                seed,
                style_scale,
                tv_weight,
                coarse_to_fine,
                init,
                weights,
                fast_method,
            ],
            [painted, progress],
            api_name="gatys",
            preprocess=False,
            concurrency_id=HEAVY_JOBS,
        )

        fast_size = slider(dials.PAINT_SIZE, step=1, label="size")
        fast_strength = slider(dials.TEXTURE_STRENGTH, label="strength")  # the texture strength
        painting_scale = slider(dials.PAINTING_SCALE, label="painting_scale")
        fast_painted = gr.Image(type="numpy", format="png", label="image")
        trigger = gr.Button()
        trigger.click(
            paint,
            [photo, paintings, fast_size, fast_strength, keep_colors, painting_scale, weights, fast_method],
            fast_painted,
            api_name="paint",
            preprocess=False,
            concurrency_id="instant",
            concurrency_limit=INSTANT_CONCURRENCY,
        )

        clip = gr.File(file_types=["video"], label="clip")
        video_arch = _radio(dials.VIDEO_ARCH)
        scale = slider(dials.VIDEO_SCALE, label="scale")
        temporal = gr.Checkbox(True, label="temporal")
        extra_steady = gr.Checkbox(False, label="extra_steady")
        result = gr.File(label="video")
        trigger = gr.Button()
        trigger.click(
            video,
            [clip, style, video_arch, strength, keep_colors, scale, temporal, extra_steady],
            result,
            api_name="video",
            preprocess=False,
            concurrency_id=HEAVY_JOBS,
        )
