"""Numeric precision of training and forecasting (torch only).

Three precisions, named as torch names their dtypes:

- ``"float32"``: everything in float32 (the default; results as before).
- ``"bfloat16"``: mixed precision. Training runs the network's matrix
  products under ``torch.autocast`` in bfloat16 while the weights, their
  gradients and the optimisers' state stay float32 (the "master" copy);
  forecasting casts the trained network's weights to bfloat16, which also
  halves the saved model. CPU and CUDA.
- ``"float16"``: as bfloat16, with float16 and a
  ``torch.amp.GradScaler`` that keeps small gradients from flushing to
  zero. CUDA only: CPUs run float16 products slowly and without the range
  that makes bfloat16 safe without a scaler.

The window statistics of CALF's instance normalisation and the
de-normalised forecast stay float32 in every precision: a bfloat16 mean of
raw values (an M4 series of magnitude 10^4) would be off by tens of units.

PyTorch Lightning's names are accepted too: ``"32-true"``, ``"bf16-mixed"``,
``"16-mixed"`` and the short ``"32"``, ``"bf16"``, ``"16"``; Lightning's
``"bf16-true"`` and ``"16-true"`` (half-precision master weights) are not
offered, because Adam's updates of a LoRA adapter are far below bfloat16's
resolution of its weights.
"""

from ._torch.precision import (
    PRECISIONS,
    Precision,
    ReducedPrecisionWarning,
    check_precision,
    has_native_bfloat16,
    place_network,
    resolve_precision,
)

__all__ = [
    "PRECISIONS",
    "Precision",
    "ReducedPrecisionWarning",
    "check_precision",
    "has_native_bfloat16",
    "place_network",
    "resolve_precision",
]
