"""A photo painted like any paintings, the app's way: the fast result (no model per painting:
predicted.py's network set for the painting in a fraction of a second, or universal.py's feature
transform in a second or two: dials.FAST_METHOD), then Gatys (gatys.py) refines from it, handed
over as a tensor. The Image tab's *Any painting*, the /paint and /gatys endpoints and ``stylize
--painting`` run these; the inputs are image files (paths, bytes or file objects).

Measured (bench/gatys.py --only "from the fast result"): started from the fast result, Gatys
reaches the loss of a default run from the photo in fewer steps.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Sequence

import torch

from styletransfer import dials, gatys, predicted, universal
from styletransfer.errors import StyleTransferError
from styletransfer.events import Iterate, Stage
from styletransfer.io import images
from styletransfer.perceptual.vgg import VGG16Features

FAST = "fast"  # refine's start (dials.REFINE_START): the fast result


def load(source, long_side: int | None, what: str) -> torch.Tensor:
    """An input image as a tensor at ``long_side`` (None: as it is), its errors saying which
    input ("photo: ...", "painting 2: ...")."""
    try:
        return images.load_tensor(source, long_side=long_side)
    except StyleTransferError as error:
        raise StyleTransferError(f"{what}: {error}") from None


def _paintings(sources: Sequence, long_side: int) -> list[torch.Tensor]:
    return [load(source, long_side, f"painting {i}") for i, source in enumerate(sources, 1)]


def _check_paintings(paintings: Sequence, weights: Sequence[float] | None) -> None:
    if not paintings:
        raise StyleTransferError("add at least one painting")
    if weights is not None:
        dials.painting_weights(weights, len(paintings))


def painter(method: str):
    """The module that paints the fast result (dials.FAST_METHOD): its ``load()`` gives an
    object whose ``paint(photo, paintings, settings)`` does it, and its ``painting_long_side``
    says the size a painting is needed at."""
    return {"predicted": predicted, "universal": universal}[dials.FAST_METHOD.check(method)]


def fast(
    photo,
    paintings: Sequence,
    size: int | None = dials.PAINT_SIZE.default,
    settings: universal.Settings | None = None,
    method: str = dials.FAST_METHOD.default,
) -> torch.Tensor:
    """The fast result: the photo painted at ``size`` (long side; None: the photo's own, at most
    dials.PAINT_SIZE's top) with the paintings by ``method`` (dials.FAST_METHOD), (1, 3, H, W)
    in [0, 1]. Raises StyleTransferError."""
    settings = settings or universal.Settings()
    mode = painter(method)
    if size is not None:
        size = dials.PAINT_SIZE.check(size)
    _check_paintings(paintings, settings.weights)
    content = load(photo, size, "photo")
    if size is None:
        size = min(max(content.shape[-2:]), dials.PAINT_SIZE.high)
        content = images.resize_long_side(content, size)
    styles = _paintings(paintings, mode.painting_long_side(size, settings.painting_scale))
    return mode.load().paint(content, styles, settings)


def refine(
    photo,
    paintings: Sequence,
    config: gatys.GatysConfig | None = None,
    *,
    start: str = dials.REFINE_START.default,
    texture_strength: float = dials.TEXTURE_STRENGTH.default,
    fast_method: str = dials.FAST_METHOD.default,
    lossnet: VGG16Features | None = None,
) -> Iterator[Stage | Iterate]:
    """Gatys from ``start`` (dials.REFINE_START; FAST: the fast result by ``fast_method`` at
    ``texture_strength``, with the config's colours, painting scale and weights; else
    config.init's "content" or "noise").

    Checks every setting and loads the images now (raising StyleTransferError), then returns
    the run: Stage("fast") before the fast result, Stage("lossnet") before VGG16 loads, then
    gatys.iterate's events. Stop it by not asking for more (or closing it). ``lossnet``: as
    gatys.iterate's (default: the pretrained VGG16)."""
    config = config or gatys.GatysConfig()
    start = dials.REFINE_START.check(start)
    mode = painter(fast_method)
    settings = None
    if start == FAST:
        dials.PAINT_SIZE.check(config.size)  # the fast result's own limit
        settings = universal.Settings(
            strength=texture_strength,
            keep_colors=config.preserve_colors != "none",
            painting_scale=config.style_scale,
            weights=config.style_blend,
        )
    else:
        config = dataclasses.replace(config, init=start)
    _check_paintings(paintings, config.style_blend)
    # The engine resizes to each scale itself; loading at the output size up front keeps a
    # 50-megapixel phone photo from costing gigabytes as a float tensor.
    content = load(photo, config.size, "photo")
    styles = _paintings(paintings, gatys.painting_long_side(config.size, config))
    gatys.validate(content, styles, config)
    return _refine(content, styles, config, settings, mode, lossnet)


def _refine(content, styles, config, settings, mode, lossnet) -> Iterator[Stage | Iterate]:
    begin = None
    if settings is not None:
        yield Stage("fast")
        begin = mode.load().paint(content, styles, settings)
    yield Stage("lossnet")
    yield from gatys.iterate(content, styles, config, lossnet=lossnet, start=begin)
