"""Live stylisation of a camera stream: one JPEG frame in, one stylised JPEG frame out.

The webcam path of the app, kept here so it can be measured and tested without a browser.
Each step is picked for frame rate on a 2-core CPU (measured at 320x240, 2026-11-24):
JPEG decoding at reduced size through libjpeg's DCT scaling (0.6 ms from 640x480 instead of
2.2 ms), the lite network in onnxruntime (14-20 ms; torch eager takes far longer on such a
small network), the temporal blender (1.8 ms), JPEG encoding (0.2 ms). Nothing touches the
disk per frame, and no torch operator runs per frame: torch's idle OpenMP threads spin and
would slow onnxruntime's down (bench/fast.py).

Like video.py, this module is an edge where pixels are converted: compressed camera frames
<-> HxWx3 uint8 RGB arrays.
"""

from __future__ import annotations

import collections
import io
import time
from dataclasses import dataclass

import cv2
import numpy as np
import torch
from PIL import Image

from styletransfer.errors import StyleTransferError
from styletransfer.temporal import BlendConfig, TemporalBlender

JPEG_QUALITY = 85  # 320x240 frames of ~10 KB; brush texture survives, encoding takes 0.2 ms
RESTART_AFTER_S = 1.0  # a longer pause between frames is a new recording: do not blend across it


# ---------------------------------------------------------------- frames


def decode_frame(data: bytes, size: tuple[int, int], *, match_orientation: bool = True) -> np.ndarray:
    """A compressed camera frame as an HxWx3 uint8 RGB array of exactly ``size`` (width, height).

    The frame is scaled to cover ``size`` and centre-cropped. With ``match_orientation``, a
    portrait frame gets the portrait version of ``size`` (240x320 for 320x240), so a phone
    held upright is not cropped to a strip. Raises StyleTransferError if it cannot be decoded.
    """
    try:
        image = Image.open(io.BytesIO(data))
        width, height = size
        if match_orientation and (image.width < image.height) != (width < height):
            width, height = height, width
        # For a JPEG, libjpeg decodes at 1/2, 1/4 or 1/8 scale directly (never below the
        # size asked for): most of the work is skipped when the camera sends more pixels.
        scale = max(width / image.width, height / image.height)
        image.draft("RGB", (max(1, round(image.width * scale)), max(1, round(image.height * scale))))
        rgb = np.asarray(image.convert("RGB"))
    except (OSError, ValueError, Image.DecompressionBombError) as error:
        raise StyleTransferError(f"a camera frame could not be decoded ({error}); check the camera") from None
    return _cover(rgb, width, height)


def _cover(rgb: np.ndarray, width: int, height: int) -> np.ndarray:
    """Scale to cover width x height, then crop the middle."""
    h, w = rgb.shape[:2]
    if (w, h) == (width, height):
        return rgb
    scale = max(width / w, height / h)
    scaled_w, scaled_h = max(width, round(w * scale)), max(height, round(h * scale))
    shrinking = scale < 1
    rgb = cv2.resize(rgb, (scaled_w, scaled_h), interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR)
    top, left = (scaled_h - height) // 2, (scaled_w - width) // 2
    return np.ascontiguousarray(rgb[top : top + height, left : left + width])


def encode_jpeg(rgb: np.ndarray, *, quality: int = JPEG_QUALITY, max_side: int | None = None) -> bytes:
    """An HxWx3 uint8 RGB array as JPEG bytes, optionally shrunk so its longer side is ``max_side``."""
    h, w = rgb.shape[:2]
    if max_side is not None and max(h, w) > max_side:
        scale = max_side / max(h, w)
        rgb = cv2.resize(rgb, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
    ok, encoded = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:  # OpenCV reports no reason; a uint8 HxWx3 array always encodes
        raise ValueError(f"could not encode a {w}x{h} frame as JPEG")
    return encoded.tobytes()


def stylise_frame(model, rgb: np.ndarray) -> np.ndarray:
    """One pass of ``model`` (an OnnxModel, or a torch network) over an HxWx3 uint8 frame.

    Conversions in numpy, not torch: see the module docstring.
    """
    x = np.ascontiguousarray(rgb.transpose(2, 0, 1)[None], dtype=np.float32)  # (1, 3, H, W)
    x *= np.float32(1 / 255)
    with torch.inference_mode():
        out = model(torch.from_numpy(x))  # zero-copy in and out
    out = out.numpy()[0].transpose(1, 2, 0)  # (H, W, 3) float in [0, 1]: the networks end in a sigmoid
    # convertScaleAbs rounds and saturates to uint8 in one pass (its abs() never applies here).
    return cv2.convertScaleAbs(np.ascontiguousarray(out), alpha=255.0)


# ---------------------------------------------------------------- the stream


class RateMeter:
    """Events per second over the last ``window`` seconds, from their timestamps."""

    def __init__(self, window: float = 1.0):
        self.window = window
        self._times: collections.deque[float] = collections.deque()

    def tick(self, now: float | None = None) -> float:
        now = time.monotonic() if now is None else now
        self._times.append(now)
        while now - self._times[0] > self.window:
            self._times.popleft()
        return self.rate

    @property
    def rate(self) -> float:
        if len(self._times) < 2:
            return 0.0
        span = self._times[-1] - self._times[0]
        return (len(self._times) - 1) / span if span > 0 else 0.0

    def reset(self) -> None:
        self._times.clear()


@dataclass(frozen=True)
class LiveFrame:
    jpeg: bytes  # the stylised frame
    width: int
    height: int
    fps: float  # frames stylised per second, over the last second
    seconds: float  # the time this frame took, decoding to encoding


class LiveStream:
    """The state of one camera stream: its temporal blender and its frame-rate meter.

    ``process(jpeg, model, size, temporal=...)`` takes a camera frame as the browser sends
    it and returns the stylised one. Not thread-safe: one LiveStream per stream.
    """

    def __init__(self, blend: BlendConfig | None = None, window: float = 1.0):
        self.blender = TemporalBlender(blend)
        self.meter = RateMeter(window)
        self._model = None
        self._last: float | None = None

    def process(self, data: bytes, model, size: tuple[int, int], *, temporal: bool = True,
                quality: int = JPEG_QUALITY, now: float | None = None) -> LiveFrame:
        started = time.perf_counter()
        now = time.monotonic() if now is None else now
        if model is not self._model or self._last is None or now - self._last > RESTART_AFTER_S:
            # Another style, or a new recording: nothing from before belongs in this frame.
            self.blender.reset()
            self.meter.reset()
            self._model = model
        self._last = now
        rgb = decode_frame(data, size)
        styled = stylise_frame(model, rgb)
        if temporal:
            styled = self.blender(rgb, styled)
        else:
            self.blender.reset()  # switched off and on again: start afresh, not from a stale frame
        jpeg = encode_jpeg(styled, quality=quality)
        fps = self.meter.tick(now)
        height, width = styled.shape[:2]
        return LiveFrame(jpeg, width, height, fps, time.perf_counter() - started)
