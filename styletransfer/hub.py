"""Files from the Hugging Face Hub that fail fast and clearly when the Hub is out of reach.

Shared by the loss-network weights (weights.py) and the model zoo (zoo.py). Order: the local
Hub cache (works with HF_HUB_OFFLINE=1), then one quick reachability probe, then the real
download. huggingface_hub's own download retries with backoff for ~23 s on a machine with
no network before it gives up; the probe turns that into one short timeout.
"""

from __future__ import annotations

import os
import pathlib

from styletransfer.errors import StyleTransferError, short_error

PROBE_TIMEOUT = 5.0  # seconds


def _truthy(value: str | None) -> bool:
    return (value or "").strip().upper() in {"1", "ON", "YES", "TRUE"}


def offline() -> bool:
    # huggingface_hub reads HF_HUB_OFFLINE once, at import; read it again at call time too.
    from huggingface_hub import constants

    return bool(constants.HF_HUB_OFFLINE) or _truthy(os.environ.get("HF_HUB_OFFLINE"))


def hf_hub_cache_dir() -> str | None:
    """The Hugging Face Hub's cache the environment asks for now (huggingface_hub froze it at
    import): $HF_HUB_CACHE, else $HF_HOME/hub; None for huggingface_hub's default. Not the
    project's own cache (files.styletransfer_cache_dir)."""
    for var in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"):
        if os.environ.get(var):
            return os.path.expanduser(os.path.expandvars(os.environ[var]))
    if os.environ.get("HF_HOME"):
        return os.path.join(os.path.expanduser(os.path.expandvars(os.environ["HF_HOME"])), "hub")
    return None  # huggingface_hub's own default


def _silent_tqdm() -> type:
    from tqdm import tqdm

    class SilentTqdm(tqdm):  # huggingface_hub leaves `disable` to a custom class
        def __init__(self, *args, **kwargs):
            kwargs["disable"] = True
            super().__init__(*args, **kwargs)

    return SilentTqdm


def cached(repo_id: str, filename: str, *, revision: str | None = None) -> pathlib.Path | None:
    """Path of ``filename`` in the local Hub cache, or None: never touches the network."""
    from huggingface_hub import hf_hub_download

    try:
        file = hf_hub_download(
            repo_id, filename, revision=revision, cache_dir=hf_hub_cache_dir(), local_files_only=True
        )
    except Exception:  # LocalEntryNotFoundError and kin: not cached
        return None
    return pathlib.Path(file)


def download(repo_id: str, filename: str, *, revision: str | None = None, progress: bool = True) -> pathlib.Path:
    """Path of ``filename`` from the Hub repo, from the local cache when it is there."""
    from huggingface_hub import get_hf_file_metadata, hf_hub_download, hf_hub_url

    hub_cache = hf_hub_cache_dir()
    where = hub_cache or "the default Hub cache"
    file = cached(repo_id, filename, revision=revision)
    if file is None:
        if offline():
            raise StyleTransferError(f"HF_HUB_OFFLINE is set and {repo_id}/{filename} is not in {where}")
        try:
            get_hf_file_metadata(hf_hub_url(repo_id, filename, revision=revision), timeout=PROBE_TIMEOUT)
        except Exception as e:  # ConnectError, timeouts, HTTP errors: the Hub is not usable here
            raise StyleTransferError(f"cannot reach {repo_id} on the Hugging Face Hub ({short_error(e)})") from e
        try:
            file = hf_hub_download(
                repo_id,
                filename,
                revision=revision,
                cache_dir=hub_cache,
                etag_timeout=PROBE_TIMEOUT,
                tqdm_class=None if progress else _silent_tqdm(),
            )
        except Exception as e:
            raise StyleTransferError(f"downloading {repo_id}/{filename} failed ({short_error(e)})") from e
    return pathlib.Path(file)
