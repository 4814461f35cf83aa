"""Frames: the one place where pixels change representation.

Everything that stylises (a photo, a video frame, a webcam frame) hands the networks HxWx3
uint8 RGB arrays and gets the same back (networks.Network.stylize); the conversions to and
from the networks' float NCHW batches in [0, 1] happen here, once each way. Gatys works on
float tensors (1, 3, H, W), converted by ``to_tensor`` / ``to_numpy``. Camera frames arrive
and leave as JPEG (``decode_jpeg`` / ``encode_jpeg``).
"""

from __future__ import annotations

import io

import cv2
import numpy as np
import torch
from PIL import Image

from styletransfer.errors import StyleTransferError

JPEG_QUALITY = 85  # 320x240 frames of ~10 KB; brush texture survives, encoding takes 0.2 ms


# ---------------------------------------------------------------- uint8 arrays <-> float batches


def to_batch(frames: np.ndarray) -> np.ndarray:
    """(H, W, 3) or (B, H, W, 3) uint8 RGB -> (B, 3, H, W) float32 in [0, 1], a new array."""
    frames = np.asarray(frames)
    if frames.dtype != np.uint8 or frames.ndim not in (3, 4) or frames.shape[-1] != 3:
        raise ValueError(f"expected HxWx3 or BxHxWx3 uint8 RGB frames, got {frames.dtype} {frames.shape}")
    batch = frames[None] if frames.ndim == 3 else frames
    out = np.ascontiguousarray(batch.transpose(0, 3, 1, 2), dtype=np.float32)  # (B, 3, H, W)
    out /= np.float32(255)  # a division, not * (1 / 255): exactly k / 255 for every level k
    return out


def from_batch(batch: np.ndarray) -> np.ndarray:
    """(B, 3, H, W) float in [0, 1] -> (B, H, W, 3) uint8, rounded and saturated."""
    # convertScaleAbs rounds and saturates to uint8 in one pass (its abs() never applies to
    # images in [0, 1]), 5x faster than numpy's clip-round-cast. Plane by plane, then merged:
    # interleaving uint8 planes is cheap, a float32 transpose is not (0.24 against 2.3 ms at
    # 640x360, on the video loop's critical path).
    batch = np.asarray(batch, dtype=np.float32)  # no copy for the networks' float32
    # OpenCV's NaN handling changed between releases (5.0 gave 0, 5.1 gives 255), so NaN and
    # inf never reach it. One sum finds them (NaN and inf propagate) at a fraction of the
    # conversion's cost; a network that diverged gives black there, as to_numpy does.
    with np.errstate(invalid="ignore", over="ignore"):  # inf - inf is NaN: found all the same
        finite = np.isfinite(batch.sum(dtype=np.float32))
    if not finite:
        batch = np.nan_to_num(batch, nan=0.0, posinf=1.0, neginf=0.0)
    return np.stack([cv2.merge([cv2.convertScaleAbs(plane, alpha=255.0) for plane in image]) for image in batch])


def to_tensor(image: Image.Image | np.ndarray) -> torch.Tensor:
    """PIL image (any mode) or HxWx3 uint8 RGB array to a (1, 3, H, W) float32 tensor in [0, 1]."""
    if isinstance(image, Image.Image):
        image = np.asarray(image if image.mode == "RGB" else image.convert("RGB"))
    return torch.from_numpy(to_batch(image))  # to_batch copies: the caller's array is never touched


def to_numpy(tensor: torch.Tensor) -> np.ndarray:
    """(1, 3, H, W) or (3, H, W) tensor to an HxWx3 uint8 array: clamped to [0, 1], rounded.

    NaN becomes 0. A PIL image is also accepted (converted to RGB).
    """
    if isinstance(tensor, Image.Image):
        return np.array(tensor.convert("RGB"), dtype=np.uint8)
    t = tensor.detach()
    if t.dim() == 4:
        if t.shape[0] != 1:
            raise ValueError(f"expected one image, got a batch of {t.shape[0]}")
        t = t[0]
    if t.dim() != 3 or t.shape[0] != 3:
        raise ValueError(f"expected a (1, 3, H, W) or (3, H, W) tensor, got {tuple(tensor.shape)}")
    t = torch.nan_to_num(t.float(), nan=0.0).clamp_(0, 1).mul_(255).round_().to(torch.uint8)
    return t.permute(1, 2, 0).contiguous().cpu().numpy()  # (H, W, 3)


# ---------------------------------------------------------------- camera frames (JPEG)


def decode_jpeg(data: bytes, size: tuple[int, int], *, match_orientation: bool = True) -> np.ndarray:
    """A compressed camera frame as an HxWx3 uint8 RGB array of exactly ``size`` (width, height).

    The frame is scaled to cover ``size`` and centre-cropped. With ``match_orientation``, a
    portrait frame gets the portrait version of ``size`` (240x320 for 320x240), so a phone
    held upright is not cropped to a strip. Raises StyleTransferError if it cannot be decoded.
    """
    try:
        image = Image.open(io.BytesIO(data))
        width, height = size
        if match_orientation and (image.width < image.height) != (width < height):
            width, height = height, width
        # For a JPEG, libjpeg decodes at 1/2, 1/4 or 1/8 scale directly (never below the
        # size asked for): most of the work is skipped when the camera sends more pixels.
        scale = max(width / image.width, height / image.height)
        image.draft("RGB", (max(1, round(image.width * scale)), max(1, round(image.height * scale))))
        rgb = np.asarray(image.convert("RGB"))
    except (OSError, ValueError, Image.DecompressionBombError) as error:
        raise StyleTransferError(f"a camera frame could not be decoded ({error}); check the camera") from None
    return cover(rgb, width, height)


def cover(rgb: np.ndarray, width: int, height: int) -> np.ndarray:
    """Scale to cover width x height, then crop the middle."""
    h, w = rgb.shape[:2]
    if (w, h) == (width, height):
        return rgb
    scale = max(width / w, height / h)
    scaled_w, scaled_h = max(width, round(w * scale)), max(height, round(h * scale))
    shrinking = scale < 1
    rgb = cv2.resize(rgb, (scaled_w, scaled_h), interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR)
    top, left = (scaled_h - height) // 2, (scaled_w - width) // 2
    return np.ascontiguousarray(rgb[top : top + height, left : left + width])


def encode_jpeg(rgb: np.ndarray, *, quality: int = JPEG_QUALITY, max_side: int | None = None) -> bytes:
    """An HxWx3 uint8 RGB array as JPEG bytes, optionally shrunk so its longer side is ``max_side``."""
    h, w = rgb.shape[:2]
    if max_side is not None and max(h, w) > max_side:
        scale = max_side / max(h, w)
        rgb = cv2.resize(rgb, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
    ok, encoded = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:  # OpenCV reports no reason; a uint8 HxWx3 array always encodes
        raise ValueError(f"could not encode a {w}x{h} frame as JPEG")
    return encoded.tobytes()
