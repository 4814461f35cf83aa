"""Writing files so that a crash or a full disk never leaves a half-written one in place."""

from __future__ import annotations

import os
import pathlib
import tempfile
from collections.abc import Callable

from styletransfer.errors import StyleTransferError


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


def atomic_write(path: pathlib.Path, write: Callable[[pathlib.Path], None]) -> None:
    """Call ``write(tmp)`` on a temporary file beside ``path``, then rename it over ``path``."""
    path = pathlib.Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    os.close(fd)
    try:
        write(pathlib.Path(tmp))
        # mkstemp makes the file private (0600); give it the mode a plain open() would.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
