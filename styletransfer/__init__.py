"""Neural style transfer: Gatys et al. optimisation and Johnson et al. feed-forward networks.

The package reads as the architecture (each layer imports only from those below it):

    cli.py                       the command line, over everything below
    any_painting.py              a photo painted like any painting: the fast result, then Gatys
    instant.py                   a photo painted by a pretrained network (CLI stylize -s, /stylize)
    gatys.py  training/  video/  the methods and workflows: optimise an image, train a
                                 network (and learn a painting: training/learn.py), stylize a
                                 video file or a camera stream
    predicted.py                 the any-painting fast result: lite with rows predicted from the painting
    universal.py  wct.py         the other fast result: whitening and colouring of VGG features
    networks/                    feed-forward networks: architectures, zoo, ONNX, load_network
    perceptual/                  VGG16, its weights, the perceptual loss
    io/                          image files, frames and their conversions, video containers
    metrics.py                   E_warp and flow files, for benchmarks and tests only
    dials.py                     every setting a user turns (Dial: a number, Choice: one of
                                 several): range or choices, default, help, the message
    errors, events, files, hub, colors: what everything shares

Importing the package has no side effects: no folders are created, nothing is downloaded.
"""

from styletransfer.errors import StyleTransferError
from styletransfer.events import Iterate

__all__ = ["StyleTransferError", "Iterate"]
