"""Resuming a fit from its checkpoint: what identifies a fit, and reading only a checkpoint of it."""

from __future__ import annotations

import hashlib

import numpy as np

__all__ = ["fit_fingerprint", "read_matching_checkpoint"]

# Parameters that do not change the training itself.
_NOT_IN_FINGERPRINT = {"verbose", "device", "cache_dir", "max_epochs", "interval_method", "compile"}


def fit_fingerprint(params, prepared):
    """What identifies a fit (its parameters and data), so that a checkpoint is resumed only by it.

    Parameters
    ----------
    params : dict
        The estimator's parameters (``get_params()``).
    prepared : Prepared
        The prepared data of the fit.

    Returns
    -------
    dict
        ``params``, ``data`` (a digest of the raw members and validation parts) and ``shape``.
    """
    from .._torch.precision import check_precision

    kept = {k: repr(v) for k, v in sorted(params.items()) if k not in _NOT_IN_FINGERPRINT}
    # Another name of the same precision ("bf16-mixed", "bfloat16") is the same fit.
    kept["precision"] = repr(check_precision(params["precision"]))
    digest = hashlib.sha256()
    for part in [*prepared.members, *(prepared.validation_parts or [])]:
        digest.update(np.ascontiguousarray(part).tobytes())
    shapes = [member.shape for member in prepared.members]
    return {
        "params": repr(kept),
        "data": digest.hexdigest(),
        "shape": repr(shapes[0] if len(shapes) == 1 else shapes),
    }


def read_matching_checkpoint(checkpoint, fingerprint):
    """The state in ``checkpoint`` (``None`` if there is none yet), refused if another fit wrote it."""
    from .._torch.training import read_checkpoint

    state = read_checkpoint(checkpoint)
    if state is None:
        return None
    if state.get("fingerprint") != fingerprint:
        raise ValueError(
            f"The checkpoint {checkpoint} belongs to another fit (different parameters or data), "
            "so it cannot be resumed. Delete it, or pass another checkpoint path."
        )
    return state
