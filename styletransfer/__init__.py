"""Neural style transfer: Gatys et al. optimisation and Johnson et al. feed-forward networks.

The package reads as the architecture (each layer imports only from those below it):

    cli.py                       the command line, over everything below
    gatys.py  training/  video/  the methods and workflows: optimise an image, train a
                                 network, stylize a video file or a camera stream
    networks/                    feed-forward networks: architectures, zoo, ONNX, load_network
    perceptual/                  VGG16, its weights, the perceptual loss
    io/                          image files, frames and their conversions, video containers
    metrics.py                   E_warp and flow files, for benchmarks and tests only
    errors, events, files, hub, colors: what everything shares

Importing the package has no side effects: no folders are created, nothing is downloaded.
"""

from styletransfer.errors import StyleTransferError
from styletransfer.events import Iterate

__all__ = ["StyleTransferError", "Iterate"]
