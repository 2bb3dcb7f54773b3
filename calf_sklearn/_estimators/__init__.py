"""The estimator layer: scikit-learn estimators that validate and delegate.

``base`` (what every forecaster shares), ``calf`` (CALFForecaster), ``baselines`` (rule
forecasts and DLinear), ``metrics`` (scorers and the M4 measures), ``persistence`` (the
safetensors format) and ``sktime_forecaster`` (the sktime adapter).
"""
