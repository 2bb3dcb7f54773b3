"""The M4 competition's statistical benchmarks for one series: Naive1, seasonal naive, Naive2 (NumPy only).

The public face of this module is :mod:`calf_sklearn.seasonal`; its documentation is there.
"""

from __future__ import annotations

import numpy as np

from .._utils import checks

__all__ = [
    "autocorrelation",
    "is_seasonal",
    "naive1",
    "naive2",
    "observed_history",
    "seasonal_indices",
    "seasonal_naive",
]

# One-sided 90% critical value of the normal distribution, as the M4 test uses it.
_CRITICAL = 1.645


def _series(y):
    y = np.asarray(y, dtype=np.float64)
    if y.ndim != 1 or len(y) == 0:
        raise ValueError(f"expected one non-empty series (a 1-D array), got shape {y.shape}.")
    return y


def autocorrelation(y, max_lag):
    """Sample autocorrelations of a series at lags 1 .. ``max_lag``.

    The classical estimate: products of deviations from the mean of the
    whole series, over the sum of its squared deviations.

    Parameters
    ----------
    y : array-like of shape (n_steps,)
        The series.
    max_lag : int
        Largest lag, below ``n_steps``.

    Returns
    -------
    ndarray of shape (max_lag,)
        The autocorrelation at lag 1, 2, ..., ``max_lag``.

    Examples
    --------
    >>> autocorrelation([1.0, 2.0, 1.0, 2.0, 1.0, 2.0], 2).round(3)
    array([-0.833,  0.667])
    """
    y = _series(y)
    deviations = y - y.mean()
    total = float(deviations @ deviations)
    if total == 0.0:
        return np.zeros(max_lag)
    return np.array([deviations[lag:] @ deviations[:-lag] for lag in range(1, max_lag + 1)]) / total


def is_seasonal(y, period):
    """The M4 seasonality test: is the autocorrelation at lag ``period`` significant at 90%?

    A series of period 1, or shorter than three cycles, is not seasonal.
    Otherwise it is when ``|r_m| > 1.645 * sqrt((1 + 2 * sum_{k<m} r_k**2) / n)``,
    ``r_k`` being its autocorrelations and ``n`` its length.

    Parameters
    ----------
    y : array-like of shape (n_steps,)
        The series (its in-sample history).
    period : int
        Seasonal period ``m`` (observations per cycle).

    Returns
    -------
    bool

    Examples
    --------
    >>> import numpy as np
    >>> bool(is_seasonal(np.tile([1.0, 5.0, 3.0], 10), 3))
    True
    >>> noise = np.random.default_rng(0).normal(size=30)
    >>> bool(is_seasonal(noise, 3)), bool(is_seasonal(np.tile([1.0, 5.0], 10), 1))
    (False, False)
    """
    y = _series(y)
    if period <= 1 or len(y) < 3 * period:
        return False
    r = autocorrelation(y, period)
    limit = _CRITICAL * np.sqrt((1.0 + 2.0 * np.sum(r[:-1] ** 2)) / len(y))
    return bool(abs(r[-1]) > limit)


def seasonal_indices(y, period):
    """Multiplicative seasonal index of every observation (classical decomposition).

    The trend is the centred moving average over one cycle (a 2 x m average
    for an even ``period``); each position of the cycle gets the mean ratio
    of the series to that trend, and the indices are scaled to average 1.

    Parameters
    ----------
    y : array-like of shape (n_steps,)
        The series, at least two cycles long.
    period : int
        Seasonal period ``m``.

    Returns
    -------
    ndarray of shape (n_steps,)
        The index of each observation's position in the cycle (the first
        observation is position 0).

    Examples
    --------
    >>> import numpy as np
    >>> seasonal_indices(np.tile([1.0, 2.0, 3.0], 4), 3).round(2)
    array([0.5, 1. , 1.5, 0.5, 1. , 1.5, 0.5, 1. , 1.5, 0.5, 1. , 1.5])
    """
    y = _series(y)
    if period < 2 or len(y) < 2 * period:
        raise ValueError(
            f"a decomposition at period {period} needs at least {2 * period} steps, got {len(y)}."
        )
    if period % 2:
        weights = np.full(period, 1.0 / period)
    else:
        weights = np.r_[0.5, np.ones(period - 1), 0.5] / period
    half = len(weights) // 2
    trend = np.full(len(y), np.nan)
    trend[half : len(y) - half] = np.convolve(y, weights, mode="valid")
    ratios = y / trend
    positions = np.arange(len(y)) % period
    figure = np.array([np.nanmean(ratios[positions == p]) for p in range(period)])
    return (figure / figure.mean())[positions]


def naive1(y, horizon):
    """The last value, repeated ``horizon`` times (M4's Naive1).

    Parameters
    ----------
    y : array-like of shape (n_steps,)
        The series.
    horizon : int
        Steps to forecast.

    Returns
    -------
    ndarray of shape (horizon,)

    Examples
    --------
    >>> naive1([3.0, 4.0, 7.0], 2)
    array([7., 7.])
    """
    return np.full(checks.check_int("horizon", horizon, 1), _series(y)[-1])


def seasonal_naive(y, horizon, period):
    """The last cycle, repeated (M4's seasonal naive); Naive1 for ``period=1``.

    Parameters
    ----------
    y : array-like of shape (n_steps,)
        The series, at least ``period`` steps long.
    horizon : int
        Steps to forecast.
    period : int
        Seasonal period ``m``.

    Returns
    -------
    ndarray of shape (horizon,)

    Examples
    --------
    >>> seasonal_naive([1.0, 2.0, 3.0, 4.0, 5.0], 3, period=2)
    array([4., 5., 4.])
    """
    y, horizon = _series(y), checks.check_int("horizon", horizon, 1)
    if period <= 1 or len(y) < period:
        return naive1(y, horizon)
    return np.resize(y[-period:], horizon)


def naive2(y, horizon, period):
    """M4's Naive2: the naive forecast of the seasonally adjusted series, reseasonalised.

    Where :func:`is_seasonal` passes, the series is divided by its
    :func:`seasonal_indices`, its last adjusted value is repeated and
    multiplied by the indices of the cycle that follows; otherwise it is
    Naive1.

    Parameters
    ----------
    y : array-like of shape (n_steps,)
        The series (positive values, as the multiplicative model assumes).
    horizon : int
        Steps to forecast.
    period : int
        Seasonal period ``m``.

    Returns
    -------
    ndarray of shape (horizon,)

    Examples
    --------
    >>> import numpy as np
    >>> naive2(np.tile([1.0, 2.0, 3.0], 4), 4, period=3).round(2)
    array([1., 2., 3., 1.])
    >>> naive2(np.arange(1.0, 10.0), 2, period=3)  # too short to test: Naive1
    array([9., 9.])
    """
    y, horizon = _series(y), checks.check_int("horizon", horizon, 1)
    if not is_seasonal(y, period):
        return naive1(y, horizon)
    indices = seasonal_indices(y, period)
    return (y[-1] / indices[-1]) * np.resize(indices[-period:], horizon)


def observed_history(values):
    """A look-back with gaps as a rule reads it: from its first observed value, later gaps interpolated.

    Interpolation is linear between observed values and holds the last
    observed value after it, so the last value a rule sees is the last one
    observed.

    Parameters
    ----------
    values : ndarray of shape (n,)
        One series' look-back; NaN where a value is missing.

    Returns
    -------
    ndarray or None
        The history, or ``None`` when nothing is observed.

    Examples
    --------
    >>> observed_history(np.array([np.nan, 1.0, np.nan, 3.0, np.nan]))
    array([1., 2., 3., 3.])
    """
    observed = ~np.isnan(values)
    if not observed.any():
        return None
    values = values[np.argmax(observed) :]
    observed = ~np.isnan(values)
    if observed.all():
        return values
    steps = np.arange(len(values))
    return np.interp(steps, steps[observed], values[observed])
