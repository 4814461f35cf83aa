"""Any painting in about a second: the universal mode (styletransfer/universal.py) behind the
Image tab's *Any painting* sub-tab and the /paint endpoint, and the start Gatys refines from."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor, TimeoutError

import numpy as np

from styletransfer import universal
from styletransfer.errors import StyleTransferError
from styletransfer.gatys import MIN_SIZE
from styletransfer.io import images
from styletransfer.perceptual import weights

from .common import number, uploaded_path

DEFAULT_STRENGTH = universal.DEFAULT_STRENGTH


def parse_weights(text: str, count: int) -> tuple[float, ...] | None:
    """'2, 1' -> (2.0, 1.0), one per painting; empty -> None (equal)."""
    text = (text or "").strip()
    if not text:
        return None
    try:
        found = tuple(float(part) for part in text.replace(";", ",").split(","))
    except ValueError:
        raise StyleTransferError(
            f"painting weights must be numbers separated by commas, e.g. 2, 1; got {text!r}"
        ) from None
    if len(found) != count:
        raise StyleTransferError(f"give one painting weight per painting ({count}), got {len(found)}")
    return found


def paint_any(
    photo, paintings, size, strength, keep_colors, painting_scale, painting_weights, max_size: int
) -> tuple[np.ndarray, str]:
    """The photo painted with any paintings at ``size`` (long side) -> (RGB uint8, status line).

    photo, paintings: raw upload payloads or paths. Raises StyleTransferError for the user's mistakes.
    """
    photo_path, painting_paths = uploaded_inputs(photo, paintings)
    size = round(number(size, "output size", MIN_SIZE, max_size, " px"))
    scale = number(painting_scale, "painting scale", *universal.PAINTING_SCALES)
    settings = universal.Settings(
        strength=number(strength, "strength", 0, 1),
        keep_colors=bool(keep_colors),
        painting_scale=scale,
        weights=parse_weights(painting_weights, len(painting_paths)),
    )
    started = time.perf_counter()
    content = load_input(photo_path, size, "photo")
    styles = [
        load_input(path, universal.painting_long_side(size, scale), f"painting {i}")
        for i, path in enumerate(painting_paths, 1)
    ]
    image = universal.load().paint(content, styles, settings)
    height, width = image.shape[-2:]
    parts = [
        f"Fast result: {len(styles)} painting{'s' if len(styles) > 1 else ''}",
        f"{width}x{height} in {time.perf_counter() - started:.1f} s",
    ]
    if settings.strength < 1:
        parts.append(f"strength {settings.strength:.2f}")
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


def getting_ready() -> str | None:
    """What the first call will wait for once the weights are here (see download_vgg16), as a
    status line; None when nothing."""
    if not universal.is_loaded():
        return "Preparing the any-painting networks (first run: about 10 s)…"
    return None


def uploaded_inputs(photo, paintings) -> tuple[str, list[str]]:
    """The files behind a photo and a paintings payload; both are required."""
    photo_path = uploaded_path(photo)
    if not photo_path:
        raise StyleTransferError("upload a photo first (left, 'Photo')")
    painting_paths = [path for path in map(uploaded_path, paintings or []) if path]
    if not painting_paths:
        raise StyleTransferError("add at least one painting: upload one, or click an example painting")
    return photo_path, painting_paths


def load_input(source, long_side: int | None, what: str):
    """An input image as a tensor, its errors saying which input ("photo: ...")."""
    try:
        return images.load_tensor(source, long_side=long_side)
    except StyleTransferError as error:
        raise StyleTransferError(f"{what}: {error}") from None
