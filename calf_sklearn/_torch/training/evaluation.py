"""Scoring a network over every window of a source: the validation measures (torch only).

A window source has ``len()`` and ``batch(indices)`` returning NumPy arrays
``(x, y)`` or ``(x, y, mask)`` (see :mod:`calf_sklearn.training`). The
public faces of :func:`windows_mse` and :func:`windows_loss` are in
:mod:`calf_sklearn.training`; their documentation is there.
"""

from __future__ import annotations

import numpy as np
import torch

from ..inference import forecast_windows
from ..losses import MASKED_MEANS, choose_loss

__all__ = [
    "SquaredError",
    "WindowLoss",
    "forecast_batches",
    "unpack_batch",
    "validation_record",
    "windows_loss",
    "windows_mse",
]


def unpack_batch(batch):
    """``(x, y, mask)`` from a source's batch; ``mask`` is ``None`` for ``(x, y)``.

    Parameters
    ----------
    batch : tuple of ndarray
        What a window source's ``batch`` returned: ``(x, y)`` or ``(x, y, mask)``.

    Returns
    -------
    x, y : ndarray
        Look-backs and targets.
    mask : ndarray or None
        The mask, or ``None`` when the source gives none.

    Raises
    ------
    ValueError
        If ``batch`` has neither two nor three arrays.

    Examples
    --------
    >>> x, y, mask = unpack_batch((np.zeros((2, 4, 1)), np.zeros((2, 3, 1))))
    >>> mask is None
    True
    """
    if len(batch) == 2:
        return batch[0], batch[1], None
    if len(batch) == 3:
        return batch
    raise ValueError(
        f"A window source's batch() must return (x, y) or (x, y, mask); it returned {len(batch)} arrays."
    )


def forecast_batches(network, data, batch_size, device, precision=None):
    """Yield ``(x, y, mask, forecast)`` for consecutive batches of every window of ``data``.

    Parameters
    ----------
    network : torch.nn.Module
        Maps look-backs (B, L, M) to forecasts (B, P, M) and has ``pred_len``.
    data : window source
        Windows with ``len()`` and ``batch(indices)``.
    batch_size : int
        Windows per batch.
    device : torch.device
        Where the network lives.
    precision : Precision, default=None
        Forecast under its autocast (see :func:`~calf_sklearn.network.forecast_windows`).

    Yields
    ------
    x, y, mask, forecast : ndarray
        A batch as :func:`unpack_batch` gives it, and its float32 forecast.

    Examples
    --------
    >>> from calf_sklearn.dlinear import DLinearNetwork
    >>> from calf_sklearn.windows import WindowedSeries
    >>> data = WindowedSeries(np.zeros((30, 2), dtype="float32"), seq_len=8, pred_len=4)
    >>> batches = list(forecast_batches(DLinearNetwork(8, 4), data, 16, torch.device("cpu")))
    >>> [len(x) for x, _, _, _ in batches], batches[0][3].shape
    ([16, 3], (16, 4, 2))
    """
    for start in range(0, len(data), batch_size):
        x, y, mask = unpack_batch(data.batch(np.arange(start, min(start + batch_size, len(data)))))
        yield x, y, mask, forecast_windows(network, x, batch_size, device, precision=precision)


class SquaredError:
    """Accumulates the (masked) mean squared error over batches.

    Examples
    --------
    >>> error = SquaredError()
    >>> error.add(np.ones((1, 2, 1)), np.zeros((1, 2, 1)), mask=np.array([[[1.0], [0.0]]]))
    >>> error.mean()
    1.0
    """

    def __init__(self):
        self.total, self.count = 0.0, 0

    def add(self, forecast, y, mask):
        """Add a batch: its forecast, targets and mask (``None``: every target counts)."""
        error = forecast.astype(np.float64) - y
        if mask is None:
            self.total += float(np.square(error).sum())
            self.count += y.size
        else:
            # Masked-out targets may hold anything (zeros, NaN): they count 0.
            error = np.where(mask > 0, error, 0.0)
            self.total += float((np.square(error) * mask).sum())
            self.count += float(mask.sum())

    def mean(self):
        """The mean over every target value added so far."""
        if self.count == 0:
            raise ValueError("The validation windows have no target values to score (empty, or all masked).")
        return self.total / self.count


class WindowLoss:
    """Accumulates a loss of :data:`~calf_sklearn.losses.LOSSES` so that batch sizes do not matter.

    Parameters
    ----------
    loss_name : str
        A name of :data:`~calf_sklearn.losses.LOSSES`.
    period : int
        Seasonal lag of ``"mase"``'s scale.

    Examples
    --------
    >>> score = WindowLoss("l1", period=1)
    >>> score.add(np.ones((2, 3, 1)), np.zeros((2, 3, 1)), None, np.zeros((2, 4, 1)))
    >>> score.mean()
    1.0
    """

    def __init__(self, loss_name, period):
        self.loss, self.period = choose_loss("loss_name", loss_name), period
        self.masked_mean = loss_name in MASKED_MEANS
        self.total, self.weight = 0.0, 0.0

    def add(self, forecast, y, mask, x):
        """Add a batch: its forecast, targets, mask (or ``None``) and look-backs (the loss's context)."""

        def tensor(array):
            return None if array is None else torch.from_numpy(np.asarray(array, dtype=np.float64))

        value = self.loss(
            tensor(forecast), tensor(y), context=tensor(x), mask=tensor(mask), period=self.period
        )
        weight = float(np.sum(mask)) if self.masked_mean and mask is not None else len(x)
        self.total += float(value) * weight
        self.weight += weight

    def mean(self):
        """The loss averaged over the batches added so far, weighted as the class says."""
        if self.weight == 0:
            raise ValueError("The validation windows have no target values to score (empty, or all masked).")
        return self.total / self.weight


def windows_loss(network, data, batch_size, device, loss_name, period=1, precision=None):
    """A loss of :data:`~calf_sklearn.losses.LOSSES` over every window of ``data``, in eval mode.

    Each batch's loss (with the batch's look-backs as ``context`` and its
    mask, if the source gives one) is weighted by its number of windows, so
    the result is the mean over windows whatever the batch size. With masks,
    ``l1``, ``smooth_l1`` and ``mse`` (means over the masked-in elements)
    weigh each batch by its masked-in elements instead: the mean over every
    target value that exists.

    Parameters
    ----------
    network : torch.nn.Module
        Maps look-backs (B, L, M) to forecasts (B, P, M) and has ``pred_len``.
    data : window source
        Windows with ``len()`` and ``batch(indices) -> (x, y)`` or ``(x, y, mask)``.
    batch_size : int
        Windows per forward pass.
    device : torch.device
        Where the network lives.
    loss_name : str
        A name of :data:`~calf_sklearn.losses.LOSSES`, e.g. ``"smape"`` or ``"mase"``.
    period : int, default=1
        Seasonal lag of ``"mase"``'s scale.
    precision : Precision, default=None
        Forecast under its autocast (see :func:`~calf_sklearn.network.forecast_windows`).

    Returns
    -------
    float
        The loss, averaged over the windows (computed in float64).

    Raises
    ------
    ValueError
        If ``loss_name`` is unknown or ``data`` holds no target value.

    Examples
    --------
    >>> from transformers import GPT2Model
    >>> from calf_sklearn.backbone import gpt2_config
    >>> from calf_sklearn.network import CALFNetwork
    >>> from calf_sklearn.windows import WindowedSeries
    >>> backbone = GPT2Model(gpt2_config({"n_embd": 16, "n_layer": 1, "n_head": 2, "vocab_size": 32}))
    >>> net = CALFNetwork(backbone, seq_len=8, pred_len=4, principal_words=torch.randn(5, 16))
    >>> data = WindowedSeries(np.random.default_rng(0).normal(size=(60, 2)).astype("float32") + 5, 8, 4)
    >>> smape = windows_loss(net, data, batch_size=16, device=torch.device("cpu"), loss_name="smape")
    >>> bool(0 < smape < 200)
    True
    >>> mse = windows_loss(net, data, 16, torch.device("cpu"), "mse")  # no masks, equal batches:
    >>> bool(np.isclose(mse, windows_mse(net, data, 16, torch.device("cpu"))))  # the plain MSE
    True
    """
    score = WindowLoss(loss_name, period)
    for x, y, mask, forecast in forecast_batches(network, data, batch_size, device, precision):
        score.add(forecast, y, mask, x)
    return score.mean()


def windows_mse(network, data, batch_size, device, precision=None):
    """Mean squared error of ``network`` over every window of ``data``, in eval mode.

    Parameters
    ----------
    network : torch.nn.Module
        Maps look-backs (B, L, M) to forecasts (B, P, M) and has ``pred_len``.
    data : window source
        Windows with ``len()`` and ``batch(indices) -> (x, y)`` or ``(x, y, mask)``.
    batch_size : int
        Windows per forward pass.
    device : torch.device
        Where the network lives.
    precision : Precision, default=None
        Forecast under its autocast (see :func:`~calf_sklearn.network.forecast_windows`).

    Returns
    -------
    float
        The mean over every window, step and series; with masks, over the
        elements whose mask is 1 only.

    Raises
    ------
    ValueError
        If there is no target value to score.

    Examples
    --------
    >>> from transformers import GPT2Model
    >>> from calf_sklearn.backbone import gpt2_config
    >>> from calf_sklearn.network import CALFNetwork
    >>> from calf_sklearn.windows import WindowedSeries
    >>> backbone = GPT2Model(gpt2_config({"n_embd": 16, "n_layer": 1, "n_head": 2, "vocab_size": 32}))
    >>> net = CALFNetwork(backbone, seq_len=8, pred_len=4, principal_words=torch.randn(5, 16))
    >>> data = WindowedSeries(np.random.default_rng(0).normal(size=(60, 2)).astype("float32"), 8, 4)
    >>> error = windows_mse(net, data, batch_size=16, device=torch.device("cpu"))
    >>> bool(error > 0)
    True
    """
    error = SquaredError()
    for _, y, mask, forecast in forecast_batches(network, data, batch_size, device, precision):
        error.add(forecast, y, mask)
    return error.mean()


def validation_record(
    network, data, batch_size, device, precision=None, *, metric="mse", period=1, group=None
):
    """An epoch's validation scores: ``val_mse`` and, for another metric, ``val_<metric>``.

    With several processes (``group``), each forecasts its share of the
    windows and the sums behind the means are added up over them, so that
    every process gets the scores one process would, bit for bit the same on
    each.

    Parameters
    ----------
    network : torch.nn.Module
        Maps look-backs (B, L, M) to forecasts (B, P, M) and has ``pred_len``.
    data : window source
        Every validation window.
    batch_size : int
        Windows per forward pass.
    device : torch.device
        Where the network lives.
    precision : Precision, default=None
        Forecast under its autocast.
    metric : str, default="mse"
        ``"mse"``, or a name of :data:`~calf_sklearn.losses.LOSSES` scored as
        :func:`windows_loss` does (with ``period``).
    period : int, default=1
        Seasonal lag of ``"mase"``'s scale.
    group : ProcessGroup, default=None
        The processes validating together; ``None``: this one alone.

    Returns
    -------
    dict of str to float

    Raises
    ------
    ValueError
        If no window has a target value to score.

    Examples
    --------
    >>> from calf_sklearn.dlinear import DLinearNetwork
    >>> from calf_sklearn.windows import WindowedSeries
    >>> data = WindowedSeries(np.random.default_rng(0).normal(size=(60, 2)).astype("float32"), 8, 4)
    >>> net = DLinearNetwork(8, 4)
    >>> record = validation_record(net, data, 16, torch.device("cpu"), metric="l1")
    >>> record["val_mse"] == windows_mse(net, data, 16, torch.device("cpu")), sorted(record)
    (True, ['val_l1', 'val_mse'])
    """
    error = SquaredError()
    score = None if metric == "mse" else WindowLoss(metric, period)
    if group is not None and group.active:
        data = _WindowRange(data, group.share(len(data)))
    for x, y, mask, forecast in forecast_batches(network, data, batch_size, device, precision):
        error.add(forecast, y, mask)
        if score is not None:
            score.add(forecast, y, mask, x)
    if group is not None and group.active:
        sums = [error.total, error.count] + ([score.total, score.weight] if score is not None else [])
        sums = group.sum_floats(sums, device)
        error.total, error.count = sums[:2]
        if score is not None:
            score.total, score.weight = sums[2:]
    record = {"val_mse": error.mean()}
    if score is not None:
        record[f"val_{metric}"] = score.mean()
    return record


class _WindowRange:
    """The windows ``part`` (a slice) of a window source, as a window source."""

    def __init__(self, data, part):
        self.data, self.indices = data, np.arange(len(data))[part]

    def __len__(self):
        return len(self.indices)

    def batch(self, indices):
        return self.data.batch(self.indices[indices])
