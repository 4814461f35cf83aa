"""VGG16 as a loss network, with layers addressed by name (``relu4_3``) rather than index.

Defined here because torchvision does not import on this machine; the layer order and
parameter names match torchvision's ``vgg16().features`` so its weights load unchanged.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable

import torch
from torch import nn

# Channels per conv layer, "M" for a 2x2 max pool: torchvision's configuration "D".
_VGG16_CONFIG = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M")

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def _layer_names() -> list[str]:
    """Names in torchvision's index order: conv1_1, relu1_1, conv1_2, relu1_2, pool1, ..."""
    names, block, conv = [], 1, 1
    for item in _VGG16_CONFIG:
        if item == "M":
            names.append(f"pool{block}")
            block, conv = block + 1, 1
        else:
            names += [f"conv{block}_{conv}", f"relu{block}_{conv}"]
            conv += 1
    return names


LAYER_NAMES: tuple[str, ...] = tuple(_layer_names())
LAYER_INDEX = {name: i for i, name in enumerate(LAYER_NAMES)}


class VGG16Features(nn.Module):
    """VGG16's convolutional part, truncated after the deepest layer anyone asks for.

    Takes RGB images in [0, 1]; ImageNet normalisation happens inside, so callers never
    normalise (and never normalise the caller's tensor in place).
    """

    def __init__(
        self,
        state_dict: dict[str, torch.Tensor] | None = None,
        last_layer: str = "relu4_3",
        pooling: str = "max",
    ):
        super().__init__()
        if last_layer not in LAYER_INDEX:
            raise ValueError(f"unknown VGG16 layer {last_layer!r}; known: {', '.join(LAYER_NAMES)}")
        if pooling not in ("max", "avg"):
            raise ValueError(f"pooling must be 'max' or 'avg', not {pooling!r}")
        layers: list[nn.Module] = []
        in_channels = 3
        for item in _VGG16_CONFIG:
            if item == "M":
                # Gatys et al. found average pooling gives smoother results; max is the trained op.
                layers.append(nn.MaxPool2d(2, 2) if pooling == "max" else nn.AvgPool2d(2, 2))
            else:
                layers += [nn.Conv2d(in_channels, item, 3, padding=1), nn.ReLU(inplace=False)]
                in_channels = item
        self.features = nn.Sequential(*layers[: LAYER_INDEX[last_layer] + 1])
        if state_dict is not None:
            wanted = {k: v for k, v in state_dict.items() if k in self.state_dict()}
            self.load_state_dict(wanted, strict=True)
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)
        self.requires_grad_(False)
        self.eval()

    @property
    def last_layer(self) -> str:
        return LAYER_NAMES[len(self.features) - 1]

    def forward(self, image: torch.Tensor, layers: Iterable[str]) -> dict[str, torch.Tensor]:
        """Activations of the named layers for an image batch (B, 3, H, W) in [0, 1]."""
        wanted = set(layers)
        unknown = wanted - set(LAYER_NAMES[: len(self.features)])
        if unknown:
            raise ValueError(f"layers {sorted(unknown)} are not computed by this network (last: {self.last_layer})")
        deepest = max(LAYER_INDEX[name] for name in wanted)
        x = (image - self.mean) / self.std
        out = {}
        for index, module in enumerate(self.features[: deepest + 1]):
            x = module(x)
            if LAYER_NAMES[index] in wanted:
                out[LAYER_NAMES[index]] = x
        return out


def deepest(layers: Iterable[str]) -> str:
    """The layer furthest into the network among ``layers``."""
    return max(layers, key=LAYER_INDEX.__getitem__)


@functools.lru_cache(maxsize=4)
def pretrained_vgg16(last_layer: str = "relu5_3", pooling: str = "max") -> VGG16Features:
    """The ImageNet-trained network, loaded once per process (weights lookup: weights.py)."""
    from styletransfer.perceptual import weights  # late import: building a random network needs no weights

    return VGG16Features(weights.load_vgg16_state_dict(), last_layer=last_layer, pooling=pooling)


def random_vgg16(layers: Iterable[str], seed: int = 0) -> VGG16Features:
    """An untrained VGG16 (tests and smoke runs: no weights needed), the same on every rank."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return VGG16Features(None, last_layer=deepest(layers))
