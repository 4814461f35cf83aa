"""Writing files so that a crash or a full disk never leaves a half-written one in place."""

from __future__ import annotations

import os
import pathlib
import tempfile
from collections.abc import Callable


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
