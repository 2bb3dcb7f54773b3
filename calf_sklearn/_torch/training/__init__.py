"""Training (torch only): one loop, a step per model, checkpoints and validation measures.

``loop`` (:class:`~calf_sklearn._torch.training.loop.TrainingLoop`, the one
training loop, and what a fit reports), ``steps`` (what the loop needs to
know of CALF and of DLinear), ``trainer`` (CALF's :class:`Trainer`, the loop
with CALF's step), ``checkpoints`` (writing and reading the state a fit saves
every epoch) and ``evaluation`` (scoring a network over every window of a
source). The public face of this package is :mod:`calf_sklearn.training`;
its documentation is there.
"""

from .checkpoints import read_checkpoint
from .evaluation import windows_loss, windows_mse
from .loop import TrainingResult
from .trainer import Trainer

__all__ = ["Trainer", "TrainingResult", "read_checkpoint", "windows_loss", "windows_mse"]
