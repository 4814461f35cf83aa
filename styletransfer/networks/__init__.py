"""Feed-forward style networks (Johnson et al. 2016): the architectures (transformer.py), the
named models of the zoo (zoo.py), their ONNX export (onnx.py), and the one entry point that
turns a name, file or checkpoint into a ready network (network.py: load_network)."""

from styletransfer.networks.network import BACKENDS, DEFAULT_STRENGTH, Network, load_network
from styletransfer.networks.transformer import ARCHS

__all__ = ["ARCHS", "BACKENDS", "DEFAULT_STRENGTH", "Network", "load_network"]
