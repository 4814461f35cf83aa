"""Running a feed-forward style model on a photo: one pass, plus the user's dials."""

from __future__ import annotations

import torch

from styletransfer import colors, images
from styletransfer.errors import StyleTransferError
from styletransfer.runtime import OnnxModel
from styletransfer.transformer import TransformerNet


def apply(net: TransformerNet | OnnxModel, photo: torch.Tensor, *, strength: float = 1.0, keep_colors: bool = False) -> torch.Tensor:
    """(B, 3, H, W) in [0, 1] -> the same size, stylised (on the network's device, returned on the photo's).

    strength blends the stylised image with the photo (0 = photo, 1 = the model's output);
    keep_colors puts the photo's chroma back under the painting's luminance.
    """
    if not 0 <= strength <= 1:
        raise StyleTransferError(f"style strength must be 0..1, got {strength}")
    with torch.inference_mode():
        styled = net(photo.to(device_of(net), non_blocking=True)).to(photo.device)
        if keep_colors:
            styled = colors.with_chroma_of(styled, photo)
        return torch.lerp(photo, styled, strength).clamp(0, 1)


def device_of(net) -> torch.device:
    """Where a torch network's weights are (a GPU for video batches); onnxruntime runs on the CPU."""
    weights = next(net.parameters(), None) if isinstance(net, torch.nn.Module) else None
    return weights.device if weights is not None else torch.device("cpu")


def stylize_file(net: TransformerNet, source, *, size: int | None = None, strength: float = 1.0, keep_colors: bool = False) -> torch.Tensor:
    """Load an image (long side resized to ``size`` when given) and stylise it."""
    photo = images.load_tensor(source, long_side=size)
    return apply(net, photo, strength=strength, keep_colors=keep_colors)
