"""CALF's training loss: task, output-consistency and feature terms (torch only).

The public face of this module is :mod:`calf_sklearn.losses`; its documentation is there.
"""

from __future__ import annotations

from functools import partial

import torch
from torch.nn import functional as F

from .._utils import checks

__all__ = ["FEATURE_LOSSES", "LOSSES", "MASKED_MEANS", "CALFLoss"]


def _hide_missing(forecast, target, mask):
    """``target`` with its masked-out values replaced by the detached forecast.

    The error there is then exactly 0 whatever a source puts past the end of
    a series (zeros, NaN), so those values reach neither the loss nor the
    gradient.
    """
    return torch.where(mask > 0, target, forecast.detach())


def _zero_where_not_finite(values):
    return torch.where(torch.isfinite(values), values, torch.zeros_like(values))


def _mean_distance(elementwise, forecast, target, mask):
    """Mean of ``elementwise`` over all elements, or over the masked-in ones."""
    if mask is None:
        return elementwise(forecast, target, reduction="mean")
    mask = mask.to(forecast.dtype)
    errors = elementwise(forecast, _hide_missing(forecast, target, mask), reduction="none") * mask
    count = mask.sum()
    # An empty mask gives 0 / 1 = 0 with a finite gradient (no 0 / 0).
    return errors.sum() / torch.where(count > 0, count, torch.ones_like(count))


def _l1(forecast, target, *, context=None, mask=None, period=1):
    """Mean absolute error (over the masked-in elements).

    >>> _l1(torch.tensor([1.0, 2.0]), torch.tensor([0.0, 5.0]), mask=torch.tensor([1.0, 0.0]))
    tensor(1.)
    """
    return _mean_distance(F.l1_loss, forecast, target, mask)


def _smooth_l1(forecast, target, *, context=None, mask=None, period=1):
    """Mean smooth L1 with beta 1: quadratic below an error of 1, linear above.

    >>> _smooth_l1(torch.tensor([0.0, 0.0]), torch.tensor([0.5, 3.0]))  # (0.125 + 2.5) / 2
    tensor(1.3125)
    """
    return _mean_distance(partial(F.smooth_l1_loss, beta=1.0), forecast, target, mask)


def _mse(forecast, target, *, context=None, mask=None, period=1):
    """Mean squared error (over the masked-in elements).

    >>> _mse(torch.tensor([1.0, 2.0]), torch.tensor([0.0, 5.0]), mask=torch.tensor([0.0, 1.0]))
    tensor(9.)
    """
    return _mean_distance(F.mse_loss, forecast, target, mask)


def _smape(forecast, target, *, context=None, mask=None, period=1):
    """sMAPE in percent: ``200 * mean(|f - t| / (|f| + |t|) * mask)``.

    The forecast's part of the denominator is detached, as in the M4 recipe;
    a zero or non-finite ratio counts as 0.

    >>> f, t = torch.tensor([[[1.0], [0.0]]]), torch.tensor([[[3.0], [0.0]]])
    >>> _smape(f, t)  # 200 * mean(2 / 4, 0 / 0 -> 0)
    tensor(50.)
    """
    if mask is not None:
        mask = mask.to(forecast.dtype)
        target = _hide_missing(forecast, target, mask)
    denominator = forecast.detach().abs() + target.abs()
    # A zero denominator means forecast = target = 0, a ratio of 0. Dividing
    # by 1 there keeps the backward pass finite (no 0 / 0).
    safe = torch.where(denominator > 0, denominator, torch.ones_like(denominator))
    ratio = _zero_where_not_finite((forecast - target).abs() / safe)
    if mask is not None:
        ratio = ratio * mask
    return 200.0 * ratio.mean()


def _mase(forecast, target, *, context=None, mask=None, period=1):
    """Mean absolute error scaled per window and series by the look-back's seasonal naive error.

    ``scale = mean_l |context[l] - context[l - period]|``; the loss is
    ``mean(|t - f| * mask / scale)`` over every element, a zero scale
    counting as 0. The scale is a constant: no gradient reaches ``context``.

    >>> context = torch.tensor([[[0.0], [2.0], [0.0]]])  # scale at lag 1: 2
    >>> _mase(torch.tensor([[[1.0], [1.0]]]), torch.tensor([[[0.0], [5.0]]]), context=context)
    tensor(1.2500)
    """
    if context is None:
        raise ValueError("The mase loss needs context: the look-back windows (B, L, M) it is scaled by.")
    if isinstance(period, bool) or not isinstance(period, int) or period < 1:
        raise ValueError(f"The mase loss needs an integer period >= 1, got {period!r}.")
    if context.shape[1] <= period:
        raise ValueError(
            f"The mase loss needs look-backs longer than its period {period}; they have "
            f"{context.shape[1]} steps. Lower period or lengthen the look-back."
        )
    context = context.detach().to(forecast.dtype)
    scale = (context[:, period:] - context[:, :-period]).abs().mean(dim=1, keepdim=True)  # (B, 1, M)
    weights = torch.ones_like(forecast) if mask is None else mask.to(forecast.dtype)
    if mask is not None:
        target = _hide_missing(forecast, target, weights)
    weights = _zero_where_not_finite(weights / scale)
    return ((target - forecast).abs() * weights).mean()


LOSSES = {
    "l1": _l1,
    "smooth_l1": _smooth_l1,
    "mse": _mse,
    "smape": _smape,
    "mase": _mase,
}
"""Every task and output distance by name: ``fn(forecast, target, *, context=None, mask=None, period=1)``."""

MASKED_MEANS = ("l1", "smooth_l1", "mse")
"""The distances that, given a mask, average over the masked-in elements only
(the others average over every element, masked-out ones counting 0)."""

FEATURE_LOSSES = ("l1", "smooth_l1", "mse")
"""The distances the feature term accepts. It compares hidden states, which have
no look-back to scale by, so the scale-free M4 losses do not apply there."""

# Weight of the feature term at depth k below the last hidden state.
_FEATURE_DECAY = 0.8


def choose_loss(term, name, allowed=tuple(LOSSES)):
    """The distance of :data:`LOSSES` called ``name``, checked against ``allowed``.

    The one check of a loss name: the loss terms, the validation metric and
    the validation scores all name their distance through it, so they all
    reject a wrong name with the same message.

    Parameters
    ----------
    term : str
        What the name is for, as the caller's parameter is called (named in
        the error).
    name : str
        The name given.
    allowed : tuple of str, default=tuple(LOSSES)
        The names ``term`` accepts, e.g. :data:`FEATURE_LOSSES`.

    Returns
    -------
    callable
        ``LOSSES[name]``.

    Raises
    ------
    ValueError
        If ``name`` is not in ``allowed``.

    Examples
    --------
    >>> choose_loss("task_loss", "mse") is LOSSES["mse"]
    True
    >>> choose_loss("feature_loss", "smape", FEATURE_LOSSES)
    Traceback (most recent call last):
    ...
    ValueError: feature_loss must be one of 'l1', 'smooth_l1', 'mse'; got 'smape'.
    """
    if name not in allowed:
        raise ValueError(f"{term} must be one of {', '.join(map(repr, allowed))}; got {name!r}.")
    return LOSSES[name]


class CALFLoss:
    """Weighted sum of CALF's three loss terms.

    ``total = task_weight * Lt(forecast, y) + output_weight * Lo(forecast,
    textual_forecast) + feature_weight * sum_k 0.8**k * Lf(p_time[n-k],
    p_text[n-k])``. A term whose weight is zero is not computed at all, so it
    adds nothing to the gradient, and the network can skip the work it needs
    (see :attr:`needs_textual` and :attr:`needs_features`).

    Parameters
    ----------
    task_loss, output_loss : {"l1", "smooth_l1", "mse", "smape", "mase"}
        Distance used by the task and the output term (smooth L1 with beta 1;
        sMAPE and MASE as in the M4 recipe, see :data:`LOSSES`).
    feature_loss : {"l1", "smooth_l1", "mse"}
        Distance used by the feature term (see :data:`FEATURE_LOSSES`).
    task_weight, output_weight, feature_weight : float
        Non-negative weights of the terms.
    period : int, default=1
        Seasonal lag of ``mase``'s scale (M4: 1, 4, 12, 1, 1, 24 for Yearly,
        Quarterly, Monthly, Weekly, Daily, Hourly); unused by the others.

    Raises
    ------
    ValueError
        If a loss name is unknown or not allowed for its term, or ``period``
        is not an integer >= 1.

    Examples
    --------
    >>> import torch
    >>> from calf_sklearn.network import CALFOutputs
    >>> loss = CALFLoss("l1", "l1", "l1", 1.0, 0.0, 0.0)
    >>> total, terms = loss(CALFOutputs(torch.ones(2, 3, 1), None, None, None), torch.zeros(2, 3, 1))
    >>> float(total), terms["output_loss"]
    (1.0, 0.0)

    The M4 short-term setting, with the last target step past the series' end:

    >>> m4 = CALFLoss("smape", "mase", "smooth_l1", 1.0, 1.0, 0.0, period=1)
    >>> outputs = CALFOutputs(torch.ones(1, 2, 1), torch.full((1, 2, 1), 3.0), None, None)
    >>> mask = torch.tensor([[[1.0], [0.0]]])
    >>> context = torch.tensor([[[0.0], [2.0], [4.0]]])  # seasonal naive error 2
    >>> _, terms = m4(outputs, torch.full((1, 2, 1), 3.0), context=context, mask=mask)
    >>> terms["task_loss"], terms["output_loss"]  # 200 * (2 / 4) / 2 and (2 / 2) / 2
    (50.0, 0.5)
    """

    def __init__(
        self, task_loss, output_loss, feature_loss, task_weight, output_weight, feature_weight, *, period=1
    ):
        self.task = choose_loss("task_loss", task_loss)
        self.output = choose_loss("output_loss", output_loss)
        self.masked_means = (task_loss in MASKED_MEANS, output_loss in MASKED_MEANS)
        self.feature = choose_loss("feature_loss", feature_loss, FEATURE_LOSSES)
        self.task_weight = float(task_weight)
        self.output_weight = float(output_weight)
        self.feature_weight = float(feature_weight)
        self.period = checks.check_int("period", period, 1)

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

    def __call__(self, outputs, target, *, context=None, mask=None, share=None):
        """Total loss and the unweighted value of each term.

        Parameters
        ----------
        outputs : CALFOutputs
            A training forward pass.
        target : Tensor of shape (B, P, M)
            True future values.
        context : Tensor of shape (B, L, M), default=None
            The look-back windows the forecasts start from, in the same
            units; needed by ``mase``.
        mask : Tensor of shape (B, P, M), default=None
            1 where ``target`` exists, 0 past the end of a series; ``None``
            counts every element. The output term uses it too, so both
            branches are compared only where the task term is.
        share : tuple of float, default=None
            For one process's share of a data-parallel batch: the share's
            fraction of the batch's windows and of its masked-in elements.
            Each term is weighted by the fraction its mean is over (the
            elements for ``l1``, ``smooth_l1`` and ``mse`` given a mask, the
            windows otherwise), so that the shares' losses (and gradients)
            sum to the whole batch's. ``None``: the batch is whole.

        Returns
        -------
        total : Tensor
            Scalar to minimise.
        terms : dict of str to float
            ``task_loss``, ``output_loss`` and ``feature_loss`` (0.0 where the
            weight is zero).

        Raises
        ------
        ValueError
            If a ``mase`` term gets no ``context``, or look-backs not longer
            than ``period``.
        """
        zero = outputs.forecast.new_zeros(())
        extra = {"context": context, "mask": mask, "period": self.period}
        task = self.task(outputs.forecast, target, **extra) if self.task_weight else zero
        output = (
            self.output(outputs.forecast, outputs.textual_forecast, **extra) if self.output_weight else zero
        )
        feature = (
            self.feature_term(outputs.features, outputs.textual_features) if self.feature_weight else zero
        )
        if share is not None:
            windows, elements = share
            task_share, output_share = (
                elements if masked and mask is not None else windows for masked in self.masked_means
            )
            task, output, feature = task * task_share, output * output_share, feature * windows
        total = self.task_weight * task + self.output_weight * output + self.feature_weight * feature
        with torch.no_grad():
            terms = {"task_loss": float(task), "output_loss": float(output), "feature_loss": float(feature)}
        return total, terms
