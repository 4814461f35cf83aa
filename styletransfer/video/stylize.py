"""The video loop: every frame of a file through a network, steadied, into an .mp4 with the
input's sound. The CLI's ``video`` command and the app's Video tab both run ``stylize_video``.

``check()`` first: it is cheap (output path, dials, the input's streams, the output size), so
a bad file fails in one line before a network is loaded. Frames stream through (decode ->
network -> blender -> encode, io/media.py at both ends; decoding, and blending with encoding,
in threads of their own, a few frames ahead and behind), so memory stays bounded however
long the clip is.
Nothing here prints: progress goes to ``callback(VideoProgress(...))``.
"""

from __future__ import annotations

import collections
import contextlib
import time
from collections.abc import Callable, Generator, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np

from styletransfer import dials
from styletransfer.errors import StyleTransferError
from styletransfer.io import media
from styletransfer.networks.network import Network, check_strength

FrameFn = Callable[[np.ndarray], np.ndarray]
"""(B, H, W, 3) uint8 RGB -> the same shape: the stylization of a batch of frames
(networks.Network.stylize is one)."""

PostProcess = Callable[[np.ndarray, np.ndarray], np.ndarray]
"""(input frame, stylized frame) -> output frame; all HxWx3 uint8 RGB, called in order.
The hook for temporal processing (video.blend.TemporalBlender); it may keep state."""


class Finisher(Protocol):
    """The hook for temporal processing that may hold frames back (video.blend.TwoWayBlender):
    ``push`` takes each frame in order and returns the output frames finished so far, oldest
    first; ``flush`` returns the rest at the end. A PostProcess is one that holds none."""

    def push(self, frame: np.ndarray, stylized: np.ndarray, prepared) -> list[np.ndarray]: ...

    def flush(self) -> list[np.ndarray]: ...


@dataclass(frozen=True)
class VideoProgress:
    """Sent to the callback after each frame is painted by the network; every frame painted
    is written (a Stop too keeps them), a few frames later (the blend holds up to 24)."""

    frames_done: int
    total_frames: int | None  # None when the container does not say
    fps: float  # frames processed per second of wall-clock time, so far
    seconds_left: float | None  # None while the total is unknown
    elapsed: float  # seconds since the run started
    frame: np.ndarray | None = field(default=None, repr=False)  # the frame just painted, HxWx3 uint8


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
    """The input broke off early; what could be decoded was saved.

    ``result`` describes the (shorter) output file that was written anyway.
    """

    def __init__(self, message: str, result: VideoResult):
        super().__init__(message)
        self.result = result


def check(
    src, dst, *, strength: float = dials.STYLE_MIX.default, scale: float = dials.VIDEO_SCALE.default, page: bool = False
) -> media.VideoInfo:
    """Raise StyleTransferError now for anything that would make the run fail; returns the input's info.

    strength, scale: numbers, or numbers in text (a form, a client); ``page``: the hosted
    page's ranges (dials.VIDEO_SCALE)."""
    media.check_output_path(dst, src)
    check_strength(strength)
    scale = dials.VIDEO_SCALE.check(scale, page=page)
    info = media.probe(src)
    media.output_size(info, scale, Path(src).name)
    return info


def temporal_options(mode: str) -> dict[str, bool]:
    """stylize_video's ``temporal`` and ``grid_average`` for one of dials.TEMPORAL's modes."""
    mode = dials.TEMPORAL.check(mode)
    return {"temporal": mode != "off", "grid_average": mode == "steady"}


def stylize_video(
    src,
    dst,
    network: Network,
    *,
    strength: float = dials.STYLE_MIX.default,
    keep_colors: bool = False,
    temporal: bool = True,
    grid_average: bool = False,
    scale: float = dials.VIDEO_SCALE.default,
    callback: Callable[[VideoProgress], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    batch_size: int | None = None,
) -> VideoResult:
    """Stylize ``src`` with ``network`` into the .mp4 ``dst``.

    temporal: blend each frame along the optical flow with the frames before and after it
    (video.blend.TwoWayBlender), which removes most of the flicker of per-frame stylization;
    frames are then written a block at a time (16, once 8 more have been painted).
    grid_average: Network.stylize's, steadier again on slow pans for 4x the network's time.
    batch_size: frames per network call (default: the network's batch_size, 8 on a GPU, else
    1); the blender still sees them one by one, in order. The rest as in process_video.
    """
    strength = check_strength(strength)
    scale = dials.VIDEO_SCALE.check(scale)
    prepare = finisher = None
    if temporal:
        from styletransfer.video.blend import TwoWayBlender  # OpenCV's flow loads only when used

        # A file can wait for the frames after each one: blended with its past and its future.
        blender = TwoWayBlender()
        # The optical flow needs only the input frames: it is computed ahead, in the decoding
        # thread, beside the network; the blend follows the network's output, in the
        # encoding thread, also beside the network.
        prepare = blender.motion
        finisher = _Blending(blender)

    return process_video(
        src,
        dst,
        lambda frames: network.stylize(frames, strength=strength, keep_colors=keep_colors, grid_average=grid_average),
        scale=scale,
        prepare=prepare,
        postprocess=finisher,
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
    postprocess: PostProcess | Finisher | None = None,
    prepare: Callable[[np.ndarray], object] | None = None,
    callback: Callable[[VideoProgress], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    batch_size: int = 1,
) -> VideoResult:
    """Run every frame of ``src`` through ``frame_fn`` and write an H.264 .mp4 to ``dst``.

    frame_fn: (B, H, W, 3) uint8 -> the same shape. Frames arrive upright (rotation metadata
    applied), in display order, ``batch_size`` at a time (fewer at the end): a GPU runs a
    batch in about the time of one frame, a CPU gains nothing from it.
    scale: output size relative to the input's displayed size (e.g. 0.5 for half).
    postprocess: optional (input, stylized) -> frame, all HxWx3 uint8 RGB, called in order;
    or a Finisher, which may hold frames back (each output frame still goes out with the
    timing of its own input frame).
    prepare: optional input frame -> anything, called in order in the decoding thread, ahead
    of the network (work that needs only the input, like optical flow); its result is handed
    to postprocess as a third argument: postprocess(input, stylized, prepared).
    callback: called after the network paints each frame, in order.
    should_stop: polled before each frame; when it returns True the file is finished with
    the frames done so far (audio cut to match) and the result says ``stopped``.

    frame_fn, callback and should_stop run on the calling thread. Decoding (with prepare) and
    postprocess with encoding run in a thread each, a few frames ahead and behind (PyAV and
    OpenCV release the GIL while they work), so they overlap the network instead of adding
    to its time. Every frame painted is written, after Stop too, a few frames later.

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
    depth = 2 * batch_size  # frames queued each side: the batch being worked on and the next
    done = 0
    stopped = False

    def report(painted: np.ndarray) -> None:
        nonlocal done
        done += 1
        if callback is not None:
            callback(_progress(done, reader.total, started, painted))

    with (
        media.VideoReader(src, scale) as reader,
        _Encoder(reader, dst, depth, postprocess, prepare is not None) as encoder,
    ):
        with _read_ahead(_prepared(reader.pictures(), prepare), depth) as pictures:
            for batch in _batches(pictures, batch_size, should_stop):
                if batch is None:
                    stopped = True
                    break
                for (picture, prepared), styled in zip(batch, _stylized(batch, frame_fn)):
                    encoder.write(picture, styled, prepared)
                    report(styled)
        encoder.drain()  # every frame painted is written, the ones a finisher held too
        # Decoding has ended: the reader's audio queue is complete (or, after Stop, cut below).
        if encoder.writer is None:
            raise _nothing_written(src, reader, stopped)
        truncated = not stopped and reader.ends_early(done)
        # The video ended early (stop, or the file broke off): cut the audio to match.
        # Otherwise copy all of it, even where it runs a little past the last frame.
        writer = encoder.finish(cut_audio=stopped or truncated)
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
        of = f" of {reader.total}" if reader.total and reader.total > done else ""
        raise DamagedVideoError(
            f"{src.name}: kept {done}{of} frames: the file ends early; they were saved to {dst}", result
        )
    return result


def _prepared(pictures: Generator, prepare) -> Generator:
    """(picture, prepare(its frame) or None) for each picture, in order."""
    try:
        for picture in pictures:
            yield picture, prepare(picture.rgb) if prepare is not None else None
    finally:
        pictures.close()  # now, not when collected: the reader closes the file next


def _batches(pictures: Iterator[tuple], size: int, should_stop) -> Iterator[list[tuple] | None]:
    """Lists of ``size`` (picture, prepared) pairs (the last may be shorter); None once
    should_stop() says so (polled before each picture; the batch begun is dropped with the rest)."""
    batch = []
    for picture in pictures:
        if should_stop is not None and should_stop():
            yield None
            return
        batch.append(picture)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _stylized(batch: list[tuple], frame_fn: FrameFn) -> np.ndarray:
    """frame_fn's (B, H, W, 3) output for the frames of a batch of (picture, prepared) pairs."""
    frames = np.stack([picture.rgb for picture, _ in batch])
    return _check_frames(frame_fn(frames), frames.shape, "frame_fn")


def _progress(done: int, total: int | None, started: float, frame: np.ndarray) -> VideoProgress:
    elapsed = time.perf_counter() - started
    speed = done / elapsed if elapsed > 0 else 0.0
    left = max(total - done, 0) / speed if total and speed > 0 else None
    return VideoProgress(done, total, speed, left, elapsed, frame)


def _nothing_written(src: Path, reader: media.VideoReader, stopped: bool) -> StyleTransferError:
    if stopped:
        return StyleTransferError(f"stopped before the first frame of {src.name}; nothing was saved")
    if reader.damage.count:
        return StyleTransferError(
            f"{src.name} is damaged: none of its video frames could be decoded; re-export or re-download it"
        )
    return media.no_frames(src)


@contextlib.contextmanager
def _read_ahead(items: Generator, depth: int) -> Iterator[Iterator]:
    """``items`` advanced in a thread of its own, up to ``depth`` items ahead of the caller,
    in order; an exception raised there is raised in the caller, at the item it replaced.
    On leaving, the items not yet read are dropped and the thread has ended."""
    end = object()
    thread = ThreadPoolExecutor(1, thread_name_prefix="video-decode")
    ahead = collections.deque(thread.submit(next, items, end) for _ in range(depth))

    def read() -> Iterator:
        while (item := ahead.popleft().result()) is not end:
            ahead.append(thread.submit(next, items, end))
            yield item

    try:
        yield read()
    finally:
        for future in ahead:
            future.cancel()
        thread.shutdown(wait=True)  # the item being made is finished first
        items.close()  # here and now, not when collected: the reader closes the file next


class _Encoder:
    """The output file, written in a thread of its own, in order, at most ``depth`` frames
    behind the caller. Each frame is finished there too: ``postprocess`` (the temporal blend,
    3-6 ms a frame at 640x360) runs beside the network instead of between its calls; a
    Finisher may hold frames back, and the frames it returns are written with their own input
    frames' timing. Exceptions there are raised in the caller at a later ``write``, at
    ``drain`` or at ``finish``. The writer opens on the first frame, so bad input leaves no
    file; an exception that leaves the ``with`` block discards the file."""

    def __init__(self, reader: media.VideoReader, dst: Path, depth: int, postprocess=None, prepared_too=False):
        self.reader, self.dst, self.depth = reader, dst, depth
        if postprocess is not None and not hasattr(postprocess, "push"):
            postprocess = _OneByOne(postprocess, prepared_too)
        self.finisher: Finisher | None = postprocess
        self.writer: media.VideoWriter | None = None
        self.pending: collections.deque[Future] = collections.deque()
        self.waiting: collections.deque[tuple] = collections.deque()  # (pts, duration, time_base) of frames not written

    def __enter__(self) -> _Encoder:
        self.thread = ThreadPoolExecutor(1, thread_name_prefix="video-encode")
        return self

    def write(self, picture: media.Picture, styled: np.ndarray, prepared) -> None:
        """Queue one stylized frame (waits while ``depth`` frames are queued)."""
        if self.writer is None:
            self.writer = self.reader.writer(self.dst, styled.shape[1], styled.shape[0])
        # A copy: it is used later, while frame_fn may reuse or change its output array.
        self.pending.append(self.thread.submit(self._write, picture, styled.copy(), prepared))
        while self.pending and (len(self.pending) > self.depth or self.pending[0].done()):
            self.pending.popleft().result()  # raises here what went wrong there

    def drain(self) -> None:
        """Wait for the frames still queued, and have the finisher finish those it holds."""
        while self.pending:
            self.pending.popleft().result()
        if self.finisher is not None and self.writer is not None:  # a second flush finds nothing held
            self.thread.submit(lambda: self._encode(self.finisher.flush())).result()

    def _write(self, picture: media.Picture, styled: np.ndarray, prepared) -> None:
        self.waiting.append((picture.pts, picture.duration, picture.time_base))  # the frame may be held
        self._encode([styled] if self.finisher is None else self.finisher.push(picture.rgb, styled, prepared))

    def _encode(self, frames: list[np.ndarray]) -> None:
        """Write ``frames``, each with the timing of the oldest input frame waiting."""
        shape = (self.writer.height, self.writer.width, 3)
        for out in frames:
            pts, duration, time_base = self.waiting.popleft()
            out = np.ascontiguousarray(_check_frames(out, shape, "postprocess"))
            end = self.writer.write_video(out, pts, duration, time_base)
            self.writer.release_audio(self.reader.pending_audio, until=end)

    def finish(self, *, cut_audio: bool) -> media.VideoWriter:
        """Write the frames still queued and the audio (up to the last frame if
        ``cut_audio``), and close the file."""
        self.drain()
        self.writer.release_audio(self.reader.pending_audio, until=self.writer.video_end if cut_audio else None)
        self.writer.finish()
        return self.writer

    def __exit__(self, kind, error, trace) -> None:
        for future in self.pending:
            future.cancel()
        self.thread.shutdown(wait=True)  # before abort(): the thread may be writing
        if kind is not None and self.writer is not None:
            self.writer.abort()


class _OneByOne:
    """A PostProcess as a Finisher that holds no frame."""

    def __init__(self, postprocess: Callable, prepared_too: bool):
        self.postprocess, self.prepared_too = postprocess, prepared_too

    def push(self, frame, stylized, prepared) -> list[np.ndarray]:
        extra = (prepared,) if self.prepared_too else ()
        return [self.postprocess(frame, stylized, *extra)]

    def flush(self) -> list[np.ndarray]:
        return []


class _Blending:
    """The two-way blend (video.blend.TwoWayBlender) as a Finisher: ``prepared`` is the frame's motion."""

    def __init__(self, blender):
        self.blender = blender

    def push(self, frame, stylized, motion) -> list[np.ndarray]:
        return self.blender.push(motion, stylized)

    def flush(self) -> list[np.ndarray]:
        return self.blender.flush()


def _check_frames(value, shape, what: str) -> np.ndarray:
    if not isinstance(value, np.ndarray) or value.shape != shape or value.dtype != np.uint8:
        got = (value.shape, value.dtype) if isinstance(value, np.ndarray) else type(value).__name__
        raise ValueError(f"{what} must return a uint8 array of shape {shape}, got {got}")
    return value
