"""Decoders that turn VGG16 features back into an image: the second half of the universal
any-painting mode (Li et al. 2017; the transforms between encoder and decoder: wct.py).

One decoder per level, reading ``reluL_1`` (L = 1..4, the paper's layers) and mirroring the
VGG16 convolutions above it: a 3x3 convolution for each of VGG's, nearest-neighbour 2x
upsampling for each pool, reflection padding so borders carry no seams. They learn only to
invert the encoder (photos in, the same photos out), so they need no paintings.

``width`` scales every hidden layer: VGG's full widths cost as much as the encoder itself,
and at width 0.5 a level-4 decoder costs a quarter of that (the mode's 512 px budget is a
few seconds on two CPU cores).

They are published together, one file (``DECODERS_FILE`` in pretrained/, fp16, the width and
training settings in its metadata), read by ``load_decoders``.
"""

from __future__ import annotations

import json
import pathlib
from collections.abc import Collection

from torch import nn

from styletransfer.errors import StyleTransferError, short_error
from styletransfer.networks import zoo

DECODERS_FILE = "universal.decoders.safetensors"
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


def decoders_path(folder=None) -> pathlib.Path:
    """The published decoders in ``folder`` (default pretrained/)."""
    return pathlib.Path(folder if folder is not None else zoo.PRETRAINED) / DECODERS_FILE


def load_decoders(path: pathlib.Path, needed: Collection[int] = LEVELS) -> tuple[dict[int, Decoder], dict]:
    """The decoders of a published file, by level, and its metadata (width, steps, ...);
    refused unless it holds every level in ``needed``."""
    from safetensors import safe_open
    from safetensors.torch import load_file

    if not path.is_file():
        raise StyleTransferError(
            f"the universal mode's decoders are missing: {path} (train them: python -m scripts.train_decoders)"
        )
    try:
        with safe_open(str(path), "pt") as f:
            info = dict(f.metadata() or {})
        tensors = load_file(str(path))
        width = float(info["width"])
        nets = {}
        present = {int(name.split(".")[0]) for name in tensors}
        if missing := set(needed) - present:
            raise KeyError(f"no decoder for level {', '.join(map(str, sorted(missing)))}")
        for level in sorted(present & set(LEVELS)):
            net = Decoder(level, width)
            prefix = f"{level}."
            net.load_state_dict({k[len(prefix) :]: v.float() for k, v in tensors.items() if k.startswith(prefix)})
            nets[level] = net.eval().requires_grad_(False)
    except (OSError, KeyError, ValueError, RuntimeError) as e:
        raise StyleTransferError(f"cannot read the universal decoders {path} ({short_error(e)})") from e
    info["train_config"] = json.loads(info.get("train_config", "{}"))
    return nets, info
