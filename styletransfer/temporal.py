"""Temporal consistency for video: optical flow, warping, occlusion masks, the warping
error of Lai et al. 2018 ("Learning Blind Video Temporal Consistency") and a cheap
flow-guided blender that steadies a per-frame stylisation while it runs.

Frames here are numpy arrays, HxWx3 RGB, either uint8 or float in [0, 1] (video frames
arrive as uint8 arrays; metrics also take engine tensors (1, 3, H, W)). Flows are HxWx2
float32 arrays (u, v) in pixels, in the convention of Middlebury's ``.flo`` files: the
forward flow ``w`` from frame 1 to frame 2 says that ``frame1[y, x]`` is seen at
``frame2[y + v, x + u]``, so ``warp(frame2, w)`` lines frame 2 up with frame 1.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import numpy as np

from .errors import StyleTransferError

FLO_MAGIC = 202021.25  # b"PIEH" read as a little-endian float32
UNKNOWN_FLOW = 1e9  # Middlebury marks pixels without ground truth with values above this

PRESETS = {
    "ultrafast": cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST,
    "fast": cv2.DISOPTICAL_FLOW_PRESET_FAST,
    "medium": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM,
}


# ---------------------------------------------------------------- .flo files


def read_flo(path: str | Path) -> np.ndarray:
    """A Middlebury ``.flo`` file as an (H, W, 2) float32 array; unknown flow becomes NaN."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as error:
        raise StyleTransferError(f"cannot read flow file {path}: {error.strerror}; check the path") from None
    if len(data) < 12 or np.frombuffer(data, "<f4", 1)[0] != FLO_MAGIC:
        raise StyleTransferError(f"{path} is not a Middlebury .flo file (no 'PIEH' header); pass a .flo flow file")
    width, height = (int(n) for n in np.frombuffer(data, "<i4", 2, offset=4))
    if width <= 0 or height <= 0 or len(data) != 12 + 8 * width * height:
        raise StyleTransferError(
            f"{path} is a truncated or corrupt .flo file ({width}x{height} header, {len(data)} bytes); re-create it"
        )
    flow = np.frombuffer(data, "<f4", 2 * width * height, offset=12).reshape(height, width, 2).astype(np.float32)
    unknown = ~(np.abs(flow) <= UNKNOWN_FLOW).all(axis=2)  # also catches NaN/inf written by other tools
    flow[unknown] = np.nan
    return flow


def write_flo(path: str | Path, flow: np.ndarray) -> None:
    """Write an (H, W, 2) flow as a Middlebury ``.flo`` file; NaN (unknown) is stored as 1e10."""
    flow = np.asarray(flow, dtype=np.float32)
    if flow.ndim != 3 or flow.shape[2] != 2:
        raise ValueError(f"flow must be (H, W, 2), got {flow.shape}")
    height, width = flow.shape[:2]
    stored = np.where(np.isfinite(flow), flow, np.float32(1e10)).astype("<f4")
    header = np.array([FLO_MAGIC], "<f4").tobytes() + np.array([width, height], "<i4").tobytes()
    Path(path).write_bytes(header + stored.tobytes())


# ---------------------------------------------------------------- frames


def to_float(frame) -> np.ndarray:
    """An RGB frame as HxWx3 float32 in [0, 1]: from uint8, float, or a (1, 3, H, W) tensor."""
    if hasattr(frame, "detach"):  # an engine tensor; torch is not imported here
        frame = frame.detach().cpu().numpy()
        if frame.ndim == 4:
            frame = frame[0]
        frame = frame.transpose(1, 2, 0)
    frame = np.asarray(frame)
    if frame.ndim != 3 or frame.shape[2] != 3:
        raise ValueError(f"expected an HxWx3 RGB frame, got shape {frame.shape}")
    if frame.dtype == np.uint8:
        return np.multiply(frame, np.float32(1 / 255), dtype=np.float32)
    return frame.astype(np.float32, copy=False)


def _grey_uint8(frame) -> np.ndarray:
    """DIS works on 8-bit greyscale."""
    frame = np.asarray(frame)
    if frame.dtype != np.uint8:
        frame = (to_float(frame) * 255.0 + 0.5).clip(0, 255).astype(np.uint8)
    if frame.ndim == 2:
        return frame
    return cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)


# ---------------------------------------------------------------- flow and warping


def _dis(preset: str):
    if preset not in PRESETS:
        raise StyleTransferError(f"unknown optical-flow preset {preset!r}; use one of {', '.join(PRESETS)}")
    # Creating one costs microseconds; a fresh one per call keeps callers on several threads apart.
    return cv2.DISOpticalFlow_create(PRESETS[preset])


def estimate_flow(frame1, frame2, preset: str = "medium") -> np.ndarray:
    """Forward optical flow from ``frame1`` to ``frame2`` (OpenCV DIS on greyscale), (H, W, 2)."""
    grey1, grey2 = _grey_uint8(frame1), _grey_uint8(frame2)
    if grey1.shape != grey2.shape:
        raise ValueError(f"frames differ in size: {grey1.shape} vs {grey2.shape}")
    return _dis(preset).calc(grey1, grey2, None)


_GRIDS: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = {}


def _grid(height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    grid = _GRIDS.get((height, width))
    if grid is None:
        grid = np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32))
        if len(_GRIDS) > 8:  # a handful of video sizes at most; do not grow without bound
            _GRIDS.clear()
        _GRIDS[(height, width)] = grid
    return grid


def _maps(flow: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sampling coordinates x + u, y + v and whether they fall inside the frame."""
    height, width = flow.shape[:2]
    grid_x, grid_y = _grid(height, width)
    map_x = grid_x + flow[..., 0]
    map_y = grid_y + flow[..., 1]
    # NaN compares False, so unknown flow counts as outside the frame.
    inside = (map_x >= 0) & (map_x <= width - 1) & (map_y >= 0) & (map_y <= height - 1)
    if not np.isfinite(flow).all():
        map_x = np.nan_to_num(map_x, nan=-1.0, posinf=-1.0, neginf=-1.0)
        map_y = np.nan_to_num(map_y, nan=-1.0, posinf=-1.0, neginf=-1.0)
    return map_x, map_y, inside


def warp(image: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """Backward warp: ``out[y, x] = image[y + v, x + u]`` with bilinear sampling.

    With the forward flow from frame t to frame t+1, ``warp(frame_t1, flow)`` is frame t+1
    moved back onto frame t. Samples outside the image repeat its edge (``inside_mask`` says
    where that happened). ``image`` is HxW or HxWxC (C <= 4), any dtype OpenCV remaps.
    """
    if image.shape[:2] != flow.shape[:2]:
        raise ValueError(f"image {image.shape[:2]} and flow {flow.shape[:2]} differ in size")
    if image.dtype == np.float64:
        image = image.astype(np.float32)
    map_x, map_y, _ = _maps(flow)
    return cv2.remap(image, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def inside_mask(flow: np.ndarray) -> np.ndarray:
    """True where the flow is known and points to a place inside the frame."""
    return _maps(flow)[2]


def visibility_mask(flow_fw: np.ndarray, flow_bw: np.ndarray) -> np.ndarray:
    """True where a pixel of frame t can be trusted to reappear in frame t+1 (HxW bool).

    ``flow_fw`` goes from t to t+1, ``flow_bw`` from t+1 to t. Following Ruder et al. 2016
    and Lai et al. 2018, a pixel is dropped when forward and backward flow disagree
    (occlusion): ``|w_fw + w_bw~|^2 > 0.01 (|w_fw|^2 + |w_bw~|^2) + 0.5``, with ``w_bw~``
    the backward flow sampled where the forward flow points; or when it lies on a motion
    boundary: ``|grad u|^2 + |grad v|^2 > 0.01 |w_fw|^2 + 0.002`` (forward differences, as
    in Lai et al.'s code). Departing from both papers, pixels whose flow leaves the frame
    or is unknown are dropped too, as nothing in frame t+1 can be compared with them.
    """
    if flow_fw.shape != flow_bw.shape:
        raise ValueError(f"forward {flow_fw.shape} and backward {flow_bw.shape} flows differ in size")
    bw_warped = warp(flow_bw, flow_fw)
    fw_mag = (flow_fw**2).sum(axis=2)
    bw_mag = (bw_warped**2).sum(axis=2)
    mismatch = ((flow_fw + bw_warped) ** 2).sum(axis=2)
    consistent = mismatch <= 0.01 * (fw_mag + bw_mag) + 0.5

    grad = np.zeros(flow_fw.shape[:2], np.float32)
    dx = flow_fw[:, :-1] - flow_fw[:, 1:]
    dy = flow_fw[:-1] - flow_fw[1:]
    grad[:, :-1] += (dx**2).sum(axis=2)
    grad[:-1] += (dy**2).sum(axis=2)
    smooth = grad <= 0.01 * fw_mag + 0.002

    # NaN fails every comparison above, so unknown flow is already dropped.
    return consistent & smooth & inside_mask(flow_fw)


def endpoint_error(flow: np.ndarray, reference: np.ndarray) -> float:
    """Mean endpoint error (pixels) of ``flow`` against ``reference`` where the reference is known."""
    known = np.isfinite(reference).all(axis=2)
    if not known.any():
        raise ValueError("the reference flow has no known pixels")
    return float(np.sqrt(((flow[known] - reference[known]) ** 2).sum(axis=1)).mean())


# ---------------------------------------------------------------- warping error


@dataclass(frozen=True)
class PairFlow:
    """What the warping error needs from one pair of consecutive input frames t, t+1."""

    flow: np.ndarray  # (H, W, 2) forward flow t -> t+1
    mask: np.ndarray  # (H, W) bool, visibility_mask: pixels that count


def pair_flow(frame, next_frame, preset: str = "medium") -> PairFlow:
    flow_fw = estimate_flow(frame, next_frame, preset)
    flow_bw = estimate_flow(next_frame, frame, preset)
    return PairFlow(flow_fw, visibility_mask(flow_fw, flow_bw))


def video_flows(inputs, preset: str = "medium") -> list[PairFlow]:
    """Flows and masks for every consecutive pair of input frames (reuse them to compare
    several stylisations of one clip: the flow is the expensive part)."""
    frames = list(inputs)
    return [pair_flow(a, b, preset) for a, b in zip(frames, frames[1:])]


def pair_warping_error(styled, next_styled, pair: PairFlow) -> float:
    """Masked mean squared difference between stylised frame t and frame t+1 warped onto t.

    Averaged over the masked pixels and the three channels, as in Lai et al.'s evaluation
    code; when no pixel is visible it falls back, as theirs does, to all pixels.
    """
    styled, next_styled = to_float(styled), to_float(next_styled)
    if styled.shape[:2] != pair.flow.shape[:2] or next_styled.shape != styled.shape:
        raise ValueError(
            f"stylised frames {styled.shape}, {next_styled.shape} do not match the flow {pair.flow.shape}"
        )
    squared = (warp(next_styled, pair.flow) - styled) ** 2
    mask = pair.mask if pair.mask.any() else np.ones_like(pair.mask)
    return float(squared[mask].mean())


def warping_error(inputs, stylised, *, preset: str = "medium", flows: list[PairFlow] | None = None) -> float:
    """E_warp of a stylised video (Lai et al. 2018): the mean over consecutive pairs of
    ``pair_warping_error``, with flow and occlusion taken from the INPUT frames.

    The paper used FlowNet2 flow; here it is OpenCV DIS (``preset``), so absolute values are
    comparable only with numbers measured the same way. Pass ``flows`` (from ``video_flows``)
    to skip the flow computation. RGB in [0, 1]. Blur also lowers E_warp: report
    ``contrast`` beside it.
    """
    styled = list(stylised)
    if flows is None:
        frames = list(inputs)
        if len(frames) != len(styled):
            raise ValueError(f"{len(frames)} input frames but {len(styled)} stylised frames")
        flows = video_flows(frames, preset)
    if len(flows) != len(styled) - 1:
        raise ValueError(f"{len(flows)} flows for {len(styled)} stylised frames (need one per consecutive pair)")
    if not flows:
        raise ValueError("the warping error needs at least two frames")
    return float(np.mean([pair_warping_error(a, b, pair) for a, b, pair in zip(styled, styled[1:], flows)]))


def contrast(frames) -> float:
    """Mean over frames of each frame's standard deviation (all pixels and channels, [0, 1])."""
    stds = [float(to_float(frame).std()) for frame in frames]
    if not stds:
        raise ValueError("contrast needs at least one frame")
    return float(np.mean(stds))


# ---------------------------------------------------------------- runtime blending


@dataclass(frozen=True)
class BlendConfig:
    """Settings of ``TemporalBlender``. Defaults chosen by measurement on four shared clips
    at 640x360 with synthetic per-frame flicker: E_warp fell 5-9x (2x on a clip with cuts),
    contrast moved < 3%. A forward-backward check in place of the photometric confidence
    cost twice as much and left more flicker and more ghosting; flow at full width instead
    of 320 px gained little; "fast" no better than "ultrafast" here. Normal motion left at
    most 63% of pixels unconfident (a 10 fps pan), real cuts and unrelated photos >= 85%."""

    preset: str = "ultrafast"  # DIS preset for the per-frame flow
    strength: float = 0.7  # weight of the warped previous output where the flow is trusted
    flow_width: int = 320  # flow is computed on greyscale input scaled down to this width (0: full size)
    tolerance: float = 0.06  # grey-level error (0..1) at which a pixel's confidence reaches 0
    cut_threshold: float = 0.75  # share of unconfident pixels above which a frame is a scene cut

    def __post_init__(self):
        if self.preset not in PRESETS:
            raise StyleTransferError(f"unknown optical-flow preset {self.preset!r}; use one of {', '.join(PRESETS)}")
        if not 0.0 <= self.strength < 1.0:
            raise StyleTransferError(f"blend strength must be in [0, 1), got {self.strength}")
        if self.tolerance <= 0:
            raise StyleTransferError(f"blend tolerance must be positive, got {self.tolerance}")
        if not 0.0 < self.cut_threshold <= 1.0:
            raise StyleTransferError(f"cut threshold must be in (0, 1], got {self.cut_threshold}")
        if self.flow_width < 0:
            raise StyleTransferError(f"flow width must be >= 0, got {self.flow_width}")


class TemporalBlender:
    """Steadies a stylised video frame by frame: ``out = blender(input_frame, stylised_frame)``.

    Each output is the stylised frame blended with the previous OUTPUT, warped along the
    optical flow of the input frames (an exponential moving average that follows motion):
    ``out_t = (1 - s c) * stylised_t + s c * warp(out_{t-1})`` with strength ``s`` and a
    per-pixel confidence ``c`` in [0, 1] that falls to 0 where the previous input, warped
    the same way, does not match the current input (occlusions, flow errors, new content).
    This photometric check costs one small warp instead of the second (backward) flow a
    forward-backward check needs. When most of the frame is unconfident (a scene cut), or
    the frame size changes, the blender starts afresh and returns the stylised frame.

    Frames are HxWx3 RGB, uint8 or float in [0, 1]; the output has the stylised frame's
    dtype. The input and stylised frames may differ in size (same aspect ratio): flow is
    computed on the input and scaled to the stylised frame. Not thread-safe: one blender
    per video stream.
    """

    def __init__(self, config: BlendConfig | None = None, **options):
        self.config = replace(config or BlendConfig(), **options)  # replace() re-runs the checks
        self.reset()

    def reset(self) -> None:
        """Forget the previous frame: the next output is its stylised frame unchanged."""
        self._prev_grey: np.ndarray | None = None  # small greyscale input, uint8
        self._prev_out: np.ndarray | None = None  # float32 HxWx3 output
        self._sizes: tuple | None = None
        self.last_was_cut = False  # for callers and tests: did the last call start afresh?

    def _small_grey(self, frame: np.ndarray) -> np.ndarray:
        grey = _grey_uint8(frame)
        width = self.config.flow_width
        if width and grey.shape[1] > width:
            height = max(8, round(grey.shape[0] * width / grey.shape[1]))
            grey = cv2.resize(grey, (width, height), interpolation=cv2.INTER_AREA)
        return grey

    def __call__(self, frame, stylised) -> np.ndarray:
        frame, stylised = np.asarray(frame), np.asarray(stylised)
        for name, image in (("input", frame), ("stylised", stylised)):
            if image.ndim != 3 or image.shape[2] != 3:
                raise ValueError(f"{name} frame must be HxWx3 RGB, got shape {image.shape}")
        styled = to_float(stylised)
        grey = self._small_grey(frame)
        sizes = (frame.shape, stylised.shape)

        blended = None
        if self._prev_out is not None and sizes == self._sizes:
            blended = self._blend(grey, styled)
        self.last_was_cut = blended is None
        out = styled.copy() if blended is None else blended

        self._prev_grey, self._prev_out, self._sizes = grey, out, sizes
        if stylised.dtype == np.uint8:
            # out blends uint8-derived values, so it lies in [0, 1] and abs() does nothing;
            # convertScaleAbs rounds and saturates 5x faster than numpy.
            return cv2.convertScaleAbs(out, alpha=255.0)
        return out.copy()  # the caller may modify its frame; keep ours

    def _blend(self, grey: np.ndarray, styled: np.ndarray) -> np.ndarray | None:
        config = self.config
        # Backward flow: where each pixel of this frame was in the previous one.
        flow = _dis(config.preset).calc(grey, self._prev_grey, None)
        map_x, map_y, inside = _maps(flow)
        warped_grey = cv2.remap(self._prev_grey, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        error = cv2.absdiff(grey, warped_grey).astype(np.float32) / 255.0
        # A 3x3 box keeps single noisy pixels from punching holes in the confidence.
        error = cv2.blur(error, (3, 3))
        confidence = np.clip(1.0 - error / config.tolerance, 0.0, 1.0) * inside
        if (confidence < 0.5).mean() > config.cut_threshold:
            return None

        height, width = styled.shape[:2]
        if flow.shape[:2] != (height, width):
            sx, sy = width / flow.shape[1], height / flow.shape[0]
            flow = cv2.resize(flow, (width, height), interpolation=cv2.INTER_LINEAR)
            flow[..., 0] *= sx
            flow[..., 1] *= sy
            confidence = cv2.resize(confidence, (width, height), interpolation=cv2.INTER_LINEAR)
        warped = warp(self._prev_out, flow)
        weight = (config.strength * confidence).astype(np.float32)
        # One pass instead of numpy's temporaries (0.3 vs 0.9 ms at 640x360).
        return cv2.blendLinear(styled, warped, 1.0 - weight, weight)
