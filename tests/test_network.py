"""networks.load_network, the one way to a ready network, beside read_model (weights as stored,
for training) and the one cache of loaded networks; and the frame path every caller shares."""

import os
import threading
import time

import numpy as np
import pytest
import torch

from styletransfer import colors, universal
from styletransfer.errors import StyleTransferError
from styletransfer.io import frames
from styletransfer.networks import Network, cache, load_network, network, read_model, zoo
from styletransfer.networks.transformer import TransformerConfig, build


def _model(arch="lite", seed=0, spread=0.3):
    torch.manual_seed(seed)
    net = build(TransformerConfig(arch=arch))
    with torch.no_grad():  # off the initialisation, so outputs differ from a flat grey
        for p in net.parameters():
            p.add_(spread * torch.randn_like(p))
    return net.eval()


@pytest.fixture
def folder(tmp_path):
    zoo.save(_model("lite"), zoo.ModelCard(name="wave", arch="lite", title="The Great Wave"), tmp_path)
    return tmp_path


def _photo(height=20, width=30, seed=0):
    return (np.random.default_rng(seed).random((height, width, 3)) * 255).astype(np.uint8)


def test_a_name_a_file_and_a_checkpoint_give_the_same_network(folder, tmp_path):
    by_name = load_network("wave", "lite", folder=folder)
    by_file = load_network(folder / "wave.lite.safetensors")
    module = by_name.module
    ckpt = tmp_path / "run" / "checkpoint.pt"
    ckpt.parent.mkdir()
    torch.save({"model": module.state_dict(), "model_config": {"arch": "lite", "blur": True}, "step": 3}, ckpt)
    by_checkpoint = load_network(ckpt)
    photo = _photo()
    assert by_name.card.title == "The Great Wave" and by_checkpoint.card.steps == 3
    assert np.array_equal(by_name.stylize(photo), by_file.stylize(photo))
    assert np.array_equal(by_name.stylize(photo), by_checkpoint.stylize(photo))


def test_read_model_gives_the_weights_as_stored_every_call(tmp_path):
    several = _model("lite").widen(2)
    ckpt = tmp_path / "run" / "checkpoint.pt"
    ckpt.parent.mkdir()
    state = {"model": several.state_dict(), "model_config": {"arch": "lite", "blur": True, "styles": 2}, "step": 5}
    torch.save({**state, "train_config": {"lr": 1e-3}}, ckpt)
    module, card = read_model(ckpt)
    assert module.config.styles == 2 and (card.name, card.steps, card.train_config) == ("run", 5, {"lr": 1e-3})
    assert read_model(ckpt)[0] is not module  # fresh: a caller may train or grow it
    assert load_network(ckpt).module.config.styles == 1  # the front door runs its first style
    zoo.save(module, zoo.ModelCard(name="pair", arch="lite", styles=[{"name": "a"}, {"name": "b"}]), tmp_path)
    stored, stored_card = read_model(tmp_path / "pair.lite.safetensors")
    assert stored.config.styles == 2 and [s["name"] for s in stored_card.styles] == ["a", "b"]
    with pytest.raises(StyleTransferError, match="not found"):
        read_model(tmp_path / "nothing.pt")


def test_one_cache_builds_once_for_concurrent_first_calls():
    builds = []

    def build():
        builds.append(1)
        time.sleep(0.2)
        return object()

    got = []
    threads = [threading.Thread(target=lambda: got.append(cache.cached(("test", 1), build, keep=1))) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(builds) == 1 and len({id(g) for g in got}) == 1
    assert cache.cached(("test", 2), object, keep=1) is not got[0]
    assert not cache.is_cached(("test", 1))  # keep=1: the least recently used of its kind went


def test_the_universal_mode_is_kept_in_the_networks_cache(tmp_path, monkeypatch):
    built = []
    monkeypatch.setattr(universal, "Universal", lambda *args, **options: built.append(args) or object())
    decoders = tmp_path / "decoders.safetensors"
    decoders.write_bytes(b"x")
    network.clear_cache()
    assert not universal.is_loaded(decoders)
    first = universal.load(decoders)
    assert universal.load(decoders) is first and universal.is_loaded(decoders) and len(built) == 1
    decoders.write_bytes(b"xy")  # a changed file loads anew
    assert not universal.is_loaded(decoders) and universal.load(decoders) is not first
    network.clear_cache()  # one cache: forgetting networks forgets the mode too
    assert not universal.is_loaded(decoders)


def test_loaded_once_and_again_when_the_file_changes(folder):
    first = load_network("wave", "lite", folder=folder)
    assert load_network("wave", "lite", folder=folder) is first
    path = folder / "wave.lite.safetensors"
    zoo.save(_model("lite", seed=1), zoo.ModelCard(name="wave", arch="lite"), folder)
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 10**9))  # a later mtime, whatever the clock
    second = load_network("wave", "lite", folder=folder)
    assert second is not first
    assert not np.array_equal(first.stylize(_photo()), second.stylize(_photo()))


def test_backends_agree_and_export_once(folder, tmp_path, monkeypatch):
    monkeypatch.setenv("STYLETRANSFER_CACHE", str(tmp_path / "cache"))
    network.clear_cache()
    torch_net = load_network("wave", "lite", folder=folder)
    onnx_net = load_network("wave", "lite", backend="onnxruntime", folder=folder, threads=1)
    assert (torch_net.backend, onnx_net.backend) == ("torch", "onnxruntime")
    photo = _photo(37, 53)
    assert np.abs(torch_net.stylize(photo).astype(int) - onnx_net.stylize(photo).astype(int)).max() <= 1
    exports = list((tmp_path / "cache" / "onnx").glob("wave.lite.*.onnx"))
    assert len(exports) == 1
    network.clear_cache()
    load_network("wave", "lite", backend="onnxruntime", folder=folder, threads=1)
    assert list((tmp_path / "cache" / "onnx").glob("*.onnx")) == exports  # reused, not exported again
    auto = load_network("wave", "lite", backend="auto", folder=folder)
    assert auto.backend == ("torch" if torch.cuda.is_available() else "onnxruntime")


def test_bad_requests_are_one_clear_line(folder, tmp_path):
    with pytest.raises(StyleTransferError, match="no model named 'nope'"):
        load_network("nope", "lite", folder=folder)
    with pytest.raises(StyleTransferError, match="^network must be one of full, lite; got 'huge'$"):
        load_network("wave", "huge", folder=folder)
    with pytest.raises(StyleTransferError, match="unknown backend 'tpu'"):
        load_network("wave", "lite", backend="tpu", folder=folder)
    with pytest.raises(StyleTransferError, match="model file not found"):
        load_network(tmp_path / "missing" / "checkpoint.pt")
    broken = tmp_path / "broken.pt"
    broken.write_bytes(b"not a checkpoint")
    with pytest.raises(StyleTransferError, match="not a training checkpoint"):
        load_network(broken)


def test_frame_path_strength_and_colors():
    net = Network.from_module(_model("lite", spread=0.05))  # mid-tones: little clipping to the gamut
    photo = _photo()
    assert np.array_equal(net.stylize(photo, strength=0.0), photo)
    full = net.stylize(photo)
    half = net.stylize(photo, strength=0.5)
    assert np.abs(half.astype(float) - (photo.astype(float) + full) / 2).max() <= 1
    kept = net.stylize(photo, keep_colors=True)
    # Chroma comes back except where the painting's luminance is near black or white, where
    # the colour has to be clipped to stay in gamut.
    iq = lambda rgb: colors.rgb_to_yiq(frames.to_tensor(rgb))[:, 1:]  # noqa: E731
    chroma_error = (iq(kept) - iq(photo)).abs()
    assert chroma_error.mean() < 0.02
    assert chroma_error.mean() < 0.25 * (iq(full) - iq(photo)).abs().mean()
    for bad in (1.5, -0.1, True):
        with pytest.raises(StyleTransferError, match="^style mix must be 0..1, got "):
            net.stylize(photo, strength=bad)


def test_grid_average_is_the_mean_over_the_grid_phases_moved_back():
    net = Network.from_module(_model("lite", spread=0.05))
    batch = np.stack([_photo(24, 30, seed=k) for k in range(2)])
    expected = []
    for photo in batch:
        runs = [
            net.stylize(np.pad(photo, ((dy, 2 - dy), (dx, 2 - dx), (0, 0)), mode="reflect")).astype(float)[
                dy : dy + 24, dx : dx + 30
            ]
            for dy, dx in network.GRID_SHIFTS
        ]
        expected.append(np.mean(runs, axis=0))
    averaged = net.stylize(batch, grid_average=True, strength=0.9)  # the photo mix still applies
    mixed = 0.9 * np.stack(expected) + 0.1 * batch
    assert averaged.shape == batch.shape and averaged.dtype == np.uint8
    assert np.abs(averaged - mixed).max() <= 1.5


def test_grid_average_steadies_the_shipped_lite_under_a_one_pixel_pan(shared_data):
    """The shipped networks paint by their 4x4 grid: a 1 px move repaints the strokes. Averaged
    over the grid's phases, the output follows the move far more closely."""
    from PIL import Image

    net = load_network("starry_night", "lite", backend="onnxruntime")
    photo = np.asarray(Image.open(shared_data / "photos" / "skimage_coffee.jpg").convert("RGB").resize((160, 120)))
    moved = np.ascontiguousarray(np.roll(photo, 1, axis=1))

    def repaint(**options):  # how far the output of the moved photo is from the output moved
        before = net.stylize(photo, **options).astype(float)
        after = net.stylize(moved, **options).astype(float)
        return np.abs(np.roll(before, 1, axis=1) - after)[8:-8, 9:-8].mean()

    assert repaint(grid_average=True) < 0.75 * repaint()


def test_frame_path_matches_the_tensor_path_one_frame_or_a_batch():
    net = Network.from_module(_model("full"))
    batch = np.stack([_photo(seed=k) for k in range(3)])  # (3, H, W, 3)
    one_by_one = np.stack([net.stylize(f) for f in batch])
    assert np.abs(net.stylize(batch).astype(int) - one_by_one).max() <= 1  # batched convs round a little differently
    expected = frames.to_numpy(net(frames.to_tensor(batch[1])))
    assert np.abs(one_by_one[1].astype(int) - expected.astype(int)).max() <= 1
    with pytest.raises(ValueError, match="uint8"):
        net.stylize(batch.astype(np.float32))


def test_batches_convert_to_frames_rounded_saturated_and_back_exactly():
    frames_in = np.random.default_rng(0).integers(0, 256, (2, 5, 7, 3), dtype=np.uint8)
    back = frames.from_batch(frames.to_batch(frames_in))
    assert back.shape == (2, 5, 7, 3) and back.dtype == np.uint8 and back.flags.c_contiguous
    assert np.array_equal(back, frames_in)
    levels = np.array([0.0, 0.49 / 255, 0.51 / 255, 127.4 / 255, 1.0, 1.7, np.nan, np.inf, -np.inf], dtype=np.float32)
    batch = np.broadcast_to(levels, (1, 3, 1, levels.size))  # a non-contiguous view, three equal planes
    # NaN -> 0 and inf saturates, whatever the installed OpenCV does with them (5.1 maps NaN to 255).
    assert frames.from_batch(batch)[0, 0, :, 0].tolist() == [0, 0, 1, 127, 255, 255, 0, 255, 0]
    planes = np.stack([np.full((2, 2), v, np.float32) for v in (0.0, 0.5, 1.0)])[None]  # channel order kept
    assert frames.from_batch(planes)[0, 1, 1].tolist() == [0, 128, 255]


def test_load_network_blends_styles_of_one_file(tmp_path):
    torch.manual_seed(2)
    net = build(TransformerConfig(arch="lite")).widen(2)
    with torch.no_grad():
        for p in net.parameters():
            p.add_(0.3 * torch.randn_like(p))
    card = zoo.ModelCard(name="pair", arch="lite", styles=[{"name": "a", "title": "A"}, {"name": "b", "title": "B"}])
    zoo.save(net, card, tmp_path)
    half = load_network({"a": 0.5, "b": 0.5}, "lite", folder=tmp_path)
    assert load_network({"b": 0.5000001, "a": 0.5}, "lite", folder=tmp_path) is half  # a slider's step: one entry
    photo = _photo()
    a, b = load_network("a", "lite", folder=tmp_path), load_network("b", "lite", folder=tmp_path)
    assert half.card.title == "A 50% + B 50%"
    assert not np.array_equal(half.stylize(photo), a.stylize(photo)) and not np.array_equal(
        half.stylize(photo), b.stylize(photo)
    )
    assert np.array_equal(load_network({"a": 1.0, "b": 0.0}, "lite", folder=tmp_path).stylize(photo), a.stylize(photo))
