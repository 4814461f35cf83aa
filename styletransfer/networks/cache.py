"""The process's one cache of loaded networks: load_network's (network.py) and the universal
mode's encoders and decoders (universal.py); and ``Recent``, what the fast results remember of
the last few paintings.

A style click must not re-read its weights, nor a first any-painting result export its
networks to ONNX twice, so what was built is kept under its key: the kind of network first,
then everything that changes what is built, a file's ``stamp`` among them, so a changed file
loads anew. Concurrent first calls for one key wait for one build (the universal mode's takes
~10 s); calls for other keys do not wait on it.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")

_entries: OrderedDict[tuple, object] = OrderedDict()  # the least recently used first
_lock = threading.Lock()
_building: dict[tuple, threading.Lock] = {}  # per key: held while that key is built


def stamp(path) -> tuple[int, int] | None:
    """(mtime, size) of a file for a cache key (a changed file loads anew); None if it is none."""
    path = Path(path)
    if not path.is_file():
        return None
    stat = path.stat()
    return stat.st_mtime_ns, stat.st_size


def cached(key: tuple, build: Callable[[], T], keep: int) -> T:
    """``build()``'s result for ``key``, built once per process. ``key[0]`` names the kind of
    network; ``keep``: how many of that kind stay (the least recently used go first)."""
    with _lock:
        if key in _entries:
            _entries.move_to_end(key)
            return _entries[key]
        building = _building.setdefault(key, threading.Lock())
    with building:
        with _lock:  # built by a concurrent first call while this one waited
            if key in _entries:
                _entries.move_to_end(key)
                return _entries[key]
        try:
            value = build()
        finally:
            with _lock:
                _building.pop(key, None)
        with _lock:
            _entries[key] = value
            same_kind = [k for k in _entries if k[0] == key[0]]
            for old in same_kind[: max(0, len(same_kind) - keep)]:
                del _entries[old]
    return value


def is_cached(key: tuple) -> bool:
    """Whether ``cached(key, ...)`` answers at once."""
    with _lock:
        return key in _entries


def clear() -> None:
    """Forget every loaded network (tests that rewrite a model file in place within a second)."""
    with _lock:
        _entries.clear()


class Recent:
    """The last ``size`` values computed per key, the least recently used forgotten first: what
    a painting's reading gives (universal.py's statistics, predicted.py's rows), as the page
    repaints many photos with one painting. Two concurrent first calls for a key may both
    compute it; the values are the same."""

    def __init__(self, size: int):
        self.size = size
        self._values: OrderedDict[tuple, object] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple, compute: Callable[[], T]) -> T:
        with self._lock:
            if key in self._values:
                self._values.move_to_end(key)
                return self._values[key]
        value = compute()
        with self._lock:
            self._values[key] = value
            while len(self._values) > self.size:
                self._values.popitem(last=False)
        return value

    def clear(self) -> None:
        with self._lock:
            self._values.clear()


def image_key(image) -> tuple:
    """A key for an image tensor by its content (the same painting uploaded twice is one)."""
    return hashlib.sha1(image.numpy().tobytes()).hexdigest(), tuple(image.shape)
