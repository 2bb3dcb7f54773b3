"""Forecasting every forecaster shares: from what ``predict`` is given to answers in its container.

``predict`` takes nothing (after the training data), a series, a 3-D batch
of windows or a panel; the request says which windows to forecast, how each
is scaled and how to answer; the answer comes back in the container given
(an array, a DataFrame continuing the index, a panel of them).
"""

from __future__ import annotations

import math
import numbers
import warnings
from typing import NamedTuple

import numpy as np
import pandas as pd
from sklearn.utils.validation import check_array, check_is_fitted

from .._series import panel
from .._series.time_index import future_index, index_spec
from .._utils import checks
from .inputs import Input, check_finite


class Request(NamedTuple):
    """What predict (and its interval siblings) forecast, and how to answer."""

    windows: np.ndarray  # (N, >= seq_len, M) raw look-backs; NaN before a padded series' start
    mean: np.ndarray  # (N, M) scaling of each window
    scale: np.ndarray
    horizon: int
    metas: list | None  # per member, how to mirror it; None for a 3-D batch (arrays out)
    specs: list | None  # per member, its index spec
    layout: panel.PanelLayout | None  # None: one series (or a batch)
    history: list | None = None  # per member, every raw row given (adaptive intervals walk over them)


class PredictMixin:
    """``predict`` and the steps it shares with the intervals: request, forecast, answer."""

    def _forecast_scaled(self, windows):  # pragma: no cover - every subclass overrides it
        raise NotImplementedError

    def _forecast(self, windows, horizon, mean=None, scale=None):
        """Forecast (N, >= seq_len, M) raw windows ``horizon`` steps ahead.

        ``mean``/``scale`` of shape (N, M) scale each window (default: the
        fitted scaling). NaN rows, before a padded member's start, become 0
        on the scaled axis, as the M4 protocol pads.
        """
        if mean is not None:
            mean, scale = mean[:, None], scale[:, None]
        context = self._scale(windows[:, -self.seq_len :], mean, scale)
        if self._masks_missing():
            self._check_look_backs(context)
        else:
            context = np.nan_to_num(context, nan=0.0)
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
        covariates = self._target_mask()
        for _ in range(rounds):
            piece = self._forecast_scaled(context)
            pieces.append(piece)
            if covariates is not None:
                # A covariate's forecast is never trained: the next round sees its last value held.
                piece = piece.copy()
                piece[..., ~covariates] = context[:, -1:, ~covariates]
            context = np.concatenate([context, piece], axis=1)[:, -self.seq_len :]
        return self._unscale(np.concatenate(pieces, axis=1)[:, :horizon], mean, scale)

    def _check_look_backs(self, context):
        """Refuse a look-back in which a series has no observed value: its forecast would be a guess."""
        empty = np.argwhere(np.isnan(context).all(axis=1))
        if len(empty):
            window, series = empty[0]
            names = getattr(self, "feature_names_in_", None)
            label = repr(names[series]) if names is not None else str(series)
            raise ValueError(
                f"The look-back of window {window} has no observed value of series {label} in its "
                f"last seq_len={self.seq_len} rows; forecast after a point where every series has "
                "been observed at least once in the look-back."
            )

    def _check_horizon(self, horizon):
        if horizon is None:
            return self.pred_len
        return checks.check_int("horizon", horizon, 1)

    def predict(self, X=None, horizon=None):
        """Forecast the steps that follow a series, or every member of a panel.

        Parameters
        ----------
        X : None, int, array-like of shape (n_steps, n_series) or (n_windows, seq_len, n_series), or panel
            ``None`` forecasts after the end of the training data (of every
            member, for a forecaster fitted on a panel). A 2-D array,
            DataFrame or Series with at least ``seq_len`` rows forecasts after
            its last row (its last ``seq_len`` rows are the look-back). A 3-D
            array forecasts each window of a batch. A panel (a list, tuple or
            dict of series, or a DataFrame with an ``(id, time)`` MultiIndex)
            forecasts after the end of each member. An integer is taken as
            ``horizon`` (``predict(24)``).
        horizon : int, default=None
            Steps to forecast; ``None`` means ``pred_len``. Above
            ``pred_len`` the forecast is recursive and a warning says so.

        Returns
        -------
        ndarray of shape (horizon, n_series) or (n_windows, horizon, n_series), DataFrame, Series or panel
            In the container of the input (of the training data when ``X`` is
            ``None``): a DataFrame keeps the columns and continues the index
            (future timestamps at the index's frequency); a panel comes back
            as the same kind of container, each member's forecast continuing
            its own index.

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
        >>> forecasts = model.fit({"north": X[:200], "south": X[50:]}).predict()  # a panel
        >>> sorted(forecasts), forecasts["south"].shape
        (['north', 'south'], (12, 2))
        """
        check_is_fitted(self)
        request = self._request(X, horizon)
        forecasts = self._forecast(request.windows, request.horizon, request.mean, request.scale)
        return self._answer(request, [forecasts[..., self._targets()]], self._wrap)

    def _request(self, X, horizon, *, caller="predict"):
        """What to forecast: raw look-backs, their scaling, and how to answer (see :class:`_Request`)."""
        if isinstance(X, numbers.Integral) and not isinstance(X, bool):
            if horizon is not None:
                raise TypeError(f"{caller} got an integer X and a horizon; pass the horizon once.")
            X, horizon = None, X
        horizon = self._check_horizon(horizon)
        if X is None:
            mean, scale = self._scaling()
            if not self._is_panel_fit():
                return Request(
                    self.last_window_[None], mean, scale, horizon, [self._output_], [self._index_spec_], None
                )
            layout, metas = self._output_["layout"], self._output_["members"]
            return Request(self.last_window_, mean, scale, horizon, metas, self._index_spec_, layout)
        if getattr(X, "ndim", 2) == 3 or (
            isinstance(X, (list, tuple)) and not panel.is_panel(X) and np.ndim(X) == 3
        ):
            windows = check_array(X, allow_nd=True, dtype=np.float64, ensure_all_finite=False)
            check_finite(windows, "X", missing=getattr(self, "missing", None))
            if windows.shape[2] != self.n_features_in_ or windows.shape[1] < self.seq_len:
                raise ValueError(
                    f"3-D X must have shape (n_windows, >= seq_len={self.seq_len}, "
                    f"n_series={self.n_features_in_}), got {windows.shape}."
                )
            mean, scale = self._scaling(Input(list(windows), [None] * len(windows), None))
            return Request(windows, mean, scale, horizon, None, None, None)
        data = self._validate_input(X, reset=False)
        mean, scale = self._scaling(data)
        specs = [index_spec(meta["index"]) if meta["index"] is not None else None for meta in data.metas]
        windows = self._last_windows(data.values, data.layout)
        metas = [self._target_meta(meta) for meta in data.metas]
        return Request(windows, mean, scale, horizon, metas, specs, data.layout, data.values)

    @staticmethod
    def _answer(request, arrays, wrap):
        """Put per-window outputs in the container the request came in.

        ``arrays`` are (N, horizon, M) arrays (one per output: a forecast, or
        bounds); ``wrap(member_arrays, meta, spec)`` holds one member's.
        """
        if request.metas is None:  # a 3-D batch of windows: arrays out
            return wrap([a for a in arrays], {"kind": "array"}, None)
        outputs = []
        for position, (meta, spec) in enumerate(zip(request.metas, request.specs)):
            if request.layout is not None and request.layout.kind == "multiindex":
                meta = {**meta, "kind": "frame"}  # members of a panel frame come back as frames
            outputs.append(wrap([a[position] for a in arrays], meta, spec))
        if request.layout is None:
            return outputs[0]
        return panel.join_panel(request.layout, outputs)

    @staticmethod
    def _wrap(arrays, meta, spec):
        """Put a (horizon, M) forecast (``arrays[0]``) in the container described by ``meta``."""
        (forecast,) = arrays
        if meta["kind"] == "array":
            return forecast
        index = future_index(spec, forecast.shape[-2])
        if meta["kind"] == "series":
            return pd.Series(forecast[:, 0], index=index, name=meta["name"])
        return pd.DataFrame(forecast, index=index, columns=meta["columns"])
