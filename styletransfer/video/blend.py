"""Steadying a per-frame stylisation as it runs: a cheap flow-guided blend with the previous
output (TemporalBlender), used by the video loop and the webcam."""

from __future__ import annotations

from dataclasses import dataclass, replace

import cv2
import numpy as np

from styletransfer.errors import StyleTransferError
from styletransfer.video.flow import PRESETS, dis, grey_uint8, maps, to_float, warp


@dataclass(frozen=True)
class BlendConfig:
    """Settings of ``TemporalBlender``. First chosen by measurement on four shared clips at
    640x360 with synthetic per-frame flicker: E_warp fell 5-9x (2x on a clip with cuts),
    contrast moved < 3%. A forward-backward check in place of the photometric confidence
    cost twice as much and left more flicker and more ghosting; flow at full width instead
    of 320 px gained little; "fast" no better than "ultrafast" here. Normal motion left at
    most 63% of pixels unconfident (a 10 fps pan), real cuts and unrelated photos >= 85%
    (unconfident then meant an error above 0.03: cut_error keeps that test as the tolerance moves).
    Strength then re-measured on the painted zoo's real flicker (issue 27, 2026-12-06; the
    shift-trained lite, 4 paintings x the 6 shared clips, 40 frames at 320 px): from 0.7 to
    0.9, E_warp against the clip's own fell 1.2-1.8x (fox 3.6 -> 2.0, pancake_flip 2.4 -> 2.0)
    for 1-3% of contrast (worst painting 0.92x of per frame). A looser tolerance, 0.1, took fox
    to 1.6 but smeared real motion: on Sintel without flicker the output drifted twice as far
    from the network's own frames (RMSE 0.013 -> 0.025; test_blender_steadies_real_motion).
    A lighting-tolerant confidence (local mean removed) changed nothing on these clips.
    Flow preset re-measured the same way (2026-12-07, the shipped lite, 4 paintings; E_warp
    against the clip's own with the benchmark's DIS flow, and with Farneback flow as a check
    that the gain is not the blender agreeing with the benchmark's own flow): "medium" instead
    of "ultrafast" took 320 px fox 2.14 -> 1.53 (Farneback 2.32 -> 1.89), pancake_flip
    2.03 -> 1.06 (1.78 -> 1.10), dog_room_pan 0.90 -> 0.80; at 640x360 fox 4.43 -> 2.83
    (4.89 -> 4.27), pancake_flip 3.47 -> 1.77 (2.30 -> 1.61); street_bikes only by DIS
    (15.2 -> 8.4; Farneback 9.7 -> 9.3). Contrast and drift from the network's own frames
    unchanged. It costs 5 ms a frame at 320 px (ultrafast 0.6 ms), run beside the network;
    flow at full width added little by Farneback for 4x that. The live webcam keeps
    "ultrafast" (webcam.LIVE_BLEND): there every millisecond is frame rate.
    Tolerance re-measured along medium flow (2026-12-07, the steady zoo's lite, same 4 paintings,
    all 6 clips at 320 px): 0.06 -> 0.1 took fox 1.25 -> 0.94x, street_bikes 3.69 -> 3.10x,
    pancake_flip 0.92 -> 0.66x, dog_room_pan 0.69 -> 0.46x, big_buck_bunny 0.53 -> 0.39x,
    pedestrians 0.49 -> 0.43x (Farneback agrees: fox 1.59 -> 1.31x), contrast 0.959 -> 0.953 of
    per frame. Its cost is the smear above, now smaller than along ultrafast flow: Sintel's
    flicker-free drift 0.0174 -> 0.0232 (ultrafast: 0.018 -> 0.025), at edges, about a pixel of
    softening; no trails behind walkers at 640 px. Other ways to trust the flow more cost the
    same smear for the same gain and were not kept: a tolerance that grows with the local
    gradient (forgiving sub-pixel flow error on detail), a Birchfield-Tomasi half-pixel
    envelope, a squared or dead-zoned confidence ramp, strength 0.95.
    Flow size re-measured (issue 27, 2026-12-07, the two-way blend; docs/video.md): at 640x360
    the flow of frames scaled to 320 px errs by about a pixel of the painted frame, and the
    networks' fine texture shows it. Judged along the EXACT flow of each shared clip's first
    frame moved by a known camera (bench.temporal --camera, `lite`, 4 paintings, 640 px), flow
    at the frame's size with "lean" (video/flow.py: as accurate as medium on Middlebury at two
    thirds of its cost) left 0.46-0.94x the flicker of medium at 320 px (street_bikes 0.67x,
    fox 0.75x); along the bench's own flow `lite` fox went 1.27 -> 0.94x the clip's own,
    street_bikes 2.43 -> 1.82x. Sintel's flicker-free drift fell 0.0196 -> 0.0155. At 320 px the
    flow was already full size; there lean is as steady as medium along the exact flow or more. The
    bench's DIS-medium flow flatters a blend whose flow errs like its own (it rated a blend
    along the exact flow below one along medium flow: fox 1.50 against 1.41x), so flow settings
    are chosen by the camera clips. Capped at 640 px wide: at 1280x720 full size cost `lite`
    a fifth of its speed (2.6 -> 2.1 frames a second) for 14% less flicker."""

    preset: str = "lean"  # DIS preset for the per-frame flow (video/flow.py)
    strength: float = 0.9  # weight of the warped previous output where the flow is trusted
    flow_width: int = 640  # flow is computed on greyscale input scaled down to at most this width (0: full size)
    tolerance: float = 0.1  # grey-level error (0..1) at which a pixel's confidence reaches 0
    cut_error: float = 0.03  # grey-level error (0..1) above which a pixel has changed, for cuts
    cut_threshold: float = 0.75  # share of changed pixels above which a frame is a scene cut

    def __post_init__(self):
        if self.preset not in PRESETS:
            raise StyleTransferError(f"unknown optical-flow preset {self.preset!r}; use one of {', '.join(PRESETS)}")
        if not 0.0 <= self.strength < 1.0:
            raise StyleTransferError(f"blend strength must be in [0, 1), got {self.strength}")
        if self.tolerance <= 0:
            raise StyleTransferError(f"blend tolerance must be positive, got {self.tolerance}")
        if self.cut_error <= 0:
            raise StyleTransferError(f"cut error must be positive, got {self.cut_error}")
        if not 0.0 < self.cut_threshold <= 1.0:
            raise StyleTransferError(f"cut threshold must be in (0, 1], got {self.cut_threshold}")
        if self.flow_width < 0:
            raise StyleTransferError(f"flow width must be >= 0, got {self.flow_width}")


@dataclass(frozen=True)
class Motion:
    """What the blend needs from the input frames alone: this frame's small greyscale, and,
    when there is a previous frame of the same size that it follows (no cut), the backward
    flow to it and a per-pixel confidence in that flow, both at flow size."""

    grey: np.ndarray
    shape: tuple  # the input frame's shape
    flow: np.ndarray | None = None
    confidence: np.ndarray | None = None
    # TwoWayBlender's: the previous frame's Motion with its flow to this frame, for the blend
    # run backward (None: this is the first frame, or follows a cut)
    previous_ahead: Motion | None = None


class TemporalBlender:
    """Steadies a stylised video frame by frame: ``out = blender(input_frame, stylised_frame)``.

    Each output is the stylised frame blended with the previous OUTPUT, warped along the
    optical flow of the input frames (an exponential moving average that follows motion):
    ``out_t = (1 - s c) * stylised_t + s c * warp(out_{t-1})`` with strength ``s`` and a
    per-pixel confidence ``c`` in [0, 1] that falls to 0 where the previous input, warped
    the same way, does not match the current input (occlusions, flow errors, new content).
    This photometric check costs one small warp instead of the second (backward) flow a
    forward-backward check needs. When most of the frame has changed (a scene cut), or
    the frame size changes, the blender starts afresh and returns the stylised frame.

    Frames are HxWx3 RGB, uint8 or float in [0, 1]; the output has the stylised frame's
    dtype. The input and stylised frames may differ in size (same aspect ratio): flow is
    computed on the input and scaled to the stylised frame.

    A call is two halves, which a pipeline may run in different threads: ``motion(frame)``
    needs the input frames only (in order: it keeps the previous one), so the video loop
    runs it ahead, beside the network; ``apply(motion, stylised)`` (in order: it keeps the
    previous output) blends. Each half is for one thread at a time.
    """

    def __init__(self, config: BlendConfig | None = None, **options):
        self.config = replace(config or BlendConfig(), **options)  # replace() re-runs the checks
        self.reset()

    def reset(self) -> None:
        """Forget the previous frame: the next output is its stylised frame unchanged."""
        self._prev_motion: Motion | None = None  # the input side
        self._prev_out: np.ndarray | None = None  # float32 HxWx3 output
        self.last_was_cut = False  # for callers and tests: did the last call start afresh?

    def __call__(self, frame, stylized) -> np.ndarray:
        return self.apply(self.motion(frame), stylized)

    def motion(self, frame) -> Motion:
        """The input half: this frame's flow back to the previous input frame, and its confidence."""
        frame = _rgb(frame, "input")
        here = Motion(self._small_grey(frame), frame.shape)
        prev, self._prev_motion = self._prev_motion, here
        return follow(prev, here, self.config)

    def apply(self, motion: Motion, stylized) -> np.ndarray:
        """The output half: the stylised frame blended with the previous output along ``motion``."""
        stylized = _rgb(stylized, "stylised")
        styled = to_float(stylized)
        # motion has a flow only when this input follows the previous one at the same size.
        follows = motion.flow is not None and self._prev_out is not None and self._prev_out.shape == stylized.shape
        out = self._blend(motion, styled) if follows else styled.copy()
        self.last_was_cut = not follows
        self._prev_out = out
        if stylized.dtype == np.uint8:
            # out blends uint8-derived values, so it lies in [0, 1] and abs() does nothing;
            # convertScaleAbs rounds and saturates 5x faster than numpy.
            return cv2.convertScaleAbs(out, alpha=255.0)
        return out.copy()  # the caller may modify its frame; keep ours

    def _small_grey(self, frame: np.ndarray) -> np.ndarray:
        grey = grey_uint8(frame)
        width = self.config.flow_width
        if width and grey.shape[1] > width:
            height = max(8, round(grey.shape[0] * width / grey.shape[1]))
            grey = cv2.resize(grey, (width, height), interpolation=cv2.INTER_AREA)
        return grey

    def _blend(self, motion: Motion, styled: np.ndarray) -> np.ndarray:
        flow, confidence = motion.flow, motion.confidence
        height, width = styled.shape[:2]
        if flow.shape[:2] != (height, width):
            sx, sy = width / flow.shape[1], height / flow.shape[0]
            flow = cv2.resize(flow, (width, height), interpolation=cv2.INTER_LINEAR)
            flow[..., 0] *= sx
            flow[..., 1] *= sy
            confidence = cv2.resize(confidence, (width, height), interpolation=cv2.INTER_LINEAR)
        warped = warp(self._prev_out, flow)
        weight = (self.config.strength * confidence).astype(np.float32)
        # One pass instead of numpy's temporaries (0.3 vs 0.9 ms at 640x360).
        return cv2.blendLinear(styled, warped, 1.0 - weight, weight)


def follow(prev: Motion | None, here: Motion, config: BlendConfig) -> Motion:
    """``here`` (a frame's small grey and shape) with its flow back to ``prev`` and the
    confidence in that flow; without them where there is nothing to follow: no ``prev``,
    another size, or a scene cut."""
    if prev is None or prev.shape != here.shape:
        return Motion(here.grey, here.shape)
    # Backward flow: where each pixel of this frame was in the previous one.
    flow = dis(config.preset).calc(here.grey, prev.grey, None)
    map_x, map_y, inside = maps(flow)
    warped_grey = cv2.remap(prev.grey, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    error = cv2.absdiff(here.grey, warped_grey).astype(np.float32) / 255.0
    # A 3x3 box keeps single noisy pixels from punching holes in the confidence.
    error = cv2.blur(error, (3, 3))
    if ((error > config.cut_error) | ~inside).mean() > config.cut_threshold:
        return Motion(here.grey, here.shape)  # a scene cut: nothing to follow
    confidence = np.clip(1.0 - error / config.tolerance, 0.0, 1.0) * inside
    return Motion(here.grey, here.shape, flow, confidence)


@dataclass
class _Held:
    """A frame the two-way blend holds until enough frames after it have come."""

    stylized: np.ndarray
    past: np.ndarray  # the forward blend's output
    here: Motion  # its small grey and shape
    ahead: Motion | None = None  # its flow to the next frame (follow's, run backward)


class TwoWayBlender:
    """Steadies a video FILE, where the frames after each one can be waited for: each stylised
    frame is blended along the motion with its past (TemporalBlender, run forward) and with its
    future (the same blend run backward from up to ``lookahead`` frames after it), and the two
    are averaged. The two blends lag the motion in opposite directions, so the average smears
    real motion less than either, and it is steadier than both.

    Measured (issue 27, 2026-12-07; the shipped zoo, 4 paintings x the 6 shared clips, 40 frames
    at 320 px, E_warp against the clip's own along the bench's DIS flow): `lite` street_bikes
    1.52 -> 1.03x, fox 0.89 -> 0.65x, pancake_flip 0.65 -> 0.48x; `full` street_bikes 1.95 ->
    1.33x, fox 1.24 -> 0.90x. Sintel without flicker drifts less from the network's own frames
    (RMSE 0.0218 -> 0.0186). The cost is contrast where the network's texture moves with its
    pixel grid (street_bikes: 0.959 -> 0.934 of per frame on average, 0.891 at worst). Blocks
    of 20 with 10 frames ahead scored as the whole clip run backward at once, to two decimals;
    16 + 8 within 0.01. All 16 paintings (docs/video.md): every clip within 1.25x of its own
    E_warp for both networks; 2 of 192 painting-clip pairs below 0.9 of per frame's contrast.

    ``motion(frame)`` (the input half, as TemporalBlender's), then ``push(motion, stylized)``
    for each frame in order: it returns the frames finished, ``block`` at a time, in order;
    ``flush()`` finishes the rest (the end of the clip, or Stop). It holds at most
    ``block + lookahead`` frames, however long the clip.
    """

    def __init__(self, config: BlendConfig | None = None, block: int = 16, lookahead: int = 8, **options):
        if block < 1 or lookahead < 0:
            raise StyleTransferError(f"two-way blend: block must be >= 1 and lookahead >= 0, got {block}, {lookahead}")
        self.forward = TemporalBlender(config, **options)
        self.config = self.forward.config
        self.block, self.lookahead = block, lookahead
        self._held: list[_Held] = []

    def motion(self, frame) -> Motion:
        """The input half: the flows both ways between this frame and the previous one (each
        costs as much: the video loop runs this beside the network)."""
        previous = self.forward._prev_motion  # the previous frame's small grey, before motion() moves on
        here = self.forward.motion(frame)
        ahead = follow(Motion(here.grey, here.shape), previous, self.config) if previous is not None else None
        return replace(here, previous_ahead=ahead)

    def push(self, motion: Motion, stylized) -> list[np.ndarray]:
        stylized = _rgb(stylized, "stylised")
        past = self.forward.apply(motion, stylized)
        if self._held:
            self._held[-1].ahead = motion.previous_ahead
        self._held.append(_Held(stylized, past, Motion(motion.grey, motion.shape)))
        if len(self._held) < self.block + self.lookahead:
            return []
        return self._finish(self.block)

    def flush(self) -> list[np.ndarray]:
        """Finish every frame held (nothing follows them)."""
        return self._finish(len(self._held))

    def _finish(self, count: int) -> list[np.ndarray]:
        """The first ``count`` frames held, each the mean of its forward blend and of the
        backward blend run from the newest frame held (a flow to the next frame, else afresh)."""
        backward = TemporalBlender(self.config)
        done = [None] * count
        for i in reversed(range(len(self._held))):
            held = self._held[i]
            future = backward.apply(held.ahead or held.here, held.stylized)
            if i < count:
                done[i] = _average(held.past, future)
        del self._held[:count]
        return done


def _average(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    if a.dtype == np.uint8:
        return cv2.addWeighted(a, 0.5, b, 0.5, 0.0)  # rounds and saturates in one pass
    return (a + b) / 2


def _rgb(image, name: str) -> np.ndarray:
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"{name} frame must be HxWx3 RGB, got shape {image.shape}")
    return image
