"""The scikit-learn estimator: validates, then delegates to the torch parts."""

from ._estimators.calf import CALFForecaster

__all__ = ["CALFForecaster"]
