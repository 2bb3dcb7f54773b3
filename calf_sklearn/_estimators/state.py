"""What ``fit`` learns of the data: one object that fit builds, sets, and the savers read back.

:class:`FittedState` holds what every forecaster needs after ``fit`` besides
its model: the scaling, the last look-back of every series, how to shape the
answers, and the conformal calibration. ``fit`` builds it once training has
succeeded and sets it on the estimator in one step; ``save_forecaster`` and
``load_forecaster`` read and rebuild it; pickles carry it as the estimator's
attributes, the names scikit-learn users look for (``scaler_``,
``last_window_``, ``member_ids_``, ``calibration_``). What scikit-learn's
own validation sets (``n_features_in_``, ``feature_names_in_``) and what a
model's training records (``history_``, ``module_``, ...) stay with them.
"""

from __future__ import annotations

import dataclasses

import numpy as np

# Field of FittedState -> attribute of the fitted estimator.
_ATTRIBUTES = {
    "last_window": "last_window_",
    "output": "_output_",
    "index_spec": "_index_spec_",
    "calibration": "calibration_",
    "scaler": "scaler_",
    "member_ids": "member_ids_",
    "member_mean": "member_mean_",
    "member_scale": "member_scale_",
}
# Fields of one kind of fit only: a refit of the other kind must not leave them behind.
_KIND_ONLY = ("scaler", "member_ids", "member_mean", "member_scale")


@dataclasses.dataclass
class FittedState:
    """The data state of a fitted forecaster (see the module docstring).

    Attributes
    ----------
    last_window : ndarray of shape (seq_len, n_series) or (n_members, seq_len, n_series)
        The look-back that ``predict()`` forecasts after (NaN before a short member's start).
    output : dict
        How answers are shaped: the input's kind, columns and name (per member, with the
        panel's layout, for a panel).
    index_spec : object or list
        How to continue the input's index (per member for a panel); ``None`` for arrays.
    calibration : ConformalCalibration or None
        The conformal scores of the validation windows; ``None`` without any.
    scaler : StandardScaler or None
        The scaling of one series (``None`` for a panel).
    member_ids : list or None
        A panel's member ids (``None`` for one series).
    member_mean, member_scale : ndarray of shape (n_members, n_series) or None
        Each member's scaling (``None`` for one series).

    Examples
    --------
    >>> import numpy as np
    >>> from calf_sklearn.baselines import NaiveForecaster
    >>> model = NaiveForecaster(pred_len=2).fit({"a": np.arange(9.0), "b": np.arange(6.0)})
    >>> state = FittedState.of(model)
    >>> state.member_ids, state.scaler is None
    (['a', 'b'], True)
    >>> model = NaiveForecaster(pred_len=2).fit(np.arange(9.0)[:, None])
    >>> state.apply(model)  # the panel's state replaces the one-series state
    >>> hasattr(model, "scaler_"), model.member_ids_
    (False, ['a', 'b'])
    """

    last_window: np.ndarray
    output: dict
    index_spec: object
    calibration: object = None
    scaler: object = None
    member_ids: list | None = None
    member_mean: np.ndarray | None = None
    member_scale: np.ndarray | None = None

    @property
    def is_panel(self):
        """Whether the state is of a fit on a panel."""
        return self.member_ids is not None

    @classmethod
    def of(cls, estimator):
        """The state a fitted estimator holds.

        Parameters
        ----------
        estimator : forecaster
            A fitted forecaster of this package.

        Returns
        -------
        FittedState
        """
        return cls(**{field: getattr(estimator, name, None) for field, name in _ATTRIBUTES.items()})

    def apply(self, estimator):
        """Set the state on ``estimator``, removing what a fit of the other kind had left.

        Parameters
        ----------
        estimator : forecaster
            The forecaster that was fitted.
        """
        for field, name in _ATTRIBUTES.items():
            value = getattr(self, field)
            if value is None and field in _KIND_ONLY:
                estimator.__dict__.pop(name, None)
            else:
                setattr(estimator, name, value)
