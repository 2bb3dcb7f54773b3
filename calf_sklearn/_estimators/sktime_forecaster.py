"""CALF as an sktime forecaster: :class:`CALFSktimeForecaster` (optional extra ``calf-sklearn[sktime]``).

The public face of this module is :mod:`calf_sklearn.sktime`; its documentation is there.
"""

from __future__ import annotations

import inspect
from typing import ClassVar

import numpy as np
import pandas as pd

try:
    from sktime.forecasting.base import BaseForecaster
except ImportError as error:  # pragma: no cover - depends on the environment
    raise ImportError(
        "calf_sklearn.sktime needs sktime, an optional dependency. Install it with "
        "pip install 'calf-sklearn[sktime]'."
    ) from error

from .._utils import checks
from .calf import CALFForecaster
from .constraints import CALF_CONSTRAINTS

# CALFForecaster's parameters that this adapter takes. target_columns is not among them: in sktime
# the targets are y and the covariates are the exogenous X, which the adapter passes on as such.
_MIRRORED = [name for name in CALF_CONSTRAINTS if name != "target_columns"]

__all__ = ["CALFSktimeForecaster"]

# The tiny randomly initialised GPT-2 of the test parameters: trains in a
# fraction of a second on a CPU and never downloads anything.
_TINY_GPT2 = {
    "n_embd": 16,
    "n_layer": 1,
    "n_head": 2,
    "vocab_size": 64,
    "n_positions": 32,
    "bos_token_id": 0,
    "eos_token_id": 0,
}


class CALFSktimeForecaster(BaseForecaster):
    """CALF for sktime: :class:`~calf_sklearn.CALFForecaster` behind sktime's forecaster interface.

    Every parameter of :class:`~calf_sklearn.CALFForecaster` is a parameter
    here, with the same default, except ``pred_len``: ``None`` (the default)
    sets the horizon the network forecasts directly to the furthest step of
    the ``fh`` passed to ``fit``, which then requires one and keeps it for
    ``predict`` (sktime's rule when fitting depends on ``fh``); an integer
    ``pred_len`` makes ``fh`` optional in ``fit``. The loss weights,
    ``seq_len`` and the rest can therefore be searched with sktime's
    ``ForecastingGridSearchCV`` like any sktime parameter.

    ``y`` may be one series (``pd.Series``), several series
    (``pd.DataFrame``, forecast jointly: CALF is multivariate) or a panel
    (a DataFrame with an ``(instance, time)`` MultiIndex, sktime's
    ``pd-multiindex``), on which one model is trained over all members, as
    :class:`~calf_sklearn.CALFForecaster` does for its panels. Exogenous
    ``X`` is ignored. Forecasts are out of sample only, and every member of
    a panel must end at the same time point.

    Steps beyond ``pred_len`` are forecast recursively by ``predict`` (with
    a warning), but ``predict_interval`` and ``predict_quantiles`` refuse
    them: the conformal intervals are calibrated only for the steps forecast
    directly. Intervals need validation data (``validation_size > 0``).

    ``update`` with ``update_params=True`` refits from scratch on all the
    data seen (CALF has no incremental training); with
    ``update_params=False`` it keeps the fitted network and forecasts from
    the new data's end.

    Parameters
    ----------
    pred_len : int or None, default=None
        Horizon the network forecasts in one pass; ``None``: the furthest
        step of the ``fh`` given to ``fit``.
    seq_len, llm, pretrained, revision, local_files_only, n_layers, n_principal_words : see CALFForecaster
        As in :class:`~calf_sklearn.CALFForecaster`, and so are all the
        other parameters (``lora_r`` ... ``verbose``).
    lora_r, lora_alpha, lora_dropout, task_loss, output_loss, feature_loss : see CALFForecaster
        As in :class:`~calf_sklearn.CALFForecaster`.
    task_weight, output_weight, feature_weight : float, default=1.0, 1.0, 0.01
        Weights of the three loss terms, as in :class:`~calf_sklearn.CALFForecaster`.
    learning_rate, projection_learning_rate, cosine_t_max, batch_size : see CALFForecaster
        As in :class:`~calf_sklearn.CALFForecaster`.
    window_stride, window_sampling, history_size, padding, scaling : see CALFForecaster
        As in :class:`~calf_sklearn.CALFForecaster`.
    seasonal_period, interval_method, max_epochs, patience, validation_size : see CALFForecaster
        As in :class:`~calf_sklearn.CALFForecaster`.
    device, precision, compile, cache_dir, random_state, verbose : see CALFForecaster
        As in :class:`~calf_sklearn.CALFForecaster`.

    Attributes
    ----------
    forecaster_ : CALFForecaster
        The fitted scikit-learn estimator (refitted by ``update`` with
        ``update_params=True``).
    pred_len_ : int
        The horizon the network forecasts directly.

    Examples
    --------
    >>> import numpy as np
    >>> import pandas as pd
    >>> from calf_sklearn.sktime import CALFSktimeForecaster
    >>> y = pd.Series(np.sin(np.arange(120) / 6),
    ...               index=pd.period_range("2024-01", periods=120, freq="M"))
    >>> tiny = {"n_embd": 16, "n_layer": 1, "n_head": 2, "vocab_size": 64}
    >>> forecaster = CALFSktimeForecaster(seq_len=24, llm=tiny, pretrained=False, n_layers=1,
    ...                                   n_principal_words=8, max_epochs=1, random_state=0)
    >>> forecast = forecaster.fit(y, fh=[1, 2, 3]).predict()
    >>> [str(period) for period in forecast.index]
    ['2034-01', '2034-02', '2034-03']
    >>> forecaster.predict_interval(coverage=0.8).shape  # lower and upper per step
    (3, 2)
    """

    _tags: ClassVar[dict] = {
        "authors": ["calf-sklearn developers"],
        "maintainers": ["calf-sklearn developers"],
        "python_dependencies": ["calf-sklearn"],
        "scitype:y": "both",  # one series or several, forecast jointly
        "capability:multivariate": True,
        "y_inner_mtype": ["pd.DataFrame", "pd-multiindex"],
        "X_inner_mtype": ["pd.DataFrame", "pd-multiindex"],
        "capability:exogenous": True,  # X's past columns are CALF's covariates
        "requires-fh-in-fit": True,  # False when pred_len is an integer (set in __init__)
        "capability:insample": False,
        "capability:pred_int": True,  # False when validation_size == 0 (set in __init__)
        "capability:pred_int:insample": False,
        "capability:missing_values": False,  # True with missing="mask" (set in __init__)
        "capability:update": True,
        "capability:random_state": True,
        "capability:categorical_in_X": False,  # X's columns are series CALF reads
        "fit_is_empty": False,
        "X-y-must-have-same-index": True,
        # Members may start at different times, but must end at the same one (see _check_common_end).
        "capability:unequal_length": False,
    }

    # The data this forecaster needs after fit (the look-back) is kept by
    # itself in ``_history``; sktime's own copy would only duplicate it.
    _config: ClassVar[dict] = {"remember_data": False}

    def __init__(self, *args, **kwargs):
        # The parameters are CALFForecaster's (the table of calf_sklearn._estimators.constraints),
        # listed once: __signature__ below gives scikit-learn and sktime their names and defaults.
        signature = CALFSktimeForecaster.__init__.__signature__
        checks.check_keywords(type(self).__name__, kwargs, list(_MIRRORED))
        bound = signature.bind(self, *args, **kwargs)
        bound.apply_defaults()
        for name, value in list(bound.arguments.items())[1:]:
            setattr(self, name, value)
        pred_len, validation_size, missing = self.pred_len, self.validation_size, self.missing
        super().__init__()
        # sktime's own copy of the data, kept only when a user sets remember_data=True.
        self._y, self._X = None, None
        # Tags that depend on the parameters say what this instance can do.
        self.set_tags(
            **{
                "requires-fh-in-fit": pred_len is None,
                "capability:pred_int": not (
                    isinstance(validation_size, (int, float)) and validation_size == 0
                ),
                "capability:missing_values": missing == "mask",
            }
        )

    # ------------------------------------------------------------------ helpers

    def _estimator(self, pred_len):
        """An unfitted CALFForecaster with this forecaster's parameters and ``pred_len``."""
        params = {name: getattr(self, name) for name in _MIRRORED}
        params["pred_len"] = pred_len
        if self._n_covariates:  # y's columns come first, then X's: the targets are y's
            params["target_columns"] = list(range(len(self._y_columns)))
        return CALFForecaster(**params)

    def _joined(self, y, X):
        """y's columns, then X's (its past values: CALF's covariates), on y's index."""
        if not self._n_covariates:
            return y
        if X is None:
            raise ValueError(
                f"{type(self).__name__} was fitted with exogenous X, whose columns it reads as "
                "covariates; pass X (covering y's index) here too."
            )
        X = X.reindex(y.index).set_axis([f"__X{i}" for i in range(X.shape[1])], axis=1)
        return pd.concat([y, X], axis=1)

    @staticmethod
    def _members(frame):
        """The values CALFForecaster is given: one 2-D array, or a dict of them for a panel."""
        if isinstance(frame.index, pd.MultiIndex):
            ids = frame.index.get_level_values(0).unique()
            return {key: frame.xs(key, level=0).to_numpy(dtype=np.float64) for key in ids}
        return frame.to_numpy(dtype=np.float64)

    def _steps(self, fh):
        """The relative steps (ints >= 1) fh asks for, and the absolute index to label them with."""
        relative = fh.to_relative(self.cutoff)
        steps = np.asarray(relative.to_numpy(), dtype=np.int64)
        if (steps < 1).any():
            # sktime refuses in-sample fh through capability:insample; this is a second guard.
            raise NotImplementedError(
                f"{type(self).__name__} forecasts out of sample only (fh steps >= 1 after the "
                f"cutoff), got steps {steps.tolist()}."
            )
        return steps, fh.to_absolute_index(self.cutoff)

    def _check_common_end(self, frame):
        """Refuse panels whose members end at different time points (their fh steps would differ)."""
        if not isinstance(frame.index, pd.MultiIndex):
            return
        times = pd.Series(frame.index.get_level_values(-1), index=frame.index.get_level_values(0))
        if times.groupby(level=0, sort=False).max().nunique() > 1:
            raise ValueError(
                f"{type(self).__name__} needs every member of a panel to end at the same time "
                "point (they share sktime's cutoff); cut the longer members to the common end."
            )

    def _label(self, per_member, steps, index, columns):
        """Select ``steps`` rows of each member's (horizon, k) answer and label them as sktime expects."""
        if isinstance(per_member, dict):
            frames = {
                key: pd.DataFrame(values[steps - 1], index=index, columns=columns)
                for key, values in per_member.items()
            }
            names = list(self._history.index.names)
            joined = pd.concat(frames, names=names[:1])
            joined.index = joined.index.set_names(names)
            return joined
        return pd.DataFrame(per_member[steps - 1], index=index, columns=columns)

    # ---------------------------------------------------------- sktime methods

    def _fit(self, y, X, fh):
        self._check_common_end(y)
        if self.pred_len is None:
            steps = np.asarray(fh.to_relative(self.cutoff).to_numpy(), dtype=np.int64)
            if (steps < 1).any():
                raise NotImplementedError(
                    f"{type(self).__name__} forecasts out of sample only; fh {steps.tolist()} "
                    "has steps at or before the cutoff."
                )
            self.pred_len_ = int(steps.max())
        else:
            self.pred_len_ = self.pred_len
        self._y_columns = y.columns
        self._n_covariates = 0 if X is None else X.shape[1]
        self._history = self._joined(y, X)
        self.forecaster_ = self._estimator(self.pred_len_).fit(self._members(self._history))
        self._fitted_until = self._history.index.get_level_values(-1).max()
        return self

    def _interval_history(self):
        """The history the intervals are given.

        Adaptive intervals walk forward over every origin of what they are
        given; the rows the forecaster was last fitted on would teach the walk
        in-sample errors, so they get only the rows added by ``update`` since
        then, after a look-back of ``seq_len`` rows.
        """
        if self.forecaster_.interval_method != "adaptive":
            return self._members(self._history)
        keep = self.forecaster_.seq_len

        def since_fit(frame):
            start = frame.index.get_level_values(-1).searchsorted(self._fitted_until, side="right")
            return frame.iloc[max(int(start) - keep, 0) :]

        if isinstance(self._history.index, pd.MultiIndex):
            parts = [since_fit(member) for _, member in self._history.groupby(level=0, sort=False)]
            return self._members(pd.concat(parts))
        return self._members(since_fit(self._history))

    def _predict(self, fh, X):
        steps, index = self._steps(fh)
        forecast = self.forecaster_.predict(self._members(self._history), horizon=int(steps.max()))
        return self._label(forecast, steps, index, self._y_columns)

    def _predict_interval(self, fh, X, coverage):
        steps, index = self._steps(fh)
        coverages = list(coverage)
        answers = self.forecaster_.predict_interval(
            self._interval_history(), horizon=int(steps.max()), coverage=coverages
        )
        columns = pd.MultiIndex.from_tuples(
            [(name, c, side) for name in self._y_columns for c in coverages for side in ("lower", "upper")]
        )

        def blocks(by_coverage):
            # (horizon, k) per column, in the order of ``columns``.
            return np.column_stack(
                [
                    by_coverage[c][side][:, series]
                    for series in range(len(self._y_columns))
                    for c in coverages
                    for side in (0, 1)
                ]
            )

        if isinstance(answers, dict) and not isinstance(next(iter(answers.values())), tuple):
            return self._label({key: blocks(value) for key, value in answers.items()}, steps, index, columns)
        return self._label(blocks(answers), steps, index, columns)

    def _predict_quantiles(self, fh, X, alpha):
        steps, index = self._steps(fh)
        levels = list(alpha)
        answers = self.forecaster_.predict_quantiles(
            self._interval_history(), horizon=int(steps.max()), alpha=levels
        )
        columns = pd.MultiIndex.from_tuples([(name, a) for name in self._y_columns for a in levels])

        def blocks(stacked):
            # stacked: (len(alpha), horizon, k) -> (horizon, k * len(alpha)), series-major.
            return np.column_stack(
                [
                    stacked[level, :, series]
                    for series in range(stacked.shape[2])
                    for level in range(len(levels))
                ]
            )

        if isinstance(answers, dict):
            return self._label({key: blocks(value) for key, value in answers.items()}, steps, index, columns)
        return self._label(blocks(answers), steps, index, columns)

    def _update(self, y, X=None, update_params=True):
        self._check_common_end(y)
        history = pd.concat([self._history, self._joined(y, X)])
        history = history[~history.index.duplicated(keep="last")].sort_index()
        self._check_common_end(history)
        if update_params:
            # CALF has no incremental training: refit from scratch on everything seen.
            self.forecaster_ = self._estimator(self.pred_len_).fit(self._members(history))
            self._fitted_until = history.index.get_level_values(-1).max()
        self._history = history
        return self

    @classmethod
    def get_test_params(cls, parameter_set="default"):
        """Parameter sets with tiny randomly initialised backbones, for sktime's estimator checks.

        The first set takes its horizon from ``fit``'s ``fh``, zero-pads
        short series and holds out half of them, so that sktime's short test
        series (10 rows per panel member) still train and calibrate
        intervals. The second has a fixed ``pred_len`` and no validation
        data: ``fh`` is optional in ``fit``, and intervals are refused.

        Parameters
        ----------
        parameter_set : str, default="default"
            Name of the set (sktime's convention); there is only one.

        Returns
        -------
        list of dict
            Constructor parameters; none of them downloads anything.

        Examples
        --------
        >>> from calf_sklearn.sktime import CALFSktimeForecaster
        >>> params = CALFSktimeForecaster.get_test_params()
        >>> [p["pretrained"] for p in params]
        [False, False]
        >>> CALFSktimeForecaster(**params[1]).get_tag("requires-fh-in-fit")
        False
        """
        tiny = {
            "llm": dict(_TINY_GPT2),
            "pretrained": False,
            "n_layers": 1,
            "n_principal_words": 8,
            "max_epochs": 1,
            "batch_size": 16,
            "random_state": 0,
        }
        return [
            {**tiny, "seq_len": 4, "padding": True, "validation_size": 0.5},
            {**tiny, "pred_len": 3, "seq_len": 3, "validation_size": 0},
        ]


def _mirror_signature():
    """CALFForecaster's parameters, every one positional or keyword, with ``pred_len=None``."""
    calf = inspect.signature(CALFForecaster.__init__).parameters
    parameters = [inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)]
    for name in _MIRRORED:
        default = None if name == "pred_len" else calf[name].default
        parameters.append(inspect.Parameter(name, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=default))
    return inspect.Signature(parameters)


CALFSktimeForecaster.__init__.__signature__ = _mirror_signature()
