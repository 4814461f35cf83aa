"""Training feed-forward style networks, resumable and distributed: the loop (loop.py) over
its config (config.py), data (data.py), compound regularisation (regularisation.py),
checkpoints (checkpoint.py), the running average of the weights (average.py), log (log.py)
and torchrun (distributed.py); and the shared data's paintings and held-out photos that the
recipes and benchmarks share (catalogue.py)."""

from styletransfer.training.checkpoint import CHECKPOINT, config_from_checkpoint
from styletransfer.training.config import TrainConfig
from styletransfer.training.loop import TrainStep, train

__all__ = ["CHECKPOINT", "TrainConfig", "TrainStep", "config_from_checkpoint", "train"]
