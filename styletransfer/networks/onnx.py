"""ONNX export of the feed-forward networks and an onnxruntime backend that runs them.

The exported model takes float32 NCHW RGB in [0, 1] of any height and width (and batch) and
returns the same layout and range, so it can replace the torch network anywhere: OnnxModel
is called like the torch module, tensor in, tensor out, and ``run`` takes and returns the
float32 arrays of the frame path (networks.Network.stylize) without touching torch.
"""

from __future__ import annotations

import hashlib
import os
import pathlib
import warnings

import numpy as np
import torch

from styletransfer.errors import StyleTransferError, first_line
from styletransfer.files import atomic_write, styletransfer_cache_dir
from styletransfer.networks.transformer import TransformerNet

OPSET = 17
_DYNAMIC = {0: "batch", 2: "height", 3: "width"}


def export_onnx(net: TransformerNet | torch.nn.Module, path, channels: int = 3, outputs: int = 1) -> pathlib.Path:
    """Write ``net`` as an ONNX file with dynamic batch, height and width; its input has
    ``channels`` channels (3 for an image, more for the universal mode's feature decoders)
    and it returns ``outputs`` tensors (several: the universal mode's encoder of all levels)."""
    names = ["stylized"] if outputs == 1 else [f"output{i}" for i in range(outputs)]
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    net = net.eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation and tracer warnings
        # The TorchScript exporter (dynamo=False) needs no packages beyond torch and onnx.
        torch.onnx.export(
            net,
            (torch.rand(1, channels, 24, 28),),  # a multiple of 4, so no size gets baked in by accident
            str(path),
            dynamo=False,
            input_names=["image"],
            output_names=names,
            dynamic_axes={"image": _DYNAMIC, **{name: _DYNAMIC for name in names}},
            opset_version=OPSET,
        )
    return path


class OnnxModel:
    """An exported network in onnxruntime; ``model(tensor) -> tensor`` like the torch module."""

    def __init__(self, path, threads: int | None = None):
        import onnxruntime

        self.path = pathlib.Path(path)  # the exported file, which the app also serves to browsers
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads or os.cpu_count() or 1
        options.inter_op_num_threads = 1
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
        try:
            self.session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except Exception as e:  # missing or corrupt file
            raise StyleTransferError(f"cannot load ONNX model {path}: {first_line(e)}") from e

    def run(self, batch: np.ndarray) -> np.ndarray:
        """(B, 3, H, W) float32 in [0, 1] -> the same, stylized."""
        (out,) = self.session.run(None, {"image": batch})
        return out

    def run_all(self, image: torch.Tensor) -> list[torch.Tensor]:
        """Every output of a several-output model, as tensors."""
        return [
            torch.from_numpy(out)
            for out in self.session.run(None, {"image": image.detach().float().contiguous().numpy()})
        ]

    def __call__(self, image: torch.Tensor) -> torch.Tensor:
        return torch.from_numpy(self.run(image.detach().to(torch.float32).contiguous().numpy()))


def weights_sha256(net: torch.nn.Module) -> str:
    """A fingerprint of a network's weights (names, shapes and float32 values) and its config
    where it has one: fixed layers such as Blur and Deperiod hold no weights, so the same
    weights with one of them switched on compute something else."""
    digest = hashlib.sha256()
    config = getattr(net, "config", None)
    if config is not None:
        digest.update(repr(config).encode())
    for name, tensor in net.state_dict().items():
        values = tensor.detach().to(torch.float32).contiguous().numpy()
        digest.update(f"{name}:{tuple(values.shape)};".encode())
        digest.update(values.tobytes())
    return digest.hexdigest()


def cache_folder() -> pathlib.Path:
    return styletransfer_cache_dir() / "onnx"


def onnx_model(
    net: torch.nn.Module, name: str, folder=None, *, threads: int | None = None, channels: int = 3, outputs: int = 1
) -> OnnxModel:
    """``net`` in onnxruntime, exported once to ``folder/NAME.SHA.onnx`` (default
    cache_folder()) and reused later.

    The file name carries the weights' fingerprint, so a re-trained model of the same name
    gets a new export instead of the stale one. A damaged cache file is exported again.
    """
    folder = pathlib.Path(folder) if folder is not None else cache_folder()
    path = folder / f"{name}.{weights_sha256(net)[:16]}.onnx"
    if path.is_file():
        try:
            return OnnxModel(path, threads=threads)
        except StyleTransferError:
            pass  # damaged (a full disk, an old onnxruntime): export again below
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write(path, lambda tmp: export_onnx(net, tmp, channels, outputs))
    return OnnxModel(path, threads=threads)
