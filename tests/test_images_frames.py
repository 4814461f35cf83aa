"""io/images.py and io/frames.py share one conversion of pixels (frames.to_rgb) and one set of
checks on images from outside (images._open_checked): the same tensor whichever path a
transparent or 16-bit image takes, and camera frames refused as uploads are."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from PIL import Image

from styletransfer.errors import StyleTransferError
from styletransfer.io import frames, images


def rgba() -> Image.Image:
    """Half transparent red, fully transparent black, opaque green, half transparent blue."""
    pixels = np.zeros((16, 16, 4), np.uint8)
    pixels[:8, :8] = (255, 0, 0, 128)
    pixels[8:, 8:] = (0, 255, 0, 255)
    pixels[8:, :8] = (0, 0, 255, 64)
    return Image.fromarray(pixels)  # RGBA


def grey16() -> Image.Image:
    values = np.linspace(0, 65535, 16 * 20).round().astype(np.uint16).reshape(16, 20)
    return Image.fromarray(values)  # I;16


@pytest.mark.parametrize("make", [rgba, grey16], ids=["rgba", "16-bit"])
def test_images_and_frames_give_one_tensor(make):
    image = make()
    by_images = images.to_tensor(image)
    assert torch.equal(by_images, frames.to_tensor(image))
    assert torch.equal(by_images, images.load_tensor(image))  # what a file's pixels become
    assert np.array_equal(frames.to_numpy(image), images.to_numpy(by_images))
    assert image.mode == make().mode  # the caller's image is left as it was


def test_transparency_is_composited_over_white_and_16_bit_is_scaled():
    tensor = frames.to_tensor(rgba())  # (1, 3, H, W)
    assert tensor[0, :, 0, 15].tolist() == [1.0, 1.0, 1.0]  # transparent: white, not black
    assert tensor[0, :, 15, 15].tolist() == [0.0, 1.0, 0.0]
    red = tensor[0, :, 0, 0] * 255
    assert red.round().tolist() == [255.0, 127.0, 127.0]  # half red over white
    grey = frames.to_tensor(grey16())[0, 0]
    assert grey[0, 0] == 0 and grey[-1, -1] == 1  # the full 16-bit range, not clipped at 255
    assert len(grey.unique()) > 200


def jpeg(size=(320, 240)) -> bytes:
    out = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (size[1], size[0], 3), np.uint8)).save(out, "JPEG")
    return out.getvalue()


def test_camera_frames_pass_the_image_files_checks(monkeypatch):
    assert images.decode_jpeg(jpeg(), (160, 120)).shape == (120, 160, 3)
    tga = io.BytesIO()
    Image.new("RGB", (320, 240), "red").save(tga, "TGA")  # Pillow reads TGA; the whitelist does not
    with pytest.raises(StyleTransferError, match="camera frame could not be decoded"):
        images.decode_jpeg(tga.getvalue(), (160, 120))
    monkeypatch.setattr(images, "MAX_INPUT_PIXELS", 320 * 240 - 1)
    with pytest.raises(StyleTransferError, match=r"a camera frame is 320x240 pixels .* over the limit"):
        images.decode_jpeg(jpeg(), (160, 120))
