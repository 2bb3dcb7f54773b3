"""What every forecaster of the package shares, assembled from one part per job.

A forecaster maps ``seq_len`` look-back rows to ``pred_len`` future rows. It
implements ``_fit(prepared)`` (train its model on the windows the template
prepared) and ``_forecast_scaled(windows) -> (N, pred_len, M)``; everything a
user touches after ``fit`` (``predict``, the intervals, ``evaluate``,
``score``, the containers of the output) comes from the parts below, so the
baselines behave exactly like CALF:

- :mod:`.inputs`: parameter and input checks;
- :mod:`.scaling`: per-series standardisation;
- :mod:`.fitting`: the ``fit`` -> ``_fit`` template, windows and calibration;
- :mod:`.forecasting`: ``predict`` and the answer containers;
- :mod:`.intervals`: conformal intervals and quantiles;
- :mod:`.scoring`: ``evaluate`` and ``score``.

Settings that only some forecasters have (``padding``, ``scaling``,
``window_sampling``, ``batch_size``, ...) reach the shared parts through
small hooks (``_pads()``, ``_standardises()``, ``_samples_recent()``,
``_window_stride()``, ``_scoring_batch()``, ``_look_back_rows()``) that those
forecasters override.
"""

from __future__ import annotations

from sklearn.base import BaseEstimator

from .fitting import FitMixin
from .forecasting import PredictMixin
from .inputs import InputMixin
from .intervals import IntervalMixin
from .scaling import ScalingMixin
from .scoring import ScoringMixin


class WindowForecaster(
    InputMixin, ScalingMixin, FitMixin, PredictMixin, IntervalMixin, ScoringMixin, BaseEstimator
):
    """Base of forecasters that map ``seq_len`` look-back rows to ``pred_len`` future rows."""

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = False
        tags.input_tags.allow_nan = False
        return tags
