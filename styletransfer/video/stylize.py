"""The video loop: every frame of a file through a network, steadied, into an .mp4 with the
input's sound. The CLI's ``video`` command and the app's Video tab both run ``stylize_video``.

``check()`` first: it is cheap (output path, dials, the input's streams, the output size), so
a bad file fails in one line before a network is loaded. Frames stream through (decode ->
network -> blender -> encode, io/media.py at both ends), so memory stays bounded however
long the clip is. Nothing here prints: progress goes to ``callback(VideoProgress(...))``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from styletransfer.errors import StyleTransferError
from styletransfer.io import media
from styletransfer.networks.network import DEFAULT_STRENGTH, Network, check_strength

FrameFn = Callable[[np.ndarray], np.ndarray]
"""(B, H, W, 3) uint8 RGB -> the same shape: the stylization of a batch of frames
(networks.Network.stylize is one)."""

PostProcess = Callable[[np.ndarray, np.ndarray], np.ndarray]
"""(input frame, stylized frame) -> output frame; all HxWx3 uint8 RGB, called in order.
The hook for temporal processing (video.blend.TemporalBlender); it may keep state."""


@dataclass(frozen=True)
class VideoProgress:
    """Sent to the callback after each frame is encoded."""

    frames_done: int
    total_frames: int | None  # None when the container does not say
    fps: float  # frames processed per second of wall-clock time, so far
    seconds_left: float | None  # None while the total is unknown
    elapsed: float  # seconds since the run started
    frame: np.ndarray | None = field(default=None, repr=False)  # the frame just written, HxWx3 uint8


@dataclass(frozen=True)
class VideoResult:
    path: Path
    frames: int
    width: int
    height: int
    fps: float  # average frame rate of the output
    duration: float  # seconds of video written
    audio: str  # "copied", "re-encoded" or "none"
    stopped: bool  # should_stop() ended the run early
    elapsed: float  # seconds the run took
    damaged_packets: int = 0  # input packets that could not be decoded and were skipped


class DamagedVideoError(StyleTransferError):
    """The input broke off or had undecodable parts; what could be decoded was saved.

    ``result`` describes the (shorter) output file that was written anyway.
    """

    def __init__(self, message: str, result: VideoResult):
        super().__init__(message)
        self.result = result


def check(src, dst, *, strength: float = DEFAULT_STRENGTH, scale: float = 1.0) -> media.VideoInfo:
    """Raise StyleTransferError now for anything that would make the run fail; returns the input's info."""
    media.check_output_path(dst, src)
    check_strength(strength)
    info = media.probe(src)
    media.output_size(info, scale, Path(src).name)
    return info


def stylize_video(
    src,
    dst,
    network: Network,
    *,
    strength: float = DEFAULT_STRENGTH,
    keep_colors: bool = False,
    temporal: bool = True,
    scale: float = 1.0,
    callback: Callable[[VideoProgress], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    batch_size: int | None = None,
) -> VideoResult:
    """Stylize ``src`` with ``network`` into the .mp4 ``dst``.

    temporal: blend each frame with the previous output along the optical flow
    (video.blend.TemporalBlender), which removes most of the flicker of per-frame stylization.
    batch_size: frames per network call (default: the network's batch_size, 8 on a GPU, else
    1); the blender still sees them one by one, in order. The rest as in process_video.
    """
    check_strength(strength)
    blender = None
    if temporal:
        from styletransfer.video.blend import TemporalBlender  # OpenCV's flow loads only when used

        blender = TemporalBlender()
    return process_video(
        src,
        dst,
        lambda frames: network.stylize(frames, strength=strength, keep_colors=keep_colors),
        scale=scale,
        postprocess=blender,
        callback=callback,
        should_stop=should_stop,
        batch_size=batch_size if batch_size is not None else network.batch_size,
    )


def process_video(
    src,
    dst,
    frame_fn: FrameFn,
    *,
    scale: float = 1.0,
    postprocess: PostProcess | None = None,
    callback: Callable[[VideoProgress], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    batch_size: int = 1,
) -> VideoResult:
    """Run every frame of ``src`` through ``frame_fn`` and write an H.264 .mp4 to ``dst``.

    frame_fn: (B, H, W, 3) uint8 -> the same shape. Frames arrive upright (rotation metadata
    applied), in display order, ``batch_size`` at a time (fewer at the end): a GPU runs a
    batch in about the time of one frame, a CPU gains nothing from it.
    scale: output size relative to the input's displayed size (e.g. 0.5 for half).
    postprocess: optional (input, stylized) -> frame, all HxWx3 uint8 RGB, called in order.
    should_stop: polled before each frame; when it returns True the file is finished with
    the frames done so far (audio cut to match) and the result says ``stopped``.

    The output is written to a temporary file beside ``dst`` and renamed at the end, so an
    interrupted run never leaves a half file under the real name. Raises
    StyleTransferError for unreadable input; DamagedVideoError (a StyleTransferError)
    after saving what could be decoded from a truncated or damaged file.
    """
    src = Path(src)
    dst = media.check_output_path(dst, src)
    media.check_scale(scale)
    if not isinstance(batch_size, int) or batch_size < 1:
        raise StyleTransferError(f"batch size must be a whole number >= 1, got {batch_size}")
    started = time.perf_counter()
    with media.VideoReader(src, scale) as reader:
        writer: media.VideoWriter | None = None
        stopped = False
        done = 0
        waiting: list[media.Picture] = []  # decoded, not yet through the network

        def run_batch() -> None:
            """The waiting pictures through frame_fn and postprocess, into the file, in order."""
            nonlocal writer, done
            if not waiting:
                return
            batch = np.stack([p.rgb for p in waiting])  # (B, H, W, 3)
            styled = _check_frames(frame_fn(batch), batch.shape, "frame_fn")
            for picture, out in zip(waiting, styled):
                if postprocess is not None:
                    out = _check_frames(postprocess(picture.rgb, out), picture.rgb.shape, "postprocess")
                out = np.ascontiguousarray(out)
                if writer is None:  # opened on the first good frame: bad input leaves no file
                    writer = reader.writer(dst, out.shape[1], out.shape[0])
                end = writer.write_video(out, picture.pts, picture.duration, picture.time_base)
                writer.release_audio(reader.pending_audio, until=end)
                done += 1
                if callback is not None:
                    elapsed = time.perf_counter() - started
                    speed = done / elapsed if elapsed > 0 else 0.0
                    left = max(reader.total - done, 0) / speed if reader.total and speed > 0 else None
                    callback(VideoProgress(done, reader.total, speed, left, elapsed, out))
            waiting.clear()

        try:
            for picture in reader.pictures():
                if should_stop is not None and should_stop():
                    stopped = True
                    break
                waiting.append(picture)
                if len(waiting) == batch_size:
                    run_batch()
            if not stopped:
                run_batch()  # the last, shorter batch (after Stop, the decoded rest is dropped)
            if writer is None:
                if stopped:
                    raise StyleTransferError(f"stopped before the first frame of {src.name}; nothing was saved")
                if reader.damage.count:
                    raise StyleTransferError(
                        f"{src.name} is damaged: none of its video frames could be decoded; re-export or re-download it"
                    )
                raise media.no_frames(src)
            # Fewer frames than the index lists (beyond what an edit list can trim): the file
            # breaks off. Containers without an index (declared None) cannot tell.
            declared = reader.declared
            truncated = not stopped and declared is not None and done < declared - max(2, declared // 50)
            # The video ended early (stop, or the file broke off): cut the audio to match.
            # Otherwise copy all of it, even where it runs a little past the last frame.
            writer.release_audio(reader.pending_audio, until=writer.video_end if stopped or truncated else None)
            writer.finish()
        except BaseException:
            if writer is not None:
                writer.abort()
            raise
    result = VideoResult(
        path=dst,
        frames=done,
        width=writer.width,
        height=writer.height,
        fps=reader.fps,
        duration=writer.video_seconds,
        audio=writer.audio_mode,
        stopped=stopped,
        elapsed=time.perf_counter() - started,
        damaged_packets=reader.damage.count,
    )
    if truncated:
        raise DamagedVideoError(
            f"{src.name} is truncated or damaged: only {done} of {declared} frames could be decoded; "
            f"those were saved to {dst}",
            result,
        )
    return result


def _check_frames(value, shape, what: str) -> np.ndarray:
    if not isinstance(value, np.ndarray) or value.shape != shape or value.dtype != np.uint8:
        got = (value.shape, value.dtype) if isinstance(value, np.ndarray) else type(value).__name__
        raise ValueError(f"{what} must return a uint8 array of shape {shape}, got {got}")
    return value
