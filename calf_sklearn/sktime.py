"""CALF as an sktime forecaster: :class:`CALFSktimeForecaster` (optional extra ``calf-sklearn[sktime]``).

Importing :mod:`calf_sklearn` never imports sktime; this module does, and
says which extra to install when sktime is missing. The forecaster follows
sktime's extension template for forecasters: ``_fit(y, X, fh)``,
``_predict(fh, X)``, ``_predict_interval``, ``_predict_quantiles`` and
``_update`` delegate to a :class:`~calf_sklearn.CALFForecaster` fitted on
the values of ``y`` (one series, or every member of a panel at once).
"""

from ._estimators.sktime_forecaster import CALFSktimeForecaster

__all__ = ["CALFSktimeForecaster"]
