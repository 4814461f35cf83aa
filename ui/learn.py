"""The "Learn a painting" tab: a visitor's painting added to the several-style networks in the
background, then offered by the Image, Video and Webcam tabs like the shipped styles.

Upload a painting and press Learn: the engine's Learner (styletransfer/training/learner.py)
queues the job, one at a time, in a niced process of its own, and this page polls its status
with a timer: a progress bar with the ETA, a preview every few steps, or the place in the
queue. The job's id is kept in the browser's local storage (gr.BrowserState), so a reloaded
page finds its job again. Each network the job publishes (lite first, then full) joins the
style galleries (ui/learned.py keeps the tabs' lists live; this page's galleries are sent anew).

A tab of its own rather than a part of the Image tab: what it makes serves all three tabs, and
the job takes minutes, long after a photo there is painted.

Other programs: /learn (painting, name) -> the job's id; /learn_status (job id) -> its status
as JSON (learn.JobStatus's fields).
"""

from __future__ import annotations

import contextlib
import dataclasses
import html
import threading

import gradio as gr

from styletransfer.errors import StyleTransferError
from styletransfer.io import images
from styletransfer.training.learn import LearnConfig, learned_folder
from styletransfer.training.learner import Learner

from . import learned
from .common import EXAMPLES_DIR, PAGE_ONLY, page_error, seconds_text, tab_zoo, uploaded_path

POLL_S = 1.0  # how often a page following a job asks how it stands
PREVIEW_PHOTO = EXAMPLES_DIR / "photos" / "skimage_chelsea.jpg"  # the cat, as in the README
# The job id in the browser's local storage. BrowserState encrypts what it stores with this
# key (else a random one per start of the app, and a restarted app could not read it back);
# a job id is no secret: the key only keeps it readable across restarts.
JOB_STORAGE_KEY = "styletransfer-learn-job"
JOB_STORAGE_SECRET = "styletransfer-learn-job-id"
LEARNING = {"concurrency_limit": None, "show_progress": "hidden", **PAGE_ONLY}  # status only: never waits

_learner: Learner | None = None
_learner_lock = threading.Lock()


def learner(models_folder=None) -> Learner:
    """The app's one queue of learning jobs (made on first use), over $STYLETRANSFER_HOME."""
    global _learner
    with _learner_lock:
        if _learner is None:
            _learner = Learner(
                LearnConfig.from_env(
                    models=str(models_folder or ""),
                    fallback_photos=str(EXAMPLES_DIR / "photos"),
                    preview_photo=str(PREVIEW_PHOTO),
                )
            )
        return _learner


def use_learner(new: Learner | None) -> Learner | None:
    """Put ``new`` in place of the app's queue (tests: tiny jobs); returns the one it replaces."""
    global _learner
    with _learner_lock:
        old, _learner = _learner, new
        return old


def learn_served_paths() -> list[str]:
    """The learned styles' folder: their thumbnails are served in the galleries (launch's allowed_paths)."""
    return [str(learned_folder())]


# ---------------------------------------------------------------- jobs in words


def start_job(painting, name, models_folder=None) -> str:
    """Queue the uploaded painting (a raw payload or a path); returns the job's id."""
    path = uploaded_path(painting)
    if not path:
        raise StyleTransferError("upload a painting first")
    return learner(models_folder).submit(path, str(name or ""))


def progress_html(status) -> str:
    """The job's line: a bar, where it stands, and what is usable already."""
    title = html.escape(f"“{status.title}”")
    bar = ""
    if status.state == "queued":
        ahead = f"{status.ahead} painting{'s' if status.ahead != 1 else ''} ahead of yours"
        text = f"Waiting to learn {title}: {ahead} (one painting learns at a time)."
        bar = '<progress style="width: 100%"></progress>'
    elif status.state == "running":
        bar = f'<progress max="{status.total}" value="{status.step}" style="width: 100%"></progress>'
        left = f" · about {seconds_text(status.eta_s)} left" if status.eta_s is not None else ""
        if status.step == 0 or not status.arch:
            text = f"Preparing to learn {title} (loading the networks){left}."
        else:
            text = f"Learning {title}: the {status.arch} network, step {status.step}/{status.total}{left}."
        if status.archs_done:
            text += f" Ready already with {' and '.join(status.archs_done)}: try it in the other tabs."
        elif status.predicted:
            text += " A first version, predicted in seconds, is in the other tabs already; learning brings it closer."
    elif status.state == "done":
        shown = html.escape(f"“{status.title} ({learned.LEARNED_MARK})”")
        text = f"Learned {title}: choose {shown} in the Image, Video and Webcam tabs."
    elif status.state == "cancelled":
        text = f"Cancelled: {title} was not kept."
    else:
        text = f"Error: {status.error}"
        return f'<div class="st-progress">{html.escape(text)}</div>'
    return f'<div class="st-progress">{bar}{text}</div>'


def status_json(status) -> dict:
    """/learn_status's answer: JobStatus's fields, less the server's file paths."""
    data = dataclasses.asdict(status)
    data["preview"] = bool(status.preview)
    return data


# ---------------------------------------------------------------- the tab


def build_learn_tab(models_folder=None) -> None:
    """The tab, and what keeps this page's galleries up to date (build after the other tabs)."""
    _, styles, _ = tab_zoo(models_folder)
    with contextlib.suppress(StyleTransferError):  # made now: it resumes the jobs a stopped app left
        learner(models_folder)  # (a bad $STYLETRANSFER_LEARN_CONFIG is said on the first Learn)
    root = gr.context.Context.root_block
    galleries = [b for b in root.blocks.values() if getattr(b, "elem_id", None) in learned.GALLERIES]
    kinds = [learned.GALLERIES[g.elem_id] for g in galleries]
    with gr.Tab("Learn a painting", id="learn"):
        gr.Markdown(
            "Teach the app a painting of your own. Within seconds a first version appears in the style "
            "lists of the Image, Video and Webcam tabs, marked *learned*; the painting is then added to the "
            "networks behind the pretrained styles (only its own scale-and-shift is fitted), which takes "
            "several minutes on a CPU and brings it closer, and it stays there. One painting learns at a "
            "time; you can leave this page and come back."
        )
        with gr.Row(equal_height=False):
            with gr.Column(scale=1):
                painting = gr.Image(
                    label="Painting",
                    type="filepath",
                    image_mode=None,
                    sources=["upload", "clipboard"],
                    elem_id="learn-painting",
                    height=300,
                )
                name = gr.Textbox(
                    label="Name (optional)", placeholder="the file's name", max_length=80, elem_id="learn-name"
                )
                with gr.Row():
                    run = gr.Button("Learn this painting", variant="primary", elem_id="learn-run")
                    cancel = gr.Button("Cancel", elem_id="learn-cancel")
            with gr.Column(scale=1):
                preview = gr.Image(
                    label="Preview (the network so far)",
                    type="numpy",
                    interactive=False,
                    elem_id="learn-preview",
                    height=300,
                )
                progress = gr.HTML('<div class="st-progress">No painting learning yet.</div>', elem_id="learn-progress")
    job = gr.BrowserState("", storage_key=JOB_STORAGE_KEY, secret=JOB_STORAGE_SECRET)
    shown = gr.State(-1)  # the step of the preview this page shows
    version = gr.State(learned.sync())  # the learned styles this page's galleries list
    timer = gr.Timer(POLL_S, active=False)

    def look(job_id, shown_step, page_version):
        """(line, preview, timer, shown, version, *galleries) for the page following ``job_id``."""
        now = learned.sync()
        galleries_out = learned.gallery_updates(styles, kinds) if now != page_version else [gr.skip()] * len(kinds)
        if not job_id:
            return gr.skip(), gr.skip(), gr.Timer(active=False), shown_step, now, *galleries_out
        try:
            status = learner(models_folder).status(job_id)
        except StyleTransferError:  # a job of a reset app: forget it quietly
            return gr.skip(), gr.skip(), gr.Timer(active=False), shown_step, now, *galleries_out
        image = gr.skip()
        if status.preview and status.preview_step != shown_step:
            try:
                image = images.load_array(status.preview)
                shown_step = status.preview_step
            except StyleTransferError:  # being replaced this moment: the next look
                pass
        active = status.state in ("queued", "running")
        return progress_html(status), image, gr.Timer(active=active), shown_step, now, *galleries_out

    def start(painting_value, name_value, page_version):
        try:
            job_id = start_job(painting_value, name_value, models_folder)
        except Exception as error:
            line, popup = page_error(error, "learning a painting", "Try another painting.")
            yield gr.skip(), line, gr.skip(), gr.skip(), gr.skip(), gr.skip(), *[gr.skip()] * len(kinds)
            raise popup from None
        yield job_id, *look(job_id, -1, page_version)

    def stop(job_id):
        if not job_id:
            return gr.skip()
        try:
            return progress_html(learner(models_folder).cancel(job_id))
        except StyleTransferError as error:
            return f'<div class="st-progress">{html.escape(f"Error: {error}")}</div>'

    watched = [progress, preview, timer, shown, version, *galleries]
    run.click(start, [painting, name, version], [job, *watched], preprocess=False, **LEARNING)
    timer.tick(look, [job, shown, version], watched, **LEARNING)
    cancel.click(stop, [job], [progress], **LEARNING)
    root.load(look, [job, shown, version], watched, **LEARNING)  # a reloaded page finds its job


def build_learn_api(models_folder=None) -> None:
    """/learn and /learn_status for gradio_client (inside the app's Blocks)."""

    def learn_painting(painting, name):
        try:
            return start_job(painting, name, models_folder)
        except Exception as error:
            _, popup = page_error(error, "learning a painting", "Try another painting.")
            raise popup from None

    def learn_status(job_id):
        try:
            return status_json(learner(models_folder).status(str(job_id or "")))
        except Exception as error:
            _, popup = page_error(error, "a learning job's status", "Check the job id.")
            raise popup from None

    with gr.Column(visible=False, elem_id="learn-api-only"):
        painting = gr.Image(type="filepath", label="painting")
        name = gr.Textbox("", label="name")
        job_id = gr.Textbox(label="job_id")
        status = gr.JSON(label="status")
        trigger = gr.Button()
        trigger.click(
            learn_painting, [painting, name], job_id, api_name="learn", preprocess=False, concurrency_limit=None
        )
        trigger = gr.Button()
        trigger.click(learn_status, [job_id], status, api_name="learn_status", concurrency_limit=None)
