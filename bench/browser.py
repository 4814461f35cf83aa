"""Debian's chromium as the browser tests and bench/load.py drive it: headless and offline,
with a fake camera on demand (recipe in ../shared/NOTES.md)."""

from __future__ import annotations

from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def fake_camera_args(clip) -> list[str]:
    """A camera the page may read without asking, playing ``clip`` (a .y4m or .mjpeg file)."""
    return [
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-video-capture={clip}",
    ]
