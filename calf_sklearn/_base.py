"""What every forecaster of the package shares: input checks, scaling, predict and scores.

A subclass fits a model on scaled windows and implements
``_forecast_scaled(windows) -> (N, pred_len, M)``; everything a user touches
after ``fit`` (``predict``, ``evaluate``, ``score``, the containers of the
output) lives here, so the baselines behave exactly like CALF.
"""

from __future__ import annotations

import inspect
import math
import numbers
import warnings

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.preprocessing import StandardScaler
from sklearn.utils.validation import check_array, check_is_fitted, validate_data

from . import _params
from ._timeindex import check_time_index, future_index, index_spec
from .windows import WindowedSeries, temporal_split

_FLOAT32_LIMIT = 1e15


def _check_numeric_columns(frame, name="X"):
    """Refuse columns that are not numbers, naming them (pandas would say only 'could not convert')."""
    for column, values in frame.items():  # items(): one Series per column, even for repeated names
        if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_complex_dtype(values):
            continue
        if pd.api.types.is_datetime64_any_dtype(values) or isinstance(values.dtype, pd.PeriodDtype):
            raise ValueError(
                f"{name}'s column {column!r} holds dates, not a series; make it the index, "
                f"e.g. {name}.set_index({column!r})."
            )
        try:
            pd.to_numeric(values, errors="raise")
        except (TypeError, ValueError):
            bad = values[pd.to_numeric(values, errors="coerce").isna() & values.notna()]
            example = f" (e.g. {bad.iloc[0]!r} at row {bad.index[0]!r})" if len(bad) else ""
            raise ValueError(
                f"{name}'s column {column!r} is not numeric (dtype {values.dtype}){example}; "
                f"pass only numeric series, e.g. {name}.select_dtypes('number'), or convert it "
                "with pd.to_numeric."
            ) from None


def _check_finite(values, name="X", columns=None):
    """Refuse NaN and infinite values, saying how many and where the first one is."""
    finite = np.isfinite(values)
    if finite.all():
        return
    n_nan, n_inf = int(np.isnan(values).sum()), int(np.isinf(values).sum())
    where = np.argwhere(~finite)[0]
    series = where[-1] if columns is None else repr(columns[where[-1]])
    place = f"row {where[-2]}, series {series}" + (f", window {where[0]}" if values.ndim == 3 else "")
    raise ValueError(
        f"{name} contains {n_nan} NaN and {n_inf} infinite value(s) (first at {place}); the "
        "forecaster needs complete series. Fill the gaps first (e.g. DataFrame.interpolate() "
        "or .ffill()) or cut the series before them."
    )


class _WindowForecaster(BaseEstimator):
    """Base of forecasters that map ``seq_len`` look-back rows to ``pred_len`` future rows."""

    def __new__(cls, *args, **kwargs):
        # Python would refuse a misspelt keyword too, but without naming the
        # parameter that was meant; __init__ stays a plain list of parameters
        # as scikit-learn requires.
        known = [name for name in inspect.signature(cls.__init__).parameters if name != "self"]
        for key in kwargs:
            if key not in known:
                raise TypeError(
                    f"{cls.__name__} got an unexpected keyword argument {key!r}."
                    f"{_params.suggest(key, known)} Valid parameters: {sorted(known)}."
                )
        return super().__new__(cls)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = False
        tags.input_tags.allow_nan = False
        return tags

    # ------------------------------------------------------------------ input

    def set_params(self, **params):
        """Set parameters; an unknown name is refused with the closest valid one.

        Parameters
        ----------
        **params : dict
            Parameter names and values, as in the constructor.

        Returns
        -------
        self : estimator
            This estimator.

        Raises
        ------
        ValueError
            If a name is not a parameter of the estimator.

        Examples
        --------
        >>> from calf_sklearn import CALFForecaster
        >>> model = CALFForecaster().set_params(seq_len=48, max_epochs=3)
        >>> model.seq_len, model.max_epochs
        (48, 3)
        >>> model.set_params(max_epoch=3)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        ValueError: CALFForecaster has no parameter 'max_epoch'. Did you mean 'max_epochs'? ...
        """
        valid = self.get_params(deep=False)
        for key in params:
            name = key.split("__", 1)[0]
            if name not in valid:
                raise ValueError(
                    f"{type(self).__name__} has no parameter {name!r}."
                    f"{_params.suggest(name, valid)} Valid parameters: {sorted(valid)}."
                )
        return super().set_params(**params)

    def _validate_series(self, X, *, reset, labels=True):
        """2-D float array of X, plus how to mirror X in the output.

        ``labels=False``: X's index labels no forecast (scoring), so an index
        that cannot be continued is no reason to warn.
        """
        kind, index, columns, name = "array", None, None, None
        if isinstance(X, pd.Series):
            kind, name, X = "series", X.name, X.to_frame()
        if isinstance(X, pd.DataFrame):
            kind = "frame" if kind == "array" else kind
            index, columns = X.index, X.columns
            check_time_index(index, continued=labels)
            _check_numeric_columns(X)
        if getattr(X, "shape", (None,))[0] == 0 or (isinstance(X, (list, tuple)) and len(X) == 0):
            raise ValueError(
                f"X is empty (0 rows); pass at least seq_len + pred_len = "
                f"{self.seq_len + self.pred_len} rows of a series (time steps x series)."
            )
        try:
            values = validate_data(self, X, reset=reset, dtype=np.float64, ensure_all_finite=False)
        except ValueError as error:
            if reset or not ("feature names" in str(error) or "features, but" in str(error)):
                raise
            names = getattr(self, "feature_names_in_", None)
            seen = f"the columns {list(names)}" if names is not None else f"{self.n_features_in_} series"
            separator = "\n" if "\n" in str(error) else " "
            raise ValueError(
                f"{str(error).rstrip()}{separator}Pass {seen}, in the order used in fit."
            ) from None
        _check_finite(values, "X", columns)
        return values, {"kind": kind, "columns": columns, "index": index, "name": name}

    def _validate_validation(self, X_val):
        """X_val as a 2-D float array with the training data's series."""
        if isinstance(X_val, pd.Series):
            X_val = X_val.to_frame()
        if isinstance(X_val, pd.DataFrame):
            _check_numeric_columns(X_val, "X_val")
        values = check_array(X_val, dtype=np.float64, ensure_all_finite=False, input_name="X_val")
        _check_finite(values, "X_val", getattr(X_val, "columns", None))
        if values.shape[1] != self.n_features_in_:
            raise ValueError(
                f"X_val has {values.shape[1]} series but X has {self.n_features_in_}; "
                "pass the same series for validation."
            )
        named = hasattr(self, "feature_names_in_") and isinstance(X_val, pd.DataFrame)
        if named and list(X_val.columns) != list(self.feature_names_in_):
            raise ValueError("X_val's columns differ from X's; pass the same columns in the same order.")
        if len(values) < self.seq_len + self.pred_len:
            raise ValueError(
                f"X_val has {len(values)} rows; one validation window needs seq_len + pred_len = "
                f"{self.seq_len + self.pred_len} rows (its first seq_len rows are look-back)."
            )
        return values

    def _split(self, values, X_val):
        """Training rows and validation rows (``None`` for none) of a validated X."""
        n_rows = len(values)
        if X_val is None:
            validation_size = _params.check_validation_size(self.validation_size)
            train_stop, validation_start = temporal_split(
                n_rows, validation_size, self.seq_len, self.pred_len
            )
            validation = values[validation_start:] if validation_start is not None else None
            return values[:train_stop], validation
        validation = self._validate_validation(X_val)
        if n_rows < self.seq_len + self.pred_len:
            raise ValueError(
                f"X has {n_rows} rows, but one training window needs seq_len + pred_len = "
                f"{self.seq_len + self.pred_len} rows."
            )
        return values, validation

    def _windows(self, scaler, train_values, validation_values, stride=1):
        """Scaled training and validation windows (validation: every window, or ``None``)."""
        train = WindowedSeries(
            scaler.transform(train_values).astype(np.float32), self.seq_len, self.pred_len, stride=stride
        )
        validation = None
        if validation_values is not None:
            validation = WindowedSeries(
                scaler.transform(validation_values).astype(np.float32), self.seq_len, self.pred_len
            )
        return train, validation

    def _remember(self, values, meta, scaler):
        """Set what predict needs from the training data."""
        self.scaler_ = scaler
        self.last_window_ = values[-self.seq_len :].copy()
        self._output_ = {key: meta[key] for key in ("kind", "columns", "name")}
        self._index_spec_ = index_spec(meta["index"]) if meta["index"] is not None else None

    @staticmethod
    def _fit_scaler(train_values):
        with np.errstate(over="ignore", invalid="ignore"):
            scaler = StandardScaler().fit(train_values)
        if not (np.isfinite(scaler.mean_).all() and np.isfinite(scaler.scale_).all()):
            raise ValueError(
                "X's values are too large to standardise in float64 (their variance overflows); "
                "divide X by a constant first, e.g. X / 1e100."
            )
        return scaler

    # ---------------------------------------------------------------- predict

    def _forecast_scaled(self, windows):  # pragma: no cover - every subclass overrides it
        raise NotImplementedError

    def _scale(self, values):
        scaled = (values - self.scaler_.mean_) / self.scaler_.scale_
        # The networks compute in float32 and square deviations: beyond this
        # a forecast would be inf or NaN rather than an error.
        largest = float(np.abs(scaled).max(initial=0.0))
        if largest > _FLOAT32_LIMIT:
            raise ValueError(
                f"X lies up to {largest:.3g} standard deviations from the training data's mean "
                f"(on the scale fitted in fit); forecasts are limited to {_FLOAT32_LIMIT:.0e}. "
                "Check that X is in the units of the training data."
            )
        return scaled.astype(np.float32)

    def _unscale(self, values):
        return values.astype(np.float64) * self.scaler_.scale_ + self.scaler_.mean_

    def _forecast(self, windows, horizon):
        """Forecast (N, >= seq_len, M) raw windows ``horizon`` steps ahead."""
        context = self._scale(windows[:, -self.seq_len :])
        rounds = math.ceil(horizon / self.pred_len)
        if rounds > 1:
            warnings.warn(
                f"horizon={horizon} exceeds pred_len={self.pred_len}: forecasting recursively in "
                f"{rounds} rounds, feeding forecasts back as inputs (errors compound). Fit with "
                f"pred_len >= {horizon} to forecast it directly.",
                UserWarning,
                stacklevel=3,
            )
        pieces = []
        for _ in range(rounds):
            piece = self._forecast_scaled(context)
            pieces.append(piece)
            context = np.concatenate([context, piece], axis=1)[:, -self.seq_len :]
        return self._unscale(np.concatenate(pieces, axis=1)[:, :horizon])

    def _check_horizon(self, horizon):
        if horizon is None:
            return self.pred_len
        return _params.check_int("horizon", horizon, 1)

    def predict(self, X=None, horizon=None):
        """Forecast the steps that follow a series.

        Parameters
        ----------
        X : None, int, array-like of shape (n_steps, n_series) or (n_windows, seq_len, n_series)
            ``None`` forecasts after the end of the training data. A 2-D
            array, DataFrame or Series with at least ``seq_len`` rows
            forecasts after its last row (its last ``seq_len`` rows are the
            look-back). A 3-D array forecasts each window of a batch. An
            integer is taken as ``horizon`` (``predict(24)``).
        horizon : int, default=None
            Steps to forecast; ``None`` means ``pred_len``. Above
            ``pred_len`` the forecast is recursive and a warning says so.

        Returns
        -------
        ndarray of shape (horizon, n_series) or (n_windows, horizon, n_series), DataFrame or Series
            In the container of the input (of the training data when ``X`` is
            ``None``): a DataFrame keeps the columns and continues the index
            (future timestamps at the index's frequency).

        Examples
        --------
        >>> import numpy as np
        >>> from calf_sklearn import CALFForecaster
        >>> t = np.arange(300)
        >>> X = np.column_stack([np.sin(t / 8), np.cos(t / 12)])
        >>> tiny = {"n_embd": 16, "n_layer": 1, "n_head": 2, "vocab_size": 32}
        >>> model = CALFForecaster(pred_len=12, seq_len=36, llm=tiny, pretrained=False,
        ...                        n_layers=1, n_principal_words=8, max_epochs=1,
        ...                        random_state=0).fit(X)
        >>> model.predict().shape  # after the training data
        (12, 2)
        >>> np.array_equal(model.predict(X), model.predict())  # X ends where the training data ends
        True
        >>> model.predict(np.stack([X[:36], X[100:136]]), horizon=6).shape  # a batch of windows
        (2, 6, 2)
        >>> import pandas as pd
        >>> frame = pd.DataFrame(X, columns=["a", "b"],
        ...                      index=pd.date_range("2024-01-01", periods=300, freq="h"))
        >>> forecast = model.fit(frame).predict(3)
        >>> list(forecast.columns), str(forecast.index[0])
        (['a', 'b'], '2024-01-13 12:00:00')
        """
        check_is_fitted(self)
        if isinstance(X, numbers.Integral) and not isinstance(X, bool):
            if horizon is not None:
                raise TypeError("predict got an integer X and a horizon; pass the horizon once.")
            X, horizon = None, X
        horizon = self._check_horizon(horizon)
        if X is None:
            forecast = self._forecast(self.last_window_[None], horizon)[0]
            return self._wrap(forecast, self._output_, self._index_spec_)
        if getattr(X, "ndim", 2) == 3 or (isinstance(X, (list, tuple)) and np.ndim(X) == 3):
            windows = check_array(X, allow_nd=True, dtype=np.float64, ensure_all_finite=False)
            _check_finite(windows, "X")
            if windows.shape[2] != self.n_features_in_ or windows.shape[1] < self.seq_len:
                raise ValueError(
                    f"3-D X must have shape (n_windows, >= seq_len={self.seq_len}, "
                    f"n_series={self.n_features_in_}), got {windows.shape}."
                )
            return self._forecast(windows, horizon)
        values, meta = self._validate_series(X, reset=False)
        if len(values) < self.seq_len:
            raise ValueError(
                f"X has {len(values)} rows but the look-back needs seq_len={self.seq_len}; "
                f"pass at least the last {self.seq_len} rows of the series."
            )
        forecast = self._forecast(values[None], horizon)[0]
        spec = index_spec(meta["index"]) if meta["index"] is not None else None
        return self._wrap(forecast, meta, spec)

    @staticmethod
    def _wrap(forecast, meta, spec):
        """Put a (horizon, M) forecast in the container described by ``meta``."""
        if meta["kind"] == "array":
            return forecast
        index = future_index(spec, len(forecast))
        if meta["kind"] == "series":
            return pd.Series(forecast[:, 0], index=index, name=meta["name"])
        return pd.DataFrame(forecast, index=index, columns=meta["columns"])

    # ----------------------------------------------------------------- scores

    def evaluate(self, X, stride=1):
        """Errors of rolling forecasts over a series.

        Every window of ``seq_len + pred_len`` rows of ``X`` (``stride`` apart)
        is forecast from its first ``seq_len`` rows and compared with its last
        ``pred_len``, on the scale fitted in ``fit`` (as in the paper's
        protocol, so every series counts alike).

        Parameters
        ----------
        X : array-like of shape (n_steps, n_series) or DataFrame
            At least ``seq_len + pred_len`` rows.
        stride : int, default=1
            Distance between window starts.

        Returns
        -------
        dict
            ``mse``, ``mae`` and ``n_windows``.

        Examples
        --------
        >>> import numpy as np
        >>> from calf_sklearn import CALFForecaster
        >>> t = np.arange(300)
        >>> X = np.column_stack([np.sin(t / 8), np.cos(t / 12)])
        >>> tiny = {"n_embd": 16, "n_layer": 1, "n_head": 2, "vocab_size": 32}
        >>> model = CALFForecaster(pred_len=12, seq_len=36, llm=tiny, pretrained=False,
        ...                        n_layers=1, n_principal_words=8, max_epochs=1,
        ...                        random_state=0).fit(X[:240])
        >>> scores = model.evaluate(X[180:], stride=12)  # 120 rows: 73 windows, every 12th
        >>> scores["n_windows"], bool(scores["mae"] ** 2 <= scores["mse"])
        (7, True)
        """
        check_is_fitted(self)
        stride = _params.check_int("stride", stride, 1)
        values, _ = self._validate_series(X, reset=False, labels=False)
        need = self.seq_len + self.pred_len
        if len(values) < need:
            raise ValueError(
                f"X has {len(values)} rows; scoring needs at least seq_len + pred_len = "
                f"{self.seq_len} + {self.pred_len} = {need} rows."
            )
        windows = WindowedSeries(self._scale(values), self.seq_len, self.pred_len, stride=stride)
        squared = absolute = 0.0
        chunk = max(self.batch_size, 256)
        for start in range(0, len(windows), chunk):
            x, y = windows.batch(np.arange(start, min(start + chunk, len(windows))))
            error = self._forecast_scaled(x).astype(np.float64) - y
            squared += float(np.square(error).sum())
            absolute += float(np.abs(error).sum())
        count = len(windows) * self.pred_len * values.shape[1]
        return {"mse": squared / count, "mae": absolute / count, "n_windows": len(windows)}

    def score(self, X, y=None):
        """Negative mean squared error of rolling forecasts over ``X``.

        Greater is better, so ``GridSearchCV`` with ``TimeSeriesSplit`` can
        use it as its default scoring. See :meth:`evaluate`.

        Parameters
        ----------
        X : array-like of shape (n_steps, n_series) or DataFrame
            At least ``seq_len + pred_len`` rows.
        y : None
            Ignored.

        Returns
        -------
        float
            ``-mse`` on the fitted scale.

        Examples
        --------
        >>> import numpy as np
        >>> from calf_sklearn import CALFForecaster
        >>> t = np.arange(300)
        >>> X = np.column_stack([np.sin(t / 8), np.cos(t / 12)])
        >>> tiny = {"n_embd": 16, "n_layer": 1, "n_head": 2, "vocab_size": 32}
        >>> model = CALFForecaster(pred_len=12, seq_len=36, llm=tiny, pretrained=False,
        ...                        n_layers=1, n_principal_words=8, max_epochs=1,
        ...                        random_state=0).fit(X[:240])
        >>> model.score(X[180:]) == -model.evaluate(X[180:])["mse"]
        True
        """
        return -self.evaluate(X)["mse"]
