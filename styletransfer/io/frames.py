"""Frames: the one place where pixels change representation.

Everything that stylises (a photo, a video frame, a webcam frame) hands the networks HxWx3
uint8 RGB arrays and gets the same back (networks.Network.stylize); the conversions to and
from the networks' float NCHW batches in [0, 1] happen here, once each way. Gatys works on
float tensors (1, 3, H, W), converted by ``to_tensor`` / ``to_numpy``. A PIL image of any mode
(transparent, greyscale, 16-bit, CMYK ...) becomes 8-bit RGB by ``to_rgb``, the one conversion
that io/images.py and these functions share. Camera frames leave as JPEG (``encode_jpeg``);
they arrive through images.decode_jpeg, which applies the image files' checks.
"""

from __future__ import annotations

import cv2
import numpy as np
import torch
from PIL import Image

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


# ---------------------------------------------------------------- PIL modes -> 8-bit RGB


def to_rgb(image: Image.Image) -> Image.Image:
    """Any PIL mode to 8-bit RGB: transparency composited over white, 16-bit and float scaled
    (not clipped) to 8 bit. Returns ``image`` itself only if it already is RGB."""
    if image.mode == "RGB":
        return image
    if image.mode.startswith("I") or image.mode == "F":
        # Pillow's convert("L") clips 16-bit and float values at 255 instead of scaling.
        return Image.fromarray(_deep_grey_to_uint8(image)).convert("RGB")
    if image.has_transparency_data:  # RGBA, LA, PA, or P/L/RGB with a transparent colour
        white = Image.new("RGBA", image.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, image.convert("RGBA")).convert("RGB")
    # L, 1, P, YCbCr, CMYK. Pillow reads Adobe CMYK JPEGs (stored inverted) as
    # "CMYK;I" and un-inverts them. ICC profiles are not applied.
    return image.convert("RGB")


def _deep_grey_to_uint8(image: Image.Image) -> np.ndarray:
    """Greyscale I;16* / I / F pixels to uint8, mapping the format's full range to 0..255."""
    a = np.nan_to_num(np.asarray(image).astype(np.float32))
    if image.mode.startswith("I;16"):
        top = 65535.0
    else:
        # "I" (32-bit int) and "F" (float) do not say what their range is: take the usual
        # ones (16-bit PNGs used to open as "I"; float images are usually [0, 1]) and
        # stretch min..max when the values fit none.
        lo, hi = float(a.min()), float(a.max())
        if lo < 0 or hi > 65535:
            a -= lo
            top = max(hi - lo, 1e-12)
        elif image.mode == "F" and hi <= 1:
            top = 1.0
        elif image.mode == "F" and hi <= 255:
            top = 255.0
        else:
            top = 65535.0
    return scale_to_uint8(a, top)


def scale_to_uint8(a: np.ndarray, top: float) -> np.ndarray:
    """[0, top] to uint8 0..255, rounding; e.g. 16-bit v -> round(v / 257)."""
    out = np.asarray(a, dtype=np.float32) * np.float32(255.0 / top)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


# ---------------------------------------------------------------- images <-> float tensors


def to_tensor(image: Image.Image | np.ndarray) -> torch.Tensor:
    """PIL image (any mode: ``to_rgb``) or HxWx3 uint8 RGB array to a (1, 3, H, W) float32
    tensor in [0, 1]."""
    if isinstance(image, Image.Image):
        image = np.asarray(to_rgb(image))
    return torch.from_numpy(to_batch(image))  # to_batch copies: the caller's array is never touched


def to_numpy(tensor: torch.Tensor) -> np.ndarray:
    """(1, 3, H, W) or (3, H, W) tensor to an HxWx3 uint8 array: clamped to [0, 1], rounded.

    NaN becomes 0. A PIL image is also accepted (converted by ``to_rgb``).
    """
    if isinstance(tensor, Image.Image):
        return np.array(to_rgb(tensor), dtype=np.uint8)
    t = tensor.detach()
    if t.dim() == 4:
        if t.shape[0] != 1:
            raise ValueError(f"expected one image, got a batch of {t.shape[0]}")
        t = t[0]
    if t.dim() != 3 or t.shape[0] != 3:
        raise ValueError(f"expected a (1, 3, H, W) or (3, H, W) tensor, got {tuple(tensor.shape)}")
    t = torch.nan_to_num(t.float(), nan=0.0).clamp_(0, 1).mul_(255).round_().to(torch.uint8)
    return t.permute(1, 2, 0).contiguous().cpu().numpy()  # (H, W, 3)


# ---------------------------------------------------------------- camera frames


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
