"""Build a local Hugging Face Hub cache by hand, as huggingface_hub lays it out, so Hub
loading code can be tested offline (HF_HUB_OFFLINE=1) against real cache lookups."""

import hashlib
from pathlib import Path

REVISION = "0123456789abcdef0123456789abcdef01234567"


def populate(root: Path, repo_id: str, files: dict[str, bytes], revision: str = REVISION) -> None:
    """blobs/ by sha256, refs/main, and snapshots/REV/NAME symlinks into blobs/."""
    repo = root / ("models--" + repo_id.replace("/", "--"))
    (repo / "blobs").mkdir(parents=True, exist_ok=True)
    (repo / "refs").mkdir(exist_ok=True)
    (repo / "snapshots" / revision).mkdir(parents=True, exist_ok=True)
    (repo / "refs" / "main").write_text(revision)
    for name, data in files.items():
        blob = repo / "blobs" / hashlib.sha256(data).hexdigest()
        blob.write_bytes(data)
        (repo / "snapshots" / revision / name).symlink_to(f"../../blobs/{blob.name}")
