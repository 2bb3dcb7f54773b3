"""CALF's training loss: task, output-consistency and feature terms (torch only).

Every distance in :data:`LOSSES` has one signature,
``fn(forecast, target, *, context=None, mask=None, period=1)``: ``forecast``
and ``target`` of shape (B, P, M); ``context`` the look-back windows
(B, L, M) in the same units; ``mask`` (B, P, M), 1 where the target exists
and 0 where it lies past the end of a series (``None``: everywhere);
``period`` the seasonal lag of ``mase``. ``l1``, ``smooth_l1`` (beta 1) and
``mse`` average over the masked-in elements; ``smape`` and ``mase``, the M4
short-term losses (METHOD.md section 13), average over every element with
the masked-out ones counting 0.
"""

from ._torch.losses import FEATURE_LOSSES, LOSSES, CALFLoss

__all__ = ["FEATURE_LOSSES", "LOSSES", "CALFLoss"]
