"""The perceptual loss of neural style transfer: content + Gram style + total variation.

One criterion, in the spirit of pystiche's PerceptualLoss, for everything that measures how
painted an image is: Gatys optimises an image against it (gatys.py), training optimises a
network against it (training/), and the benchmarks score every method with it (bench/).
Targets are encoded once, under no_grad: the paintings' Gram matrices when the loss is made,
a photo's features by ``encode_content`` (once for Gatys, once a batch for training).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch

from styletransfer.perceptual.vgg import VGG16Features, deepest, pretrained_vgg16

# Gatys et al.'s style layers, on VGG16 (Johnson et al.'s choice): textures from fine to coarse.
STYLE_LAYERS: tuple[str, ...] = ("relu1_2", "relu2_2", "relu3_3", "relu4_3")
# Relative Gram errors are ~100x smaller than relative feature errors for the same visual
# change, so the style term is scaled once here and style_weight=1 reads as balanced
# (chosen by eye on photos x paintings at 384-512 px).
STYLE_SCALE = 40.0


def gram_matrix(features: torch.Tensor) -> torch.Tensor:
    """Channel co-occurrence of a feature map: (B, C, H, W) -> (B, C, C).

    Divided by C*H*W (Johnson et al.) so that style targets computed at one image size
    stay comparable at another, which coarse-to-fine and style scale rely on.
    """
    b, c, h, w = features.shape
    flat = features.reshape(b, c, h * w)  # (B, C, H*W)
    return flat @ flat.transpose(1, 2) / (c * h * w)


def relative_mse(input: torch.Tensor, target: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Squared error divided by the target's own energy.

    Departs from Gatys et al., who weight raw squared errors per layer: their magnitudes
    differ by orders of magnitude between layers and with image size, so the per-layer
    weights had to be retuned for every setting. Dividing by ||target||^2 makes each term
    dimensionless, so weights of 1 mean "every layer counts the same" at any size.
    """
    return (input - target).pow(2).sum() / (target.pow(2).sum() + eps)


def batch_relative_mse(input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """relative_mse of each image of a batch, averaged over the batch.

    Not relative_mse of the whole batch (a ratio of sums): a mean of per-image terms makes
    the loss, and so the gradient that DDP averages, the same however the batch is split.
    """
    return torch.stack([relative_mse(a, b) for a, b in zip(input, target)]).mean()


def style_grams(features: Mapping[str, torch.Tensor], layers: Sequence[str] = STYLE_LAYERS) -> dict[str, torch.Tensor]:
    """The Gram matrix of each style layer, in float32: {name: (B, C, C)}."""
    return {name: gram_matrix(features[name].float()) for name in layers}


def gram_distance(
    grams: Mapping[str, torch.Tensor],
    targets: Mapping[str, torch.Tensor],
    layer_weights: Mapping[str, float] | None = None,
) -> torch.Tensor:
    """The style term: each layer's relative error of the Gram matrices (B, C, C) against the
    targets (B or 1, C, C), per image and averaged over the batch, weighted by ``layer_weights``
    (shares that sum to 1; by default every layer of ``targets`` the same).

    What training and Gatys minimise (PerceptualLoss.style_loss) and what the benchmarks
    report (bench/quality.py's style ratio), so they measure one thing.
    """
    if layer_weights is None:
        layer_weights = dict.fromkeys(targets, 1.0 / len(targets))
    total = 0
    for name, weight in layer_weights.items():
        gram = grams[name]
        total = total + weight * batch_relative_mse(gram, targets[name].expand_as(gram))
    return total


def total_variation(image: torch.Tensor) -> torch.Tensor:
    """Mean squared difference between neighbouring pixels, horizontal plus vertical.

    Zero for a constant image; a^2 for a ramp rising by a per pixel along one axis.
    """
    dx = image[..., :, 1:] - image[..., :, :-1]
    dy = image[..., 1:, :] - image[..., :-1, :]
    return dx.pow(2).mean() + dy.pow(2).mean()


@dataclass(frozen=True)
class LossWeights:
    content: float = 1.0
    style: float = 1.0  # "style strength"; multiplied by STYLE_SCALE
    tv: float = 0.0


class PerceptualLoss:
    """``loss(image, content) -> {"content", "style", "tv", "total"}`` against fixed paintings.

    paintings: (1, 3, H, W) images whose Gram matrices are the style target, blended by
    ``blend`` (one weight each; equal when None). Blending Grams is exact:
    sum_i b_i ||G - A_i||^2 = ||G - sum_i b_i A_i||^2 + const.
    each=True instead keeps one target per painting, and every call says which painting each
    image is matched to (``style``: (B,) indices): training a several-style network.
    content: what ``encode_content(photo)`` returned; the image batch and the photo batch
    match one to one. Every term is a per-image relative error averaged over the batch.
    """

    def __init__(
        self,
        paintings: Sequence[torch.Tensor],
        *,
        content_layers: Sequence[str] = ("relu4_2",),
        style_layers: Sequence[str] = STYLE_LAYERS,
        style_layer_weights: Sequence[float] | None = None,
        blend: Sequence[float] | None = None,
        weights: LossWeights = LossWeights(),
        lossnet: VGG16Features | None = None,
        each: bool = False,
    ):
        self.content_layers, self.style_layers = tuple(content_layers), tuple(style_layers)
        self.weights = weights
        self.net = lossnet or pretrained_vgg16(last_layer=deepest(self.layers))
        layer_weights = style_layer_weights or (1.0,) * len(self.style_layers)
        total = sum(layer_weights)
        self.layer_weights = {n: w / total for n, w in zip(self.style_layers, layer_weights)}
        shares = torch.tensor(blend or (1.0,) * len(paintings), dtype=torch.float64)
        shares = (shares / shares.sum()).tolist()
        self.each = each
        with torch.no_grad():
            grams: dict[str, list[torch.Tensor]] = {name: [] for name in self.style_layers}
            for painting in paintings:
                for name, gram in style_grams(self.net(painting, self.style_layers), self.style_layers).items():
                    grams[name].append(gram)  # (1, C, C)
            if each:  # (P, C, C): one target per painting
                self.grams = {name: torch.cat(found) for name, found in grams.items()}
            else:  # (1, C, C): the blend
                self.grams = {name: sum(share * g for share, g in zip(shares, found)) for name, found in grams.items()}

    @property
    def layers(self) -> set[str]:
        return {*self.content_layers, *self.style_layers}

    def encode_content(self, photo: torch.Tensor) -> dict[str, torch.Tensor]:
        """The photo's features at the content layers: the content target."""
        with torch.no_grad():
            return {n: f.float() for n, f in self.net(photo, self.content_layers).items()}

    def style_loss(self, features: dict[str, torch.Tensor], style: torch.Tensor | None = None) -> torch.Tensor:
        if self.each and style is None:
            raise ValueError("a loss with one target per painting needs each image's painting (style indices)")
        grams = style_grams(features, tuple(self.layer_weights))  # (B, C, C) each
        targets = {name: target[style] for name, target in self.grams.items()} if self.each else self.grams
        return gram_distance(grams, targets, self.layer_weights)

    def content_loss(self, features: dict[str, torch.Tensor], content: dict[str, torch.Tensor]) -> torch.Tensor:
        terms = [batch_relative_mse(features[n].float(), content[n]) for n in self.content_layers]
        return sum(terms) / len(terms)

    def __call__(
        self, image: torch.Tensor, content: dict[str, torch.Tensor], style: torch.Tensor | None = None
    ) -> dict[str, torch.Tensor]:
        features = self.net(image, self.layers)
        terms = {
            "content": self.content_loss(features, content),
            "style": self.style_loss(features, style),
            "tv": total_variation(image.float()),
        }
        terms["total"] = weighted_total(terms, self.weights)
        return terms

    def style_distance(self, image: torch.Tensor, style: torch.Tensor | None = None) -> float:
        """The style term alone, for measuring: 0 for the painting itself."""
        with torch.no_grad():
            return float(self.style_loss(self.net(image, self.style_layers), style))


def weighted_total(terms: dict[str, torch.Tensor], weights: LossWeights) -> torch.Tensor:
    return weights.content * terms["content"] + STYLE_SCALE * weights.style * terms["style"] + weights.tv * terms["tv"]
