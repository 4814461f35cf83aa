"""Every container and codec a user may bring: the output .mp4 plays with every frame at the
input's size and times, its sound is copied or converted to AAC and lasts as long, and no
FFmpeg error escapes as a traceback.

The clips are made here with PyAV: 1 s of a moving 64x48 picture at 10 fps and a 440 Hz tone.
"""

from __future__ import annotations

import errno
from pathlib import Path

import av
import numpy as np
import pytest
from test_video import identity, leftovers, pattern

from styletransfer.errors import StyleTransferError
from styletransfer.io import media
from styletransfer.video.stylize import process_video

WIDTH, HEIGHT, RATE, FRAMES = 64, 48, 10, 10
TONE = 440

# name: (FFmpeg format, suffix, video encoder, audio encoder, seconds of sound, what the output does with it)
CASES = {
    "avi-mp3": ("avi", ".avi", "mpeg4", "libmp3lame", 1.0, "copied"),  # the user report
    "avi-ac3": ("avi", ".avi", "mpeg4", "ac3", 1.0, "re-encoded"),
    "mkv-opus": ("matroska", ".mkv", "libx264", "libopus", 1.0, "copied"),
    "mov-pcm": ("mov", ".mov", "libx264", "pcm_s16le", 1.0, "re-encoded"),
    "webm-vp8-vorbis": ("webm", ".webm", "libvpx", "vorbis", 1.0, "re-encoded"),
    "webm-vp9-vorbis": ("webm", ".webm", "libvpx-vp9", "vorbis", 1.0, "re-encoded"),
    "ts-aac": ("mpegts", ".ts", "libx264", "aac", 1.0, "copied"),  # ADTS AAC, as camcorders write it
    "mp4-silent": ("mp4", ".mp4", "libx264", None, 0.0, "none"),
    "mp4-long-sound": ("mp4", ".mp4", "libx264", "aac", 1.6, "copied"),
    "mp4-short-sound": ("mp4", ".mp4", "libx264", "aac", 0.4, "copied"),
    "mkv-long-sound": ("matroska", ".mkv", "libx264", "libopus", 1.6, "copied"),
    "mkv-short-sound": ("matroska", ".mkv", "libx264", "libopus", 0.4, "copied"),
}


def make(path: Path, fmt: str, video_codec: str, audio_codec: str | None, seconds: float) -> Path:
    """FRAMES frames of ``pattern`` and ``seconds`` of the tone, interleaved as a camera would."""
    with av.open(str(path), "w", format=fmt) as out:
        video = out.add_stream(video_codec, rate=RATE)
        video.width, video.height, video.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        sound = None
        if audio_codec is not None:
            options = {"strict": "experimental"} if audio_codec == "vorbis" else {}  # FFmpeg's own encoder
            rate = 48_000 if audio_codec == "libopus" else 44_100
            sound = out.add_stream(audio_codec, rate=rate, layout="stereo", options=options)
            tone = np.sin(2 * np.pi * TONE * np.arange(round(seconds * rate)) / rate).astype(np.float32) * 0.3
        for i in range(FRAMES + 1):
            if i < FRAMES:
                picture = av.VideoFrame.from_ndarray(pattern(WIDTH, HEIGHT, i), format="rgb24")
                out.mux(video.encode(picture.reformat(format="yuv420p")))
            if sound is not None:  # the tone up to this frame's end (all the rest after the last)
                start, end = i * rate // RATE, len(tone) if i == FRAMES else min(len(tone), (i + 1) * rate // RATE)
                if start < end:
                    chunk = av.AudioFrame.from_ndarray(np.stack([tone[start:end]] * 2), format="fltp", layout="stereo")
                    chunk.sample_rate, chunk.pts = rate, start  # PyAV converts to the encoder's format
                    out.mux(sound.encode(chunk))
        for stream in (video, sound) if sound is not None else (video,):
            out.mux(stream.encode(None))
    return path


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("containers")
    return {
        name: make(folder / f"{name}{suffix}", fmt, video, audio, seconds)
        for name, (fmt, suffix, video, audio, seconds, _) in CASES.items()
    }


def video_of(path: Path) -> list[tuple[float, tuple[int, int]]]:
    """(time, (width, height)) of every frame; decoding all of them is what a player does."""
    with av.open(str(path)) as c:
        return [(float(f.time), (f.width, f.height)) for f in c.decode(video=0)]


def sound_of(path: Path) -> tuple[str, float, float] | None:
    """(codec, seconds, loudest frequency in Hz) of the first audio track, decoded."""
    with av.open(str(path)) as c:
        if not c.streams.audio:
            return None
        frames = list(c.decode(audio=0))
        codec = c.streams.audio[0].codec_context.codec.canonical_name
    rate = frames[0].sample_rate
    left = np.concatenate(
        [f.to_ndarray().reshape(f.samples, -1)[:, 0] if not f.format.is_planar else f.to_ndarray()[0] for f in frames]
    ).astype(np.float64)
    peak = np.argmax(np.abs(np.fft.rfft(left))) * rate / len(left)
    return codec, len(left) / rate, peak


def container_seconds(path: Path) -> float:
    with av.open(str(path)) as c:
        return c.duration / 1_000_000


@pytest.mark.parametrize("reencode", [False, True], ids=["as-is", "all-to-aac"])
@pytest.mark.parametrize("case", list(CASES))
def test_every_container_gives_an_mp4_that_plays(clips, tmp_path, monkeypatch, case, reencode):
    src, out = clips[case], tmp_path / "out.mp4"
    audio = CASES[case][-1]
    if reencode and audio != "none":
        # Every time base also through the AAC encoder: the user's AVI crashed there.
        monkeypatch.setattr(media, "_COPYABLE_AUDIO", frozenset())
        audio = "re-encoded"
    result = process_video(src, out, identity)
    assert result.audio == audio and not leftovers(tmp_path, "out.mp4")

    want, got = video_of(src), video_of(out)
    assert len(got) == len(want) == result.frames
    assert {size for _, size in got} == {(WIDTH, HEIGHT)}
    assert [t for t, _ in got] == pytest.approx([t for t, _ in want], abs=1e-3)  # the input's timing
    assert container_seconds(out) == pytest.approx(container_seconds(src), abs=0.05)

    if audio == "none":
        assert sound_of(out) is None
        return
    (codec_in, seconds_in, _), (codec, seconds, peak) = sound_of(src), sound_of(out)
    assert codec == (codec_in if audio == "copied" else "aac")
    assert seconds == pytest.approx(seconds_in, abs=0.05)  # all of it: an AAC frame of padding at most
    assert peak == pytest.approx(TONE, abs=2)  # the tone, not noise from misplaced packets


@pytest.mark.parametrize("step", ["_mux", "_copy_audio"])
def test_an_ffmpeg_error_while_writing_is_one_line(clips, tmp_path, monkeypatch, step):
    """Whatever FFmpeg refuses (here made to fail in the video encoder's or the audio's
    muxing), the user gets one line and no half-written file."""

    def refuse(*args):
        raise av.error.ArgumentError(errno.EINVAL, "Invalid argument")

    monkeypatch.setattr(media.VideoWriter, step, refuse)
    with pytest.raises(StyleTransferError, match="could not write .*Invalid argument") as error:
        process_video(clips["mp4-long-sound"], tmp_path / "out.mp4", identity)
    assert "\n" not in str(error.value)
    assert list(tmp_path.iterdir()) == []
