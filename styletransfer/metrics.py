"""Measurements of video stylization, for benchmarks and tests (never on the runtime path):
the warping error E_warp of Lai et al. 2018 ("Learning Blind Video Temporal Consistency")
with its occlusion masks, contrast, fine detail, end-point error of a flow, and Middlebury ``.flo`` files.

Frames and flows as in video/flow.py; metrics also take engine tensors (1, 3, H, W).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from styletransfer.errors import StyleTransferError
from styletransfer.video.flow import estimate_flow, inside_mask, to_float, warp

FLO_MAGIC = 202021.25  # b"PIEH" read as a little-endian float32
UNKNOWN_FLOW = 1e9  # Middlebury marks pixels without ground truth with values above this

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


# A pair of frames where less than this share of pixels can be followed is a scene cut: no
# pixel of one frame reappears in the other (street_bikes.mp4's cut leaves 0.000; the shared
# clips' real motion leaves 0.7 and more). Lai et al.'s clips have no cuts, and their fallback
# to all pixels there would turn one cut into the clip's whole warping error (150x its other
# pairs on street_bikes).
CUT_VISIBLE = 0.1


@dataclass(frozen=True)
class PairFlow:
    """What the warping error needs from one pair of consecutive input frames t, t+1."""

    flow: np.ndarray  # (H, W, 2) forward flow t -> t+1
    mask: np.ndarray  # (H, W) bool, visibility_mask: pixels that count

    @property
    def is_cut(self) -> bool:
        return float(self.mask.mean()) < CUT_VISIBLE


def pair_flow(frame, next_frame, preset: str = "medium") -> PairFlow:
    flow_fw = estimate_flow(frame, next_frame, preset)
    flow_bw = estimate_flow(next_frame, frame, preset)
    return PairFlow(flow_fw, visibility_mask(flow_fw, flow_bw))


def video_flows(inputs, preset: str = "medium") -> list[PairFlow]:
    """Flows and masks for every consecutive pair of input frames (reuse them to compare
    several stylizations of one clip: the flow is the expensive part)."""
    frames = list(inputs)
    return [pair_flow(a, b, preset) for a, b in zip(frames, frames[1:])]


def pair_warping_error(styled, next_styled, pair: PairFlow) -> float:
    """Masked mean squared difference between stylized frame t and frame t+1 warped onto t.

    Averaged over the masked pixels and the three channels, as in Lai et al.'s evaluation
    code; when no pixel is visible it falls back, as theirs does, to all pixels.
    """
    styled, next_styled = to_float(styled), to_float(next_styled)
    if styled.shape[:2] != pair.flow.shape[:2] or next_styled.shape != styled.shape:
        raise ValueError(f"stylized frames {styled.shape}, {next_styled.shape} do not match the flow {pair.flow.shape}")
    squared = (warp(next_styled, pair.flow) - styled) ** 2
    mask = pair.mask if pair.mask.any() else np.ones_like(pair.mask)
    return float(squared[mask].mean())


def warping_error(inputs, stylized, *, preset: str = "medium", flows: list[PairFlow] | None = None) -> float:
    """E_warp of a stylized video (Lai et al. 2018): the mean over consecutive pairs of
    ``pair_warping_error``, with flow and occlusion taken from the INPUT frames. Pairs across
    a scene cut (PairFlow.is_cut) do not count: there is nothing to be steady with.

    The paper used FlowNet2 flow; here it is OpenCV DIS (``preset``), so absolute values are
    comparable only with numbers measured the same way. Pass ``flows`` (from ``video_flows``)
    to skip the flow computation. RGB in [0, 1]. Blur also lowers E_warp: report
    ``contrast`` beside it.
    """
    styled = list(stylized)
    if flows is None:
        frames = list(inputs)
        if len(frames) != len(styled):
            raise ValueError(f"{len(frames)} input frames but {len(styled)} stylized frames")
        flows = video_flows(frames, preset)
    if len(flows) != len(styled) - 1:
        raise ValueError(f"{len(flows)} flows for {len(styled)} stylized frames (need one per consecutive pair)")
    if not flows:
        raise ValueError("the warping error needs at least two frames")
    errors = [pair_warping_error(a, b, pair) for a, b, pair in zip(styled, styled[1:], flows) if not pair.is_cut]
    if not errors:
        raise ValueError("every pair of frames is a scene cut: no warping error to measure")
    return float(np.mean(errors))


def detail(frames, sigma: float = 2.0) -> float:
    """Mean over frames of each frame's fine detail: the mean square of the frame minus its
    Gaussian blur of ``sigma`` px (strokes finer than about 2 sigma; RGB, [0, 1]).

    Contrast (the whole frame's std) hardly sees a blend that averages the finest strokes
    away, since the broad colour areas carry most of the variance; this does."""
    energies = []
    for frame in frames:
        image = to_float(frame)
        energies.append(float(np.mean((image - cv2.GaussianBlur(image, (0, 0), sigma)) ** 2)))
    if not energies:
        raise ValueError("detail needs at least one frame")
    return float(np.mean(energies))


def contrast(frames) -> float:
    """Mean over frames of each frame's standard deviation (all pixels and channels, [0, 1])."""
    stds = [float(to_float(frame).std()) for frame in frames]
    if not stds:
        raise ValueError("contrast needs at least one frame")
    return float(np.mean(stds))
