"""Video files: decode -> stylize -> encode with PyAV, audio copied, timing and orientation kept.

Clips are short: trimmed from the shared ones (packets copied, no re-encoding) or made here
with PyAV, a few frames each, so the whole file runs in seconds on two cores.
"""

from __future__ import annotations

import functools
import gc
import http.server
import itertools
import os
import re
import signal
import subprocess
import sys
import threading
import time
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
import torch

from styletransfer.errors import StyleTransferError
from styletransfer.io import media
from styletransfer.video.stylize import DamagedVideoError, process_video

REPO = Path(__file__).resolve().parent.parent


# ---------------------------------------------------------------- making clips


def trim(src: Path, dst: Path, frames: int) -> Path:
    """Copy the first ``frames`` video packets of a clip (in decode order, so each one kept
    decodes) and the audio of the same time into a new file."""
    with av.open(str(src)) as inp, av.open(str(dst), "w") as out:
        video_in = inp.streams.video[0]
        seconds = frames / video_in.average_rate
        streams = {s.index: out.add_stream_from_template(s) for s in (video_in, *inp.streams.audio[:1])}
        kept = 0
        for packet in inp.demux(*(inp.streams[i] for i in streams)):
            if packet.dts is None:
                continue
            if packet.stream is video_in:
                if kept == frames:
                    continue
                kept += 1
            elif packet.pts * packet.time_base >= seconds:
                continue
            packet.stream = streams[packet.stream_index]
            out.mux(packet)
    return dst


def pattern(width: int, height: int, t: int = 0) -> np.ndarray:
    """A frame that shows which way is up: red left quarter, blue top quarter, green
    bottom-right corner, a grey gradient elsewhere (moving with t)."""
    y, x = np.mgrid[0:height, 0:width]
    grey = ((x * 3 + y * 2 + t * 8) % 200 + 30).astype(np.uint8)
    a = np.repeat(grey[..., None], 3, axis=2)
    a[:, : width // 4] = (230, 20, 20)
    a[: height // 4, :] = (20, 20, 230)
    a[-max(2, height // 4) :, -max(2, width // 4) :] = (20, 230, 20)
    return a


def make_clip(
    path: Path,
    width: int,
    height: int,
    *,
    frames: int = 4,
    rate: int = 10,
    pts=None,
    time_base=None,
    rotation=None,
    hflip=False,
    pix_fmt="yuv420p",
    matrix="ITU709",
    tag=True,
) -> Path:
    """An H.264 clip of ``pattern`` frames; ``pts`` (in ``time_base``) for variable frame rate.
    Converted to YUV with ``matrix``, and tagged with it when ``tag``."""
    with av.open(str(path), "w") as out:
        kwargs = {"time_base": time_base} if time_base else {}
        stream = out.add_stream("libx264", rate=rate, **kwargs)
        stream.width, stream.height, stream.pix_fmt = width, height, pix_fmt
        stream.codec_context.colorspace = {"ITU709": 1, "ITU601": 6}[matrix] if tag else 2  # 2: unspecified
        if rotation is not None or hflip:
            stream.set_display_rotation(rotation or 0, hflip=hflip)
        for i in range(frames if pts is None else len(pts)):
            frame = av.VideoFrame.from_ndarray(pattern(width, height, i), format="rgb24").reformat(
                format=pix_fmt, dst_colorspace=matrix, dst_color_range="MPEG"
            )
            if pts is not None:
                frame.pts, frame.time_base = pts[i], time_base
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return path


def make_audio_only(path: Path) -> Path:
    with av.open(str(path), "w") as out:
        stream = out.add_stream("aac", rate=48000)
        samples = (np.sin(np.arange(48000) * 2 * np.pi * 440 / 48000) * 0.3).astype(np.float32)
        frame = av.AudioFrame.from_ndarray(
            np.stack([samples, samples])[None].reshape(1, -1), format="flt", layout="stereo"
        )
        frame.sample_rate = 48000
        for packet in stream.encode(frame):
            out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return path


def make_no_frames(path: Path) -> Path:
    """A Matroska file with a video track that holds no frames (and 0.1 s of silence: the
    muxer writes nothing at all without a packet; an .mp4 would drop the empty track)."""
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=10)
        stream.width, stream.height = 64, 48
        sound = out.add_stream("aac", rate=48000)
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 2 * 4800), np.float32), format="flt", layout="stereo")
        frame.sample_rate = 48000
        for packet in [*sound.encode(frame), *sound.encode(None), *stream.encode(None)]:
            out.mux(packet)
    with av.open(str(path)) as c:
        assert c.streams.video and not c.streams.video[0].frames
    return path


def decode_rgb(path: Path, matrix: str) -> list[np.ndarray]:
    """Frames as RGB, converted with the YUV matrix given (not with video.py's own code)."""
    with av.open(str(path)) as c:
        return [
            f.reformat(format="rgb24", src_colorspace=matrix, src_color_range="MPEG").to_ndarray()
            for f in c.decode(video=0)
        ]


def frame_times(path: Path) -> list[float]:
    with av.open(str(path)) as c:
        return [float(f.time) for f in c.decode(video=0)]


def audio_packets(path: Path) -> list[tuple[float, bytes]]:
    with av.open(str(path)) as c:
        return [(float(p.pts * p.time_base), bytes(p)) for p in c.demux(c.streams.audio[0]) if p.dts is not None]


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


def identity(x: np.ndarray) -> np.ndarray:
    return x


def leftovers(folder: Path, name: str) -> list[Path]:
    """Temporary files of an output called ``name`` (AtomicFile's ``.NAME.*``)."""
    return sorted(folder.glob(f".{name}.*"))


@pytest.fixture(scope="module")
def clips(tmp_path_factory, shared_data) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("clips")
    videos = shared_data / "videos"
    return {
        # 426x240, 30 fps, AAC: 12 frames and the audio of the same 0.4 s.
        "audio": trim(videos / "pancake_flip_audio.mp4", folder / "pancake.mp4", 12),
    }


# ---------------------------------------------------------------- probe


def test_probe_reads_size_rate_frames_audio(clips):
    info = media.probe(clips["audio"])
    assert (info.width, info.height, info.fps, info.frames) == (426, 240, 30.0, 12)
    assert info.has_audio and info.audio_codec == "aac" and info.codec == "h264" and info.rotation == 0
    assert info.duration == pytest.approx(0.4, abs=0.05)


# ---------------------------------------------------------------- output matches input


def test_identity_keeps_size_rate_frames_colors_and_audio(clips, tmp_path):
    src, out = clips["audio"], tmp_path / "out.mp4"
    result = process_video(src, out, identity)
    assert result.frames == 12 and (result.width, result.height) == (426, 240) and result.audio == "copied"
    assert not result.stopped and not leftovers(tmp_path, "out.mp4")

    got, want = media.probe(out), media.probe(src)
    assert (got.width, got.height, got.fps, got.frames) == (want.width, want.height, want.fps, want.frames)
    assert got.duration == pytest.approx(want.duration, abs=1e-3)
    with av.open(str(out)) as c:
        stream = c.streams.video[0]
        assert stream.codec_context.name == "h264" and stream.codec_context.pix_fmt == "yuv420p"
        assert stream.codec_context.colorspace == 1  # tagged BT.709, the matrix it was made with
    assert frame_times(out) == pytest.approx(frame_times(src), abs=1e-3)
    head = out.read_bytes()[:200_000]
    assert 0 <= head.find(b"moov") < head.find(b"mdat")  # faststart: the index comes first

    # The audio is remuxed, not re-encoded: the very same packets at the same times.
    assert audio_packets(out) == audio_packets(src)

    # Untagged 240-row input is BT.601 (Chromium's rule), the output is tagged BT.709.
    for before, after in zip(decode_rgb(src, "ITU601"), decode_rgb(out, "ITU709"), strict=True):
        assert psnr(before, after) > 30


@pytest.mark.parametrize("height, matrix", [(720, "ITU709"), (718, "ITU601")])
def test_untagged_input_is_read_like_chromium_does(tmp_path, height, matrix):
    # Chromium (checked) decodes untagged video with BT.709 from 720 rows up, BT.601 below.
    src = make_clip(tmp_path / "untagged.mp4", 128, height, frames=1, matrix=matrix, tag=False)
    with av.open(str(src)) as c:
        assert next(c.decode(video=0)).colorspace == 2  # unspecified
    out = tmp_path / "out.mp4"
    process_video(src, out, identity)
    (got,) = decode_rgb(out, "ITU709")
    inside = (slice(height // 4 + 8, -height // 4 - 8), slice(8, 128 // 4 - 8))  # inside the red band
    # x264's "faster" preset is off by up to 5 on a flat band; the wrong matrix by > 10.
    assert np.abs(got[inside].astype(int) - (230, 20, 20)).max() <= 6


@pytest.mark.parametrize(
    "rotation, hflip, turn",
    [
        (90, False, lambda a: np.rot90(a, 1)),  # PyAV's rotation is counter-clockwise
        (-90, False, lambda a: np.rot90(a, -1)),  # a phone held upright
        (180, False, lambda a: a[::-1, ::-1]),
        (0, True, lambda a: a[:, ::-1]),  # mirrored (a front camera)
    ],
)
def test_rotation_metadata_is_honoured(tmp_path, rotation, hflip, turn):
    # Chromium shows these clips exactly like `turn` (checked while writing video.py).
    src = make_clip(tmp_path / "rot.mp4", 64, 32, frames=3, rotation=rotation, hflip=hflip)
    with av.open(str(src)) as c:
        assert next(c.decode(video=0)).rotation % 360 == (rotation if not hflip else 180) % 360
    out = tmp_path / "out.mp4"
    result = process_video(src, out, identity)
    want = [turn(pattern(64, 32, i)) for i in range(3)]
    assert (result.width, result.height) == (want[0].shape[1], want[0].shape[0])
    assert media.probe(src).width == want[0].shape[1]
    with av.open(str(out)) as c:
        assert next(c.decode(video=0)).rotation == 0  # upright pixels, no metadata left
    for got, expected in zip(decode_rgb(out, "ITU709"), want, strict=True):
        assert psnr(got, expected) > 25  # a 64x32 clip with hard colour edges: chroma blurs a little
        assert np.abs(got.astype(int) - expected.astype(int)).mean() < 6


def test_odd_size_is_kept_exactly(tmp_path):
    src = make_clip(tmp_path / "odd.mp4", 65, 47, frames=3, pix_fmt="yuv444p")
    out = tmp_path / "out.mp4"
    result = process_video(src, out, identity)
    assert (result.width, result.height) == (65, 47)
    with av.open(str(out)) as c:
        stream = c.streams.video[0]
        assert (stream.width, stream.height, stream.codec_context.pix_fmt) == (65, 47, "yuv444p")
    for got, want in zip(decode_rgb(out, "ITU709"), (pattern(65, 47, i) for i in range(3)), strict=True):
        assert psnr(got, want) > 30


def test_scale_can_make_an_odd_width(clips, tmp_path):
    result = process_video(clips["audio"], tmp_path / "half.mp4", identity, scale=0.5)
    assert (result.width, result.height) == (213, 120)
    assert (media.probe(result.path).width, media.probe(result.path).height) == (213, 120)


def test_variable_frame_rate_keeps_timestamps(tmp_path):
    pts = [0, 40, 120, 130, 300, 310, 500]  # milliseconds, irregular
    src = make_clip(tmp_path / "vfr.mp4", 64, 48, pts=pts, time_base=Fraction(1, 1000), rate=10)
    assert frame_times(src) == pytest.approx([p / 1000 for p in pts], abs=1e-3)
    out = tmp_path / "out.mp4"
    process_video(src, out, identity)
    assert frame_times(out) == pytest.approx([p / 1000 for p in pts], abs=1e-3)


# ---------------------------------------------------------------- hooks and progress


def test_postprocess_gets_input_and_stylized_in_order(clips, tmp_path):
    calls = []

    def invert(x):
        return 255 - x

    def post(frame, styled):
        calls.append((frame.copy(), styled.copy()))
        return frame  # undo the stylization: the output should be the input again

    result = process_video(clips["audio"], tmp_path / "out.mp4", invert, scale=0.5, postprocess=post)
    assert len(calls) == result.frames == 12
    for frame, styled in calls:
        assert frame.dtype == styled.dtype == np.uint8 and frame.shape == styled.shape == (120, 213, 3)
        assert np.abs(255 - frame.astype(int) - styled).max() <= 1
    # in display order: the frames handed to postprocess are those of the output, one by one
    for (frame, _), got in zip(calls, decode_rgb(result.path, "ITU709"), strict=True):
        assert psnr(frame, got) > 30


class Holding:
    """A Finisher that holds frames back and lets them go ``every`` at a time (as the two-way
    blend does), each marked with its place so the output shows the order."""

    def __init__(self, every: int):
        self.every, self.held, self.pushed = every, [], 0

    def push(self, frame, stylized, prepared):
        marked = stylized.copy()
        marked[:8, :8] = 10 * self.pushed  # a block the encoder's compression keeps
        self.pushed += 1
        self.held.append(marked)
        if len(self.held) < self.every:
            return []
        out, self.held = self.held, []
        return out

    def flush(self):
        out, self.held = self.held, []
        return out


def test_a_finisher_may_hold_frames_back(tmp_path):
    """The frames a finisher lets go late keep their own timing (variable frame rate here) and
    their order; the progress counts frames painted; the held ones are written at the end."""
    pts = [0, 40, 120, 130, 300, 310, 500]  # milliseconds, irregular
    src = make_clip(tmp_path / "vfr.mp4", 64, 48, pts=pts, time_base=Fraction(1, 1000), rate=10)
    events = []
    result = process_video(src, tmp_path / "out.mp4", identity, postprocess=Holding(3), callback=events.append)
    assert result.frames == 7 and [e.frames_done for e in events] == list(range(1, 8))
    assert frame_times(result.path) == pytest.approx([p / 1000 for p in pts], abs=1e-3)
    marks = [int(frame[2:6, 2:6].mean() + 0.5) for frame in decode_rgb(result.path, "ITU709")]
    assert marks == pytest.approx([10 * k for k in range(7)], abs=3)


def test_stop_writes_the_frames_a_finisher_holds(clips, tmp_path):
    """Stop: the frames painted so far are finished and saved, the held ones too."""
    done = []
    result = process_video(
        clips["audio"],
        tmp_path / "out.mp4",
        identity,
        postprocess=Holding(4),
        callback=done.append,
        should_stop=lambda: len(done) >= 4,
    )
    assert result.stopped and result.frames == len(done) == 4
    assert media.probe(result.path).frames == result.frames


@pytest.mark.parametrize("batch_size", [3, 5])
def test_batches_give_the_frames_of_one_at_a_time(clips, tmp_path, batch_size):
    """12 frames in batches of 3 (even) or 5 (a shorter last batch): same frames, same order."""
    seen = []

    def invert(x):
        seen.append(x.shape[0])
        return 255 - x

    def record(into):
        def post(frame, styled):
            into.append(styled.copy())
            return styled

        return post

    one, batched = [], []
    process_video(clips["audio"], tmp_path / "one.mp4", invert, scale=0.25, postprocess=record(one))
    assert seen == [1] * 12
    seen.clear()
    result = process_video(
        clips["audio"], tmp_path / "batched.mp4", invert, scale=0.25, postprocess=record(batched), batch_size=batch_size
    )
    assert seen == [batch_size] * (12 // batch_size) + ([12 % batch_size] if 12 % batch_size else [])
    assert result.frames == 12 and len(batched) == 12
    for a, b in zip(one, batched, strict=True):
        assert np.array_equal(a, b)


@pytest.mark.parametrize("batch_size", [0, -2, 1.5])
def test_bad_batch_size(clips, tmp_path, batch_size):
    with pytest.raises(StyleTransferError, match="batch size"):
        process_video(clips["audio"], tmp_path / "out.mp4", identity, batch_size=batch_size)
    assert not (tmp_path / "out.mp4").exists()


def test_networks_batch_only_on_a_gpu():
    from styletransfer.networks import Network
    from styletransfer.networks.transformer import TransformerConfig, build

    net = Network.from_module(build(TransformerConfig(arch="lite")))
    assert net.batch_size == (8 if torch.cuda.is_available() else 1)  # batches gain nothing on a CPU
    with pytest.raises(StyleTransferError, match="unknown backend"):
        Network.from_module(build(TransformerConfig(arch="lite")), backend="tensorrt")


def test_progress_events_count_frames(clips, tmp_path):
    events = []
    process_video(clips["audio"], tmp_path / "out.mp4", identity, scale=0.25, callback=events.append)
    assert [e.frames_done for e in events] == list(range(1, 13))
    assert all(e.total_frames == 12 and e.fps > 0 for e in events)
    assert events[-1].seconds_left == 0 and events[0].seconds_left > 0
    assert events[-1].frame.shape == (60, 106, 3)


def test_frames_changed_after_the_callback_are_written_as_they_were(clips, tmp_path):
    """Frames are encoded later, in another thread: a callback (or a network reusing its
    buffers) that changes a frame once handed over does not change the file."""
    out = tmp_path / "out.mp4"
    process_video(clips["audio"], out, identity, scale=0.25, callback=lambda event: event.frame.fill(0))
    assert min(frame.mean() for frame in decode_rgb(out, "ITU709")) > 50


def test_frames_stream_through(tmp_path, one_thread):
    """Memory stays bounded: while frame k is stylized, only a few decoded frames are alive
    (the decoder's reorder buffer, the pictures read ahead), however long the clip is, and
    however slower than the decoder the network is."""
    src = make_clip(tmp_path / "long.mp4", 32, 32, frames=60, rate=30)
    frames, pictures = [], []

    def count(x):
        gc.collect(1)  # what young reference cycles hold is garbage, not alive: count what is
        alive = gc.get_objects()
        frames.append(sum(type(o) is av.VideoFrame for o in alive))
        pictures.append(sum(type(o) is media.Picture for o in alive))
        time.sleep(0.01)  # a slow network: the decoder thread must wait for it, not run ahead
        return x

    gc.collect()  # frames other tests left in reference cycles (not ours to count)
    process_video(src, tmp_path / "out.mp4", count)
    assert len(frames) == 60 and min(frames) >= 1  # the frame being worked on is counted
    # Pictures: the one being stylized, the one before it (still named by the loop), two
    # read ahead or being decoded. That some are read ahead shows decoding overlaps the network.
    assert 3 <= max(pictures) <= 4
    # Frames: those four (a Picture's pixels are a view of its decoded frame), the decoder's
    # and the encoder's own. The decoder's flush at the end hands over the frames it was
    # holding all at once.
    assert max(frames[:-10]) <= 10 and max(frames) <= 16


def test_stop_ends_a_valid_shorter_file_with_audio_cut(clips, tmp_path):
    done = []
    out = tmp_path / "out.mp4"
    result = process_video(
        clips["audio"], out, identity, callback=lambda e: done.append(e), should_stop=lambda: len(done) >= 5
    )
    # The callback reports each frame painted, and every frame painted is saved.
    assert result.stopped and result.frames == 5
    info = media.probe(out)
    assert info.frames == result.frames and info.has_audio and (info.width, info.height) == (426, 240)
    video_end = frame_times(out)[-1] + 1 / 30
    assert video_end == pytest.approx(result.frames / 30, abs=1e-3)
    times = [t for t, _ in audio_packets(out)]
    assert times and max(times) < video_end  # no audio packet starts after the last frame
    assert video_end - max(times) <= 1024 / 48000 + 1e-3  # ...and none is missing before it
    # The kept packets are the input's first ones, unchanged.
    assert audio_packets(out) == audio_packets(clips["audio"])[: len(times)]


def test_stop_before_the_first_frame_saves_nothing(clips, tmp_path):
    with pytest.raises(StyleTransferError, match="nothing was saved"):
        process_video(clips["audio"], tmp_path / "out.mp4", identity, should_stop=lambda: True)
    assert list(tmp_path.iterdir()) == []


def test_a_failing_frame_fn_leaves_no_file(clips, tmp_path):
    def boom(x):
        if boom.calls == 3:
            raise RuntimeError("model crashed")
        boom.calls += 1
        return x

    boom.calls = 0
    with pytest.raises(RuntimeError, match="model crashed"):
        process_video(clips["audio"], tmp_path / "out.mp4", boom, scale=0.25)
    assert list(tmp_path.iterdir()) == []


def pipeline_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith(("video-decode", "video-encode"))]


def test_decoding_and_encoding_run_beside_the_network(clips, tmp_path, monkeypatch):
    where = {}
    for name in ("write_video", "release_audio"):
        method = getattr(media.VideoWriter, name)

        def spy(*args, _method=method, _name=name, **kwargs):
            where.setdefault(_name, set()).add(threading.current_thread().name.split("_")[0])
            return _method(*args, **kwargs)

        monkeypatch.setattr(media.VideoWriter, name, spy)
    process_video(clips["audio"], tmp_path / "out.mp4", identity, scale=0.25)
    # Audio is released behind each frame in the encoder's thread, the rest at the end here.
    assert where == {"write_video": {"video-encode"}, "release_audio": {"video-encode", "MainThread"}}
    assert not pipeline_threads()


@pytest.mark.parametrize("where", ["decoder", "encoder", "frame_fn", "callback"])
def test_an_error_in_any_thread_surfaces_and_no_thread_is_left(clips, tmp_path, monkeypatch, where):
    calls = []

    def fail_on_the_fourth(method):
        def fail(*args, **kwargs):
            calls.append(1)
            if len(calls) == 4:
                raise RuntimeError(f"{where} broke")
            return method(*args, **kwargs)

        return fail

    frame_fn, callback = identity, None
    if where == "decoder":
        monkeypatch.setattr(media.Picture, "of", fail_on_the_fourth(media.Picture.of))
    elif where == "encoder":
        monkeypatch.setattr(media.VideoWriter, "write_video", fail_on_the_fourth(media.VideoWriter.write_video))
    elif where == "frame_fn":
        frame_fn = fail_on_the_fourth(identity)
    else:
        callback = fail_on_the_fourth(lambda event: None)
    with pytest.raises(RuntimeError, match=f"{where} broke"):
        process_video(clips["audio"], tmp_path / "out.mp4", frame_fn, scale=0.25, callback=callback)
    assert list(tmp_path.iterdir()) == []  # no output, not even a partial one
    assert not pipeline_threads()


def test_frame_fn_must_keep_the_shape(clips, tmp_path):
    with pytest.raises(ValueError, match="frame_fn must return"):
        process_video(clips["audio"], tmp_path / "out.mp4", lambda x: x[..., :-1], scale=0.25)


# ---------------------------------------------------------------- bad input


def _bad_inputs(folder: Path, shared_data: Path) -> dict[str, tuple[Path, str]]:
    # An .mp4 with its index at the end (as cameras write it), cut in half: no index left.
    plain = folder / "plain.mp4"
    with av.open(str(shared_data / "videos" / "street_bikes.mp4")) as inp, av.open(str(plain), "w") as out:
        s = out.add_stream_from_template(inp.streams.video[0])
        for i, packet in enumerate(inp.demux(inp.streams.video[0])):
            if packet.dts is not None and i < 20:
                packet.stream = s
                out.mux(packet)
    cases = {
        "missing": (folder / "nope.mp4", "does not exist"),
        "folder": (folder, "is a folder"),
        "empty": (folder / "empty.mp4", "empty"),
        "text": (folder / "notes.txt", "not a video file"),
        "garbage": (folder / "garbage.mp4", "not a video file"),
        "jpeg": (folder / "photo.jpg", "still image"),
        "jpeg named mp4": (folder / "photo.mp4", "still image"),
        "cut off": (folder / "cut.mp4", "not a video file"),
        "audio only": (make_audio_only(folder / "sound.m4a"), "only audio"),
        "no frames": (make_no_frames(folder / "none.mkv"), "no video frames"),
    }
    (folder / "empty.mp4").write_bytes(b"")
    (folder / "notes.txt").write_text("just some notes\n" * 50)
    (folder / "garbage.mp4").write_bytes(bytes(range(256)) * 64)
    jpeg = (shared_data / "photos" / "skimage_coffee.jpg").read_bytes()
    (folder / "photo.jpg").write_bytes(jpeg)
    (folder / "photo.mp4").write_bytes(jpeg)
    data = plain.read_bytes()
    (folder / "cut.mp4").write_bytes(data[: len(data) // 2])
    return cases


BAD = ["missing", "folder", "empty", "text", "garbage", "jpeg", "jpeg named mp4", "cut off", "audio only", "no frames"]


@pytest.fixture(scope="module")
def bad_inputs(tmp_path_factory, shared_data):
    return _bad_inputs(tmp_path_factory.mktemp("bad"), shared_data)


@pytest.mark.parametrize("case", BAD)
def test_bad_input_is_one_clear_error(bad_inputs, tmp_path, case):
    path, words = bad_inputs[case]
    out = tmp_path / "out.mp4"
    for call in (lambda: media.probe(path), lambda: process_video(path, out, identity)):
        with pytest.raises(StyleTransferError, match=re.escape(words)) as error:
            call()
        message = str(error.value)
        assert "\n" not in message
        assert path.name in message
    assert list(tmp_path.iterdir()) == []  # no output, not even a partial one


def test_truncated_file_saves_what_decodes_and_says_so(shared_data, tmp_path):
    data = (shared_data / "videos" / "pancake_flip_audio.mp4").read_bytes()  # index at the front
    src = tmp_path / "half.mp4"
    src.write_bytes(data[: len(data) // 2])
    assert media.probe(src).frames == 310  # the index still lists every frame
    out = tmp_path / "out.mp4"
    with pytest.raises(DamagedVideoError, match=r"half.mp4: kept \d+ of 310 frames: the file ends early") as error:
        process_video(src, out, identity, scale=0.25)
    result = error.value.result
    assert 0 < result.frames < 310 and str(out) in str(error.value)
    info = media.probe(out)
    assert info.frames == result.frames and info.has_audio
    assert max(t for t, _ in audio_packets(out)) < frame_times(out)[-1] + 1 / 30


@pytest.mark.parametrize("container", ["mkv", "webm"])
def test_a_clip_without_an_index_that_breaks_off_says_so(shared_data, tmp_path, container):
    """Matroska and WebM list no frame count: the demuxer just ends where the bytes do. The
    duration their header declares tells a file that breaks off from one that ends (issue 27:
    such a clip returned silently); an intact one with its sound still passes."""
    src = shared_data / "videos" / "pancake_flip_audio.mp4"
    whole = tmp_path / f"whole.{container}"
    if container == "mkv":
        trim(src, whole, 60)  # H.264 + AAC, remuxed
    else:  # WebM holds VP9 only: re-encode 60 small frames, no sound
        with av.open(str(src)) as inp, av.open(str(whole), "w") as out:
            stream = out.add_stream(
                "libvpx-vp9", rate=inp.streams.video[0].average_rate, options={"deadline": "realtime"}
            )
            stream.width, stream.height, stream.pix_fmt = 160, 96, "yuv420p"
            for frame in itertools.islice(inp.decode(video=0), 60):
                out.mux(stream.encode(frame.reformat(160, 96)))
            out.mux(stream.encode(None))
    assert process_video(whole, tmp_path / "whole.mp4", identity, scale=0.25).frames == 60
    cut = tmp_path / f"cut.{container}"
    data = whole.read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(
        DamagedVideoError, match=rf"cut.{container}: kept \d+ of 6\d frames: the file ends early"
    ) as error:
        process_video(cut, tmp_path / "cut.mp4", identity, scale=0.25)
    assert 10 < error.value.result.frames < 55


@pytest.mark.parametrize("dst, words", [("out.avi", "must end in .mp4"), ("sub.mp4", "is a folder")])
def test_bad_output_path(clips, tmp_path, dst, words):
    (tmp_path / "sub.mp4").mkdir()
    with pytest.raises(StyleTransferError, match=words):
        process_video(clips["audio"], tmp_path / dst, identity)


def test_output_may_not_overwrite_the_input(clips, tmp_path):
    src = tmp_path / "in.mp4"
    src.write_bytes(clips["audio"].read_bytes())
    with pytest.raises(StyleTransferError, match="overwrite the input"):
        process_video(src, src, identity)


@pytest.mark.parametrize("scale", [0, -1, float("nan"), 0.01])
def test_bad_scale(clips, tmp_path, scale):
    with pytest.raises(StyleTransferError, match="scale"):
        process_video(clips["audio"], tmp_path / "out.mp4", identity, scale=scale)
    assert list(tmp_path.iterdir()) == []


def test_audio_that_mp4_cannot_carry_is_reencoded_to_aac(tmp_path):
    src = tmp_path / "pcm.mov"
    with av.open(str(src), "w") as out:
        v = out.add_stream("libx264", rate=10)
        v.width, v.height = 64, 48
        a = out.add_stream("pcm_s16le", rate=16000, layout="mono")
        for i in range(5):
            for packet in v.encode(av.VideoFrame.from_ndarray(pattern(64, 48, i), format="rgb24")):
                out.mux(packet)
            samples = (np.sin(np.arange(1600) * 0.1) * 8000).astype(np.int16)[None]
            frame = av.AudioFrame.from_ndarray(samples, format="s16", layout="mono")
            frame.sample_rate, frame.pts = 16000, i * 1600
            for packet in a.encode(frame):
                out.mux(packet)
        for stream in (v, a):
            for packet in stream.encode(None):
                out.mux(packet)
    result = process_video(src, tmp_path / "out.mp4", identity)
    assert result.audio == "re-encoded"
    info = media.probe(result.path)
    assert info.audio_codec == "aac" and info.frames == 5


# ---------------------------------------------------------------- command line


def run_cli(*args, cwd, models=None, **popen):
    # One torch thread: frames here are tiny, and threads waiting on a busy CPU cost more
    # than they save (a 106x60 frame: 7 ms on one thread, over 1 s on two while the cores
    # were busy with other work).
    # ONNX exports go to the test's folder, not the user's cache.
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "OMP_NUM_THREADS": "1",
        "STYLETRANSFER_CACHE": str(Path(cwd) / "cache"),
    }
    if models is not None:
        env["STYLETRANSFER_PRETRAINED"] = str(models)
    command = [sys.executable, "-m", "styletransfer", *map(str, args)]
    if popen:
        return subprocess.Popen(command, cwd=cwd, env=env, **popen)
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    from styletransfer.networks import zoo
    from styletransfer.networks.transformer import TransformerConfig, build

    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("models")
    zoo.save(build(TransformerConfig(arch="lite")), zoo.ModelCard(name="t", arch="lite"), folder)
    return folder


@pytest.mark.parametrize("temporal", ["off", "blend", "steady"])
def test_cli_video_end_to_end(clips, models, tmp_path, temporal):
    out = tmp_path / "styled.mp4"
    result = run_cli(
        "video",
        clips["audio"],
        "-s",
        "t",
        "--arch",
        "lite",
        "-o",
        out,
        "--scale",
        0.25,
        "--temporal",
        temporal,
        "--strength",
        0.8,
        "--keep-colors",
        cwd=tmp_path,
        models=models,
    )
    assert result.returncode == 0, result.stderr
    info = media.probe(out)
    assert (info.width, info.height, info.frames, info.fps, info.has_audio) == (106, 60, 12, 30.0, True)


def test_cli_backends_give_the_same_video_and_onnx_is_exported_once(clips, models, tmp_path):
    outputs = {}
    for i, backend in enumerate(("onnxruntime", "torch", "onnxruntime")):
        out = tmp_path / f"{i}.mp4"
        result = run_cli(
            "video",
            clips["audio"],
            "-s",
            "t",
            "--arch",
            "lite",
            "-o",
            out,
            "--scale",
            0.25,
            "--quiet",
            "--temporal",
            "off",
            "--backend",
            backend,
            cwd=tmp_path,
            models=models,
        )
        assert result.returncode == 0, result.stderr
        with av.open(str(out)) as container:
            outputs[backend] = [f.to_ndarray(format="rgb24").astype(np.float32) for f in container.decode(video=0)]
    assert len(list((tmp_path / "cache" / "onnx").glob("t.lite.*.onnx"))) == 1  # reused by the second run
    ort, eager = outputs["onnxruntime"], outputs["torch"]
    assert len(ort) == len(eager) == 12
    assert np.mean([np.abs(a - b).mean() for a, b in zip(ort, eager)]) < 2  # same network, same encoder


def test_cli_models_folder_option(clips, models, tmp_path):
    out = tmp_path / "styled.mp4"
    result = run_cli(
        "video",
        clips["audio"],
        "-s",
        "t",
        "--arch",
        "lite",
        "-o",
        out,
        "--scale",
        0.25,
        "--quiet",
        "--models-folder",
        models,
        cwd=tmp_path,
    )
    assert result.returncode == 0 and result.stderr == "", result.stderr
    assert media.probe(out).frames == 12


@pytest.mark.parametrize(
    "change, words",
    [
        ({"input": "nope.mp4"}, "does not exist"),
        ({"input": "notes.txt"}, "not a video file"),
        ({"style": "no_such_style"}, "no model named 'no_such_style'"),
        ({"output": "out.gif"}, "must end in .mp4"),
        ({"extra": ["--strength", "2"]}, "style mix must be 0..1, got 2"),
        ({"extra": ["--scale", "0"]}, "scale"),
    ],
)
def test_cli_bad_input_exits_2_with_one_line(clips, models, tmp_path, change, words):
    (tmp_path / "notes.txt").write_text("not a video\n")
    args = {"input": clips["audio"], "style": "t", "output": "out.mp4", "extra": [], **change}
    result = run_cli(
        "video",
        args["input"],
        "-s",
        args["style"],
        "--arch",
        "lite",
        "-o",
        args["output"],
        *args["extra"],
        cwd=tmp_path,
        models=models,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and words in lines[0], result.stderr
    assert not (tmp_path / "out.mp4").exists() and not leftovers(tmp_path, "out.mp4")


def test_cli_ctrl_c_keeps_the_frames_done(shared_data, models, tmp_path):
    out = tmp_path / "fox.mp4"
    process = run_cli(
        "video",
        shared_data / "videos" / "fox.mp4",
        "-s",
        "t",
        "--arch",
        "lite",
        "-o",
        out,
        "--scale",
        0.1,
        "--temporal",
        "off",
        "--quiet",
        cwd=tmp_path,
        models=models,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 120
    while not leftovers(tmp_path, "fox.mp4") and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)  # the partial file appears once the first frame is encoded
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr
    assert stderr.strip().startswith("interrupted: saved the first")
    info = media.probe(out)
    assert 1 <= info.frames < 420 and (info.width, info.height) == (64, 64)
    assert not leftovers(tmp_path, "fox.mp4")


# ---------------------------------------------------------------- in a real browser


@pytest.fixture
def served(tmp_path):
    """tmp_path over http on 127.0.0.1 (Chromium plays media from http, not file://)."""

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(tmp_path)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    (tmp_path / "index.html").write_text("<!doctype html><title>videos</title>")
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


PLAY = """async (src) => {
  const v = document.createElement("video");
  v.muted = true; v.src = src; document.body.appendChild(v);
  const state = await new Promise((done) => {
    v.onloadeddata = () => done("ok");
    v.onerror = () => done("error " + (v.error && v.error.message));
    setTimeout(() => done("timeout"), 20000);
  });
  if (state !== "ok") return {state};
  await v.play();
  await new Promise((done) => setTimeout(done, 300));
  const canvas = document.createElement("canvas");
  canvas.width = v.videoWidth; canvas.height = v.videoHeight;
  const g = canvas.getContext("2d");
  g.drawImage(v, 0, 0);
  const at = (x, y) => Array.from(g.getImageData(x, y, 1, 1).data.slice(0, 3));
  return {state, width: v.videoWidth, height: v.videoHeight, duration: v.duration, time: v.currentTime,
          topLeft: at(2, 2), bottomLeft: at(2, v.videoHeight - 3), bottomRight: at(v.videoWidth - 3, v.videoHeight - 3)};
}"""


def test_outputs_play_in_chromium_at_their_size(browser, served, clips, tmp_path):
    process_video(clips["audio"], tmp_path / "even.mp4", identity, scale=0.5)  # 213x120: odd width
    process_video(clips["audio"], tmp_path / "full.mp4", identity)  # 426x240, 4:2:0, audio
    rotated = make_clip(tmp_path / "rot.mp4", 64, 32, frames=3, rotation=90)
    process_video(rotated, tmp_path / "upright.mp4", identity)
    odd = make_clip(tmp_path / "odd.mp4", 65, 47, frames=3, pix_fmt="yuv444p")
    process_video(odd, tmp_path / "oddout.mp4", identity)
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(served)
        for name, size in [
            ("full.mp4", (426, 240)),
            ("even.mp4", (213, 120)),
            ("oddout.mp4", (65, 47)),
            ("upright.mp4", (32, 64)),
        ]:
            report = page.evaluate(PLAY, served + name)
            assert report["state"] == "ok", (name, report)
            assert (report["width"], report["height"]) == size, (name, report)
            assert report["duration"] > 0 and report["time"] > 0, (name, report)
            if name == "upright.mp4":
                # stored top (blue) turned to the left, stored left (red) to the bottom
                assert report["topLeft"][2] > 150 and report["bottomLeft"][2] > 150, report
                assert report["bottomRight"][0] > 150, report
    finally:
        context.close()


def test_prepare_runs_ahead_in_the_decoding_thread_and_reaches_postprocess(clips, tmp_path):
    prepared_in, seen = set(), []

    def prepare(frame):
        prepared_in.add(threading.current_thread().name.split("_")[0])
        return int(frame[0, 0, 0]), frame.shape

    def postprocess(frame, stylized, prepared):
        seen.append(prepared == (int(frame[0, 0, 0]), frame.shape))  # this frame's, in order
        return stylized

    process_video(clips["audio"], tmp_path / "out.mp4", identity, scale=0.25, prepare=prepare, postprocess=postprocess)
    assert prepared_in == {"video-decode"} and len(seen) == 12 and all(seen)


def test_the_video_blend_runs_beside_the_network(clips, tmp_path, monkeypatch, one_thread):
    """stylize_video's temporal blend: the flow (input side) in the decoding thread, the blend in the encoding thread."""
    from styletransfer.networks import Network
    from styletransfer.networks.transformer import TransformerConfig, build
    from styletransfer.video import stylize
    from styletransfer.video.blend import TemporalBlender

    where = {}
    for name in ("motion", "apply"):
        method = getattr(TemporalBlender, name)

        def spy(*args, _method=method, _name=name, **kwargs):
            where.setdefault(_name, set()).add(threading.current_thread().name.split("_")[0])
            return _method(*args, **kwargs)

        monkeypatch.setattr(TemporalBlender, name, spy)
    network = Network.from_module(build(TransformerConfig(arch="lite")), "test.lite", "torch")
    stylize.stylize_video(clips["audio"], tmp_path / "out.mp4", network, scale=0.25, temporal=True)
    assert where == {"motion": {"video-decode"}, "apply": {"video-encode"}}
