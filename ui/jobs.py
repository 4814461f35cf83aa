"""The Image tab's jobs: a request's raw values (upload payloads, numbers or numbers in text)
in; the engine's calls; results, status lines and the page's outputs out. The API (ui/api.py)
reads its requests with the same functions (uploaded_inputs, fast_settings, gatys_previews).

No widgets here, and no ranges of its own: every dial is checked by styletransfer/dials.py's
declaration, with the hosted page's range where it has one.
"""

from __future__ import annotations

import html
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor, TimeoutError
from pathlib import Path

import gradio as gr
import numpy as np

from styletransfer import any_painting, dials, gatys, instant, predicted, universal
from styletransfer.errors import StyleTransferError
from styletransfer.events import Iterate, Stage
from styletransfer.io import images
from styletransfer.perceptual import weights

from .common import StopRequests, ZooStyle, page_error, result_png, start_run, status_html, style_source, uploaded_path

PREVIEW_EVERY_S = 0.25  # stream at most ~4 previews a second; the last step is always sent
PREPARING = "Preparing (loading the VGG16 network)…"
STOPPED_DOWNLOADING = "Stopped while downloading the VGG16 network (the download goes on for the next run)."
STOPS = StopRequests()  # Refine's Stop button, one flag per page


def uploaded_photo(photo, hint: str = "") -> str:
    """The file behind a photo payload, which is required."""
    path = uploaded_path(photo)
    if not path:
        raise StyleTransferError(f"upload a photo first (left, 'Photo'){hint}")
    return path


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
    blend=0.0,
):
    """One pass of a pretrained network (instant.stylize) -> (RGB uint8 array, status line).
    Raises StyleTransferError.

    blend_with, blend: a second zoo style mixed in (0..1), when both come from one several-style
    file: their scale-and-shift are blended (Dumoulin et al. 2017), one network, one pass."""
    photo_path = uploaded_photo(photo, ", or click an example photo")
    if style is None:
        raise StyleTransferError("no style selected: click one of the pretrained styles")
    blend = dials.STYLE_BLEND.check(blend)
    mixed = blend_with is not None and blend > 0 and blend_with.name != style.name
    source, where = style_source(style, arch, folder, blend_with if mixed else None, blend)
    limit = dials.INSTANT_SIZE.check(size)
    strength = dials.STYLE_MIX.check(strength)
    started = time.perf_counter()
    styled = instant.stylize(
        photo_path,
        source,
        arch,
        size=limit,
        enlarge=False,
        strength=strength,
        keep_colors=keep_colors,
        what=style.label,
        folder=where,
    )
    elapsed = time.perf_counter() - started
    height, width = styled.shape[:2]
    label = f"{style.label} {1 - blend:.0%} + {blend_with.label} {blend:.0%}" if mixed else style.label
    parts = [label, arch, f"{width}x{height} in {elapsed:.2f} s"]
    if max(height, width) < limit:
        parts[-1] += f" (the photo's own size, not enlarged to {limit})"
    if strength < 1:
        parts.append(f"{dials.STYLE_MIX.label} {strength:.2f}")
    if keep_colors:
        parts.append("photo's colours")
    return styled, " · ".join(parts)


def instant_run(photo, style, arch, strength, keep_colors, size, folder, blend_with=None, blend=0.0):
    """stylize_instant for the page: (result, status) pairs, a busy line, then the image; errors
    go to the page (the status line, then a pop-up)."""
    try:
        if style is not None:
            yield gr.skip(), status_html(f"Painting with {style.label}, {arch} network…", busy=True)
        image, status = stylize_instant(photo, style, arch, strength, keep_colors, size, folder, blend_with, blend)
        yield result_png(image), status_html(status)
    except Exception as error:
        status, popup = page_error(error, "instant style transfer", "Try another photo or style.")
        yield gr.skip(), status
        raise popup from None


# ---------------------------------------------------------------- any painting: the fast result


def uploaded_inputs(photo, paintings) -> tuple[str, list[str]]:
    """The files behind a photo and a paintings payload; both are required."""
    photo_path = uploaded_photo(photo)
    painting_paths = [path for path in map(uploaded_path, paintings or []) if path]
    if not painting_paths:
        raise StyleTransferError("add at least one painting: upload one, or click an example painting")
    return photo_path, painting_paths


def fast_settings(
    photo, paintings, strength, keep_colors, painting_scale, painting_weights
) -> tuple[str, list[str], universal.Settings]:
    """any_painting.fast's photo, paintings and settings from a request's raw values (the
    painting weights as text: '2, 1'). Raises StyleTransferError for the user's mistakes."""
    photo_path, painting_paths = uploaded_inputs(photo, paintings)
    settings = universal.Settings(
        strength=strength,
        keep_colors=bool(keep_colors),
        painting_scale=painting_scale,
        weights=dials.painting_weights(painting_weights, len(painting_paths)),
    )
    return photo_path, painting_paths, settings


def any_painting_fast(
    photo, paintings, size, strength, keep_colors, painting_scale, painting_weights, method=dials.FAST_METHOD.default
) -> tuple[np.ndarray, str]:
    """The photo painted with any paintings at ``size`` (long side) by ``method``
    (dials.FAST_METHOD) -> (RGB uint8, status line).

    photo, paintings: raw upload payloads or paths. Raises StyleTransferError for the user's mistakes.
    """
    photo_path, painting_paths, settings = fast_settings(
        photo, paintings, strength, keep_colors, painting_scale, painting_weights
    )
    started = time.perf_counter()
    image = any_painting.fast(photo_path, painting_paths, size, settings, method)
    height, width = image.shape[-2:]
    count = len(painting_paths)
    parts = [
        f"Fast result: {count} painting{'s' if count > 1 else ''}",
        f"{width}x{height} in {time.perf_counter() - started:.1f} s",
    ]
    if settings.strength < 1:
        parts.append(f"{dials.TEXTURE_STRENGTH.label} {settings.strength:.2f}")
    if settings.keep_colors:
        parts.append("photo's colours")
    parts.append("Refine runs Gatys from here")
    return images.to_numpy(image), " · ".join(parts)


def download_vgg16(stopped: Callable[[], bool]) -> Iterator[str]:
    """Fetch the VGG16 weights in a thread, yielding a line a second meanwhile: what is
    downloading, from where, for how long. A failed fetch raises its StyleTransferError (what is
    missing, how to fix it). Once ``stopped()`` this returns; the download goes on in the
    background, for the next run. Used by the fast result and Refine alike: both need VGG16,
    and weights.fetch runs one download at a time, so neither starts a second one."""
    thread = ThreadPoolExecutor(1, thread_name_prefix="vgg16-download")
    fetching = thread.submit(weights.fetch, progress=False)
    thread.shutdown(wait=False)
    started = time.monotonic()
    while True:
        try:
            fetching.result(timeout=1.0)
            return
        except TimeoutError:
            if stopped():
                return
            source = weights.downloading()
            yield (
                f"Downloading the VGG16 loss network{f' from {source}' if source else ''}, "
                f"first run only: {time.monotonic() - started:.0f} s…"
            )


def getting_ready(method: str = dials.FAST_METHOD.default) -> str | None:
    """What the first fast result by ``method`` will wait for once the weights are here (see
    download_vgg16), as a status line; None when nothing."""
    if method == "universal" and not universal.is_loaded():
        return "Preparing the any-painting networks (first run: about 10 s)…"
    if method == "predicted" and not predicted.is_loaded():
        return "Preparing the any-painting network (first run: a few seconds)…"
    return None


def run_fast(
    active,
    photo,
    paintings,
    size,
    strength,
    colors,
    style_scale,
    blend_text,
    method=dials.FAST_METHOD.default,
    request: gr.Request = None,
):
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
        yield gr.skip(), status_html(getting_ready(method) or "Painting the fast result…", busy=True)
        image, status = any_painting_fast(
            photo, paintings, size, strength, colors != "none", style_scale, blend_text, method
        )
        if STOPS.armed_after(request, begun):  # Refine was clicked meanwhile: its images win
            yield gr.skip(), gr.skip()
            return
        yield result_png(image), status_html(status)
    except Exception as error:
        status, popup = page_error(error, "fast style transfer", "Try other images or settings, or Refine.")
        yield gr.skip(), status
        raise popup from None


# ---------------------------------------------------------------- any painting: Refine (Gatys)


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
    blend_text,
    num_paintings: int,
) -> gatys.GatysConfig:
    """The engine's config from a request's values (the API's names), each dial read with the
    hosted page's range: every dial reports one range, the documented one, whatever the start."""
    given = {
        "size": size,
        "steps": steps,
        "style_weight": style_strength,
        "seed": seed,
        "style_scale": style_scale,
        "tv_weight": tv_weight,
    }
    return gatys.GatysConfig(
        **dials.checked(gatys.DIALS, given, page=True),
        preserve_colors=preserve_colors,
        optimizer=optimizer,
        coarse_to_fine=bool(coarse_to_fine),
        style_blend=dials.painting_weights(blend_text, num_paintings),
    )


def gatys_previews(photo, paintings, settings: dict, stop):
    """A Gatys run for the page and the API. Yields status lines (str) while it gets ready
    (the first run downloads the VGG16 weights: a line a second), then (RGB uint8 image,
    Iterate event, stopped) at most every PREVIEW_EVERY_S, the last step always; after
    ``stop`` is set, the image so far, stopped=True.

    photo, paintings: raw upload payloads (or paths); settings: gatys_config's arguments, and
    ``init`` (where Refine starts: dials.REFINE_START), ``fast_strength`` and ``fast_method``
    (the fast result's texture strength and painter). Raises StyleTransferError for the user's mistakes.
    """
    photo_path, painting_paths = uploaded_inputs(photo, paintings)
    settings = dict(settings)
    start = settings.pop("init", dials.REFINE_START.default)
    texture_strength = settings.pop("fast_strength", dials.TEXTURE_STRENGTH.default)
    fast_method = settings.pop("fast_method", dials.FAST_METHOD.default)
    config = gatys_config(**settings, num_paintings=len(painting_paths))
    run = any_painting.refine(
        photo_path, painting_paths, config, start=start, texture_strength=texture_strength, fast_method=fast_method
    )
    try:
        if stop.is_set():  # Stop pressed while waiting in the queue
            return
        if weights.needs_download():
            yield from download_vgg16(stop.is_set)
            if stop.is_set():
                yield STOPPED_DOWNLOADING
                return
        last_sent = 0.0
        for event in run:
            if isinstance(event, Stage):
                if event.name == "fast":  # the fast result (a second or a few)
                    yield f"Painting the fast result to start from… {getting_ready(fast_method) or ''}".strip()
                else:
                    yield PREPARING
                continue
            now = time.monotonic()
            if stop.is_set():
                yield images.to_numpy(event.image), event, True
                return
            if event.done or now - last_sent >= PREVIEW_EVERY_S:
                last_sent = now
                yield images.to_numpy(event.image), event, False
    finally:
        run.close()  # release the engine's generator (and its tensors) now


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


def progress_html(event: Iterate, stopped: bool = False) -> str:
    """progress_text under a progress bar, for the page's status line."""
    bar = f'<progress max="{event.total_steps}" value="{event.step}" style="width: 100%"></progress>'
    return f'<div class="st-progress">{bar}{html.escape(progress_text(event, stopped))}</div>'


def start_refine(request: gr.Request):
    """Refine was clicked: a fresh Stop flag for this page, before the run is queued."""
    STOPS.arm(request)
    return start_run()


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
    fast_strength=dials.TEXTURE_STRENGTH.default,
    fast_method=dials.FAST_METHOD.default,
    request: gr.Request = None,
):
    """Refine for the page: (preview image, progress line) pairs while the optimisation runs.

    Gets raw component values (the page's events have preprocess=False). After Stop, the run
    ends at the next step boundary; its last image stays in the page as the result.
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
        fast_method=fast_method,
    )
    try:
        started = False
        for preview in gatys_previews(photo, paintings, settings, stop):
            started = True
            if isinstance(preview, str):
                yield None, status_html(preview, busy=True)
            else:
                image, event, stopped = preview
                yield image, progress_html(event, stopped)
        if not started:
            yield gr.skip(), status_html("Stopped before it started.")
    except Exception as error:
        status, popup = page_error(error, "style transfer", "Try other images or settings.")
        yield gr.skip(), status
        raise popup from None
    finally:
        STOPS.release(request, stop)
