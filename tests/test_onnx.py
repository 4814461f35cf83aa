"""ONNX export and the onnxruntime backend agree with torch at any size."""

import pytest
import torch

from styletransfer.errors import StyleTransferError
from styletransfer.networks import onnx
from styletransfer.networks.transformer import ARCHS, TransformerConfig, build


@pytest.mark.parametrize("arch", [*ARCHS, "lite-deperiod"])
def test_onnx_backend_matches_torch_at_odd_sizes(arch, tmp_path):
    torch.manual_seed(0)
    net = build(TransformerConfig(arch=arch.split("-")[0], deperiod=arch.endswith("deperiod"))).eval()
    model = onnx.OnnxModel(onnx.export_onnx(net, tmp_path / f"{arch}.onnx"), threads=1)
    for shape in [(1, 3, 37, 53), (2, 3, 17, 10), (1, 3, 64, 64)]:
        image = torch.rand(shape)
        with torch.no_grad():
            expected = net(image)
        out = model(image)
        assert out.shape == expected.shape and out.dtype == torch.float32
        assert (out - expected).abs().max() < 1e-4


def test_corrupt_onnx_file_is_a_clear_error(tmp_path):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a model")
    with pytest.raises(StyleTransferError, match="cannot load ONNX model"):
        onnx.OnnxModel(bad)


def test_the_cache_tells_a_deperiod_network_from_one_with_the_same_weights(tmp_path):
    torch.manual_seed(0)
    plain = build(TransformerConfig(arch="lite")).eval()
    filtered = build(TransformerConfig(arch="lite", deperiod=True)).eval()
    filtered.load_state_dict(plain.state_dict())
    assert onnx.weights_sha256(plain) != onnx.weights_sha256(filtered)
    image = torch.rand(1, 3, 40, 44)
    for net in (plain, filtered):
        with torch.no_grad():
            expected = net(image)
        assert (onnx.onnx_model(net, "same", tmp_path, threads=1)(image) - expected).abs().max() < 1e-4
    assert len(list(tmp_path.glob("same.*.onnx"))) == 2
