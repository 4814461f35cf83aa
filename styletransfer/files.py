"""Files on disk: the project's own cache folder, and writes that never leave a half-written file in place."""

from __future__ import annotations

import os
import pathlib
import tempfile
from collections.abc import Callable

from styletransfer.errors import StyleTransferError

ENV_CACHE = "STYLETRANSFER_CACHE"


def styletransfer_cache_dir() -> pathlib.Path:
    """The project's own cache, where its downloads and derived files live:
    $STYLETRANSFER_CACHE, else ~/.cache/styletransfer.

    Holds the VGG16 weights (perceptual/weights.py), ONNX exports (networks/onnx.py) and the
    in-browser webcam's onnxruntime-web (ui/browser_runtime.py). Not the Hugging Face Hub's
    cache (hub.hf_hub_cache_dir), where Hub downloads stay.
    """
    env = os.environ.get(ENV_CACHE)
    return pathlib.Path(env).expanduser() if env else pathlib.Path.home() / ".cache" / "styletransfer"


def check_writable(path: pathlib.Path) -> None:
    """Raise StyleTransferError now, not after a long run, if ``path`` cannot be written:
    it is a folder, or the nearest existing folder on its way is not a writable folder
    (missing folders below that one can be created)."""
    path = pathlib.Path(path)
    if path.is_dir():
        raise StyleTransferError(f"cannot save to {path}: it is a folder")
    folder = path.parent
    while not folder.exists():  # stops at "." or "/" at the latest
        folder = folder.parent
    if not folder.is_dir() or not os.access(folder, os.W_OK | os.X_OK):
        raise StyleTransferError(f"cannot save to {path}: {folder} is not a writable folder")


class AtomicFile:
    """A temporary file beside ``path`` (``.tmp``) that becomes ``path`` on ``commit()``.

    For writers that fill a file over time (a video encoder); ``atomic_write`` wraps it for
    one-shot writes. ``discard()`` (or a failed commit) removes the temporary file.
    """

    def __init__(self, path: pathlib.Path, suffix: str = ""):
        self.path = pathlib.Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # The suffix keeps the real extension last for writers that pick a format by it.
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.", suffix=suffix)
        os.close(fd)
        self.tmp = pathlib.Path(tmp)

    def commit(self) -> pathlib.Path:
        try:
            # mkstemp makes the file private (0600); give it the mode a plain open() would.
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(self.tmp, 0o666 & ~umask)
            os.replace(self.tmp, self.path)
        finally:
            self.discard()
        return self.path

    def discard(self) -> None:
        self.tmp.unlink(missing_ok=True)


def atomic_write(path: pathlib.Path, write: Callable[[pathlib.Path], None], suffix: str = "") -> pathlib.Path:
    """Call ``write(tmp)`` on a temporary file beside ``path``, then rename it over ``path``."""
    file = AtomicFile(path, suffix)
    try:
        write(file.tmp)
    except BaseException:
        file.discard()
        raise
    return file.commit()
