"""Optical flow and warping of video frames (OpenCV DIS), shared by the runtime blender
(video/blend.py) and the measurements (metrics.py).

Frames are numpy arrays, HxWx3 RGB, uint8 or float in [0, 1]. Flows are HxWx2 float32
arrays (u, v) in pixels, in the convention of Middlebury's ``.flo`` files: the forward flow
``w`` from frame 1 to frame 2 says that ``frame1[y, x]`` is seen at ``frame2[y + v, x + u]``,
so ``warp(frame2, w)`` lines frame 2 up with frame 1.
"""

from __future__ import annotations

import cv2
import numpy as np

from styletransfer.errors import StyleTransferError

# name: (OpenCV's DIS preset, its settings changed here)
PRESETS = {
    "ultrafast": (cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST, {}),
    "fast": (cv2.DISOPTICAL_FLOW_PRESET_FAST, {}),
    "medium": (cv2.DISOPTICAL_FLOW_PRESET_MEDIUM, {}),
    # medium made lean for full-size video frames: a patch every 4 px instead of 3, and 8
    # gradient-descent steps instead of 25. On Middlebury's eight pairs with ground truth
    # (~600 px wide) its end-point error is 0.57 px against medium's 0.60, in 20 ms against 28
    # (one thread); at 320 px 0.72 against 0.71, in 5 ms against 7.
    "lean": (cv2.DISOPTICAL_FLOW_PRESET_MEDIUM, {"PatchStride": 4, "GradientDescentIterations": 8}),
}


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


def grey_uint8(frame) -> np.ndarray:
    """DIS works on 8-bit greyscale."""
    frame = np.asarray(frame)
    if frame.dtype != np.uint8:
        frame = (to_float(frame) * 255.0 + 0.5).clip(0, 255).astype(np.uint8)
    if frame.ndim == 2:
        return frame
    return cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)


# ---------------------------------------------------------------- flow and warping


def dis(preset: str):
    if preset not in PRESETS:
        raise StyleTransferError(f"unknown optical-flow preset {preset!r}; use one of {', '.join(PRESETS)}")
    # Creating one costs microseconds; a fresh one per call keeps callers on several threads apart.
    base, settings = PRESETS[preset]
    flow = cv2.DISOpticalFlow_create(base)
    for name, value in settings.items():
        getattr(flow, f"set{name}")(value)
    return flow


def estimate_flow(frame1, frame2, preset: str = "medium") -> np.ndarray:
    """Forward optical flow from ``frame1`` to ``frame2`` (OpenCV DIS on greyscale), (H, W, 2)."""
    grey1, grey2 = grey_uint8(frame1), grey_uint8(frame2)
    if grey1.shape != grey2.shape:
        raise ValueError(f"frames differ in size: {grey1.shape} vs {grey2.shape}")
    return dis(preset).calc(grey1, grey2, None)


_GRIDS: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = {}


def _grid(height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    grid = _GRIDS.get((height, width))
    if grid is None:
        grid = np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32))
        if len(_GRIDS) > 8:  # a handful of video sizes at most; do not grow without bound
            _GRIDS.clear()
        _GRIDS[(height, width)] = grid
    return grid


def maps(flow: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
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
    map_x, map_y, _ = maps(flow)
    return cv2.remap(image, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def inside_mask(flow: np.ndarray) -> np.ndarray:
    """True where the flow is known and points to a place inside the frame."""
    return maps(flow)[2]
