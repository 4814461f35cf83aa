"""The Video tab: a clip stylized by a pretrained network, with its sound kept."""

from __future__ import annotations

import html
import shutil
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

import gradio as gr

from styletransfer import dials
from styletransfer.errors import StyleTransferError
from styletransfer.io import media
from styletransfer.io.frames import encode_jpeg
from styletransfer.video import stylize
from styletransfer.video.stylize import DamagedVideoError, VideoProgress, VideoResult

from .common import (
    HEAVY_JOBS,
    PAGE_ONLY,
    SHOW_QUEUE,
    StopRequests,
    ZooStyle,
    choice_radio,
    end_run,
    jpeg_img,
    no_models_message,
    page_error,
    seconds_text,
    slider,
    start_run,
    starting_choice,
    status_html,
    stop_button,
    style_dropdown,
    style_network,
    tab_zoo,
    uploaded_path,
)
from .learned import style_index

VIDEO_PROGRESS_EVERY_S = 0.5  # progress lines (with a preview frame) at most twice a second
VIDEO_PREVIEW_PX = 240  # long side of the preview frame in the progress line
VIDEO_STOPS = StopRequests()  # its own flags: Stop in one tab must not end another tab's run
AUDIO_TEXT = {"copied": "with its sound", "re-encoded": "with its sound (re-encoded to AAC)", "none": "no sound track"}


def _video_progress_html(event: VideoProgress) -> str:
    done, total = event.frames_done, event.total_frames
    if total:
        bar = f'<progress max="{total}" value="{min(done, total)}" style="width: 100%"></progress>'
    else:
        bar = '<progress style="width: 100%"></progress>'
    parts = [
        f"Frame {done}/{total}" if total else f"Frame {done}",
        f"{event.fps:.2g} fps" if event.fps < 10 else f"{event.fps:.0f} fps",
        f"about {seconds_text(event.seconds_left)} left" if event.seconds_left is not None else "length unknown",
        f"{seconds_text(event.elapsed)} elapsed",
    ]
    preview = ""
    if event.frame is not None:
        preview = jpeg_img(
            encode_jpeg(event.frame, max_side=VIDEO_PREVIEW_PX),
            "the latest stylized frame",
            "display: block; margin-top: 6px",
        )
    return f'<div class="st-progress">{bar}{html.escape(" · ".join(parts))}{preview}</div>'


def _video_result_text(result: VideoResult) -> str:
    if result.stopped:
        head = f"Stopped: the first {result.frames} frames ({result.duration:.1f} s) are saved"
    else:
        head = f"Done: {result.frames} frames ({result.duration:.1f} s)"
    speed = f" ({result.frames / result.elapsed:.2g} fps)" if result.elapsed > 0 else ""
    took = f"took {seconds_text(result.elapsed)}{speed}"
    text = f"{head}, {result.width}×{result.height}, {AUDIO_TEXT[result.audio]} · {took}"
    if result.damaged_packets:
        text += f" · {result.damaged_packets} damaged parts of the input were skipped"
    return text


def video_job(
    source,
    style: ZooStyle | None,
    arch: str,
    strength,
    keep_colors,
    scale,
    temporal,
    folder: Path,
    stop: threading.Event,
    grid_average=False,
):
    """Yield (video, download button, status HTML) triples while a video is stylized.
    grid_average: "Extra steady" (Network.stylize's; four times the network's work).

    Raises StyleTransferError for bad input (before the network loads). After Stop, or when the
    input breaks off, the frames done so far are a playable file, offered like a finished one.
    """
    src = uploaded_path(source)
    if not src:
        raise StyleTransferError("upload a video first (left, 'Video')")
    if style is None:
        raise StyleTransferError("choose a style first")
    style.require(arch, folder)
    name = Path(src).name
    # Written outside Gradio's cache, which copies the result in when it is shown (and deletes
    # that copy with the rest of its cache); this folder goes when the job ends.
    workdir = Path(tempfile.mkdtemp(prefix="styletransfer-video-"))
    try:
        yield from _video_steps(
            src, style, arch, strength, keep_colors, scale, temporal, bool(grid_average), folder, stop, workdir
        )
    except StyleTransferError as error:
        # FFmpeg's messages quote the file's path: say only its name (server folders stay private).
        raise StyleTransferError(str(error).replace(src, name).replace(str(workdir), "…")) from None
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _video_steps(
    src: str,
    style: ZooStyle,
    arch: str,
    strength,
    keep_colors,
    scale,
    temporal,
    grid_average: bool,
    folder: Path,
    stop: threading.Event,
    workdir: Path,
):
    """video_job's steps, given the upload's path and a scratch folder for the output."""
    name = Path(src).name
    dst = workdir / f"{Path(src).stem}-{style.name}.mp4"
    # The engine reads the numbers (a client may send them as text) and checks them once, with the
    # page's ranges (dials.VIDEO_SCALE: never enlarged).
    info = stylize.check(src, dst, strength=strength, scale=scale, page=True)
    if stop.is_set():  # Stop pressed while waiting in the queue
        yield gr.skip(), gr.skip(), status_html("Stopped before it started.")
        return
    width, height = media.output_size(info, float(scale))
    length = f"{info.frames} frames" if info.frames else "a video"
    yield (
        None,
        gr.update(visible=False),
        status_html(f"Loading the {style.label} network ({arch}) for {length} at {width}×{height}…", busy=True),
    )
    # auto: torch on a GPU Space (frames in batches), else onnxruntime on all cores (1.3-2.5x
    # torch's speed on a CPU, bench/fast.py).
    network = style_network(style, arch, folder, backend="auto")

    latest: list[VideoProgress | None] = [None]
    outcome: dict = {}
    finished, abandoned = threading.Event(), threading.Event()

    def work():
        try:
            outcome["result"] = stylize.stylize_video(
                src,
                dst,
                network,
                strength=strength,
                keep_colors=bool(keep_colors),
                temporal=bool(temporal),
                grid_average=grid_average,
                scale=scale,
                callback=lambda event: latest.__setitem__(0, event),
                should_stop=lambda: stop.is_set() or abandoned.is_set(),
            )
        except BaseException as error:  # handed to the generator, which reports it
            outcome["error"] = error
        finally:
            finished.set()

    # The engine reports through a callback; a worker thread lets this generator stream the
    # progress meanwhile.
    worker = threading.Thread(target=work, name="video-job", daemon=True)
    worker.start()
    try:
        sent = None
        while not finished.wait(VIDEO_PROGRESS_EVERY_S):
            event = latest[0]
            if event is not None and event is not sent:
                sent = event
                yield gr.skip(), gr.skip(), _video_progress_html(event)
    finally:
        abandoned.set()  # the page went away (this generator was closed): end at the next frame
        worker.join()

    error = outcome.get("error")
    if isinstance(error, DamagedVideoError):
        result = error.result
        status = f"{name}: kept {result.frames} frames: the file ends early; they are saved. " + _video_result_text(
            result
        )
        gr.Warning(f"{name} ends early: the {result.frames} frames that could be decoded are saved.")
    elif error is not None and stop.is_set() and latest[0] is None and isinstance(error, StyleTransferError):
        yield gr.skip(), gr.skip(), status_html("Stopped before the first frame: nothing to save.")
        return
    elif error is not None:
        raise error
    else:
        result = outcome["result"]
        status = _video_result_text(result)
    path = str(result.path)
    # gr.update, not gr.DownloadButton(value=...): the constructor would copy the file into
    # Gradio's cache at once, a copy outside the cache's clean-up.
    yield path, gr.update(value=path, visible=True), status_html(status)


@dataclass
class VideoWidgets:
    source: gr.Video
    style: gr.Dropdown
    arch: gr.Radio
    strength: gr.Slider
    keep_colors: gr.Checkbox
    scale: gr.Slider
    temporal: gr.Checkbox
    grid_average: gr.Checkbox
    run: gr.Button
    stop: gr.Button
    result: gr.Video
    download: gr.DownloadButton
    progress: gr.HTML


def _video_widgets(styles: list[ZooStyle]) -> VideoWidgets:
    first_style, first_arch = starting_choice(styles, dials.VIDEO_ARCH.default)
    style = style_dropdown(styles, first_style, "video-style")
    with gr.Row(equal_height=False):
        with gr.Column(scale=1):
            # Read with preprocess=False (see _wire_video), as the Image tab does: the engine
            # opens the upload itself, so a bad file gets its one-line message.
            source = gr.Video(label="Video", sources=["upload"], elem_id="video-input", height=300)
        with gr.Column(scale=1):
            arch = choice_radio(dials.VIDEO_ARCH, value=first_arch, elem_id="video-arch")
            strength = slider(
                dials.STYLE_MIX, elem_id="video-strength", info="0 = the video, 1 = the network's painting in full"
            )
            scale = slider(dials.VIDEO_SCALE, label="Output scale", elem_id="video-scale")
            with gr.Row():
                keep_colors = gr.Checkbox(value=False, label="Keep the video's colours", elem_id="video-keep-colors")
                temporal = gr.Checkbox(
                    value=True,
                    label="Steady between frames",
                    elem_id="video-temporal",
                    info="temporal blending along the motion: far less flicker",
                )
                grid_average = gr.Checkbox(
                    value=False,
                    label="Extra steady",
                    elem_id="video-grid-average",
                    info="the network averaged over its pixel grid: steadier on slow pans, 4× slower",
                )
            with gr.Row():
                run = gr.Button("Run", variant="primary", elem_id="video-run")
                stop = stop_button("video-stop")
        with gr.Column(scale=1):
            result = gr.Video(
                label="Result", interactive=False, buttons=["download"], elem_id="video-result", height=300
            )
            download = gr.DownloadButton("Download the video", visible=False, elem_id="video-download")
            progress = gr.HTML(status_html("Ready."), elem_id="video-progress")
    return VideoWidgets(
        source, style, arch, strength, keep_colors, scale, temporal, grid_average, run, stop, result, download, progress
    )


def _wire_video(w: VideoWidgets, styles: list[ZooStyle], folder: Path) -> None:
    by_name = style_index(styles)  # live: it finds the paintings learned later (ui/learned.py)

    def start(request: gr.Request):
        VIDEO_STOPS.arm(request)
        return start_run()

    def run(source, style_name, arch, strength, keep_colors, scale, temporal, grid_average, request: gr.Request = None):
        stop = VIDEO_STOPS.flag(request)
        try:
            yield from video_job(
                source,
                by_name.get(style_name),
                arch,
                strength,
                keep_colors,
                scale,
                temporal,
                folder,
                stop,
                grid_average,
            )
        except Exception as error:
            status, popup = page_error(error, "video style transfer", "Try another video or style.")
            yield gr.skip(), gr.skip(), status
            raise popup from None
        finally:
            VIDEO_STOPS.release(request, stop)

    quick = {"concurrency_limit": None, "show_progress": "hidden", **PAGE_ONLY}
    inputs = [w.source, w.style, w.arch, w.strength, w.keep_colors, w.scale, w.temporal, w.grid_average]
    job = w.run.click(start, outputs=[w.run, w.stop, w.progress], **quick).then(
        run,
        inputs=inputs,
        outputs=[w.result, w.download, w.progress],
        **SHOW_QUEUE,
        show_progress_on=[w.progress],
        preprocess=False,
        concurrency_id=HEAVY_JOBS,
        **PAGE_ONLY,
    )
    job.then(end_run, outputs=[w.run, w.stop], **quick)
    job.failure(end_run, outputs=[w.run, w.stop], **quick)
    w.stop.click(VIDEO_STOPS.stop, **quick)


def build_video_tab(models_folder=None) -> None:
    """Upload a clip, download it stylized by a pretrained network, with its sound."""
    folder, styles, problem = tab_zoo(models_folder)
    with gr.Tab("Video", id="video"):
        gr.Markdown(
            "Upload a clip: every frame is repainted by a pretrained network and the sound is kept. "
            "On a 2-core CPU, 640×360 runs at about 2 frames a second with the full network and 10 with "
            "the lite one (bench/video.py); Stop keeps the frames done so far as a shorter video."
        )
        if not styles:
            gr.Markdown(no_models_message(folder, problem), elem_id="video-zoo-empty")
            return
        _wire_video(_video_widgets(styles), styles, folder)
