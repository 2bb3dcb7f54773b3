"""CALF's training loss: task, output-consistency and feature terms (torch only)."""

from __future__ import annotations

from functools import partial

import torch
from torch.nn import functional as F

__all__ = ["LOSSES", "CALFLoss"]

LOSSES = {
    "l1": F.l1_loss,
    "smooth_l1": partial(F.smooth_l1_loss, beta=1.0),
    "mse": F.mse_loss,
}

# Weight of the feature term at depth k below the last hidden state.
_FEATURE_DECAY = 0.8


class CALFLoss:
    """Weighted sum of CALF's three loss terms.

    ``total = task_weight * Lt(forecast, y) + output_weight * Lo(forecast,
    textual_forecast) + feature_weight * sum_k 0.8**k * Lf(p_time[n-k],
    p_text[n-k])``. A term whose weight is zero is not computed at all, so it
    adds nothing to the gradient, and the network can skip the work it needs
    (see :attr:`needs_textual` and :attr:`needs_features`).

    Parameters
    ----------
    task_loss, output_loss, feature_loss : {"l1", "smooth_l1", "mse"}
        Distance used by each term (smooth L1 with beta 1).
    task_weight, output_weight, feature_weight : float
        Non-negative weights of the terms.

    Examples
    --------
    >>> import torch
    >>> from calf_sklearn.network import CALFOutputs
    >>> loss = CALFLoss("l1", "l1", "l1", 1.0, 0.0, 0.0)
    >>> total, terms = loss(CALFOutputs(torch.ones(2, 3, 1), None, None, None), torch.zeros(2, 3, 1))
    >>> float(total), terms["output_loss"]
    (1.0, 0.0)
    """

    def __init__(self, task_loss, output_loss, feature_loss, task_weight, output_weight, feature_weight):
        self.task = LOSSES[task_loss]
        self.output = LOSSES[output_loss]
        self.feature = LOSSES[feature_loss]
        self.task_weight = float(task_weight)
        self.output_weight = float(output_weight)
        self.feature_weight = float(feature_weight)

    @property
    def needs_textual(self):
        """Whether any term uses the textual branch.

        Examples
        --------
        >>> CALFLoss("l1", "l1", "l1", 1.0, 0.0, 0.0).needs_textual
        False
        >>> CALFLoss("l1", "l1", "l1", 1.0, 0.0, 0.01).needs_textual  # the feature term does
        True
        """
        return self.output_weight > 0 or self.feature_weight > 0

    @property
    def needs_features(self):
        """Whether the feature term is computed.

        Examples
        --------
        >>> CALFLoss("l1", "l1", "l1", 1.0, 1.0, 0.01).needs_features
        True
        >>> CALFLoss("l1", "l1", "l1", 1.0, 1.0, 0.0).needs_features
        False
        """
        return self.feature_weight > 0

    def feature_term(self, features, textual_features):
        """Depth-weighted distance between the two branches' projected states.

        The deepest pair of states counts fully, each shallower one 0.8 times
        as much as the one below it.

        Parameters
        ----------
        features, textual_features : list of Tensor
            The projected hidden states of the temporal and the textual
            branch, shallowest first, pairwise of the same shape.

        Returns
        -------
        Tensor
            Scalar (unweighted by ``feature_weight``).

        Examples
        --------
        >>> loss = CALFLoss("l1", "l1", "l1", 1.0, 1.0, 0.01)
        >>> zeros, ones = [torch.zeros(2, 3)] * 3, [torch.ones(2, 3)] * 3
        >>> round(float(loss.feature_term(ones, zeros)), 4)  # 0.8**2 + 0.8 + 1
        2.44
        >>> float(loss.feature_term(ones, ones))
        0.0
        """
        deepest = len(features) - 1
        return sum(
            _FEATURE_DECAY ** (deepest - i) * self.feature(a, b)
            for i, (a, b) in enumerate(zip(features, textual_features))
        )

    def __call__(self, outputs, target):
        """Total loss and the unweighted value of each term.

        Parameters
        ----------
        outputs : CALFOutputs
            A training forward pass.
        target : Tensor of shape (B, P, M)
            True future values.

        Returns
        -------
        total : Tensor
            Scalar to minimise.
        terms : dict of str to float
            ``task_loss``, ``output_loss`` and ``feature_loss`` (0.0 where the
            weight is zero).
        """
        zero = outputs.forecast.new_zeros(())
        task = self.task(outputs.forecast, target) if self.task_weight else zero
        output = self.output(outputs.forecast, outputs.textual_forecast) if self.output_weight else zero
        feature = (
            self.feature_term(outputs.features, outputs.textual_features) if self.feature_weight else zero
        )
        total = self.task_weight * task + self.output_weight * output + self.feature_weight * feature
        with torch.no_grad():
            terms = {"task_loss": float(task), "output_loss": float(output), "feature_loss": float(feature)}
        return total, terms
