"""The estimator layer: scikit-learn estimators that validate and delegate.

``base`` (what every forecaster shares, assembled from ``inputs``, ``scaling``, ``fitting``,
``forecasting``, ``intervals`` and ``scoring``; ``state`` holds the :class:`FittedState` that
``fit`` sets), ``constraints`` (what each parameter accepts), ``calf`` (CALFForecaster, with
``backbone_checks``, ``resume`` and ``pickling``), ``baselines`` (the rule forecasts and
DLinear), ``scorers`` (for model selection), ``persistence`` (the safetensors format)
and ``sktime_forecaster`` (the sktime adapter).
"""
