"""Images in and out: the one place where user files become engine tensors and back.

Engine images are float tensors (1, 3, H, W), RGB, in [0, 1]. Whatever a user hands us (a
path, an upload's bytes, a NumPy array from Gradio, a phone photo with EXIF rotation, a
16-bit PNG, a CMYK JPEG, a truncated download) becomes that here, or a StyleTransferError
with one line that says what is wrong: files, uploads and the webcam's JPEG frames
(``decode_jpeg``) alike pass one format whitelist and one pixel limit (``_open_checked``).
The pixels' conversions (any PIL mode to RGB, images to tensors) are io/frames.py's.
"""

from __future__ import annotations

import contextlib
import functools
import io
import math
import os
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageOps

from styletransfer.errors import StyleTransferError, first_line
from styletransfer.files import atomic_write, check_writable
from styletransfer.io.frames import cover, scale_to_uint8, to_numpy, to_rgb, to_tensor

# Refuse to decode more pixels than this: a small file can claim a huge size (a
# "decompression bomb"), and 64 MP is already far beyond what the engine can stylize.
# Read at call time, so tests and apps may change it. Pillow's own global limit
# (Image.MAX_IMAGE_PIXELS) is left alone.
MAX_INPUT_PIXELS: int = 64_000_000

# The loss network downsamples 8x; below this there is nothing left to match.
MIN_SIDE: int = 16

# Formats we let Pillow try. Restricting them keeps exotic decoders (and EPS, which runs
# Ghostscript) away from uploaded files.
_READ_FORMATS = ("PNG", "JPEG", "WEBP", "GIF", "BMP", "TIFF", "AVIF")
_SAVE_FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WEBP"}
_SAVE_OPTIONS = {"PNG": {}, "JPEG": {"quality": 95, "subsampling": 0}, "WEBP": {"quality": 95}}

# ISO media "ftyp" brands of HEIC/HEIF stills (iPhone photos); other brands are video.
_HEIF_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1"}
# What a folder of images (training photos, benchmark photos) is made of.
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff", ".gif")
_VIDEO_SUFFIXES = {".mp4", ".m4v", ".mov", ".avi", ".mkv", ".webm", ".mpg", ".mpeg", ".wmv", ".flv"}


# ----------------------------------------------------------------------------- decoding


def open_image(source) -> Image.Image:
    """Decode `source` into an 8-bit RGB PIL image, upright, fully loaded.

    `source` is a path (str or Path), bytes, a binary file object, a PIL image or a NumPy
    array (HxW, HxWx3 or HxWx4; uint8, uint16, or float in [0, 1]). Transparency is
    composited over white; 16-bit and float images are scaled (not clipped) to 8 bit; for
    animations and multi-page files the first frame is used. A caller's PIL image or array
    is never modified. Raises StyleTransferError for anything a user could have supplied
    wrongly.
    """
    return _open(source, long_side=None)


def load_tensor(source, long_side: int | None = None) -> torch.Tensor:
    """open_image + to_tensor, resized so the longer side is `long_side` pixels if given."""
    if long_side is not None:
        _check_side(long_side)
    image = _open(source, long_side=long_side)
    if long_side is None:
        return to_tensor(image)
    # The output size comes from the decoded image's own aspect ratio, before any shrinking.
    width, height = image.size
    size = _long_side_size(height, width, long_side)
    # Shrink by a whole factor in uint8 first (box filter, cheap): the float tensor is
    # 4x the bytes of the 8-bit image, and a 64 MP photo asked for at 512 px should not
    # cost gigabytes. The result stays >= long_side; the final step is antialiased.
    factor = max(image.size) // long_side
    if factor >= 2:
        image = image.reduce(factor)
    return resize_to(to_tensor(image), size)


def load_array(source, long_side: int | None = None) -> np.ndarray:
    """open_image as an HxWx3 uint8 RGB array, resized so its longer side is ``long_side`` if
    given: the input of the networks' frame path (networks.Network.stylize)."""
    if long_side is not None:
        _check_side(long_side)
    image = _open(source, long_side=long_side)
    if long_side is not None and max(image.size) != long_side:
        height, width = _long_side_size(image.height, image.width, long_side)
        # Pillow's bicubic filters over the whole footprint when shrinking (no aliasing);
        # reducing_gap shrinks by whole factors first, cheaply, for very large photos.
        image = image.resize((width, height), Image.Resampling.BICUBIC, reducing_gap=3.0)
    return np.asarray(image)


def _open(source, long_side: int | None) -> Image.Image:
    if isinstance(source, Image.Image):
        name = "the image"
        with _decoding(name):
            _check_size(source.size, name)
            source.load()
        return _finish(source, name, owned=False)
    if isinstance(source, np.ndarray):
        return _from_array(source)
    if isinstance(source, (bytes, bytearray, memoryview)):
        return _decode(io.BytesIO(source), "the uploaded image", "", long_side)
    if hasattr(source, "read"):
        label = Path(str(getattr(source, "name", "") or "")).name
        name = f"'{label}'" if label else "the uploaded image"
        # Read it all: Pillow needs to seek, and the file is small next to the pixels.
        return _decode(io.BytesIO(source.read()), name, Path(label).suffix, long_side)
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        with _open_file(path) as f:
            return _decode(f, f"'{path.name}'", path.suffix, long_side)
    raise TypeError(f"cannot read an image from {type(source).__name__}")


@contextlib.contextmanager
def _open_file(path: Path) -> Iterator[IO[bytes]]:
    try:
        f = open(path, "rb")  # noqa: SIM115 (closed by the `with f` below, once errors are worded)
    except FileNotFoundError:
        raise StyleTransferError(f"image file not found: {path}") from None
    except IsADirectoryError:
        raise StyleTransferError(f"{path} is a folder, not an image file") from None
    except PermissionError:
        raise StyleTransferError(f"cannot read {path}: permission denied") from None
    except (OSError, ValueError) as e:  # ValueError: a NUL byte in the path
        raise StyleTransferError(f"cannot open {path!s:.200}: {first_line(e)}") from None
    with f:
        yield f


def _decode(f: IO[bytes], name: str, suffix: str, long_side: int | None) -> Image.Image:
    with _decoding(name):
        try:
            im = _open_checked(f, name)
        except Image.UnidentifiedImageError:
            f.seek(0)
            raise StyleTransferError(_not_an_image(name, f.read(16), suffix)) from None
        if long_side is not None:
            # JPEG can decode at 1/2, 1/4 or 1/8 scale directly; draft() picks the
            # smallest that is still >= the size asked for. A no-op for other formats.
            scale = long_side / max(im.size)
            if scale < 0.5:
                im.draft(None, (math.ceil(im.width * scale), math.ceil(im.height * scale)))
        im.load()  # decode now, so a truncated file fails here and not later
    return _finish(im, name, owned=True)


def _open_checked(f: IO[bytes], name: str) -> Image.Image:
    """Pillow's image in ``f``, not yet decoded: of a readable format (the whitelist), and
    within the pixel limits (``_check_size``). Raises UnidentifiedImageError for other data."""
    im = Image.open(f, formats=_readable_formats())
    _check_size(im.size, name)
    return im


def decode_jpeg(data: bytes, size: tuple[int, int], *, match_orientation: bool = True) -> np.ndarray:
    """A compressed camera frame as an HxWx3 uint8 RGB array of exactly ``size`` (width, height).

    The frame is scaled to cover ``size`` and centre-cropped (frames.cover). With
    ``match_orientation``, a portrait frame gets the portrait version of ``size`` (240x320 for
    320x240), so a phone held upright is not cropped to a strip. The browser sends JPEG, but
    like every image from outside it is opened with the whitelist and pixel limit of the
    files. Raises StyleTransferError if it cannot be decoded.
    """
    name = "a camera frame"
    try:
        image = _open_checked(io.BytesIO(data), name)
        width, height = size
        if match_orientation and (image.width < image.height) != (width < height):
            width, height = height, width
        # For a JPEG, libjpeg decodes at 1/2, 1/4 or 1/8 scale directly (never below the
        # size asked for): most of the work is skipped when the camera sends more pixels.
        scale = max(width / image.width, height / image.height)
        image.draft("RGB", (max(1, round(image.width * scale)), max(1, round(image.height * scale))))
        rgb = np.asarray(to_rgb(image))
    except StyleTransferError:
        raise
    except (OSError, ValueError, Image.DecompressionBombError) as error:
        raise StyleTransferError(f"a camera frame could not be decoded ({error}); check the camera") from None
    return cover(rgb, width, height)


@contextlib.contextmanager
def _decoding(name: str) -> Iterator[None]:
    """Turn whatever Pillow raises while decoding into one StyleTransferError."""
    with warnings.catch_warnings():
        # Our own limit (_check_size) decides; Pillow's warning would only duplicate it.
        # catch_warnings swaps the process-wide filter list: a concurrent race can at worst
        # leave this one warning category hidden, which the check below makes harmless.
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            yield
        except StyleTransferError:
            raise
        except Image.DecompressionBombError:
            # Pillow refuses beyond twice its own limit before we ever see the size.
            raise StyleTransferError(
                f"{name} has far more pixels than the limit of {_megapixels(MAX_INPUT_PIXELS)}; scale it down first"
            ) from None
        except MemoryError:
            raise StyleTransferError(f"not enough memory to decode {name}; try a smaller image") from None
        except Exception as e:
            # Decoders raise OSError, SyntaxError, ValueError, EOFError, struct.error ...
            # for damaged data; none of them is a bug on our side.
            raise StyleTransferError(
                f"{name} is damaged or truncated and could not be decoded "
                f"({first_line(e)}); re-export or re-download it"
            ) from e


def _finish(im: Image.Image, name: str, owned: bool) -> Image.Image:
    """Apply EXIF orientation and convert to RGB; never returns (or changes) a caller's image."""
    original = im
    try:
        if owned:
            ImageOps.exif_transpose(im, in_place=True)
        else:
            im = ImageOps.exif_transpose(im)
    except Exception:
        pass  # broken EXIF: keep the pixels as stored rather than refuse the photo
    try:
        rgb = to_rgb(im)
    except (ValueError, OSError) as e:
        raise StyleTransferError(
            f"{name} uses colour mode {im.mode}, which cannot be converted to RGB "
            f"({first_line(e)}); save it as an RGB PNG or JPEG"
        ) from e
    return rgb.copy() if rgb is original and not owned else rgb


def _from_array(array: np.ndarray) -> Image.Image:
    a = array[..., 0] if array.ndim == 3 and array.shape[2] == 1 else array
    if not (a.ndim == 2 or (a.ndim == 3 and a.shape[2] in (3, 4))):
        raise StyleTransferError(f"an image array must have shape HxW, HxWx3 or HxWx4; got {array.shape}")
    name = "the image array"
    _check_size((a.shape[1], a.shape[0]), name)
    if a.dtype == np.uint8:
        pixels = a
    elif a.dtype == np.uint16:
        pixels = scale_to_uint8(a, 65535.0)
    elif a.dtype == np.bool_:
        pixels = a.astype(np.uint8) * 255
    elif np.issubdtype(a.dtype, np.floating):
        lo, hi = float(np.min(a)), float(np.max(a))  # NaN propagates and fails the test below
        if not (lo >= -1e-3 and hi <= 1 + 1e-3):
            raise StyleTransferError(f"a float image array must hold values in [0, 1]; got {lo:g}..{hi:g}")
        pixels = scale_to_uint8(a, 1.0)
    elif np.issubdtype(a.dtype, np.integer) and a.min() >= 0 and a.max() <= 255:
        pixels = a.astype(np.uint8)
    else:
        raise StyleTransferError(f"unsupported image array type {a.dtype}; use uint8, uint16 or float in [0, 1]")
    # uint8 HxW / HxWx3 / HxWx4 make Pillow modes L / RGB / RGBA. fromarray copies RGB
    # (Pillow stores it 4 bytes a pixel) and to_rgb copies the others, so the result never
    # shares memory with the caller's array.
    return to_rgb(Image.fromarray(np.ascontiguousarray(pixels)))


@functools.cache
def _readable_formats() -> tuple[str, ...]:
    Image.init()  # AVIF is only there when Pillow was built with libavif
    return tuple(f for f in _READ_FORMATS if f in Image.OPEN)


def _check_size(size: tuple[int, int], name: str) -> None:
    width, height = size
    if width * height > MAX_INPUT_PIXELS:
        raise StyleTransferError(
            f"{name} is {width}x{height} pixels ({_megapixels(width * height)}), over the "
            f"limit of {_megapixels(MAX_INPUT_PIXELS)}; scale it down first"
        )
    if min(width, height) < MIN_SIDE:
        raise StyleTransferError(
            f"{name} is only {width}x{height} pixels; images must be at least {MIN_SIDE} pixels on each side"
        )


def _not_an_image(name: str, head: bytes, suffix: str) -> str:
    if not head:
        return f"{name} is empty (0 bytes); the upload or download may have failed"
    if head[4:8] == b"ftyp" and head[8:12] in _HEIF_BRANDS:
        return f"{name} is a HEIC/HEIF photo, which is not supported; convert it to JPEG or PNG"
    if (
        head[4:8] == b"ftyp"
        or head.startswith(b"\x1aE\xdf\xa3")  # Matroska / WebM
        or (head.startswith(b"RIFF") and head[8:12] == b"AVI ")
        or suffix.lower() in _VIDEO_SUFFIXES
    ):
        return f"{name} looks like a video file, not an image; choose a still image"
    formats = ", ".join(_readable_formats())
    return f"{name} is not an image file that can be read (supported: {formats})"


def _megapixels(pixels: int) -> str:
    return f"{pixels / 1e6:.3g} megapixels"


# ---------------------------------------------------------------- tensors and resizing


def to_pil(tensor: torch.Tensor) -> Image.Image:
    """(1, 3, H, W) or (3, H, W) tensor to an RGB PIL image (clamped, rounded)."""
    return Image.fromarray(to_numpy(tensor))


def resize_long_side(tensor: torch.Tensor, long_side: int) -> torch.Tensor:
    """Resize so the longer side is `long_side`, keeping the aspect ratio (each side >= 1)."""
    _check_side(long_side)
    return resize_to(tensor, _long_side_size(*tensor.shape[-2:], long_side))


def _long_side_size(height: int, width: int, long_side: int) -> tuple[int, int]:
    """(H, W) with the longer side == long_side and the aspect ratio kept (each side >= 1)."""
    if height >= width:
        return long_side, max(1, round(width * long_side / height))
    return max(1, round(height * long_side / width)), long_side


def resize_to(tensor: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Resize a (N, C, H, W) or (C, H, W) tensor to exactly `size` = (H, W).

    Bicubic with antialiasing (so downscaling does not alias), clamped to [0, 1] because
    bicubic overshoots at edges. Always returns a new tensor; differentiable.
    """
    height, width = (int(s) for s in size)
    _check_side(height)
    _check_side(width)
    if height * width > MAX_INPUT_PIXELS:
        raise StyleTransferError(
            f"{width}x{height} is over the limit of {_megapixels(MAX_INPUT_PIXELS)}; choose a smaller size"
        )
    if tensor.dim() not in (3, 4):
        raise ValueError(f"expected a (N, C, H, W) or (C, H, W) tensor, got {tuple(tensor.shape)}")
    x = tensor.unsqueeze(0) if tensor.dim() == 3 else tensor
    if tuple(x.shape[-2:]) != (height, width):
        dtype = x.dtype
        work = x if dtype in (torch.float32, torch.float64) else x.float()
        x = F.interpolate(work, size=(height, width), mode="bicubic", align_corners=False, antialias=True).to(dtype)
    x = x.clamp(0, 1)
    return x.squeeze(0) if tensor.dim() == 3 else x


def _check_side(pixels) -> None:
    if isinstance(pixels, bool) or not isinstance(pixels, (int, np.integer)) or pixels < 1:
        raise StyleTransferError(f"image size must be a whole number of pixels >= 1, got {pixels!r}")


# ---------------------------------------------------------------------------- saving


def save_image(image, path) -> Path:
    """Write a tensor, PIL image or array to `path`; the format comes from the suffix.

    .png, .jpg/.jpeg (quality 95) or .webp (quality 95). Creates missing folders. Writes
    to a temporary file first, so an interrupted save never leaves a half file under the
    real name.
    """
    path = check_output_path(path)
    fmt = _SAVE_FORMATS[path.suffix.lower()]
    if isinstance(image, Image.Image):
        pil = to_rgb(image)
    elif isinstance(image, np.ndarray):
        pil = _from_array(image)
    else:
        pil = to_pil(image)
    try:
        atomic_write(path, lambda tmp: pil.save(tmp, format=fmt, **_SAVE_OPTIONS[fmt]))
    except OSError as e:
        raise StyleTransferError(f"could not write {path}: {e.strerror or first_line(e)}") from e
    return path


def check_output_path(path) -> Path:
    """Fail now, not after a long run, if save_image(..., path) cannot succeed.

    Checks the suffix and that the nearest existing folder on the way is a writable folder
    (missing folders below it are created when saving).
    """
    path = Path(path)
    if path.suffix.lower() not in _SAVE_FORMATS:
        raise StyleTransferError(f"cannot save '{path.name}': the file name must end in .png, .jpg or .webp")
    check_writable(path)
    return path
