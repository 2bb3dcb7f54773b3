"""Forecast accuracy: scorers for model selection, and the M4 competition's sMAPE, MASE and OWA.

The scorers (``scoring=`` in GridSearchCV) compare rolling forecasts on a
forecaster's fitted scale. :func:`smape`, :func:`mase` and :func:`owa` are the
M4 measures (METHOD.md section 13), on raw values, for a group of series
that may differ in length.
"""

from ._estimators.scorers import mae_scorer, mse_scorer
from ._series.measures import mase, msis, owa, smape

__all__ = ["mae_scorer", "mase", "mse_scorer", "msis", "owa", "smape"]
