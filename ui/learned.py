"""The styles the tabs offer, kept live: the shipped zoo's, then the paintings the app has learned.

Each tab holds its list of styles from when the page was built (common.tab_zoo) and looks
styles up in it: by a gallery's index, or by name through ``style_index``. Those lists are
``LiveStyles``, synced in place with the learned folder (``sync``): learned styles are only
appended, so an index on a page built before still names the same style. ui/learn.py syncs
them when a job publishes a network and when a page loads, and hands each page its galleries
anew (``gallery_updates``).
"""

from __future__ import annotations

import dataclasses
import threading
import weakref
from collections.abc import Iterator, Mapping

import gradio as gr
import numpy as np

from styletransfer.errors import StyleTransferError
from styletransfer.training import learn

from .common import ZooStyle, log, zoo_styles

LEARNED_MARK = "learned"  # captions say which styles a visitor taught the app
_NO_THUMBNAIL = np.full((64, 64, 3), 200, dtype=np.uint8)  # as image_tab's
# The galleries (by elem_id) that list the styles, and how each shows them.
GALLERIES = {"zoo-styles": "gallery", "video-style": "dropdown", "webcam-style": "dropdown"}

_lock = threading.Lock()
_live: weakref.WeakValueDictionary[int, LiveStyles] = weakref.WeakValueDictionary()
_read: list = [None, []]  # the learned folder's (stamp, styles) as last read


class LiveStyles(list):
    """A tab's styles: the ``shipped`` ones first, then the learned ones, which ``sync`` keeps
    up to date in place (one slice assignment: a reader never sees half a change)."""

    def __init__(self, shipped: list[ZooStyle]):
        super().__init__(shipped)
        self.shipped = len(shipped)


class StyleIndex(Mapping):
    """``{name: style}`` over a live list: it sees the styles learned after it was made."""

    def __init__(self, styles: list[ZooStyle]):
        self._styles = styles

    def __getitem__(self, name) -> ZooStyle:
        for attempt in range(2):
            for style in self._styles:
                if style.name == name:
                    return style
            if attempt == 0 and name:  # perhaps learned since the last sync (an API client follows no page)
                sync()
        raise KeyError(name)

    def __iter__(self) -> Iterator[str]:
        return iter([style.name for style in self._styles])

    def __len__(self) -> int:
        return len(self._styles)


def style_index(styles: list[ZooStyle]) -> Mapping[str, ZooStyle]:
    """A tab's ``{name: style}``, live (a plain dict would miss the styles learned later)."""
    return StyleIndex(styles)


def live_styles(shipped: list[ZooStyle]) -> LiveStyles:
    """The shipped styles as a live list with the learned ones after them (common.tab_zoo)."""
    styles = LiveStyles(shipped)
    with _lock:
        _live[id(styles)] = styles
    sync(styles)
    return styles


def learned_styles() -> list[ZooStyle]:
    """The learned folder's styles, each knowing its folder (common.style_network loads it from
    there). Read again only when the folder changed: a page following a job asks every second."""
    folder = learn.learned_folder()
    try:
        stamp = (str(folder), folder.stat().st_mtime_ns)  # a file written (renamed in) or removed changes it
    except OSError:
        return []
    with _lock:
        if _read[0] == stamp:
            return _read[1]
    try:
        found = zoo_styles(folder)
    except StyleTransferError as error:  # a damaged card: the shipped styles stay usable
        log.warning("learned styles unreadable: %s", error)
        found = []
    styles = [dataclasses.replace(s, folder=folder, caption=f"{s.caption} ({LEARNED_MARK})") for s in found]
    with _lock:
        _read[:] = [stamp, styles]
    return styles


def sync(*only: LiveStyles) -> tuple[str, ...]:
    """Bring the live lists (``only`` these, else every one) up to date with the learned folder:
    styles still there keep their places, new ones come last, a name the shipped zoo has is
    left out. Returns the learned names with their archs, a version a page compares."""
    learned = learned_styles()
    version = tuple(f"{s.name}:{'+'.join(s.archs)}" for s in learned)
    with _lock:
        targets = list(only) or list(_live.values())
        for styles in targets:
            shipped = {s.name for s in styles[: styles.shipped]}
            fresh = {s.name: s for s in learned if s.name not in shipped}
            old = [s.name for s in styles[styles.shipped :] if s.name in fresh]
            order = old + [name for name in fresh if name not in old]
            styles[styles.shipped :] = [fresh[name] for name in order]
    return version


def gallery_updates(styles: list[ZooStyle], kinds: list[str]) -> list:
    """New values for the style galleries of a page (``kinds``: GALLERIES' values, in order)."""
    updates = []
    for kind in kinds:
        if kind == "gallery":
            updates.append(
                gr.update(value=[(str(s.thumbnail) if s.thumbnail else _NO_THUMBNAIL, s.caption) for s in styles])
            )
        else:  # a dropdown keeps its choice
            updates.append(gr.update(choices=[(s.caption, s.name) for s in styles]))
    return updates
