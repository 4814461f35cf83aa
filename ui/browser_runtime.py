"""onnxruntime-web, which runs the webcam's network in the visitor's browser (ui/browser_webcam.js).

Fetched once from the npm registry (the one place it is published), checked against the
package's pinned sha512 and unpacked into the cache folder; the app serves the files itself,
so the page loads nothing from another host and works offline once they are here. Only the
files the page can load are kept: the WebAssembly build (ort.wasm.min.mjs and its 14 MB .wasm)
and the WebGPU build (ort.webgpu.min.mjs and its 27 MB .wasm), 41 MB of the package's 145 MB (a
33 MB download). `python -m ui.browser_runtime` fetches them ahead of time.
"""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import sys
import tarfile
import tempfile
import threading
import urllib.error
import urllib.request
from pathlib import Path

from styletransfer.errors import StyleTransferError, short_error
from styletransfer.files import styletransfer_cache_dir

VERSION = "1.30.0"
# npm's "integrity" for this version (registry.npmjs.org/onnxruntime-web/1.30.0, dist.integrity).
INTEGRITY = "sha512-q0y+JrrtukXSzsBWEMccVfqX25LRmosXHF+CaRJmg8pZClzcV7svNc4rKY3jL02Vb7QmRMDs1SigqR4CXAfKYQ=="
FILES = (
    "ort.wasm.min.mjs", "ort-wasm-simd-threaded.mjs", "ort-wasm-simd-threaded.wasm",
    "ort.webgpu.min.mjs", "ort-wasm-simd-threaded.asyncify.mjs", "ort-wasm-simd-threaded.asyncify.wasm",
)  # fmt: skip
DEFAULT_REGISTRY = "https://registry.npmjs.org"
TIMEOUT_S = 20  # per network read: a machine without the registry fails in seconds, not minutes

_lock = threading.Lock()  # two pages asking at once fetch it once


def folder() -> Path:
    return styletransfer_cache_dir() / f"onnxruntime-web-{VERSION}"


def registry() -> str:
    """npm's own setting (a mirror, a company registry), else the public registry."""
    for var in ("npm_config_registry", "NPM_CONFIG_REGISTRY"):
        if os.environ.get(var):
            return os.environ[var].rstrip("/")
    return DEFAULT_REGISTRY


def tarball_url() -> str:
    return f"{registry()}/onnxruntime-web/-/onnxruntime-web-{VERSION}.tgz"


def is_ready() -> bool:
    return all((folder() / name).is_file() for name in FILES)


def ensure(progress: bool = False) -> Path:
    """The folder holding the runtime's files, fetched first if needed. Raises StyleTransferError
    (one line, saying what to do) when the registry cannot be reached or the package is not the
    pinned one."""
    with _lock:
        if not is_ready():
            with tempfile.TemporaryDirectory(prefix="styletransfer-ort-") as tmp:
                archive = Path(tmp) / "onnxruntime-web.tgz"
                _download(tarball_url(), archive, progress)
                _check_integrity(archive)
                _unpack(archive, folder())
        return folder()


def _download(url: str, path: Path, progress: bool) -> None:
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_S) as response, open(path, "wb") as out:
            total = int(response.headers.get("Content-Length") or 0)
            bar = _bar(total, progress)
            while chunk := response.read(1 << 20):
                out.write(chunk)
                bar.update(len(chunk))
            bar.close()
    except (urllib.error.URLError, OSError, ValueError) as error:
        raise StyleTransferError(
            f"could not fetch onnxruntime-web {VERSION} from {url} ({short_error(error)}); "
            "the webcam runs on the server instead"
        ) from None


def _bar(total: int, progress: bool):
    from tqdm import tqdm

    return tqdm(
        total=total or None,
        unit="B",
        unit_scale=True,
        desc=f"onnxruntime-web {VERSION}",
        disable=not progress,
        file=sys.stderr,
    )


def _check_integrity(archive: Path) -> None:
    algorithm, _, expected = INTEGRITY.partition("-")
    digest = hashlib.new(algorithm)
    with open(archive, "rb") as file:
        while chunk := file.read(1 << 20):
            digest.update(chunk)
    got = base64.b64encode(digest.digest()).decode()
    if got != expected:
        raise StyleTransferError(
            f"onnxruntime-web {VERSION} from {tarball_url()} has {algorithm} {got[:16]}…, "
            f"expected {expected[:16]}…: refusing to serve it"
        )


def _unpack(archive: Path, destination: Path) -> None:
    """Copy FILES out of the tarball (package/dist/NAME); the folder appears whole or not at all."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=destination.parent))
    try:
        wanted = {f"package/dist/{name}": name for name in FILES}
        with tarfile.open(archive, mode="r|gz") as tar:
            for member in tar:
                name = wanted.pop(member.name, None)
                if name and member.isfile():
                    with tar.extractfile(member) as source, open(staging / name, "wb") as out:
                        shutil.copyfileobj(source, out)
        if wanted:
            raise StyleTransferError(f"onnxruntime-web {VERSION} lacks {', '.join(sorted(wanted.values()))}")
        shutil.rmtree(destination, ignore_errors=True)
        os.replace(staging, destination)
    except (tarfile.TarError, OSError, EOFError) as error:
        raise StyleTransferError(f"could not unpack onnxruntime-web {VERSION} ({short_error(error)})") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)


if __name__ == "__main__":
    try:
        print(ensure(progress=True))
    except StyleTransferError as error:
        sys.exit(f"error: {error}")
