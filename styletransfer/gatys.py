"""Optimisation-based style transfer (Gatys et al. 2016): find an image whose VGG16
features match the photo's and whose Gram matrices match the paintings'.

Beyond the paper: an automatic coarse-to-fine ladder (after crowsonkb/style-transfer-pytorch:
optimise small, upsample, continue), dimensionless per-layer losses (perceptual.loss.relative_mse),
several styles blended by weight, style scale, and two ways to keep the photo's colours.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, fields

import torch

from styletransfer import colors, dials
from styletransfer.errors import StyleTransferError
from styletransfer.events import Callback, Iterate
from styletransfer.io import images
from styletransfer.perceptual.loss import STYLE_LAYERS, LossWeights, PerceptualLoss
from styletransfer.perceptual.vgg import LAYER_INDEX, VGG16Features, deepest, pretrained_vgg16

# L-BFGS without a line search can overshoot (a loss 1e7x the last one): a step whose loss
# is more than this many times the best so far sends the image back to the best one, with a
# fresh history and half the step length.
OVERSHOOT = 2.0


# The config's fields that are user dials: ranges, defaults and messages in dials.py.
DIALS = {
    dial.name: dial
    for dial in (
        dials.GATYS_SIZE,
        dials.STEPS,
        dials.CONTENT_WEIGHT,
        dials.STYLE_WEIGHT,
        dials.TV_WEIGHT,
        dials.STYLE_SCALE,
        dials.SEED,
    )
}
# The config's fields that are a user's choice of a few values: dials.py too.
CHOICES = {choice.name: choice for choice in (dials.OPTIMIZER, dials.COLORS)}


@dataclass(frozen=True)
class GatysConfig:
    """Checked when made (``check``): a config that exists is one iterate() can run."""

    size: int = dials.GATYS_SIZE.default  # output long side in pixels
    steps: int = dials.STEPS.default  # over all scales; ~70 s at 512 px on a 2-core CPU (bench/gatys.py)
    optimizer: str = dials.OPTIMIZER.default  # "lbfgs" (quality per step) or "adam" (steady, cheap steps)
    content_weight: float = dials.CONTENT_WEIGHT.default
    style_weight: float = dials.STYLE_WEIGHT.default
    tv_weight: float = dials.TV_WEIGHT.default
    content_layers: tuple[str, ...] = ("relu4_2",)
    style_layers: tuple[str, ...] = STYLE_LAYERS
    style_layer_weights: tuple[float, ...] | None = None  # None: every style layer counts the same
    init: str = "content"  # "content", "noise", or a path to an image (iterate's start: a tensor)
    seed: int = dials.SEED.default
    coarse_to_fine: bool = True
    # Long side of the coarsest scale. Below ~256 px thin structures of the photo (cables,
    # railings) vanish from relu4_2 and the painting's composition takes over for good.
    min_size: int = 256
    scale_ratio: float = 2.0  # size ratio between neighbouring scales
    style_scale: float = dials.STYLE_SCALE.default  # painting's long side relative to the output's
    style_blend: tuple[float, ...] | None = None  # weight per style image; None: equal
    preserve_colors: str = dials.COLORS.default  # "none", "luminance" or "histogram" (colors.py)
    pooling: str = "max"
    learning_rate: float = 0.02  # Adam only; pixels are in [0, 1]

    def __post_init__(self):
        # Accept lists from callers (CLI, JSON), but store tuples so the config stays hashable;
        # numbers may come as text (a form, a client): the dials read them.
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, list):
                object.__setattr__(self, f.name, tuple(value))
            elif f.name in DIALS:
                object.__setattr__(self, f.name, DIALS[f.name].check(value))
            elif f.name in CHOICES:
                CHOICES[f.name].check(value)
        self.check()

    def check(self) -> None:
        """Everything that does not depend on the images (validate() checks those): raises
        StyleTransferError before any work."""

        def need(ok, message):
            if not ok:
                raise StyleTransferError(message)

        need(self.scale_ratio > 1, "scale_ratio must be > 1")
        for name in (*self.content_layers, *self.style_layers):
            need(name in LAYER_INDEX and name.startswith("relu"), f"unknown layer {name!r}; use names like relu3_3")
        if self.style_layer_weights is not None:
            need(len(self.style_layer_weights) == len(self.style_layers), "give one weight per style layer")
        if self.style_blend is not None:
            need(
                min(self.style_blend) >= 0 and sum(self.style_blend) > 0,
                "style blend weights must be >= 0, not all zero",
            )
        need(
            isinstance(self.init, str) and self.init.strip() != "",
            "init must be 'content', 'noise' or an image path",
        )


def painting_long_side(output_long_side: int, config: GatysConfig) -> int:
    """The paintings' long side for an output of this long side (style_scale)."""
    return max(dials.GATYS_SIZE.low, round(output_long_side * config.style_scale))


def scale_ladder(config: GatysConfig) -> list[int]:
    """Long sides from coarsest to finest, e.g. 128, 256, 512."""
    sizes = [config.size]
    if config.coarse_to_fine:
        while round(sizes[-1] / config.scale_ratio) >= config.min_size:
            sizes.append(round(sizes[-1] / config.scale_ratio))
    sizes = sizes[::-1]
    return sizes[-config.steps :]  # never more scales than steps


def steps_per_scale(total: int, sizes: Sequence[int]) -> list[int]:
    """Split the step budget so each scale's share is inversely proportional to its size.

    Coarse steps are cheap and settle the composition of brush strokes; a finer scale
    starts from an almost finished, upsampled image and only has to add detail, so it
    needs fewer of its expensive steps. Every scale gets at least one step.
    """
    shares = [1 / size for size in sizes]
    raw = [(total - len(sizes)) * share / sum(shares) for share in shares]
    budget = [1 + math.floor(x) for x in raw]
    by_remainder = sorted(range(len(sizes)), key=lambda k: raw[k] - math.floor(raw[k]), reverse=True)
    for k in by_remainder[: total - sum(budget)]:
        budget[k] += 1
    return budget


def validate(
    content: torch.Tensor,
    styles: Sequence[torch.Tensor],
    config: GatysConfig,
    start: torch.Tensor | None = None,
) -> None:
    """What the config cannot check alone (GatysConfig.check did the rest): the images."""
    if not styles:
        raise StyleTransferError("give at least one style image")
    for image in [content, *styles, *([start] if start is not None else [])]:
        if image.ndim != 4 or image.shape[:2] != (1, 3):
            raise StyleTransferError(f"images must be (1, 3, H, W) tensors, got {tuple(image.shape)}")
    if config.style_blend is not None and len(config.style_blend) != len(styles):
        raise StyleTransferError(f"give one blend weight per style image ({len(styles)})")


def _initial_image(
    content: torch.Tensor, config: GatysConfig, generator: torch.Generator, start: torch.Tensor | None
) -> torch.Tensor:
    if start is not None:
        return images.resize_to(start.detach(), tuple(content.shape[-2:]))
    if config.init == "content":
        return content.clone()
    if config.init == "noise":
        noise = torch.randn(content.shape, generator=generator)
        return (0.5 + 0.15 * noise).clamp(0, 1)
    return images.resize_to(images.load_tensor(config.init), tuple(content.shape[-2:]))


def _optimizer(image: torch.Tensor, config: GatysConfig, step_length: float = 1.0) -> torch.optim.Optimizer:
    if config.optimizer == "adam":
        return torch.optim.Adam([image], lr=config.learning_rate)
    # One iteration per step() call, no line search: one forward+backward per step, so a
    # "step" costs the same for both optimisers and progress can be reported after each.
    # The overshoots this allows are caught in iterate() (OVERSHOOT).
    return torch.optim.LBFGS([image], lr=step_length, max_iter=1, history_size=50, tolerance_grad=0, tolerance_change=0)


def _loss(net: VGG16Features, paintings: Sequence[torch.Tensor], config: GatysConfig) -> PerceptualLoss:
    return PerceptualLoss(
        paintings,
        content_layers=config.content_layers,
        style_layers=config.style_layers,
        style_layer_weights=config.style_layer_weights,
        blend=config.style_blend,
        weights=LossWeights(content=config.content_weight, style=config.style_weight, tv=config.tv_weight),
        lossnet=net,
    )


def _evaluation(optimizer, loss: PerceptualLoss, image, target, evaluated: dict):
    """The closure an optimiser step calls (L-BFGS more than once): the losses at the image as
    it is, kept with a copy of that image in evaluated, since the step moves it afterwards."""

    def closure():
        optimizer.zero_grad()
        losses = loss(image, target)
        losses["total"].backward()
        evaluated.update(losses=losses, image=image.detach().clone())
        return losses["total"]

    return closure


def iterate(
    content: torch.Tensor,
    styles: Sequence[torch.Tensor],
    config: GatysConfig = GatysConfig(),
    *,
    lossnet: VGG16Features | None = None,
    start: torch.Tensor | None = None,
) -> Iterator[Iterate]:
    """Run the optimisation, yielding an Iterate after every step. Stop early by simply
    not asking for the next one: the last Iterate's image is the result so far.

    start: the image to begin from, (1, 3, h, w) in [0, 1], any size (resized to the first
    scale), instead of config.init; e.g. any_painting's fast result."""
    validate(content, styles, config, start)
    layers = (*config.content_layers, *config.style_layers)
    net = lossnet or pretrained_vgg16(last_layer=deepest(layers), pooling=config.pooling)
    generator = torch.Generator().manual_seed(config.seed)
    sizes = scale_ladder(config)
    budget = steps_per_scale(config.steps, sizes)
    began = time.perf_counter()
    step, image, best = 0, None, None
    for scale, (long_side, num_steps) in enumerate(zip(sizes, budget)):
        photo = images.resize_long_side(content, long_side)
        paintings = [images.resize_long_side(s, painting_long_side(long_side, config)) for s in styles]
        target_photo = photo
        if config.preserve_colors == "histogram":
            paintings = [colors.match_color_histogram(p, photo) for p in paintings]
        elif config.preserve_colors == "luminance":
            target_photo = colors.luminance_only(photo)
            paintings = [colors.luminance_only(p, like=photo) for p in paintings]
        loss = _loss(net, paintings, config)
        target = loss.encode_content(target_photo)

        if image is None:
            image = _initial_image(target_photo, config, generator, start)
        else:
            image = images.resize_to(best, tuple(photo.shape[-2:]))
        if config.preserve_colors == "luminance":
            image = colors.luminance_only(image).contiguous()
        image.requires_grad_(True)
        step_length = 1.0
        optimizer = _optimizer(image, config)  # fresh: L-BFGS history does not survive a resize
        best, best_losses = image.detach().clone(), None

        for _ in range(num_steps):
            evaluated: dict = {}
            # evaluates the image as it was, then moves it
            optimizer.step(_evaluation(optimizer, loss, image, target, evaluated))
            with torch.no_grad():
                losses = {name: float(value) for name, value in evaluated["losses"].items()}
                finite = all(math.isfinite(v) for v in losses.values())
                if not finite and (best_losses is None or config.optimizer == "adam"):
                    raise StyleTransferError(
                        "the optimisation diverged; try the 'adam' optimiser or a smaller style weight"
                    )
                if best_losses is None or losses["total"] < best_losses["total"]:
                    best, best_losses = evaluated["image"], losses
                elif config.optimizer == "lbfgs" and not losses["total"] <= OVERSHOOT * best_losses["total"]:
                    # Overshot (or left the finite range): back to the best image, a fresh
                    # history, shorter steps. The next step is a small gradient step again.
                    image.copy_(best)
                    step_length /= 2
                    optimizer = _optimizer(image, config, step_length)
                if config.optimizer == "adam":
                    image.clamp_(0, 1)
                # L-BFGS is not clamped in place: moving the iterate behind its back breaks
                # the curvature pairs it has stored and makes it oscillate. Out-of-range
                # pixels stay small in practice, and what is shown and returned is clamped.
                shown = best.clamp(0, 1)
                if config.preserve_colors == "luminance":
                    shown = colors.with_chroma_of(shown, photo)
            step += 1
            # The best image seen so far and its losses: a step that made things worse is
            # never what the user gets.
            yield Iterate(
                step=step,
                total_steps=config.steps,
                scale=scale,
                num_scales=len(sizes),
                size=tuple(image.shape[-2:]),
                losses=best_losses,
                elapsed=time.perf_counter() - began,
                image=shown,
            )


def stylize(
    content: torch.Tensor,
    styles: Sequence[torch.Tensor],
    config: GatysConfig = GatysConfig(),
    callback: Callback | None = None,
    *,
    lossnet: VGG16Features | None = None,
    start: torch.Tensor | None = None,
) -> torch.Tensor:
    """Run to the end and return the image (1, 3, H, W); ``callback`` sees every step."""
    result = None
    for event in iterate(content, styles, config, lossnet=lossnet, start=start):
        if callback is not None:
            callback(event)
        result = event.image
    return result
