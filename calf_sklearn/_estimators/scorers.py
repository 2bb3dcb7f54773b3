"""Scorers for model selection: rolling forecasts of a fitted forecaster, scored as GridSearchCV expects.

The public face of this module is :mod:`calf_sklearn.metrics`; its documentation is there.
"""

from __future__ import annotations

from sklearn.pipeline import Pipeline

__all__ = ["mae_scorer", "mse_scorer"]


def _rolling_errors(estimator, X):
    # A Pipeline scores through its transforms, then its final forecaster.
    if isinstance(estimator, Pipeline):
        if len(estimator) > 1:
            X = estimator[:-1].transform(X)
        estimator = estimator[-1]
    return estimator.evaluate(X)


def mse_scorer(estimator, X, y=None):
    """Negative MSE of a fitted forecaster's rolling forecasts over ``X``.

    Parameters
    ----------
    estimator : CALFForecaster or Pipeline ending in one
        Fitted forecaster.
    X : array-like of shape (n_steps, n_series)
        Series to forecast over (see :meth:`CALFForecaster.evaluate`).
    y : None
        Ignored.

    Returns
    -------
    float
        ``-mse``: greater is better, as scikit-learn's scorers expect.

    Examples
    --------
    >>> from sklearn.model_selection import GridSearchCV, TimeSeriesSplit
    >>> from calf_sklearn import CALFForecaster, mse_scorer
    >>> search = GridSearchCV(CALFForecaster(), {"feature_weight": [0.01, 0.1]},
    ...                       scoring={"mse": mse_scorer, "mae": mae_scorer},
    ...                       refit="mse", cv=TimeSeriesSplit(3))
    """
    return -_rolling_errors(estimator, X)["mse"]


def mae_scorer(estimator, X, y=None):
    """Negative MAE of a fitted forecaster's rolling forecasts over ``X``.

    Parameters
    ----------
    estimator : CALFForecaster or Pipeline ending in one
        Fitted forecaster.
    X : array-like of shape (n_steps, n_series)
        Series to forecast over.
    y : None
        Ignored.

    Returns
    -------
    float
        ``-mae``.

    Examples
    --------
    >>> from calf_sklearn import mae_scorer
    >>> callable(mae_scorer)
    True
    """
    return -_rolling_errors(estimator, X)["mae"]
