"""Neural style transfer: Gatys et al. optimisation and (later) feed-forward networks.

Importing the package has no side effects: no folders are created, nothing is downloaded.
"""

from styletransfer.errors import StyleTransferError
from styletransfer.events import Iterate

__all__ = ["StyleTransferError", "Iterate"]
