"""The M4 competition's accuracy measures, sMAPE, MASE, MSIS and OWA, on raw values (NumPy only).

The public face of this module is :mod:`calf_sklearn.metrics`; its documentation is there.
"""

from __future__ import annotations

import numpy as np

from .._utils import checks

__all__ = ["mase", "msis", "owa", "smape"]


def _forecasts(y_true, y_pred):
    """Two equally shaped 2-D float arrays (series x horizon) of true and forecast values."""
    y_true = np.atleast_2d(np.asarray(y_true, dtype=np.float64))
    y_pred = np.atleast_2d(np.asarray(y_pred, dtype=np.float64))
    if y_true.shape != y_pred.shape or y_true.ndim != 2:
        raise ValueError(
            f"y_true and y_pred must have the same shape (n_series, horizon); got {y_true.shape} and "
            f"{y_pred.shape}."
        )
    if not (np.isfinite(y_true).all() and np.isfinite(y_pred).all()):
        raise ValueError("y_true and y_pred must be finite; fill or drop the missing values first.")
    return y_true, y_pred


def smape(y_true, y_pred):
    """Symmetric mean absolute percentage error, in percent, as the M4 competition computes it.

    ``200 * |y - f| / (|y| + |f|)`` averaged over every step of every series
    (a step where both are 0 counts as 0).

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n_series, horizon) or (horizon,)
        True and forecast values.

    Returns
    -------
    float
        Between 0 and 200.

    Examples
    --------
    >>> round(smape([[100.0, 100.0]], [[110.0, 90.0]]), 4)  # (200*10/210 + 200*10/190) / 2
    10.0251
    """
    y_true, y_pred = _forecasts(y_true, y_pred)
    denominator = np.abs(y_true) + np.abs(y_pred)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.where(denominator > 0, 200.0 * np.abs(y_true - y_pred) / denominator, 0.0)
    return float(ratio.mean())


def mase(y_true, y_pred, history, period=1):
    """Mean absolute scaled error, as the M4 competition computes it.

    Each series' mean absolute error is divided by the in-sample mean
    absolute error of its seasonal naive forecast at lag ``period`` (over the
    whole history), and the ratios are averaged over the series.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n_series, horizon) or (horizon,)
        True and forecast values.
    history : array-like of shape (n_steps,), or sequence of such arrays
        Each series' in-sample values (lengths may differ), longer than
        ``period``.
    period : int, default=1
        Seasonal period ``m`` of the scale.

    Returns
    -------
    float

    Raises
    ------
    ValueError
        If a history is too short or constant at lag ``period`` (its scale
        would be 0), naming the series.

    Examples
    --------
    >>> mase([[5.0, 6.0]], [[4.0, 4.0]], history=[[1.0, 2.0, 4.0, 5.0]])  # 1.5 / mean(1, 2, 1)
    1.125
    """
    y_true, y_pred = _forecasts(y_true, y_pred)
    scales = _seasonal_scales(history, len(y_true), period)
    return float(np.mean(np.abs(y_true - y_pred).mean(axis=1) / scales))


def _seasonal_scales(history, n_series, period):
    """Each series' in-sample mean absolute error of the seasonal naive forecast at lag ``period``."""
    period = checks.check_int("period", period, 1)
    if len(history) and np.ndim(history[0]) == 0:  # one series' history, given flat
        history = [history]
    if len(history) != n_series:
        raise ValueError(f"history has {len(history)} series but y_true has {n_series}.")
    scales = []
    for i, past in enumerate(history):
        past = np.asarray(past, dtype=np.float64)
        if len(past) <= period:
            raise ValueError(
                f"series {i}: its history of {len(past)} steps is too short for period {period}."
            )
        scale = np.mean(np.abs(past[period:] - past[:-period]))
        if not scale > 0:
            raise ValueError(
                f"series {i}: its history does not change at lag {period}, so MASE is undefined."
            )
        scales.append(scale)
    return np.array(scales)


def msis(y_true, lower, upper, history, period=1, alpha=0.05):
    """Mean scaled interval score of prediction intervals, as the M4 competition computes it.

    Per series: the mean over the horizon of ``(upper - lower) + (2 / alpha)
    * (lower - y) * [y < lower] + (2 / alpha) * (y - upper) * [y > upper]``,
    divided by the series' in-sample seasonal naive error (MASE's scale);
    then averaged over the series. The M4 competition scored 95% intervals
    (``alpha=0.05``).

    Parameters
    ----------
    y_true, lower, upper : array-like of shape (n_series, horizon) or (horizon,)
        True values and the intervals' bounds.
    history : array-like of shape (n_steps,), or sequence of such arrays
        Each series' in-sample values (lengths may differ).
    period : int, default=1
        Seasonal period ``m`` of the scale.
    alpha : float, default=0.05
        One minus the intervals' nominal coverage.

    Returns
    -------
    float

    Examples
    --------
    >>> # width 2, one step missed by 1: (2 + 40 * 1 + 2) / 2 steps, scale mean(1, 2, 1)
    >>> round(msis([[5.0, 9.0]], [[4.0, 6.0]], [[6.0, 8.0]], history=[[1.0, 2.0, 4.0, 5.0]]), 4)
    16.5
    """
    y_true, lower = _forecasts(y_true, lower)
    _, upper = _forecasts(y_true, upper)
    alpha = checks.check_real("alpha", alpha, 0.0, 1.0, low_open=True, high_open=True)
    if (lower > upper).any():
        raise ValueError("lower exceeds upper somewhere; pass the intervals' lower bounds first.")
    scales = _seasonal_scales(history, len(y_true), period)
    below = np.maximum(lower - y_true, 0.0)
    above = np.maximum(y_true - upper, 0.0)
    scores = (upper - lower) + (2.0 / alpha) * (below + above)
    return float(np.mean(scores.mean(axis=1) / scales))


def owa(smape_value, mase_value, smape_naive2, mase_naive2):
    """Overall weighted average: the mean of sMAPE and MASE relative to Naive2's (M4's ranking measure).

    Parameters
    ----------
    smape_value, mase_value : float
        The method's sMAPE and MASE over a group of series.
    smape_naive2, mase_naive2 : float
        Naive2's on the same series (see :func:`calf_sklearn.seasonal.naive2`).

    Returns
    -------
    float
        1 for Naive2's accuracy; below 1 is better.

    Examples
    --------
    >>> owa(9.0, 1.5, smape_naive2=18.0, mase_naive2=2.0)  # (0.5 + 0.75) / 2
    0.625
    """
    return 0.5 * (smape_value / smape_naive2 + mase_value / mase_naive2)
