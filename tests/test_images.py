"""The bad-input matrix for styletransfer.images: every case either decodes to the right
pixels or raises StyleTransferError with a clear one-line message. All fixtures are made
here, in tmp_path, with Pillow / NumPy / OpenCV."""

from __future__ import annotations

import io
import re
import struct
import zlib

import cv2
import numpy as np
import pytest
import torch
from PIL import Image
from PIL.JpegImagePlugin import JpegImageFile

from styletransfer.errors import StyleTransferError
from styletransfer.io import images
from styletransfer.io.images import (
    MIN_SIDE,
    load_tensor,
    open_image,
    resize_long_side,
    resize_to,
    save_image,
    to_numpy,
    to_pil,
    to_tensor,
)

RED, GREEN, BLUE, WHITE = (255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 255)


def quadrants(width: int = 48, height: int = 32) -> Image.Image:
    """Asymmetric test card: red | green over blue | white."""
    a = np.zeros((height, width, 3), np.uint8)
    h, w = height // 2, width // 2
    a[:h, :w], a[:h, w:], a[h:, :w], a[h:, w:] = RED, GREEN, BLUE, WHITE
    return Image.fromarray(a)


def corners(image: Image.Image) -> tuple:
    """Colours near the four corners (inset, away from JPEG ringing): TL, TR, BL, BR."""
    w, h = image.size
    dx, dy = w // 5, h // 5
    return tuple(image.getpixel(p) for p in [(dx, dy), (w - dx, dy), (dx, h - dy), (w - dx, h - dy)])


def assert_close(actual, expected, tol: int = 12):
    diff = np.asarray(actual, dtype=np.float64) - np.asarray(expected, dtype=np.float64)
    assert np.abs(diff).max() <= tol, (actual, expected)


def encoded(image: Image.Image, fmt: str, **kw) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **kw)
    return buffer.getvalue()


def png_header(width: int, height: int) -> bytes:
    """A PNG that claims width x height (1-bit grey) but holds almost no data: a few hundred
    bytes that would decode to gigabytes. It must be refused from the header alone."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


# ------------------------------------------------------------------ refused inputs


def _write(name: str, data: bytes):
    def make(tmp_path):
        path = tmp_path / name
        path.write_bytes(data)
        return path

    return make


def _half_of(fmt: str, name: str):
    rng = np.random.default_rng(0)
    noise = Image.fromarray(rng.integers(0, 256, (200, 300, 3), dtype=np.uint8))
    data = encoded(noise, fmt)
    return _write(name, data[: len(data) // 2])


LIMIT = "limit of 64 megapixels"
BAD_INPUTS = {
    # case: (make source from tmp_path, words the message must contain)
    "zero-byte file": (_write("empty.jpg", b""), ["'empty.jpg'", "empty"]),
    "text named .jpg": (_write("notes.jpg", b"just some text\n" * 20), ["'notes.jpg'", "not an image"]),
    "random bytes named .mp4": (
        _write("clip.mp4", np.random.default_rng(1).bytes(4096)),
        ["'clip.mp4'", "not an image"],
    ),
    "mp4 header": (
        _write("movie.bin", b"\x00\x00\x00\x18ftypisom" + bytes(200)),
        ["video", "not an image"],
    ),
    "HEIC photo": (_write("IMG_0001.HEIC", b"\x00\x00\x00\x18ftypheic" + bytes(200)), ["HEIC", "JPEG"]),
    "truncated JPEG": (_half_of("JPEG", "cut.jpg"), ["'cut.jpg'", "truncated"]),
    "truncated PNG": (_half_of("PNG", "cut.png"), ["'cut.png'", "truncated"]),
    "corrupt WebP": (_half_of("WEBP", "cut.webp"), ["'cut.webp'", "damaged"]),
    # 30000^2 is past Pillow's own hard limit (it raises before we see the size), 10000^2
    # only makes Pillow warn, 9000^2 is below Pillow's limits and above ours.
    "huge PNG, Pillow bomb error": (_write("bomb.png", png_header(30000, 30000)), ["'bomb.png'", LIMIT]),
    "huge PNG, Pillow bomb warning": (_write("big.png", png_header(10000, 10000)), ["10000x10000", LIMIT]),
    "huge PNG, over our limit only": (_write("big.png", png_header(9000, 9000)), ["9000x9000", LIMIT]),
    "tiny image": (_write("tiny.png", encoded(quadrants(4, 4), "PNG")), ["4x4", str(MIN_SIDE)]),
    "thin image": (_write("thin.png", encoded(quadrants(400, 8), "PNG")), ["400x8", str(MIN_SIDE)]),
    "missing file": (lambda tmp: tmp / "nowhere" / "gone.png", ["not found", "gone.png"]),
    "a folder": (lambda tmp: tmp, ["folder"]),
    "empty bytes": (lambda tmp: b"", ["empty"]),
    "tiny PIL image": (lambda tmp: quadrants(8, 8), ["8x8"]),
    "array with channels first": (lambda tmp: np.zeros((3, 32, 32), np.uint8), ["shape", "(3, 32, 32)"]),
    "float array in 0..255": (lambda tmp: np.full((32, 32, 3), 200.0), ["[0, 1]"]),
    "float array with NaN": (lambda tmp: np.full((32, 32), np.nan, np.float32), ["[0, 1]"]),
    "int array beyond 8 bit": (lambda tmp: np.full((32, 32), 1000, np.int32), ["int32"]),
}


@pytest.mark.filterwarnings("error")  # e.g. Pillow's DecompressionBombWarning must not leak
@pytest.mark.parametrize("case", BAD_INPUTS, ids=str)
def test_bad_input_is_refused_with_a_clear_message(case, tmp_path):
    make, words = BAD_INPUTS[case]
    pillow_limit = Image.MAX_IMAGE_PIXELS
    with pytest.raises(StyleTransferError, match=re.escape(words[0])) as caught:
        open_image(make(tmp_path))
    message = str(caught.value)
    assert "\n" not in message
    for word in words:
        assert word in message
    assert pillow_limit == Image.MAX_IMAGE_PIXELS  # the global is not ours to change


def test_bad_input_is_refused_by_load_tensor_too(tmp_path):
    path = _half_of("JPEG", "cut.jpg")(tmp_path)
    with pytest.raises(StyleTransferError, match="truncated"):
        load_tensor(path, long_side=64)


def test_pixel_limit_is_read_at_call_time(monkeypatch):
    monkeypatch.setattr(images, "MAX_INPUT_PIXELS", 1000)
    with pytest.raises(StyleTransferError, match=r"40x40 pixels .* limit of 0.001 megapixels"):
        open_image(quadrants(40, 40))
    with pytest.raises(StyleTransferError, match="limit"):
        open_image(np.zeros((40, 40, 3), np.uint8))
    assert open_image(quadrants(30, 30)).size == (30, 30)


# ------------------------------------------------------------ accepted inputs


@pytest.mark.parametrize("kind", ["path", "str", "bytes", "file object", "PIL", "numpy"])
def test_every_source_kind_gives_the_same_pixels(kind, tmp_path):
    card = quadrants()
    path = tmp_path / "card.png"
    card.save(path)
    source = {
        "path": path,
        "str": str(path),
        "bytes": path.read_bytes(),
        "file object": io.BytesIO(path.read_bytes()),
        "PIL": card,
        "numpy": np.asarray(card),
    }[kind]
    image = open_image(source)
    assert image.mode == "RGB"
    assert np.array_equal(np.asarray(image), np.asarray(card))


def test_callers_image_and_array_are_not_modified_or_shared():
    array = np.asarray(quadrants()).copy()
    image = open_image(array)
    array[:] = 0
    assert image.getpixel((0, 0)) == RED
    card = quadrants()
    card.getexif()[0x0112] = 3
    assert open_image(card) is not card
    assert card.getexif()[0x0112] == 3


def _rgba(tmp_path):
    a = np.zeros((32, 32, 4), np.uint8)
    a[:, :16] = (255, 0, 0, 0)  # fully transparent red: must become white
    a[:, 16:] = (0, 0, 255, 255)  # opaque blue
    a[:8, 16:] = (0, 0, 0, 128)  # half-transparent black over white: mid grey
    Image.fromarray(a).save(tmp_path / "a.png")
    return tmp_path / "a.png", {(4, 20): WHITE, (24, 20): BLUE, (24, 4): (127, 127, 127)}


def _la(tmp_path):
    a = np.zeros((32, 32, 2), np.uint8)
    a[:, 16:, 1] = 255  # left: transparent black, right: opaque black
    Image.fromarray(a, "LA").save(tmp_path / "a.png")
    return tmp_path / "a.png", {(4, 4): WHITE, (24, 4): (0, 0, 0)}


def _palette_with_transparency(tmp_path):
    im = Image.new("P", (32, 32), 0)
    im.putpalette([0, 255, 0, 255, 0, 0] + [0] * 762)
    im.paste(1, (16, 0, 32, 32))
    im.save(tmp_path / "a.png", transparency=0)  # index 0 (green) is transparent
    return tmp_path / "a.png", {(4, 4): WHITE, (24, 4): RED}


def _grey(tmp_path):
    Image.new("L", (32, 32), 77).save(tmp_path / "a.png")
    return tmp_path / "a.png", {(4, 4): (77, 77, 77)}


def _one_bit(tmp_path):
    im = Image.new("1", (32, 32), 0)
    im.paste(1, (16, 0, 32, 32))
    im.save(tmp_path / "a.png")
    return tmp_path / "a.png", {(4, 4): (0, 0, 0), (24, 4): WHITE}


def _cmyk_jpeg(tmp_path):
    # Pillow writes CMYK JPEGs the Adobe way (inverted, with an APP14 marker).
    im = Image.new("CMYK", (32, 32), (0, 255, 255, 0))  # red
    im.paste((255, 0, 255, 0), (16, 0, 32, 32))  # green
    im.save(tmp_path / "a.jpg", quality=95)
    return tmp_path / "a.jpg", {(4, 4): RED, (27, 4): GREEN}


def _tiff_pages(tmp_path):
    pages = [Image.new("RGB", (32, 32), c) for c in (RED, GREEN, BLUE)]
    pages[0].save(tmp_path / "a.tif", save_all=True, append_images=pages[1:])
    return tmp_path / "a.tif", {(4, 4): RED}


def _animation(fmt: str, suffix: str):
    def make(tmp_path):
        frames = [Image.new("RGB", (32, 32), c) for c in (RED, GREEN, BLUE)]
        path = tmp_path / f"a{suffix}"
        frames[0].save(path, fmt, save_all=True, append_images=frames[1:], duration=100, loop=0)
        assert Image.open(path).n_frames == 3
        return path, {(4, 4): RED, (28, 28): RED}

    return make


MODE_CASES = {
    "RGBA over white": _rgba,
    "LA over white": _la,
    "palette with transparency": _palette_with_transparency,
    "greyscale L": _grey,
    "1-bit": _one_bit,
    "CMYK JPEG (Adobe inverted)": _cmyk_jpeg,
    "multi-page TIFF": _tiff_pages,
    "animated GIF": _animation("GIF", ".gif"),
    "animated WebP": _animation("WEBP", ".webp"),
}


@pytest.mark.parametrize("case", MODE_CASES, ids=str)
def test_modes_become_rgb_with_the_right_colors(case, tmp_path):
    path, expected = MODE_CASES[case](tmp_path)
    image = open_image(path)
    assert image.mode == "RGB" and image.size == (32, 32)
    for xy, color in expected.items():
        assert_close(image.getpixel(xy), color, tol=12 if path.suffix in (".jpg", ".webp") else 1)


RAMP16 = np.linspace(0, 65535, 256).round().astype(np.uint16)


def test_16bit_grey_png_ramp_fills_the_8bit_range(tmp_path):
    Image.fromarray(np.tile(RAMP16, (20, 1))).save(tmp_path / "ramp.png")
    assert Image.open(tmp_path / "ramp.png").mode.startswith("I")
    row = np.asarray(open_image(tmp_path / "ramp.png"))[5, :, 0]
    assert row[0] == 0 and row[-1] == 255
    assert np.array_equal(row, np.round(RAMP16 / 257).astype(np.uint8))


def test_16bit_rgb_png_ramp_fills_the_8bit_range(tmp_path):
    # Pillow cannot write 16-bit RGB; OpenCV can (it wants BGR).
    rgb = np.zeros((20, 256, 3), np.uint16)
    rgb[..., 0] = RAMP16
    rgb[..., 1] = RAMP16[::-1]
    assert cv2.imwrite(str(tmp_path / "ramp16.png"), rgb[..., ::-1])
    out = np.asarray(open_image(tmp_path / "ramp16.png"))[5].astype(int)
    assert_close(out[:, 0], RAMP16 / 257, tol=1)
    assert_close(out[:, 1], RAMP16[::-1] / 257, tol=1)
    assert out[:, 0].min() == 0 and out[:, 0].max() == 255


@pytest.mark.parametrize(
    "array",
    [
        pytest.param(np.tile(RAMP16, (20, 1)), id="I;16"),
        pytest.param(np.tile(RAMP16.astype(">u2"), (20, 1)), id="I;16B"),
        pytest.param(np.tile(RAMP16.astype(np.int32), (20, 1)), id="I"),
        pytest.param(np.tile(RAMP16.astype(np.float32) / 65535, (20, 1)), id="F in [0, 1]"),
    ],
)
def test_deep_pil_modes_are_scaled_not_clipped(array):
    source = Image.fromarray(array)
    assert source.mode in ("I;16", "I;16B", "I", "F")
    row = np.asarray(open_image(source))[5, :, 0]
    assert_close(row, RAMP16 / 257, tol=1)


@pytest.mark.parametrize(
    "array",
    [
        pytest.param(np.tile(RAMP16, (20, 1)), id="uint16 HxW"),
        pytest.param(np.tile(RAMP16, (20, 1))[..., None].repeat(3, 2), id="uint16 HxWx3"),
        pytest.param(np.tile(RAMP16 / 65535, (20, 1)), id="float64 HxW"),
        pytest.param(np.tile((RAMP16 / 65535).astype(np.float32), (20, 1))[..., None], id="float32 HxWx1"),
        pytest.param(np.tile(np.round(RAMP16 / 257).astype(np.uint8), (20, 1)), id="uint8 HxW"),
    ],
)
def test_numpy_inputs_are_scaled_to_8bit(array):
    out = np.asarray(open_image(array))
    assert out.shape == (20, 256, 3)
    assert_close(out[5, :, 0], RAMP16 / 257, tol=1)
    assert np.array_equal(out[..., 0], out[..., 2])


def test_numpy_rgba_is_composited_over_white():
    a = np.zeros((32, 32, 4), np.uint8)
    a[:, 16:] = (0, 255, 0, 255)
    out = open_image(a)
    assert out.getpixel((4, 4)) == WHITE and out.getpixel((24, 4)) == GREEN


# Expected corners (TL, TR, BL, BR) of the 48x32 test card once shown upright, worked out
# by hand from the EXIF definitions rather than with Pillow's transpose.
ORIENTATIONS = {
    1: ((48, 32), (RED, GREEN, BLUE, WHITE)),
    3: ((48, 32), (WHITE, BLUE, GREEN, RED)),  # stored upside down
    6: ((32, 48), (BLUE, RED, WHITE, GREEN)),  # shown rotated 90 degrees clockwise
    8: ((32, 48), (GREEN, WHITE, RED, BLUE)),  # shown rotated 90 degrees anticlockwise
}


@pytest.mark.parametrize("as_pil", [False, True], ids=["file", "PIL"])
@pytest.mark.parametrize("orientation", ORIENTATIONS)
def test_exif_orientation_is_applied(orientation, as_pil, tmp_path):
    card = quadrants()
    exif = card.getexif()
    exif[0x0112] = orientation
    path = tmp_path / "phone.jpg"
    card.save(path, quality=95, exif=exif.tobytes())
    image = open_image(Image.open(path) if as_pil else path)
    size, expected = ORIENTATIONS[orientation]
    assert image.size == size
    for got, want in zip(corners(image), expected):
        assert_close(got, want, tol=20)


@pytest.mark.filterwarnings("ignore:Corrupt EXIF data")
def test_broken_exif_does_not_stop_the_photo(tmp_path):
    path = tmp_path / "odd.jpg"
    quadrants().save(path, exif=b"Exif\x00\x00MM\x00*garbage")
    assert_close(corners(open_image(path)), (RED, GREEN, BLUE, WHITE), tol=20)


# ------------------------------------------------------------- tensors and resizing


def test_to_tensor_and_back_is_exact_on_uint8():
    rng = np.random.default_rng(2)
    pixels = rng.integers(0, 256, (37, 53, 3), dtype=np.uint8)
    tensor = to_tensor(Image.fromarray(pixels))
    assert tensor.shape == (1, 3, 37, 53) and tensor.dtype == torch.float32
    assert tensor.is_contiguous()
    assert tensor.min() >= 0 and tensor.max() <= 1
    assert torch.equal(tensor[0, :, 3, 5], torch.tensor(pixels[3, 5], dtype=torch.float32) / 255)
    assert np.array_equal(np.asarray(to_pil(tensor)), pixels)
    assert np.array_equal(to_numpy(tensor[0]), pixels)


def test_to_tensor_composites_non_rgb_modes():
    tensor = to_tensor(Image.new("RGBA", (16, 16), (0, 0, 0, 0)))
    assert torch.equal(tensor, torch.ones(1, 3, 16, 16))


def test_to_pil_clamps_rounds_and_zeroes_nan():
    values = torch.tensor([-1.0, 2.0, 100.4 / 255, 100.6 / 255, float("nan"), 1.0])
    tensor = values.view(1, 1, 1, 6).expand(1, 3, 1, 6)
    out = to_numpy(tensor)
    assert out.dtype == np.uint8 and out.shape == (1, 6, 3)
    assert out[0, :, 0].tolist() == [0, 255, 100, 101, 0, 255]
    assert to_pil(tensor.requires_grad_() * 1).mode == "RGB"


@pytest.mark.parametrize(
    "shape, words",
    [
        ((2, 3, 8, 8), "expected one image, got a batch of 2"),
        ((1, 8, 8), "expected a (1, 3, H, W) or (3, H, W) tensor, got (1, 8, 8)"),
        ((1, 1, 8, 8), "expected a (1, 3, H, W) or (3, H, W) tensor, got (1, 1, 8, 8)"),
    ],
)
def test_to_pil_refuses_other_shapes(shape, words):
    with pytest.raises(ValueError, match=re.escape(words)):
        to_pil(torch.zeros(shape))


@pytest.mark.parametrize(
    "hw, long_side, expected",
    [
        ((30, 41), 20, (15, 20)),
        ((41, 30), 20, (20, 15)),
        ((33, 33), 17, (17, 17)),
        ((17, 33), 99, (51, 99)),  # upscaling
        ((7, 1000), 100, (1, 100)),  # never below one pixel
        ((1000, 3), 10, (10, 1)),
    ],
)
def test_resize_long_side_keeps_aspect_ratio(hw, long_side, expected):
    out = resize_long_side(torch.rand(1, 3, *hw), long_side)
    assert out.shape == (1, 3, *expected)
    assert resize_long_side(torch.rand(3, *hw), long_side).shape == (3, *expected)


def test_resize_keeps_a_constant_image_and_stays_in_range():
    assert torch.allclose(resize_to(torch.full((1, 3, 40, 60), 0.3), (13, 7)), torch.tensor(0.3))
    step = torch.zeros(1, 3, 64, 64)
    step[..., 32:] = 1  # bicubic rings at a hard edge
    for size in [(20, 20), (150, 150)]:
        out = resize_to(step, size)
        assert out.min() >= 0 and out.max() <= 1


def test_resize_is_antialiased():
    checker = (torch.arange(64).view(1, -1) + torch.arange(64).view(-1, 1)) % 2
    out = resize_to(checker.float().expand(1, 3, 64, 64), (21, 21))
    assert torch.allclose(out, torch.tensor(0.5), atol=0.05)  # point sampling gives 0..1


def test_resize_returns_a_new_tensor_and_passes_gradients():
    x = torch.rand(1, 3, 20, 30, requires_grad=True)
    same = resize_to(x, (20, 30))
    assert same is not x and torch.equal(same, x)
    resize_long_side(x, 10).sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


@pytest.mark.parametrize("bad", [0, -5, 2.5, None])
def test_resize_refuses_bad_sizes(bad):
    with pytest.raises(StyleTransferError, match="whole number of pixels"):
        resize_long_side(torch.rand(1, 3, 8, 8), bad)


def test_load_tensor_resizes_and_shrinks_large_jpegs_early(tmp_path, monkeypatch):
    path = tmp_path / "big.jpg"
    quadrants(1600, 800).save(path, quality=95)
    decoded_sizes = []
    real_load = JpegImageFile.load

    def spy_load(self):
        decoded_sizes.append(self.size)
        return real_load(self)

    converted_sizes = []
    real_to_tensor = images.to_tensor

    def spy_to_tensor(image):
        converted_sizes.append(image.size)
        return real_to_tensor(image)

    monkeypatch.setattr(JpegImageFile, "load", spy_load)
    monkeypatch.setattr(images, "to_tensor", spy_to_tensor)
    tensor = load_tensor(path, long_side=100)
    assert decoded_sizes[0] == (200, 100)  # decoded at 1/8 scale, not 1600x800
    assert converted_sizes == [(100, 50)]  # and reduced 2x before the float copy
    assert tensor.shape == (1, 3, 50, 100)
    full = resize_long_side(to_tensor(open_image(path)), 100)
    assert (tensor - full).abs().mean() < 0.01  # the early JPEG draft/reduce changes nothing visible
    assert load_tensor(path).shape == (1, 3, 800, 1600)
    assert load_tensor(quadrants(), long_side=96).shape == (1, 3, 64, 96)


# --------------------------------------------------------------------------- saving


def test_save_png_round_trip_is_exact_and_makes_folders(tmp_path):
    tensor = to_tensor(Image.fromarray(np.random.default_rng(3).integers(0, 256, (21, 34, 3), np.uint8)))
    path = save_image(tensor, tmp_path / "out" / "deep" / "result.png")
    assert path == tmp_path / "out" / "deep" / "result.png"
    assert torch.equal(load_tensor(path), tensor)
    assert [p.name for p in path.parent.iterdir()] == ["result.png"]  # no temporary left


@pytest.mark.parametrize("suffix", [".jpg", ".JPEG", ".webp"])
def test_save_lossy_formats(suffix, tmp_path):
    path = save_image(quadrants(), tmp_path / f"card{suffix}")
    assert_close(corners(open_image(path)), (RED, GREEN, BLUE, WHITE), tol=20)


@pytest.mark.parametrize(
    "name, words",
    [
        ("out.gif", r"\.png, \.jpg or \.webp"),
        ("out", r"\.png, \.jpg or \.webp"),
        ("a_file/out.png", "not a writable folder"),
        ("a_file/deeper/out.png", "not a writable folder"),
        ("a_folder.png", "it is a folder"),
    ],
)
def test_save_refuses_bad_output_paths_before_any_work(name, words, tmp_path):
    (tmp_path / "a_file").write_text("not a folder")
    (tmp_path / "a_folder.png").mkdir()
    with pytest.raises(StyleTransferError, match=words):
        images.check_output_path(tmp_path / name)
    with pytest.raises(StyleTransferError, match=words):
        save_image(torch.rand(1, 3, 8, 8), tmp_path / name)


def test_check_output_path_accepts_new_folders(tmp_path):
    path = tmp_path / "new" / "dir" / "x.webp"
    assert images.check_output_path(path) == path
    assert not (tmp_path / "new").exists()  # checking creates nothing


def test_a_failed_write_leaves_no_partial_file(tmp_path, monkeypatch):
    def disk_full(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(images.os, "replace", disk_full)
    with pytest.raises(StyleTransferError, match="could not write .*No space left"):
        save_image(quadrants(), tmp_path / "out.png")
    assert list(tmp_path.iterdir()) == []
