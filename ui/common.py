"""What the tabs share: status lines, errors for the page, Stop flags, uploads, and the model zoo."""

from __future__ import annotations

import base64
import html
import logging
import math
import os
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import gradio as gr
import numpy as np

from styletransfer import instant
from styletransfer.dials import Choice, Dial
from styletransfer.errors import StyleTransferError
from styletransfer.io import images
from styletransfer.networks import zoo

log = logging.getLogger("styletransfer.app")

REPO_ROOT = Path(__file__).resolve().parent.parent  # app.py's folder, whatever the working directory
EXAMPLES_DIR = REPO_ROOT / "examples"

QUEUE_MAX_SIZE = 16
# Every event of the page: kept out of the API. Clients get ui/api.py's endpoints, a contract
# that does not change when the page does (the page's events need page state and event data).
PAGE_ONLY = {"api_visibility": "private"}
# Long jobs (a Gatys run, a video) share one queue slot: either one already uses every core.
HEAVY_JOBS = "heavy"
# Instant passes (and the fast result) have queue slots of their own (never behind a Gatys run or
# a video). Two at a time on the 2-core CPU: bench/load.py measured 16 clients x 3 full passes at
# 512 px with 1, 2 and 4 slots: p50 29.0 / 25.8 / 24.8 s, 0.53 / 0.59 / 0.58 requests a second,
# server peak 0.8 / 1.1 / 1.4 GB. More cores: raise STYLETRANSFER_INSTANT_CONCURRENCY.
INSTANT_CONCURRENCY = int(os.environ.get("STYLETRANSFER_INSTANT_CONCURRENCY", "2"))
MAX_FILE_SIZE = "25mb"


# Runs once in the page (app.launch_options). An error pop-up stays until closed, since the
# user may need time to read it; once a status line changes to anything but an error, the
# pop-up is out of date, so it goes. (Polled: Gradio's updates of an HTML component do not
# reliably show up as added nodes to a MutationObserver.)
PAGE_JS = """
() => {
  const seen = new Map();  // status line -> its last text
  setInterval(() => {
    for (const status of document.querySelectorAll('#progress .st-progress, #video-progress .st-progress')) {
      const key = status.closest('#progress, #video-progress').id;
      const text = status.textContent.trim();
      if (seen.has(key) && seen.get(key) !== text && !text.startsWith('Error')) {
        document.querySelectorAll('button.toast-close.error').forEach((button) => button.click());
      }
      seen.set(key, text);
    }
  }, 250);
}
"""


def example_captions() -> dict[str, str]:
    """{file: "Title — Artist, year"} for the example paintings, from the table in
    examples/SOURCES.md (their one record: | file | artist | title | year | licence |)."""
    captions = {}
    for line in (EXAMPLES_DIR / "SOURCES.md").read_text(encoding="utf-8").splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) == 5 and cells[0].endswith(".jpg"):
            file, artist, title, year, _ = cells
            captions[file] = f"{title} — {artist}, {year}"
    return captions


# Result files are copied into Gradio's cache as soon as they are returned; kept this long just in case.
RESULT_FILE_LIFETIME_S = 600
_result_folder: Path | None = None
_result_folder_lock = threading.Lock()


def result_png(image: np.ndarray) -> str:
    """The image as a PNG file of its own, for an image output to serve.

    Why not return the array: Gradio saves an array under a name derived from its content and
    rewrites that file in place, so identical results at once (several clients, one photo and
    style) truncate a file while another client downloads it ("Too little data for declared
    Content-Length"). A returned file is copied into the cache under a temporary name and renamed
    into place, so no download ever sees half a file."""
    global _result_folder
    with _result_folder_lock:
        if _result_folder is None:
            _result_folder = Path(tempfile.mkdtemp(prefix="styletransfer-results-"))
    stale = time.time() - RESULT_FILE_LIFETIME_S
    for old in _result_folder.glob("*.png"):
        try:
            if old.stat().st_mtime < stale:
                old.unlink()
        except FileNotFoundError:  # another request pruned it first
            pass
    handle, path = tempfile.mkstemp(prefix="painted-", suffix=".png", dir=_result_folder)  # a name of its own
    os.close(handle)
    return str(images.save_image(image, path))


def status_html(message: str, busy: bool = False) -> str:
    bar = '<progress style="width: 100%"></progress>' if busy else ""
    return f'<div class="st-progress">{bar}{html.escape(message)}</div>'


def page_error(error: Exception, job: str, hint: str) -> tuple[str, gr.Error]:
    """The status line and the pop-up for a failed job. A StyleTransferError is the user's
    (its message says what to do); anything else is a bug: logged, and reported without
    taking the server down."""
    if isinstance(error, StyleTransferError):
        return status_html(f"Error: {error}"), gr.Error(str(error), duration=None, print_exception=False)
    log.exception("%s failed", job)
    message = f"Something went wrong ({type(error).__name__}: {error}). {hint}"
    return status_html(f"Error: {message}"), gr.Error(message, duration=None)


def slider(dial: Dial, **options) -> gr.Slider:
    """A slider for one of the engine's dials (styletransfer/dials.py): its range on the page,
    default, step, label and help; ``options`` add to them or override them."""
    low, high = dial.range(page=True)
    label = f"{dial.title} ({dial.unit.strip()})" if dial.unit else dial.title
    defaults = {"value": dial.default, "step": dial.step, "label": label, "info": dial.help}
    return gr.Slider(low, high, **{**defaults, **options})


def number_box(dial: Dial, **options) -> gr.Number:
    """A number box for a dial with an open range (a weight) or a wide one (a seed)."""
    low, high = dial.range(page=True)
    defaults = {
        "value": dial.default,
        "minimum": low,
        "maximum": None if math.isinf(high) else high,
        "precision": 0 if dial.integer else None,
        "label": dial.title,
    }
    return gr.Number(**{**defaults, **options})


def choice_radio(choice: Choice, **options) -> gr.Radio:
    """Radio buttons for one of the engine's choices (styletransfer/dials.py): each value shown
    by its meaning, the default chosen; ``options`` add to them or override them."""
    defaults = {"value": choice.default, "label": choice.title}
    return gr.Radio([(meaning, value) for value, meaning in choice.choices], **{**defaults, **options})


def uploaded_path(payload) -> str | None:
    """The file behind a raw (not preprocessed) Image payload or Gallery item."""
    if isinstance(payload, dict):
        payload = payload.get("image") or payload.get("video") or payload
        return payload.get("path")
    return payload  # a plain path (direct Python calls)


class StopRequests:
    """Stop buttons, one flag per browser session.

    Stop is cooperative: the run checks its flag after every step and ends normally, so the
    last image and a "stopped" line are the final outputs. (Cancelling the generator instead
    can let a preview already on its way overwrite the page after the stop.)
    """

    def __init__(self):
        self._flags: dict[str, threading.Event] = {}
        self._armed_at: dict[str, float] = {}
        self._lock = threading.Lock()

    def arm(self, request: gr.Request | None) -> None:
        """Run was clicked: a fresh flag for this session (set before the job is queued)."""
        if request is not None:
            with self._lock:
                self._flags[request.session_hash] = threading.Event()
                self._armed_at[request.session_hash] = time.monotonic()

    def armed_after(self, request: gr.Request | None, moment: float) -> bool:
        """Whether this session clicked Run after ``moment`` (time.monotonic), or a run is still on:
        a quicker job begun before must not overwrite that run's images."""
        if request is None:
            return False
        with self._lock:
            return (
                request.session_hash in self._flags or self._armed_at.get(request.session_hash, float("-inf")) > moment
            )

    def stop(self, request: gr.Request | None) -> None:
        if request is not None:
            with self._lock:
                flag = self._flags.get(request.session_hash)
            if flag is not None:
                flag.set()

    def flag(self, request: gr.Request | None) -> threading.Event:
        with self._lock:
            found = self._flags.get(request.session_hash) if request is not None else None
        return found or threading.Event()  # a direct call or no arm(): a flag nobody sets

    def release(self, request: gr.Request | None, flag: threading.Event) -> None:
        if request is not None:
            with self._lock:
                if self._flags.get(request.session_hash) is flag:
                    del self._flags[request.session_hash]


WAITING = "Waiting for a free slot (one long job runs at a time)…"
# Long jobs: Gradio's own tracker on the status line shows the place in the queue while a job
# waits (our status line says everything else once it runs). PAGE_CSS puts it in the flow.
SHOW_QUEUE = {"show_progress": "minimal"}
PAGE_CSS = """
#progress [data-testid="status-tracker"], #video-progress [data-testid="status-tracker"] {
  position: static !important; display: block !important; height: auto !important; background: none;
  padding: 0 0 4px 0 !important; text-align: left;
}
#progress .progress-text, #video-progress .progress-text {
  position: static !important; transform: none !important; font-family: inherit; text-align: left;
}
/* The Webcam tab's notice (why the page fell back to the server) takes no room until it has something to say. */
#webcam-notice-box:has(#webcam-notice:empty) { display: none; }
#webcam-notice { color: var(--error-text-color, #b91c1c); font-weight: 600; padding: 4px 0; }
#browser-webcam-info.st-error { color: var(--error-text-color, #b91c1c); }
/* The in-browser webcam's canvas shows once the camera is on (browser_webcam.js); before, its hint. */
#browser-webcam-output { display: none; }
#browser-webcam.st-started #browser-webcam-output { display: block; }
#browser-webcam:not(.st-started) #browser-webcam-info {
  padding: 3em 1em; text-align: center; border: 1px dashed var(--border-color-primary); border-radius: var(--radius-lg);
}
/* Blend, greyed out as a whole while it has no second style to blend with (image_tab._wire_instant). */
#instant-blend:has(input[type="range"]:disabled) { opacity: 0.6; }
/* Gradio's dropdown arrow lies over the right end of the text box: end the text before it. */
.wrap-inner input[role="combobox"] { padding-right: var(--size-8); text-overflow: ellipsis; }
/* The galleries of paintings (image_tab.py) name each one in full, under its picture: Gradio lays
   one line over the picture, cut to "Landscape wi…", and a visitor cannot tell the paintings apart.
   A gallery grows to hold them all (Gradio caps a height="auto" gallery at 55vh and scrolls), in
   as many columns as fit: 4 beside the photo in a wide window; Gradio's fixed count ran off a narrow one. */
#zoo-styles .grid-wrap, #example-paintings .grid-wrap { max-height: none; min-height: 0; overflow-y: visible; }
#zoo-styles .grid-container, #example-paintings .grid-container {
  grid-template-columns: repeat(auto-fill, minmax(110px, 1fr)); grid-auto-rows: auto;
}
#zoo-styles .thumbnail-item, #example-paintings .thumbnail-item {
  display: flex; flex-direction: column; aspect-ratio: auto;
}
#zoo-styles .thumbnail-item > img, #example-paintings .thumbnail-item > img { flex: none; aspect-ratio: 4 / 3; height: auto; }
#zoo-styles .caption-label, #example-paintings .caption-label {
  position: static; max-width: none; white-space: normal; overflow: visible; border: none; border-radius: 0;
  background: none; opacity: 1; text-align: center; line-height: 1.3;
}
"""


def start_run():
    """A job was asked for: Run waits (one run per page at a time), Stop can end it, and the
    status line says the job waits until it has the slot."""
    return gr.Button(interactive=False), gr.Button(interactive=True), status_html(WAITING, busy=True)


def end_run():
    """A job ended (done, stopped or failed): Run can be pressed again, Stop has nothing to stop."""
    return gr.Button(interactive=True), gr.Button(interactive=False)


def stop_button(elem_id: str) -> gr.Button:
    """Stop: plain and greyed out while nothing runs (start_run enables it)."""
    return gr.Button("Stop", variant="secondary", interactive=False, elem_id=elem_id)


@dataclass(frozen=True)
class ZooStyle:
    """One painting of the model zoo, as the gallery shows it (it may have several networks)."""

    name: str
    label: str  # "The Starry Night (Vincent van Gogh)": the status line
    caption: str  # "The Starry Night — Vincent van Gogh, 1889": the gallery
    archs: tuple[str, ...]
    thumbnail: Path | None
    blendable: bool = False  # one style of a several-style file: it blends with the others of that file
    folder: Path | None = None  # where its networks are, if not in the tab's folder (learned: ui/learned.py)

    def require(self, arch: str, folder) -> None:
        """Raise a user-facing error unless this style has a network of that arch."""
        if arch not in self.archs:
            raise StyleTransferError(
                f"{self.label} has no {arch} network in {folder}; choose {' or '.join(self.archs)}"
            )


def zoo_styles(folder) -> list[ZooStyle]:
    """The styles in a model folder, one per painting, in zoo.available's order."""
    cards: dict[str, list[zoo.ModelCard]] = {}
    for card in zoo.available(folder):
        cards.setdefault(card.name, []).append(card)
    styles = []
    for name, same in cards.items():
        card = same[0]
        title = card.title or name.replace("_", " ")
        by = ", ".join(part for part in (card.artist, card.year) if part)
        styles.append(
            ZooStyle(
                name=name,
                label=f"{title} ({card.artist})" if card.artist else title,
                caption=f"{title} — {by}" if by else title,
                archs=tuple(c.arch for c in same),
                thumbnail=zoo.thumbnail(name, folder),
                blendable=all((zoo.find(name, c.arch, folder) or (None, None))[1] is not None for c in same),
            )
        )
    return styles


def no_models_message(folder: Path, problem: str | None) -> str:
    if problem:
        why = f"The model folder `{folder}` could not be read: {problem}"
    else:
        why = f"No pretrained styles in `{folder}` yet."
    return (
        f"**{why}** Train the zoo with `python -m scripts.train_zoo train` and copy the models here with "
        "`python -m scripts.train_zoo publish` (or point `$STYLETRANSFER_PRETRAINED` at a folder of models). "
        "Meanwhile, *Any painting* works with any painting."
    )


def style_source(
    style: ZooStyle, arch: str, folder: Path, blend_with: ZooStyle | None = None, blend: float = 0.0
) -> tuple[str | dict[str, float], Path]:
    """(what load_network takes, the folder it is in) for a zoo style that has an ``arch``
    network; with ``blend_with``, that style mixed in by ``blend`` (0..1) when both come from one file."""
    folder = style.folder or folder
    style.require(arch, folder)
    if blend_with is not None and blend > 0:
        blend_with.require(arch, folder)
        return {style.name: 1 - blend, blend_with.name: blend}, folder
    return style.name, folder


def style_network(style: ZooStyle, arch: str, folder: Path, backend: str = "torch", threads: int | None = None):
    """A zoo style's network, ready on its backend (networks.load_network caches it)."""
    source, folder = style_source(style, arch, folder)
    return instant.network(source, arch, what=style.label, backend=backend, folder=folder, threads=threads)


def tab_zoo(models_folder) -> tuple[Path, list[ZooStyle], str | None]:
    """(folder, styles, problem) for a tab: an unreadable model card leaves the app up, with a message."""
    folder = Path(models_folder) if models_folder is not None else zoo.PRETRAINED
    try:
        from .learned import live_styles  # imports this module: here, not at the top

        return folder, live_styles(zoo_styles(folder)), None  # the learned paintings after the shipped ones
    except StyleTransferError as error:
        return folder, [], str(error)


def style_dropdown(styles: list[ZooStyle], value: str, elem_id: str) -> gr.Dropdown:
    """The Video and Webcam tabs' style list (ui/learned.py keeps its choices live), saying where
    a visitor's own painting comes from. Put it in a row of its own: beside another control the
    captions ran under the dropdown's arrow."""
    return gr.Dropdown(
        [(s.caption, s.name) for s in styles],
        value=value,
        label="Style",
        info="Your own painting: the Learn a painting tab adds it to this list within seconds.",
        elem_id=elem_id,
    )


def starting_choice(styles: list[ZooStyle], arch: str) -> tuple[str, str]:
    """(style name, arch) a tab starts with: the first style that has ``arch``, so the defaults
    work even while a zoo is incomplete; else the first style with a network it has."""
    for style in styles:
        if arch in style.archs:
            return style.name, arch
    return styles[0].name, styles[0].archs[0]


def seconds_text(seconds: float) -> str:
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def jpeg_img(jpeg: bytes, alt: str, style: str) -> str:
    """An <img> holding the frame inline: no file per frame in Gradio's cache, no extra request."""
    data = base64.b64encode(jpeg).decode("ascii")
    return f'<img src="data:image/jpeg;base64,{data}" alt="{html.escape(alt)}" style="{style}">'
