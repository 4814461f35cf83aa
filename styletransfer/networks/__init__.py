"""Feed-forward style networks (Johnson et al. 2016): the architectures (transformer.py), the
named models of the zoo (zoo.py), their ONNX export (onnx.py), the universal mode's decoders
(decoder.py), the process's one cache of loaded networks (cache.py), and the one entry point
that turns a name, file or checkpoint into a ready network (network.py: load_network; beside
it read_model, the weights as stored for training, and Network.from_module, a module in
memory made runnable)."""

from styletransfer.networks.network import BACKENDS, Network, load_network, read_model
from styletransfer.networks.transformer import ARCHS

__all__ = ["ARCHS", "BACKENDS", "Network", "load_network", "read_model"]
