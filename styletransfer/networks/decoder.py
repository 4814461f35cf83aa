"""Decoders that turn VGG16 features back into an image: the second half of the universal
any-painting mode (Li et al. 2017; the transforms between encoder and decoder: wct.py).

One decoder per level, reading ``reluL_1`` (L = 1..4, the paper's layers) and mirroring the
VGG16 convolutions above it: a 3x3 convolution for each of VGG's, nearest-neighbour 2x
upsampling for each pool, reflection padding so borders carry no seams. They learn only to
invert the encoder (photos in, the same photos out), so they need no paintings.

``width`` scales every hidden layer: VGG's full widths cost as much as the encoder itself,
and at width 0.5 a level-4 decoder costs a quarter of that (the mode's 512 px budget is a
few seconds on two CPU cores).
"""

from __future__ import annotations

from torch import nn

LEVELS = (1, 2, 3, 4)
LAYER = {level: f"relu{level}_1" for level in LEVELS}
FEATURE_CHANNELS = {1: 64, 2: 128, 3: 256, 4: 512}

# The decoder of level L: VGG16's layers between the image and reluL_1, reversed.
# Numbers are VGG's output widths of the mirrored convolutions (before scaling), "U" a 2x upsample.
_MIRROR = {
    1: (),
    2: (64, "U", 64),
    3: (128, "U", 128, 64, "U", 64),
    4: (256, "U", 256, 256, 128, "U", 128, 64, "U", 64),
}


def _conv(c_in: int, c_out: int, relu: bool = True) -> list[nn.Module]:
    layers: list[nn.Module] = [nn.ReflectionPad2d(1), nn.Conv2d(c_in, c_out, 3)]
    return layers + [nn.ReLU()] if relu else layers


class Decoder(nn.Sequential):
    """reluL_1 features (B, C_L, H/2^(L-1), W/2^(L-1)) -> an RGB image (B, 3, H, W), not clamped."""

    def __init__(self, level: int, width: float = 0.5):
        if level not in LEVELS:
            raise ValueError(f"level must be one of {LEVELS}, got {level}")
        self.level, self.width = level, width
        layers: list[nn.Module] = []
        channels = FEATURE_CHANNELS[level]
        for item in _MIRROR[level]:
            if item == "U":
                layers.append(nn.Upsample(scale_factor=2, mode="nearest"))
            else:
                out = max(8, round(item * width))
                layers += _conv(channels, out)
                channels = out
        layers += _conv(channels, 3, relu=False)
        super().__init__(*layers)
