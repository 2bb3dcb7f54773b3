"""Reference forecasters with CALFForecaster's interface: naive, seasonal naive, Naive2 and DLinear.

They take the same input (one series or a panel), forecast through the same
``predict``, ``evaluate`` and ``score``, and accept ``X_val`` in ``fit``, so
a comparison with CALF uses the same windows and the same metric code.
"""

from ._estimators.baselines import (
    DLinearForecaster,
    Naive2Forecaster,
    NaiveForecaster,
    SeasonalNaiveForecaster,
)

__all__ = ["DLinearForecaster", "Naive2Forecaster", "NaiveForecaster", "SeasonalNaiveForecaster"]
