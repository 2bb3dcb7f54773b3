"""The training loop: optimisers, schedule, early stopping (torch only).

Data arrive as window sources with ``len()`` and ``batch(indices)``
returning NumPy arrays ``(x, y)`` or ``(x, y, mask)`` (see
:mod:`calf_sklearn.windows`): look-backs (B, L, M), targets (B, P, M) and,
optionally, a float32 mask (B, P, M), 1 where the target exists and 0 where
it lies past the end of a series. A training source may also have a
``resample(rng)`` method, called with a ``numpy.random.Generator`` at the
start of every epoch (the M4 protocol draws one window per series and epoch).
"""

from ._torch.training import Trainer, TrainingResult, read_checkpoint, windows_loss, windows_mse

__all__ = ["Trainer", "TrainingResult", "read_checkpoint", "windows_loss", "windows_mse"]
