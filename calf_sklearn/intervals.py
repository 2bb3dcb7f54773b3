"""Conformal prediction intervals: split conformal, and adaptive for rolling use (NumPy only).

A forecaster is calibrated once, at the end of ``fit``: it forecasts every
window of its validation data, and the absolute errors of those forecasts,
per horizon step and series, are its *nonconformity scores*. An interval of
coverage ``1 - a`` around a new forecast is the forecast plus or minus the
score that ``ceil((n + 1)(1 - a))`` of the ``n`` calibration scores do not
exceed: the finite-sample quantile, with which a new window exchangeable
with the calibration windows falls inside with probability at least
``1 - a``.

Three interval methods (a forecaster's ``interval_method``):

* ``"absolute"``: scores ``|y - f|`` on the forecaster's fitted scale; every
  window gets intervals of the same width per step and series.
* ``"scaled"``: ``|y - f| / s``, where ``s`` is the standard deviation of
  that window's own look-back (per series, on the fitted scale, with CALF's
  variance floor): volatile windows get wider intervals, calm ones narrower.
* ``"adaptive"``: ``"scaled"`` scores, with each spread floored at the
  :data:`FLOOR_PERCENTILE`-th percentile of the calibration windows' spreads,
  and, where the forecaster is given successive windows (``evaluate``, a
  history passed to ``predict_interval``, the rows the sktime adapter's
  ``update(y, update_params=False)`` added, the benchmark), a walk forward in time (:func:`adaptive_thresholds`, AgACI):
  each window's interval learns from the errors of earlier forecasts whose
  targets were observed before it, so coverage returns to its level when the
  series turns calmer or wilder than the calibration windows. Split conformal
  promises its level only for windows like the calibration windows. Without
  successive windows (after the training data, a batch of look-backs) there
  is nothing to learn from, and the interval is the split-conformal one of
  these scores.
"""

from ._series.conformal import (
    FLOOR_PERCENTILE,
    GAMMAS,
    METHODS,
    ConformalCalibration,
    adaptive_thresholds,
    check_coverage,
    look_back_spread,
)

__all__ = [
    "FLOOR_PERCENTILE",
    "GAMMAS",
    "METHODS",
    "ConformalCalibration",
    "adaptive_thresholds",
    "check_coverage",
    "look_back_spread",
]
