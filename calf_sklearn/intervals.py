"""Split-conformal prediction intervals (NumPy only).

A forecaster is calibrated once, at the end of ``fit``: it forecasts every
window of its validation data, and the absolute errors of those forecasts,
per horizon step and series, are its *nonconformity scores*. An interval of
coverage ``1 - a`` around a new forecast is the forecast plus or minus the
score that ``ceil((n + 1)(1 - a))`` of the ``n`` calibration scores do not
exceed: the finite-sample quantile, with which a new window exchangeable
with the calibration windows falls inside with probability at least
``1 - a``.

Two kinds of score:

* ``"absolute"``: ``|y - f|`` on the forecaster's fitted scale; every window
  gets intervals of the same width per step and series.
* ``"scaled"``: ``|y - f| / s``, where ``s`` is the standard deviation of
  that window's own look-back (per series, on the fitted scale, with CALF's
  variance floor): volatile windows get wider intervals, calm ones narrower.
"""

from ._series.conformal import METHODS, ConformalCalibration, check_coverage, look_back_spread

__all__ = ["METHODS", "ConformalCalibration", "check_coverage", "look_back_spread"]
