"""Live stylization of a camera stream: one JPEG frame in, one stylized JPEG frame out.

The webcam path of the app, kept here so it can be measured and tested without a browser.
Each step is picked for frame rate on a 2-core CPU (measured at 320x240, 2026-11-24):
JPEG decoding at reduced size through libjpeg's DCT scaling (0.6 ms from 640x480 instead of
2.2 ms), the lite network in onnxruntime (14-20 ms; torch eager takes far longer on such a
small network), the temporal blender (1.8 ms), JPEG encoding (0.2 ms). Nothing touches the
disk per frame, and no torch operator runs per frame: torch's idle OpenMP threads spin and
would slow onnxruntime's down (bench/fast.py).

Frames are decoded and encoded by io/frames.py and stylized by the frame path every other
caller shares (networks.Network.stylize).
"""

from __future__ import annotations

import collections
import time
from dataclasses import dataclass

from styletransfer.io.frames import JPEG_QUALITY, encode_jpeg
from styletransfer.io.images import decode_jpeg
from styletransfer.networks.network import Network
from styletransfer.video.blend import BlendConfig, TemporalBlender

# The live stream's blend: the real-time flow preset (0.6 ms at 320 px against medium's 5 ms,
# a fifth of the frame's budget; video files use the steadier default, blend.BlendConfig), and
# the tolerance chosen for it: ultrafast flow errs more, so the files' looser one smears more
# here (Sintel's flicker-free drift 0.018 -> 0.025).
LIVE_BLEND = BlendConfig(preset="ultrafast", tolerance=0.06, flow_width=320)
RESTART_AFTER_S = 1.0  # a longer pause between frames is a new recording: do not blend across it


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
    jpeg: bytes  # the stylized frame
    width: int
    height: int
    fps: float  # frames stylized per second, over the last second
    seconds: float  # the time this frame took, decoding to encoding


class LiveStream:
    """The state of one camera stream: its temporal blender and its frame-rate meter.

    ``process(jpeg, model, size, temporal=...)`` takes a camera frame as the browser sends
    it and returns the stylized one. Not thread-safe: one LiveStream per stream.
    """

    def __init__(self, blend: BlendConfig | None = None, window: float = 1.0):
        self.blender = TemporalBlender(blend or LIVE_BLEND)
        self.meter = RateMeter(window)
        self._model = None
        self._last: float | None = None

    def process(
        self,
        data: bytes,
        model: Network,
        size: tuple[int, int],
        *,
        temporal: bool = True,
        quality: int = JPEG_QUALITY,
        now: float | None = None,
    ) -> LiveFrame:
        started = time.perf_counter()
        now = time.monotonic() if now is None else now
        if model is not self._model or self._last is None or now - self._last > RESTART_AFTER_S:
            # Another style, or a new recording: nothing from before belongs in this frame.
            self.blender.reset()
            self.meter.reset()
            self._model = model
        self._last = now
        rgb = decode_jpeg(data, size)
        styled = model.stylize(rgb)
        if temporal:
            styled = self.blender(rgb, styled)
        else:
            self.blender.reset()  # switched off and on again: start afresh, not from a stale frame
        jpeg = encode_jpeg(styled, quality=quality)
        fps = self.meter.tick(now)
        height, width = styled.shape[:2]
        return LiveFrame(jpeg, width, height, fps, time.perf_counter() - started)
