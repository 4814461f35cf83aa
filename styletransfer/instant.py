"""A photo painted by a pretrained network in one pass: the app's instant mode (the Image tab's
pretrained styles, the /stylize endpoint) and ``stylize -s`` on the command line. The photo
is an image file (a path, bytes or a file object); the network is anything load_network takes.
"""

from __future__ import annotations

import numpy as np

from styletransfer import dials
from styletransfer.errors import StyleTransferError
from styletransfer.io import images
from styletransfer.networks import Network, load_network


def network(source, arch: str = dials.ARCH.default, *, what: str | None = None, **options) -> Network:
    """load_network(source, arch, **options); with ``what`` (the style's name for a reader),
    a failure says which network: "the <what> network (<arch>) could not be loaded: ..."."""
    arch = dials.ARCH.check(arch)
    try:
        return load_network(source, arch, **options)
    except StyleTransferError as error:
        if what is None:
            raise
        raise StyleTransferError(f"the {what} network ({arch}) could not be loaded: {error}") from None


def stylize(
    photo,
    source,
    arch: str = dials.ARCH.default,
    *,
    size: int | None = None,
    enlarge: bool = True,
    strength=dials.STYLE_MIX.default,
    keep_colors: bool = False,
    what: str | None = None,
    **options,
) -> np.ndarray:
    """The photo painted by the network ``source`` (a zoo name, a model file, or a blend
    ``{name: weight}`` of one file's styles; ``options``: load_network's folder, hub_repo,
    backend ...) -> HxWx3 uint8 RGB.

    size: the output's long side (None: the photo's own). enlarge=False: ``size`` is the app's
    output size (dials.INSTANT_SIZE), a ceiling: a smaller photo keeps its own size, since a
    network adds no detail. ``what``: as network()'s.

    Checks the settings, then opens the photo (its errors begin "photo: "), then loads the
    network: a mistake raises StyleTransferError before the slow part.
    """
    if not enlarge:
        size = dials.INSTANT_SIZE.check(size)
    strength = dials.STYLE_MIX.check(strength)
    arch = dials.ARCH.check(arch)
    try:
        if not enlarge:  # decoded whole first, to know whether the photo is smaller
            photo = images.open_image(photo)
            size = min(size, max(photo.size))
        content = images.load_array(photo, long_side=size)
    except StyleTransferError as error:
        raise StyleTransferError(f"photo: {error}") from None
    painter = network(source, arch, what=what, **options)
    return painter.stylize(content, strength=strength, keep_colors=bool(keep_colors))
