"""Video containers in and out: probing, decoding frames upright in display order with the
audio packets alongside, and writing H.264 .mp4 files with the input's sound.

The pixels cross here as HxWx3 uint8 RGB arrays (``Picture.rgb`` in, ``VideoWriter.write_video``
out); what happens between is the video loop's business (video/stylize.py). The output is
H.264 in an .mp4 with the index at the front (faststart: a browser can start playing before
the download ends), with the input's own timestamps, so variable frame rate clips keep their
timing. Audio packets are copied unchanged when an .mp4 can hold them, else re-encoded to AAC.
"""

from __future__ import annotations

import collections
import contextlib
import math
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from styletransfer.errors import StyleTransferError, first_line
from styletransfer.files import AtomicFile, check_writable
from styletransfer.io import images

# x264 settings. CRF 18 is close to visually lossless: stylized frames are full of brush
# texture, which higher CRFs smear. "veryfast" rather than "medium": the encoder shares the 2
# cores with the network (the lite one takes ~100 ms a 640x360 frame). Measured on stylized
# 640x360 frames: medium 28 ms of CPU a frame, faster 13-17 ms (0.2 dB less PSNR than medium),
# veryfast 9 ms (another 0.2 dB less: 32.8 against 33.0 dB, and 6% fewer bytes).
X264_OPTIONS = {"crf": "18", "preset": "veryfast"}

# Audio codecs that an .mp4 holds and browsers play: these are copied packet for packet.
# Anything else (PCM from cameras, Vorbis, AC-3, ...) is re-encoded to AAC.
_COPYABLE_AUDIO = {"aac", "mp3", "opus", "flac"}
_AAC_BIT_RATE = 192_000

OUTPUT_SUFFIXES = (".mp4",)

# FFmpeg demuxers that turn text or text-mode art into "video": never a real video.
_TEXT_FORMATS = {"tty", "bin", "xbin", "adf", "idf", "ansi"}


@dataclass(frozen=True)
class VideoInfo:
    """What probe() finds. Width and height are as displayed (rotation applied)."""

    width: int
    height: int
    fps: float  # average frame rate
    frames: int | None  # from the container's index; estimated from duration x fps when it has none
    duration: float | None  # seconds
    has_audio: bool
    rotation: int  # degrees clockwise the stored picture is turned for display: 0, 90, 180 or 270
    codec: str
    audio_codec: str | None


# ------------------------------------------------------------------------------ probing


def probe(path) -> VideoInfo:
    """Read a video's size, frame rate, length, audio and rotation (decodes one frame)."""
    path = Path(path)
    with open_input(path) as container:
        video, audio = streams(container, path)
        first = next(decoded_frames(container, video, None, Damage()), None)
        if first is None:
            raise no_frames(path)
        turn = Orientation.of(first)
        width, height = turn.size(first.width, first.height)
        fps = frame_rate(video)
        duration = stream_duration(container, video)
        frames = video.frames or (round(duration * fps) if duration else None)
        return VideoInfo(
            width=width,
            height=height,
            fps=float(fps),
            frames=frames,
            duration=duration,
            has_audio=audio is not None,
            rotation=turn.rotation,
            codec=video.codec_context.name,
            audio_codec=audio.codec_context.name if audio is not None else None,
        )


def output_size(info: VideoInfo, scale: float = 1.0, name: str = "the video") -> tuple[int, int]:
    """(width, height) of the output for ``scale``; raises if that is too small or too big.

    The same rule stylize_video applies to every frame, here to check before a long run.
    """
    check_scale(scale)
    size = scaled(info.width, info.height, scale)
    check_frame_size(*size, name)
    return size


def check_scale(scale) -> None:
    if isinstance(scale, bool) or not (isinstance(scale, (int, float)) and math.isfinite(scale) and scale > 0):
        raise StyleTransferError(f"video scale must be a number > 0, got {scale!r}")


def scaled(width: int, height: int, scale: float) -> tuple[int, int]:
    return max(1, round(width * scale)), max(1, round(height * scale))


def check_output_path(path, src=None) -> Path:
    """Fail now, not after a long run, if the output cannot be written."""
    path = Path(path)
    if path.suffix.lower() not in OUTPUT_SUFFIXES:
        raise StyleTransferError(f"cannot save '{path.name}': the video file name must end in .mp4")
    if src is not None and path.exists() and Path(src).exists() and path.resolve() == Path(src).resolve():
        raise StyleTransferError(f"the output {path} would overwrite the input; choose another name")
    check_writable(path)
    return path


# ------------------------------------------------------------------------------ reading


class Damage:
    """Counts input packets that could not be read or decoded."""

    def __init__(self):
        self.count = 0
        self.read_error = False  # the demuxer failed: the file breaks off or is cut
        # The end (seconds) of the latest packet the demuxer delivered, audio or video: a file
        # that breaks off stops short of the duration its header declares, where an index to
        # count frames by is missing (Matroska, WebM: the demuxer just ends quietly).
        self.reached: float | None = None

    def saw(self, packet) -> None:
        if packet.pts is not None and packet.time_base:
            end = float((packet.pts + (packet.duration or 0)) * packet.time_base)
            self.reached = end if self.reached is None else max(self.reached, end)


@contextlib.contextmanager
def open_input(path: Path):
    import av

    if not path.exists():
        raise StyleTransferError(f"{path} does not exist; check the file name")
    if path.is_dir():
        raise StyleTransferError(f"{path} is a folder, not a video file")
    if path.stat().st_size == 0:
        raise StyleTransferError(f"{path.name} is empty (0 bytes); the upload or download may have failed")
    try:
        container = av.open(str(path), metadata_errors="replace")
    except (av.error.FFmpegError, OSError, UnicodeDecodeError) as e:
        raise StyleTransferError(
            f"{path.name} is not a video file that can be read, or it is damaged ({first_line(e)}); "
            "use an .mp4, .mov, .mkv or .webm video"
        ) from None
    try:
        yield container
    finally:
        container.close()


def streams(container, path: Path):
    """The first real video stream (cover art is not video) and the first audio stream."""
    import av

    fmt = container.format.name
    if fmt == "image2" or fmt.endswith("_pipe"):
        raise StyleTransferError(f"{path.name} is a still image, not a video; stylize it as an image instead")
    if fmt in _TEXT_FORMATS:  # FFmpeg renders .txt files as ANSI-art "video"
        raise StyleTransferError(
            f"{path.name} is not a video file that can be read (it is text); use an .mp4, .mov, .mkv or .webm video"
        )
    video = next(
        (s for s in container.streams.video if not s.disposition & av.stream.Disposition.attached_pic),
        None,
    )
    audio = container.streams.audio[0] if container.streams.audio else None
    if video is None:
        what = "only audio" if audio is not None else "no video"
        raise StyleTransferError(f"{path.name} has {what}: it contains no video track to stylize")
    if video.codec_context is None or video.codec_context.name in (None, "", "none"):
        raise StyleTransferError(
            f"{path.name} uses a video codec that cannot be decoded here; convert it to H.264 first"
        )
    video.thread_type = "AUTO"  # frame + slice threads: decoding keeps up with a busy CPU
    return video, audio


def decoded_frames(container, video, audio, damage: Damage, pending_audio=None) -> Iterator:
    """Video frames in display order; audio packets go to ``pending_audio`` as they pass."""
    import av

    streams = [video] if audio is None or pending_audio is None else [video, audio]
    packets = container.demux(*streams)
    while True:
        try:
            packet = next(packets)
        except StopIteration:
            break
        except av.error.FFmpegError:
            damage.read_error = True  # the container breaks off here: keep what came before
            break
        damage.saw(packet)
        if packet.stream is video:
            if packet.size == 0:
                continue  # the demuxer's end marker; the decoder is flushed once, below
            try:
                frames = packet.decode()
            except av.error.FFmpegError:
                damage.count += 1  # a player skips a broken packet too; the timestamps keep time
                continue
            yield from frames
        elif packet.dts is not None:  # an audio packet (dts None: the demuxer's end marker)
            pending_audio.append(packet)
    try:
        yield from video.decode(None)  # the frames the decoder still holds
    except av.error.FFmpegError:
        damage.count += 1


class VideoReader:
    """An input video opened for reading (a context manager): ``pictures()`` yields its frames
    upright, at the output size, in display order, while the audio packets that pass by wait
    in ``pending_audio`` for the writer (VideoWriter.release_audio).

    The output size is fixed by the first frame: ``scale`` times its displayed size (a stream
    that changes size midway is scaled to it, since the encoder cannot change size).
    """

    def __init__(self, path, scale: float = 1.0):
        check_scale(scale)
        self.path, self.scale = Path(path), scale
        self.damage = Damage()
        self.pending_audio: collections.deque = collections.deque()  # packets not yet muxed
        self.size: tuple[int, int] | None = None  # (width, height) out, upright; known after the first frame
        self._stack = contextlib.ExitStack()

    def __enter__(self) -> VideoReader:
        self.container = self._stack.enter_context(open_input(self.path))
        self.video, self.audio = streams(self.container, self.path)
        self.fps = float(frame_rate(self.video))  # read now: touching a stream after close() crashes PyAV
        self.declared = self.video.frames or None  # from the container's index, when it has one
        self.total = self.declared
        if self.total is None and (seconds := stream_duration(self.container, self.video)):
            self.total = round(seconds * frame_rate(self.video))
        return self

    def __exit__(self, *exc) -> None:
        self._stack.close()

    def ends_early(self, frames: int) -> bool:
        """After reading: did the file break off, ``frames`` frames into it? By its index where it
        has one (fewer frames than listed, beyond what an edit list can trim); else by where the
        demuxer stopped against the duration the header declares (an intact file with a longer
        audio track reaches its end through the audio). A file with neither (MPEG-TS) cannot tell."""
        if self.declared is not None:
            return frames < self.declared - max(2, self.declared // 50)
        if self.damage.read_error:
            return True
        duration, start = self.container.duration, self.container.start_time
        if not duration or self.damage.reached is None:
            return False
        end = ((start or 0) + duration) / 1_000_000  # AV_TIME_BASE
        return self.damage.reached < end - max(2 / self.fps, 0.05 * duration / 1_000_000)

    def pictures(self) -> Iterator[Picture]:
        turn = None
        for frame in decoded_frames(self.container, self.video, self.audio, self.damage, self.pending_audio):
            if turn is None:
                # The display matrix is the stream's; every frame carries a copy. Read it
                # once: frame.side_data makes a reference cycle that keeps the frame (and
                # its pixels) alive until a full garbage collection.
                turn = Orientation.of(frame)
                self.size = scaled(*turn.size(frame.width, frame.height), self.scale)
                check_frame_size(*self.size, self.path.name)
            yield Picture.of(frame, turn, self.size)

    def writer(self, dst: Path, width: int, height: int) -> VideoWriter:
        """An .mp4 writer for this input's frames and sound."""
        return VideoWriter(dst, width, height, self.video, self.audio)


def frame_rate(video) -> Fraction:
    for rate in (video.average_rate, video.guessed_rate, video.base_rate):
        if rate:
            return Fraction(rate)
    return Fraction(25)  # nothing says: FFmpeg's own default


def stream_duration(container, video) -> float | None:
    if video.duration and video.time_base:
        return float(video.duration * video.time_base)
    if container.duration:
        return container.duration / 1_000_000  # AV_TIME_BASE
    return None


def no_frames(path: Path) -> StyleTransferError:
    return StyleTransferError(f"{path.name} contains no video frames; choose a video with at least one frame")


# ------------------------------------------------------------- orientation and colour


@dataclass(frozen=True)
class Orientation:
    """How to turn stored pixels upright, from the frame's display matrix.

    Follows FFmpeg's own autorotate (fftools: get_rotation and the transpose/hflip/vflip
    filters it inserts), which Chromium matches for all eight 90-degree rotations and
    flips (checked: rotations 90/180/270 with and without hflip/vflip). Angles that are not
    a multiple of 90 degrees are left as stored.
    """

    rotation: int = 0  # clockwise degrees: 0, 90, 180, 270
    op: str = "none"  # none, transpose, clock, cclock, antitranspose, hflip, vflip, hvflip

    @classmethod
    def of(cls, frame) -> Orientation:
        import av

        # A lookup by type, not iteration: PyAV 18.1.1 made iterating side_data yield the
        # types (a Mapping's keys) where earlier releases yielded the entries.
        side = frame.side_data.get(av.sidedata.sidedata.Type.DISPLAYMATRIX)
        matrix = None if side is None else np.frombuffer(bytes(side), dtype="<i4")
        if matrix is None or len(matrix) != 9:
            return cls()
        m = matrix / 65536.0  # 16.16 fixed point (the last column differs, unused)
        scale_x, scale_y = math.hypot(m[0], m[3]), math.hypot(m[1], m[4])
        if scale_x == 0 or scale_y == 0:
            return cls()
        # av_display_rotation_get is counter-clockwise; FFmpeg's get_rotation negates it.
        theta = -round(-math.degrees(math.atan2(m[1] / scale_y, m[0] / scale_x)))
        theta -= 360 * math.floor(theta / 360 + 0.9 / 360)
        if abs(theta - 90) < 1:
            return cls(90, "transpose" if matrix[3] > 0 else "clock")
        if abs(theta - 180) < 1:
            flips = ("h" if matrix[0] < 0 else "") + ("v" if matrix[4] < 0 else "")
            return cls(180, {"hv": "hvflip", "h": "hflip", "v": "vflip"}.get(flips, "none"))
        if abs(theta - 270) < 1:
            return cls(270, "antitranspose" if matrix[3] < 0 else "cclock")
        if abs(theta) < 1 and matrix[4] < 0:
            return cls(0, "vflip")
        return cls()

    @property
    def swaps_sides(self) -> bool:
        return self.op in ("transpose", "clock", "cclock", "antitranspose")

    def size(self, width: int, height: int) -> tuple[int, int]:
        return (height, width) if self.swaps_sides else (width, height)

    def apply(self, a: np.ndarray) -> np.ndarray:  # (H, W, 3) -> upright (H', W', 3)
        op = self.op
        if op == "transpose":
            a = a.transpose(1, 0, 2)
        elif op == "clock":
            a = np.rot90(a, -1)
        elif op == "cclock":
            a = np.rot90(a, 1)
        elif op == "antitranspose":
            a = a[::-1, ::-1].transpose(1, 0, 2)
        elif op == "hflip":
            a = a[:, ::-1]
        elif op == "vflip":
            a = a[::-1]
        elif op == "hvflip":
            a = a[::-1, ::-1]
        return np.ascontiguousarray(a)


# AVColorSpace (frame tag) -> swscale's name for the YUV matrix.
_MATRIX = {1: "ITU709", 4: "FCC", 5: "ITU601", 6: "ITU601", 7: "SMPTE240M", 9: "BT2020", 10: "BT2020"}


def _source_matrix(frame) -> str:
    """The YUV->RGB matrix of a decoded frame: its tag, or Chromium's guess when untagged.

    Chromium (checked here) decodes untagged video with BT.709 from 720 rows up and BT.601
    below, whatever the width; we do the same, so colours match what a browser shows.
    """
    return _MATRIX.get(int(frame.colorspace), "ITU709" if frame.height >= 720 else "ITU601")


def _source_range(frame) -> str:
    full = int(frame.color_range) == 2 or frame.format.name.startswith("yuvj")
    return "JPEG" if full else "MPEG"


@dataclass(frozen=True)
class Picture:
    rgb: np.ndarray  # (H, W, 3) uint8, upright, at the output size
    pts: int | None
    duration: int
    time_base: Fraction

    @classmethod
    def of(cls, frame, turn: Orientation, size: tuple[int, int]) -> Picture:
        stored_w, stored_h = turn.size(*size)  # the same turn swaps back
        shrinking = stored_w < frame.width or stored_h < frame.height
        rgb = frame.reformat(
            width=stored_w,
            height=stored_h,
            format="rgb24",
            src_colorspace=_source_matrix(frame),
            src_color_range=_source_range(frame),
            interpolation=_interpolation(area=shrinking),
        ).to_ndarray()
        return cls(turn.apply(rgb), frame.pts, int(frame.duration or 0), Fraction(frame.time_base or 0))


def _interpolation(area: bool = False):
    """swscale flags: bicubic resizing, exact rounding and full chroma resolution. A YUV -> RGB
    -> YUV -> RGB round trip of a real frame: 53 dB with these flags, 45 dB with swscale's
    defaults. area: averaging instead of bicubic, for shrinking only: half the CPU (5.4 against
    10.6 ms for a 1280x720 frame to 640x360, the decoding thread's biggest cost beside the
    network) at 46 dB from a Lanczos reference, against 51 dB for bicubic."""
    from av.video.reformatter import Interpolation as I

    return (I.AREA if area else I.BICUBIC) | I.ACCURATE_RND | I.FULL_CHR_H_INT


def check_frame_size(width: int, height: int, name: str) -> None:
    if width * height > images.MAX_INPUT_PIXELS:
        raise StyleTransferError(
            f"{name} frames would be {width}x{height} pixels, over the limit of "
            f"{images.MAX_INPUT_PIXELS / 1e6:.3g} megapixels; use a smaller scale"
        )
    if min(width, height) < images.MIN_SIDE:
        raise StyleTransferError(
            f"{name} frames would be only {width}x{height} pixels; each side must be at least "
            f"{images.MIN_SIDE} pixels (use a larger scale)"
        )


# ------------------------------------------------------------------------------ writing


class VideoWriter:
    """The output .mp4: an H.264 stream fed frame by frame, audio muxed alongside.

    Odd sizes: H.264 4:2:0 (yuv420p) cannot code an odd width or height (x264 refuses),
    and its SPS cropping works in 2-pixel steps there, so a padded 4:2:0 stream decodes
    one pixel larger. Telling the container the true shape does not help either: a 66x48
    stream with a 65:47 display aspect ratio still plays as 66x48 in Chromium (it keeps
    the coded height and rounds the width). So at an odd size we encode 4:4:4 (High 4:4:4
    Predictive profile, in which x264 codes odd sizes directly): Debian Chromium 156 plays
    it and reports the exact videoWidth/videoHeight (checked with 65x47 and 213x120).
    Even sizes stay 4:2:0, which every browser and hardware decoder plays; 4:4:4 needs a
    software decoder (Chromium and Firefox with FFmpeg have one; Safari may refuse it).
    """

    def __init__(self, dst: Path, width: int, height: int, video_in, audio_in):
        import av

        self.dst = dst
        self.width, self.height = width, height
        try:
            self.file = AtomicFile(dst, suffix=".mp4")  # renamed to dst by finish(), never half-written
            self.container = av.open(str(self.file.tmp), "w", format="mp4", options={"movflags": "+faststart"})
        except (av.error.FFmpegError, OSError) as e:
            if hasattr(self, "file"):
                self.file.discard()
            raise StyleTransferError(f"could not write {dst}: {first_line(e)}") from e
        try:
            with self._writing():
                self._add_streams(video_in, audio_in)
        except BaseException:
            self.abort()
            raise

    @contextlib.contextmanager
    def _writing(self):
        """FFmpeg errors while writing become one line for the user, not a traceback: an
        input whose timestamps or codec parameters the muxer refuses is the input's fault."""
        import av

        try:
            yield
        except (av.error.FFmpegError, OSError) as e:
            raise StyleTransferError(f"could not write {self.dst}: {first_line(e)}") from e

    def _add_streams(self, video_in, audio_in) -> None:
        import av

        width, height = self.width, self.height
        self.time_base = Fraction(video_in.time_base or Fraction(1, 90_000))
        # The input's time base and timestamps are kept, so variable frame rate survives.
        stream = self.container.add_stream(
            "libx264", rate=frame_rate(video_in), time_base=self.time_base, options=dict(X264_OPTIONS)
        )
        stream.width, stream.height = width, height
        self.pix_fmt = "yuv420p" if width % 2 == 0 and height % 2 == 0 else "yuv444p"
        stream.pix_fmt = self.pix_fmt
        cc = stream.codec_context
        # Tag what we convert with, so players do not guess: BT.709, limited range.
        cc.colorspace, cc.color_primaries, cc.color_trc, cc.color_range = 1, 1, 1, 1
        self.video = stream
        self.default_step = max(1, round(1 / (frame_rate(video_in) * self.time_base)))
        self.last_pts: int | None = None
        self.first_pts: int | None = None
        self.end_pts = 0
        self.audio_mode = "none"
        self.audio = None
        self.last_audio_dts: int | None = None  # copied audio: the muxer wants rising dts
        self.next_sample: int | None = None  # re-encoded audio: where the last decoded frame ended
        if audio_in is None:
            return
        # The codec's name, not the decoder's: MP3 decodes with "mp3float".
        if audio_in.codec_context.codec.canonical_name in _COPYABLE_AUDIO:
            self.audio = self.container.add_stream_from_template(audio_in)
            self.audio_mode = "copied"
            return
        rate = audio_in.codec_context.sample_rate
        if rate not in av.Codec("aac", "w").audio_rates:
            rate = 48_000  # PyAV resamples to the encoder's rate
        # Mono stays mono; anything else is mixed to stereo (a PCM track's layout is often unnamed).
        layout = "mono" if audio_in.codec_context.channels == 1 else "stereo"
        self.audio = self.container.add_stream("aac", rate=rate, layout=layout)
        self.audio.codec_context.bit_rate = _AAC_BIT_RATE
        self.audio_mode = "re-encoded"

    @property
    def video_end(self) -> Fraction:
        return self.end_pts * self.time_base

    @property
    def video_seconds(self) -> float:
        return float((self.end_pts - (self.first_pts or 0)) * self.time_base)

    def write_video(self, rgb: np.ndarray, pts: int | None, duration: int, time_base: Fraction) -> Fraction:
        """Encode one frame at its input timestamp; returns the time its display ends."""
        import av

        if pts is not None and time_base and time_base != self.time_base:
            pts = round(pts * time_base / self.time_base)
        if pts is None:
            pts = 0 if self.last_pts is None else self.last_pts + self.default_step
        elif self.last_pts is not None and pts <= self.last_pts:
            pts = self.last_pts + 1  # x264 refuses repeated timestamps
        frame = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(
            format=self.pix_fmt, dst_colorspace="ITU709", dst_color_range="MPEG", interpolation=_interpolation()
        )
        frame.pts, frame.time_base = pts, self.time_base
        frame.duration = duration if duration > 0 else self.default_step
        with self._writing():
            self._mux(self.video.encode(frame))
        if self.first_pts is None:
            self.first_pts = pts
        self.last_pts = pts
        self.end_pts = pts + frame.duration
        return self.video_end

    def release_audio(self, queue: collections.deque, *, until: Fraction | None) -> None:
        """Mux the queued audio packets that start before ``until`` seconds (all when None);
        later ones stay queued. Holding audio back to the video written so far is what
        lets a stop cut the audio at the last frame."""
        while queue:
            packet = queue[0]
            start = packet.pts if packet.pts is not None else packet.dts
            if until is not None and start * packet.time_base >= until:
                return
            queue.popleft()
            with self._writing():
                if self.audio_mode == "copied":
                    self._copy_audio(packet)
                elif self.audio_mode == "re-encoded":
                    self._reencode_audio(packet)

    def _copy_audio(self, packet) -> None:
        if self.last_audio_dts is not None and packet.dts <= self.last_audio_dts:
            return  # a repeated or backward timestamp: the muxer refuses it (EINVAL), a player skips it
        self.last_audio_dts = packet.dts
        packet.stream = self.audio
        self.container.mux(packet)

    def _reencode_audio(self, packet) -> None:
        import av

        try:
            frames = packet.decode()
        except av.error.FFmpegError:
            return  # a broken audio packet: a moment of silence, as in a player
        for frame in frames:
            self._mux(self.audio.encode(self._counted_in_samples(frame)))

    def _counted_in_samples(self, frame):
        """The decoded frame with its timestamp counted in samples (time base 1/rate).

        PyAV cuts the frames into the encoder's 1024-sample pieces and stamps each in the
        frame's time base. In a coarse one (an AVI counts its MP3 or AC-3 in whole packets
        of 1152 or 1536 samples) neighbouring pieces round to the same stamp, and the muxer
        refuses the repeat with "Invalid argument"; in milliseconds (WebM, Matroska) they
        are merely rounded (PyAV issue 1182).
        """
        rate = frame.sample_rate
        if frame.pts is not None and frame.time_base:
            start = round(frame.pts * frame.time_base * rate)
        else:
            start = self.next_sample or 0  # no timestamp: straight after the previous frame
        if self.next_sample is not None:
            start = max(start, self.next_sample)  # overlapping frames would repeat stamps too
        frame.pts, frame.time_base = start, Fraction(1, rate)
        self.next_sample = start + frame.samples
        return frame

    def _mux(self, packets) -> None:
        for packet in packets:
            self.container.mux(packet)

    def finish(self) -> None:
        try:
            with self._writing():
                self._mux(self.video.encode(None))
                if self.audio_mode == "re-encoded":
                    self._mux(self.audio.encode(None))
                self.container.close()
                self.file.commit()
        except BaseException:
            self.abort()
            raise

    def abort(self) -> None:
        with contextlib.suppress(Exception):
            self.container.close()
        with contextlib.suppress(OSError):
            self.file.discard()
