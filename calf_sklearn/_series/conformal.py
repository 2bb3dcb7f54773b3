"""Split-conformal prediction intervals (NumPy only).

The public face of this module is :mod:`calf_sklearn.intervals`; its documentation is there.
"""

from __future__ import annotations

import math

import numpy as np

from .._utils import checks

__all__ = ["METHODS", "ConformalCalibration", "check_coverage", "look_back_spread"]

#: The kinds of nonconformity score.
METHODS = ("absolute", "scaled")

_TOLERANCE = 1e-9

# CALF's variance floor (network._EPS), so that "scaled" divides by the spread
# the network itself normalises with.
_VARIANCE_FLOOR = 1e-5


def check_coverage(coverage, name="coverage"):
    """A coverage level (or quantile level) as a float in (0, 1), or a clear error.

    Parameters
    ----------
    coverage : float
        The nominal probability that the interval holds the true value.
    name : str, default="coverage"
        The argument's name, for the message.

    Returns
    -------
    float

    Raises
    ------
    TypeError
        If ``coverage`` is not a real number.
    ValueError
        If it is not strictly between 0 and 1.

    Examples
    --------
    >>> check_coverage(0.9)
    0.9
    >>> check_coverage(90)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: coverage must be finite and in (0.0, 1.0), got 90. Pass a probability, e.g. 0.9 for 90%.
    """
    try:
        return checks.check_real(name, coverage, 0.0, 1.0, low_open=True, high_open=True)
    except ValueError as error:
        raise ValueError(f"{error} Pass a probability, e.g. 0.9 for 90%.") from None


def look_back_spread(windows):
    """Each window's spread per series: ``sqrt(var + 1e-5)`` over its look-back.

    Parameters
    ----------
    windows : ndarray of shape (n_windows, seq_len, n_series)
        Look-backs on the fitted scale; NaN rows (padding) are left out.

    Returns
    -------
    ndarray of shape (n_windows, n_series)

    Examples
    --------
    >>> import numpy as np
    >>> look_back_spread(np.array([[[1.0], [3.0]]])).round(4)  # sqrt(1 + 1e-5)
    array([[1.]])
    """
    with np.errstate(invalid="ignore"), _quiet_nan_warnings():
        variance = np.nanvar(np.asarray(windows, dtype=np.float64), axis=1)
    return np.sqrt(np.nan_to_num(variance, nan=0.0) + _VARIANCE_FLOOR)


class _quiet_nan_warnings:
    """Silence numpy's all-NaN-slice warning (a fully padded series has spread 0)."""

    def __enter__(self):
        import warnings

        self._context = warnings.catch_warnings()
        self._context.__enter__()
        warnings.simplefilter("ignore", RuntimeWarning)

    def __exit__(self, *exc):
        return self._context.__exit__(*exc)


class ConformalCalibration:
    """The sorted nonconformity scores of a forecaster's validation windows.

    Parameters
    ----------
    errors : ndarray of shape (n_windows, pred_len, n_series)
        Forecast minus truth over the calibration windows, on the fitted scale.
    method : {"absolute", "scaled"}
        Kind of score (see the module's description).
    spread : ndarray of shape (n_windows, n_series), default=None
        Each calibration window's :func:`look_back_spread`; needed by
        ``"scaled"``.

    Attributes
    ----------
    scores : ndarray of shape (n_windows, pred_len, n_series)
        The scores, sorted along the first axis (float32).
    method : str
        The kind of score.

    Examples
    --------
    >>> import numpy as np
    >>> errors = np.arange(1.0, 20.0).reshape(19, 1, 1)  # 19 windows, scores 1 .. 19
    >>> calibration = ConformalCalibration(errors, "absolute")
    >>> float(calibration.half_width(0.9)[0, 0])  # ceil(20 * 0.9) = the 18th smallest
    18.0
    >>> calibration.max_coverage
    0.95
    >>> errors = np.arange(1.0, 21.0).reshape(20, 1, 1)
    >>> errors[::2] = np.nan  # missing targets (NaN errors) are left out: 2, 4, ..., 20 remain
    >>> float(ConformalCalibration(errors, "absolute").half_width(0.8)[0, 0])  # ceil(11 * 0.8) = the 9th of 10
    18.0
    """

    def __init__(self, errors, method, spread=None):
        method = checks.check_choice("interval_method", method, METHODS)
        scores = np.abs(np.asarray(errors, dtype=np.float64))
        if method == "scaled":
            if spread is None:
                raise ValueError("method='scaled' needs each calibration window's look-back spread.")
            scores = scores / np.asarray(spread, dtype=np.float64)[:, None, :]
        if len(scores) == 0:
            raise ValueError("Conformal calibration needs at least one calibration window.")
        self.scores = np.sort(scores, axis=0).astype(np.float32)
        self.method = method

    @classmethod
    def _from_sorted(cls, scores, method):
        """Rebuild from :attr:`scores` as saved (already sorted, float32)."""
        calibration = cls.__new__(cls)
        calibration.scores = np.asarray(scores, dtype=np.float32)
        calibration.method = checks.check_choice("interval_method", method, METHODS)
        return calibration

    def _observed_counts(self):
        """Observed (not NaN) scores of each step and series, shape (pred_len, n_series)."""
        return np.sum(~np.isnan(self.scores), axis=0)

    @property
    def n_windows(self):
        """Number of calibration windows; where targets were missing, the fewest observed at any step and series.

        Examples
        --------
        >>> ConformalCalibration(np.zeros((4, 2, 1)), "absolute").n_windows
        4
        >>> errors = np.zeros((4, 2, 1))
        >>> errors[:2, 1, 0] = np.nan  # two windows miss the second step's target
        >>> ConformalCalibration(errors, "absolute").n_windows
        2
        """
        return int(self._observed_counts().min(initial=len(self.scores)))

    @property
    def max_coverage(self):
        """The highest coverage these windows can calibrate: ``n / (n + 1)``.

        Examples
        --------
        >>> ConformalCalibration(np.zeros((9, 1, 1)), "absolute").max_coverage
        0.9
        """
        return self.n_windows / (self.n_windows + 1)

    def half_width(self, coverage, spread=None):
        """Half-width of the central interval of ``coverage``, per step and series.

        Parameters
        ----------
        coverage : float
            Nominal coverage in (0, 1).
        spread : ndarray of shape (n_windows, n_series), default=None
            The look-back spread of the windows being forecast (``"scaled"``).

        Returns
        -------
        ndarray of shape (pred_len, n_series), or (n_windows, pred_len, n_series) with ``spread``
            On the fitted scale.

        Raises
        ------
        ValueError
            If ``coverage`` is above :attr:`max_coverage` (the message says how
            many calibration windows it would need), or ``"scaled"`` is
            missing ``spread``.

        Examples
        --------
        >>> calibration = ConformalCalibration(np.ones((9, 2, 1)), "scaled", spread=np.ones((9, 1)))
        >>> calibration.half_width(0.5, spread=np.array([[2.0], [3.0]]))[:, 0, 0]
        array([2., 3.])
        """
        coverage = check_coverage(coverage)
        # The tolerance keeps float products such as 10 * 0.9 = 9.000000000000002
        # from costing a rank (or a window) that exact arithmetic would not.
        # Each step and series ranks its own observed scores (NaN: a missing target, sorted last).
        counts = self._observed_counts()
        ranks = np.ceil((counts + 1) * coverage - _TOLERANCE).astype(np.int64)
        if (ranks > counts).any():
            need = math.ceil(coverage / (1 - coverage) - _TOLERANCE)
            raise ValueError(
                f"coverage={coverage} needs at least {need} calibration windows, but only "
                f"{self.n_windows} were held out (the most they calibrate is "
                f"{self.max_coverage:.3f}). Hold out more rows for validation (validation_size) "
                "or ask for a lower coverage."
            )
        width = np.take_along_axis(self.scores, np.maximum(ranks - 1, 0)[None], axis=0)[0].astype(np.float64)
        if self.method == "absolute":
            return width if spread is None else np.broadcast_to(width, (len(spread), *width.shape))
        if spread is None:
            raise ValueError("Intervals from 'scaled' scores need the look-back spread of each window.")
        return width[None] * np.asarray(spread, dtype=np.float64)[:, None, :]
