"""Adding a painting to a trained model (training's ``add_to``): what the new style inherits.

The new scale-and-shift row must work with convolutions trained under the base model's
losses, at its crop and painting sizes, so those settings (and its held-out photos) come from
the base model's card unless given. The CLI's ``train --add-style`` (cli.py) and the app's
background jobs (learn.py) build their runs from here.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

INHERITED_SETTINGS = (
    "arch",
    "blur",
    "deperiod",
    "period_weight",
    "crop_size",
    "crop_scale",
    "batch_size",
    "lr",
    "content_weight",
    "style_weight",
    "tv_weight",
    "content_layer",
    "style_layers",
    "style_size",
    "exclude",
)


def base_settings(card, relative_to: Path | None = None) -> dict:
    """The INHERITED_SETTINGS the base model (its zoo.ModelCard) was trained with, and its photos
    (``content_dir``) where they are on this machine too: as written (from the working folder),
    else relative to ``relative_to`` (the card's own repository)."""
    trained = card.train_config
    settings = {name: trained[name] for name in INHERITED_SETTINGS if name in trained}
    photos = trained.get("content_dir")
    if photos:
        for place in (Path(photos), relative_to / photos if relative_to is not None else None):
            if place is not None and place.is_dir():
                settings["content_dir"] = str(place.resolve())
                break
    return settings


def style_entry(painting: Path, name: str | None = None, title: str | None = None) -> dict:
    """A card's entry for a painting file: its name (default: the file name), title and sha256."""
    name = name or painting.stem
    found = {"style_sha256": hashlib.sha256(painting.read_bytes()).hexdigest()} if painting.is_file() else {}
    return {"name": name, "title": title or name.replace("_", " "), "painting": str(painting), **found}
