"""What every forecaster of the package shares: input checks, scaling, predict and scores.

A subclass fits a model on scaled windows and implements
``_forecast_scaled(windows) -> (N, pred_len, M)``; everything a user touches
after ``fit`` (``predict``, ``evaluate``, ``score``, the containers of the
output) lives here, so the baselines behave exactly like CALF.
"""

from __future__ import annotations

import contextlib
import inspect
import math
import numbers
import warnings
from typing import NamedTuple

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.preprocessing import StandardScaler
from sklearn.utils.validation import check_array, check_is_fitted, validate_data

from .._series import panel
from .._series.conformal import ConformalCalibration, check_coverage, look_back_spread
from .._series.time_index import check_time_index, future_index, index_spec
from .._series.windows import PanelWindows, RecentWindows, temporal_split
from .._utils import checks as _params

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


class _Input(NamedTuple):
    """Validated input: one series (``layout`` None) or a panel's members."""

    values: list  # 2-D float64 arrays, one per member
    metas: list  # how to mirror each member in the output
    layout: panel.PanelLayout | None


class _Request(NamedTuple):
    """What predict (and its interval siblings) forecast, and how to answer."""

    windows: np.ndarray  # (N, >= seq_len, M) raw look-backs; NaN before a padded series' start
    mean: np.ndarray  # (N, M) scaling of each window
    scale: np.ndarray
    horizon: int
    metas: list | None  # per member, how to mirror it; None for a 3-D batch (arrays out)
    specs: list | None  # per member, its index spec
    layout: panel.PanelLayout | None  # None: one series (or a batch)


class _Prepared(NamedTuple):
    """What :meth:`_WindowForecaster._prepare_fit` hands to an estimator's fit."""

    train: object  # window source of the training windows
    validation: object  # window source of the validation windows, or None
    remember: object  # callable: store what predict needs, once training succeeded
    members: list  # the validated members' values
    validation_parts: list | None  # each member's validation rows


def _member_statistics(members, chunk=4096):
    """Mean and standard deviation of every member's series, as StandardScaler computes them.

    A series that does not vary is scaled by 1, StandardScaler's rule. Members
    are taken ``chunk`` at a time, each chunk joined end to end in one array
    operation: 100,000 members cost 25 operations rather than 100,000 scaler
    fits, and the temporaries stay the size of a chunk, not of the panel.
    """
    means, scales = [], []
    for start in range(0, len(members), chunk):
        part = members[start : start + chunk]
        lengths = np.array([len(member) for member in part])
        offsets = np.r_[0, np.cumsum(lengths)[:-1]]
        joined = np.concatenate(part)
        with np.errstate(over="ignore", invalid="ignore"):
            mean = np.add.reduceat(joined, offsets, axis=0) / lengths[:, None]
            joined -= np.repeat(mean, lengths, axis=0)  # the joined copy is ours: deviations in place
            variance = np.add.reduceat(joined * joined, offsets, axis=0) / lengths[:, None]
        if not (np.isfinite(mean).all() and np.isfinite(variance).all()):
            raise ValueError(
                "X's values are too large to standardise in float64 (their variance overflows); "
                "divide X by a constant first, e.g. X / 1e100."
            )
        scale = np.sqrt(variance)
        scale[scale < 10 * np.finfo(np.float64).eps * np.maximum(np.abs(mean), 1.0)] = 1.0
        means.append(mean)
        scales.append(scale)
    return np.concatenate(means), np.concatenate(scales)


def _identity_scaler(n_series, n_samples):
    """A fitted StandardScaler that changes nothing (``scaling=None``)."""
    scaler = StandardScaler(with_mean=False, with_std=False)
    scaler.mean_, scaler.scale_, scaler.var_ = np.zeros(n_series), np.ones(n_series), None
    scaler.n_features_in_, scaler.n_samples_seen_ = n_series, n_samples
    return scaler


def _series_names(meta):
    """The names of a frame's or Series' series, as the first column level of interval answers."""
    if meta["kind"] == "series":
        return [meta["name"] if meta["name"] is not None else 0]
    return list(meta["columns"])


def _levelled_frame(blocks, columns, spec):
    """A DataFrame of per-step columns under a column MultiIndex, indexed by the forecast's steps."""
    index = future_index(spec, len(blocks[0]))
    return pd.DataFrame(np.column_stack(blocks), index=index, columns=pd.MultiIndex.from_tuples(columns))


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

    def _validate_series(self, X, *, reset, labels=True, name="X"):
        """2-D float array of X, plus how to mirror X in the output.

        ``labels=False``: X's index labels no forecast (scoring), so an index
        that cannot be continued is no reason to warn. ``name`` names X in
        messages (a panel's member: "X's member 'a'").
        """
        kind, index, columns, series_name = "array", None, None, None
        if isinstance(X, pd.Series):
            kind, series_name, X = "series", X.name, X.to_frame()
        if isinstance(X, pd.DataFrame):
            kind = "frame" if kind == "array" else kind
            index, columns = X.index, X.columns
            check_time_index(index, name=name, continued=labels)
            _check_numeric_columns(X, name)
        if getattr(X, "shape", (None,))[0] == 0 or (isinstance(X, (list, tuple)) and len(X) == 0):
            raise ValueError(
                f"{name} is empty (0 rows); pass at least seq_len + pred_len = "
                f"{self.seq_len + self.pred_len} rows of a series (time steps x series)."
            )
        try:
            values = validate_data(self, X, reset=reset, dtype=np.float64, ensure_all_finite=False)
        except ValueError as error:
            prefix = "" if name == "X" else f"{name}: "
            if reset or not ("feature names" in str(error) or "features, but" in str(error)):
                if prefix:
                    raise ValueError(f"{prefix}{error}") from None
                raise
            names = getattr(self, "feature_names_in_", None)
            seen = f"the columns {list(names)}" if names is not None else f"{self.n_features_in_} series"
            separator = "\n" if "\n" in str(error) else " "
            raise ValueError(
                f"{prefix}{str(error).rstrip()}{separator}Pass {seen}, in the order used in fit."
            ) from None
        _check_finite(values, name, columns)
        return values, {"kind": kind, "columns": columns, "index": index, "name": series_name}

    def _validate_input(self, X, *, reset, labels=True, name="X"):
        """One series or a panel, validated member by member (see :mod:`calf_sklearn.panel`)."""
        if not panel.is_panel(X):
            values, meta = self._validate_series(X, reset=reset, labels=labels, name=name)
            return _Input([values], [meta], None)
        layout, members = panel.split_panel(X, name)
        values, metas = [], []
        for position, member in enumerate(members):
            if isinstance(member, np.ndarray) and member.ndim == 1:
                member = member[:, None]  # a panel member may be one series given flat
            member_values, meta = self._validate_series(
                member,
                reset=reset and position == 0,
                labels=labels,
                name=f"{name}'s {layout.describe(position)}",
            )
            values.append(member_values)
            metas.append(meta)
        return _Input(values, metas, layout)

    def _validate_validation(self, X_val, name="X_val"):
        """X_val as a 2-D float array with the training data's series."""
        if isinstance(X_val, pd.Series):
            X_val = X_val.to_frame()
        if isinstance(X_val, np.ndarray) and X_val.ndim == 1 and name != "X_val":
            X_val = X_val[:, None]
        if isinstance(X_val, pd.DataFrame):
            _check_numeric_columns(X_val, name)
        values = check_array(X_val, dtype=np.float64, ensure_all_finite=False, input_name=name)
        _check_finite(values, name, getattr(X_val, "columns", None))
        if values.shape[1] != self.n_features_in_:
            raise ValueError(
                f"{name} has {values.shape[1]} series but X has {self.n_features_in_}; "
                "pass the same series for validation."
            )
        named = hasattr(self, "feature_names_in_") and isinstance(X_val, pd.DataFrame)
        if named and list(X_val.columns) != list(self.feature_names_in_):
            raise ValueError(f"{name}'s columns differ from X's; pass the same columns in the same order.")
        need = self.pred_len + 1 if self._pads() else self.seq_len + self.pred_len
        if len(values) < need:
            raise ValueError(
                f"{name} has {len(values)} rows; one validation window needs seq_len + pred_len = "
                f"{self.seq_len + self.pred_len} rows (its first seq_len rows are look-back)."
            )
        return values

    @contextlib.contextmanager
    def _unchanged_on_failure(self):
        """Restore every attribute if the block raises: a failed fit leaves a fitted model as it was."""
        saved = dict(self.__dict__)
        try:
            yield
        except BaseException:
            self.__dict__.clear()
            self.__dict__.update(saved)
            raise

    def _pads(self):
        """Whether windows that reach before a series' start are zero-padded (``padding=True``)."""
        return bool(getattr(self, "padding", False))

    def _split(self, values, X_val, name="X"):
        """Training rows and validation rows (``None`` for none) of a validated X."""
        n_rows, pad = len(values), self._pads()
        if X_val is None:
            validation_size = _params.check_validation_size(self.validation_size)
            train_stop, validation_start = temporal_split(
                n_rows, validation_size, self.seq_len, self.pred_len, pad=pad
            )
            validation = values[validation_start:] if validation_start is not None else None
            return values[:train_stop], validation
        validation = self._validate_validation(X_val, "X_val" if name == "X" else f"X_val{name[1:]}")
        need = self.pred_len + 1 if pad else self.seq_len + self.pred_len
        if n_rows < need:
            raise ValueError(
                f"{name} has {n_rows} rows, but one training window needs seq_len + pred_len = "
                f"{self.seq_len + self.pred_len} rows."
                + (" Pass padding=True to zero-pad short members at the front." if name != "X" else "")
            )
        return values, validation

    def _split_input(self, data, X_val):
        """Each member's training rows and validation rows (a list, or ``None`` for none)."""
        if data.layout is None:
            train, validation = self._split(data.values[0], X_val)
            return [train], None if validation is None else [validation]
        validation_members = [None] * len(data.values)
        if X_val is not None:
            if not panel.is_panel(X_val):
                raise TypeError(
                    "X is a panel, so X_val must be a panel of the same members (the same container "
                    f"and ids), got {type(X_val).__name__}."
                )
            layout, validation_members = panel.split_panel(X_val, "X_val")
            if layout.ids != data.layout.ids:
                raise ValueError(
                    f"X_val's members {list(layout.ids)[:5]} differ from X's {list(data.layout.ids)[:5]}; "
                    "pass one validation series for every member of X, with the same ids, in the same order."
                )
        train, validation = [], []
        for position, (values, member_val) in enumerate(zip(data.values, validation_members)):
            where = f"X's {data.layout.describe(position)}"
            try:
                member_train, member_validation = self._split(values, member_val, name=where)
            except ValueError as error:
                message = str(error)
                if not message.startswith(("X's member", "X_val's member")):
                    message = f"{where}: {message}"
                if not self._pads() and "seq_len + pred_len" in message and "padding" not in message:
                    message += " Or pass padding=True to zero-pad short members at the front."
                if "no validation window fits" in message:
                    message += (
                        " In a panel, an integer validation_size holds out that many rows of every "
                        f"member (e.g. validation_size={self.pred_len}, as the M4 protocol does)."
                    )
                raise ValueError(message) from None
            train.append(member_train)
            validation.append(member_validation)
        return train, None if validation[0] is None else validation

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

    def _standardises(self):
        """Whether the network sees standardised values (``scaling="standard"``) or raw ones."""
        return getattr(self, "scaling", "standard") == "standard"

    def _fit_scaling(self, train, single):
        """(mean, scale), each of shape (n_members, n_series), fitted on the training rows.

        For one series, also the ``StandardScaler`` that ``scaler_`` holds.
        """
        n_series = train[0].shape[1]
        if not self._standardises():
            scaler = _identity_scaler(n_series, len(train[0])) if single else None
            return np.zeros((len(train), n_series)), np.ones((len(train), n_series)), scaler
        if single:
            scaler = self._fit_scaler(train[0])
            return scaler.mean_[None], scaler.scale_[None], scaler
        mean, scale = _member_statistics(train)
        return mean, scale, None

    def _prepare_fit(self, X, X_val, stride=1):
        """Validate X (and X_val), split, scale and window it: what every estimator's fit does first.

        Returns the training and validation window sources (validation:
        ``None`` without held-out rows), a callable that stores what predict
        needs (the estimator calls it only once training succeeded, so a
        failed fit leaves the estimator as it was) and the raw members and
        validation parts (what identifies the data of a fit).
        """
        data = self._validate_input(X, reset=True)
        train, validation = self._split_input(data, X_val)
        mean, scale, scaler = self._fit_scaling(train, single=data.layout is None)

        def scaled(parts):
            return [((part - m) / s).astype(np.float32) for part, m, s in zip(parts, mean, scale)]

        pad = self._pads()
        if getattr(self, "window_sampling", "sliding") == "recent":
            train_windows = RecentWindows(scaled(train), self.seq_len, self.pred_len, self.history_size)
        else:
            train_windows = PanelWindows(scaled(train), self.seq_len, self.pred_len, stride=stride, pad=pad)
        validation_windows = scaled_validation = None
        if validation is not None:
            scaled_validation = scaled(validation)
            validation_windows = PanelWindows(scaled_validation, self.seq_len, self.pred_len, pad=pad)

        def remember():
            self._remember(data, mean, scale, scaler)
            self._calibrate(scaled_validation, mean, scale)

        return _Prepared(train_windows, validation_windows, remember, data.values, validation)

    def _remember(self, data, mean, scale, scaler):
        """Set what predict needs from the (validated) training data."""
        if data.layout is None:
            values, meta = data.values[0], data.metas[0]
            self.scaler_ = scaler
            self.last_window_ = self._last_windows([values])[0]
            self._output_ = {key: meta[key] for key in ("kind", "columns", "name")}
            self._index_spec_ = index_spec(meta["index"]) if meta["index"] is not None else None
            return
        self.member_ids_ = list(data.layout.ids)
        self.member_mean_, self.member_scale_ = mean, scale
        self.last_window_ = self._last_windows(data.values, data.layout)
        self._output_ = {
            "layout": data.layout,
            "members": [{key: meta[key] for key in ("kind", "columns", "name")} for meta in data.metas],
        }
        self._index_spec_ = [
            index_spec(meta["index"]) if meta["index"] is not None else None for meta in data.metas
        ]

    def _last_windows(self, members, layout=None):
        """(n_members, seq_len, M) look-backs; NaN marks rows before a short member's start."""
        windows = np.full((len(members), self.seq_len, members[0].shape[1]), np.nan)
        for position, values in enumerate(members):
            rows = values[-self.seq_len :]
            if len(rows) < self.seq_len and not self._pads():
                where = "X" if layout is None else f"X's {layout.describe(position)}"
                raise ValueError(
                    f"{where} has {len(values)} rows but the look-back needs seq_len={self.seq_len}; "
                    f"pass at least the last {self.seq_len} rows of the series"
                    + (", or fit with padding=True." if hasattr(self, "padding") else ".")
                )
            windows[position, self.seq_len - len(rows) :] = rows
        return windows

    def _is_panel_fit(self):
        return hasattr(self, "member_ids_")

    def _scaling(self, data=None):
        """(mean, scale) per member of ``data`` (of the training data when ``None``).

        A forecaster fitted on one series scales everything as it scaled that
        series. One fitted on a panel scales a member of a known id as it
        scaled that member in fit, and any other series by its own rows.
        """
        if not self._is_panel_fit():
            mean, scale = self.scaler_.mean_, self.scaler_.scale_
            n_members = 1 if data is None else len(data.values)
            return np.repeat(mean[None], n_members, axis=0), np.repeat(scale[None], n_members, axis=0)
        if data is None:
            return self.member_mean_, self.member_scale_
        known = {}
        if data.layout is not None:
            positions = {member_id: i for i, member_id in enumerate(self.member_ids_)}
            known = {i: positions[m] for i, m in enumerate(data.layout.ids) if m in positions}
        unknown = [i for i in range(len(data.values)) if i not in known]
        mean = np.empty((len(data.values), self.n_features_in_))
        scale = np.empty_like(mean)
        for i, j in known.items():
            mean[i], scale[i] = self.member_mean_[j], self.member_scale_[j]
        if unknown:
            if self._standardises():
                own_mean, own_scale = _member_statistics([data.values[i] for i in unknown])
            else:
                own_mean = np.zeros((len(unknown), self.n_features_in_))
                own_scale = np.ones_like(own_mean)
            mean[unknown], scale[unknown] = own_mean, own_scale
        return mean, scale

    # ---------------------------------------------------------------- predict

    def _forecast_scaled(self, windows):  # pragma: no cover - every subclass overrides it
        raise NotImplementedError

    def _window_errors(self, windows, mean, scale):
        """Forecast minus truth of every window of ``windows``, in chunks, with the look-backs.

        ``mean``/``scale`` (n_members, M): the scaling of the members the
        windows belong to (``windows.member``).
        """
        chunk = max(getattr(self, "batch_size", 256), 256)
        for start in range(0, len(windows), chunk):
            rows = np.arange(start, min(start + chunk, len(windows)))
            x, y = windows.batch(rows)
            members = windows.member[rows]
            yield self._forecast_for_scoring(x, mean[members], scale[members]) - y, x

    def _calibrate(self, members, mean, scale):
        """Conformal scores of every window of the validation members (scaled); ``None`` without any.

        Members without validation rows (empty) take no part.
        """
        self.calibration_ = None
        if members is None:
            return
        kept = [position for position, member in enumerate(members) if len(member)]
        if not kept:
            return
        windows = PanelWindows(
            [members[p] for p in kept], self.seq_len, self.pred_len, pad=self._pads(), fill=np.nan
        )
        self._calibrate_windows(windows, mean[kept], scale[kept])

    def _calibrate_windows(self, windows, mean, scale):
        """Conformal scores of the windows of a window source whose members ``mean``/``scale`` scale."""
        self.calibration_ = None
        if len(windows) == 0:
            return
        errors, spreads = [], []
        for error, x in self._window_errors(windows, mean, scale):
            errors.append(error)
            spreads.append(look_back_spread(x))
        self.calibration_ = ConformalCalibration(
            np.concatenate(errors), self.interval_method, np.concatenate(spreads)
        )

    def _forecast_for_scoring(self, windows, mean, scale):
        """Scaled forecasts of scaled windows (NaN: padding); ``mean``/``scale`` (N, M) are their scaling."""
        return self._forecast_scaled(np.nan_to_num(windows, nan=0.0)).astype(np.float64)

    def _scale(self, values, mean=None, scale=None):
        """Values on the fitted scale (per member: ``mean``/``scale`` broadcast against ``values``)."""
        if mean is None:
            mean, scale = self.scaler_.mean_, self.scaler_.scale_
        scaled = (values - mean) / scale
        # The networks compute in float32 and square deviations: beyond this
        # a forecast would be inf or NaN rather than an error.
        largest = float(np.nanmax(np.abs(scaled), initial=0.0))
        if largest > _FLOAT32_LIMIT:
            raise ValueError(
                f"X lies up to {largest:.3g} standard deviations from the training data's mean "
                f"(on the scale fitted in fit); forecasts are limited to {_FLOAT32_LIMIT:.0e}. "
                "Check that X is in the units of the training data."
            )
        return scaled.astype(np.float32)

    def _unscale(self, values, mean=None, scale=None):
        if mean is None:
            mean, scale = self.scaler_.mean_, self.scaler_.scale_
        return values.astype(np.float64) * scale + mean

    def _forecast(self, windows, horizon, mean=None, scale=None):
        """Forecast (N, >= seq_len, M) raw windows ``horizon`` steps ahead.

        ``mean``/``scale`` of shape (N, M) scale each window (default: the
        fitted scaling). NaN rows, before a padded member's start, become 0
        on the scaled axis, as the M4 protocol pads.
        """
        if mean is not None:
            mean, scale = mean[:, None], scale[:, None]
        context = np.nan_to_num(self._scale(windows[:, -self.seq_len :], mean, scale), nan=0.0)
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
        return self._unscale(np.concatenate(pieces, axis=1)[:, :horizon], mean, scale)

    def _check_horizon(self, horizon):
        if horizon is None:
            return self.pred_len
        return _params.check_int("horizon", horizon, 1)

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
        return self._answer(request, [forecasts], self._wrap)

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
                return _Request(
                    self.last_window_[None], mean, scale, horizon, [self._output_], [self._index_spec_], None
                )
            layout, metas = self._output_["layout"], self._output_["members"]
            return _Request(self.last_window_, mean, scale, horizon, metas, self._index_spec_, layout)
        if getattr(X, "ndim", 2) == 3 or (
            isinstance(X, (list, tuple)) and not panel.is_panel(X) and np.ndim(X) == 3
        ):
            windows = check_array(X, allow_nd=True, dtype=np.float64, ensure_all_finite=False)
            _check_finite(windows, "X")
            if windows.shape[2] != self.n_features_in_ or windows.shape[1] < self.seq_len:
                raise ValueError(
                    f"3-D X must have shape (n_windows, >= seq_len={self.seq_len}, "
                    f"n_series={self.n_features_in_}), got {windows.shape}."
                )
            mean, scale = self._scaling(_Input(list(windows), [None] * len(windows), None))
            return _Request(windows, mean, scale, horizon, None, None, None)
        data = self._validate_input(X, reset=False)
        mean, scale = self._scaling(data)
        specs = [index_spec(meta["index"]) if meta["index"] is not None else None for meta in data.metas]
        windows = self._last_windows(data.values, data.layout)
        return _Request(windows, mean, scale, horizon, data.metas, specs, data.layout)

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

    # -------------------------------------------------------------- intervals

    def _interval_bounds(self, X, horizon, coverages, caller):
        """Point forecasts and, per coverage, the lower and upper bounds, with the request."""
        check_is_fitted(self)
        calibration = getattr(self, "calibration_", None)
        if calibration is None:
            raise ValueError(
                f"{type(self).__name__} has no calibration for intervals: it was fitted without "
                "validation windows (validation_size=0 and no X_val, or series too short to hold "
                "one out). Fit with validation_size > 0 (e.g. 0.2, or pred_len rows of every member "
                "of a panel) or pass X_val to fit; its windows calibrate the intervals."
            )
        request = self._request(X, horizon, caller=caller)
        if request.horizon > self.pred_len:
            raise ValueError(
                f"{caller}: horizon={request.horizon} exceeds pred_len={self.pred_len}. Intervals are "
                f"calibrated for the {self.pred_len} steps the model forecasts directly; a recursive "
                "forecast's errors compound in ways no calibration window measured. Fit with "
                f"pred_len >= {request.horizon} for intervals that far ahead."
            )
        point = self._forecast(request.windows, request.horizon, request.mean, request.scale)
        spread = None
        if calibration.method == "scaled":
            # Naive2(seq_len=None) looks back over whole histories, and so did its calibration.
            rows = request.windows if self.seq_len is None else request.windows[:, -self.seq_len :]
            spread = look_back_spread(self._scale(rows, request.mean[:, None], request.scale[:, None]))
        bounds = []
        for coverage in coverages:
            half = np.asarray(calibration.half_width(coverage, spread))[..., : request.horizon, :]
            half = half * request.scale[:, None, :]  # back to each series' units
            bounds.append((point - half, point + half))
        return request, point, bounds

    @staticmethod
    def _levels(values, name, check):
        """One float or a sequence of them, as a list, and whether a single float was given."""
        if isinstance(values, (str, bytes)):
            raise TypeError(f"{name} must be a float or a sequence of floats, got the string {values!r}.")
        single = isinstance(values, numbers.Real)
        levels = [values] if single else list(values)
        if not levels:
            raise ValueError(f"{name} is empty; pass a float or a sequence of floats.")
        return [check(level) for level in levels], single

    def predict_interval(self, X=None, horizon=None, coverage=0.9):
        """Prediction intervals: conformal, calibrated on the validation windows of ``fit``.

        At the end of ``fit`` the model forecast every validation window (the
        held-out tail of every series, or ``X_val``) and kept its absolute
        errors per horizon step and series (``interval_method="scaled"``:
        divided by each window's look-back spread). An interval of coverage
        ``c`` is the forecast plus or minus the finite-sample conformal
        quantile of those errors: the ``ceil((n + 1) c)``-th smallest of
        ``n``. Future windows like the calibration windows fall inside with
        probability at least ``c``.

        Parameters
        ----------
        X : None, int, array-like, DataFrame, Series, 3-D array or panel, default=None
            What to forecast after, as in :meth:`predict`.
        horizon : int, default=None
            Steps; ``None`` means ``pred_len``, which is the most intervals
            are calibrated for.
        coverage : float or sequence of float, default=0.9
            Nominal coverage of each interval, in (0, 1).

        Returns
        -------
        tuple, dict, DataFrame or panel
            Arrays in, one float ``coverage``: ``(lower, upper)``, each shaped
            like :meth:`predict`'s output; several coverages: a dict
            ``{coverage: (lower, upper)}``. DataFrame or Series in: a
            DataFrame with the forecast's index and three column levels
            ``(series, coverage, "lower"/"upper")`` (sktime's layout). A
            panel: the same container, one such answer per member.

        Raises
        ------
        ValueError
            If the forecaster has no calibration (fitted without validation
            data), ``coverage`` is outside (0, 1) or above what the
            calibration windows can support, or ``horizon`` exceeds
            ``pred_len``.

        Examples
        --------
        >>> import numpy as np
        >>> from calf_sklearn.baselines import NaiveForecaster
        >>> X = np.cumsum(np.random.default_rng(0).normal(size=(300, 2)), axis=0)
        >>> model = NaiveForecaster(pred_len=5).fit(X)
        >>> lower, upper = model.predict_interval(coverage=0.8)
        >>> lower.shape, bool((lower <= model.predict()).all() and (model.predict() <= upper).all())
        ((5, 2), True)
        >>> wide = model.predict_interval(coverage=[0.5, 0.95])  # several: a dict
        >>> bool((wide[0.95][1] >= wide[0.5][1]).all())
        True
        """
        coverages, single = self._levels(coverage, "coverage", check_coverage)
        request, _, bounds = self._interval_bounds(X, horizon, coverages, "predict_interval")

        def wrap(arrays, meta, spec):
            pairs = list(zip(arrays[0::2], arrays[1::2]))
            if meta["kind"] == "array":
                return pairs[0] if single else dict(zip(coverages, pairs))
            columns, blocks = [], []
            for series, name in enumerate(_series_names(meta)):
                for level, (lower, upper) in zip(coverages, pairs):
                    columns += [(name, level, "lower"), (name, level, "upper")]
                    blocks += [lower[:, series], upper[:, series]]
            return _levelled_frame(blocks, columns, spec)

        return self._answer(request, [array for pair in bounds for array in pair], wrap)

    def predict_quantiles(self, X=None, horizon=None, alpha=(0.05, 0.95)):
        """Forecast quantiles from the conformal intervals of :meth:`predict_interval`.

        The quantile at ``alpha < 0.5`` is the lower bound of the central
        interval of coverage ``1 - 2 alpha``, at ``alpha > 0.5`` the upper
        bound of coverage ``2 alpha - 1``, and at 0.5 the point forecast.

        Parameters
        ----------
        X : None, int, array-like, DataFrame, Series, 3-D array or panel, default=None
            What to forecast after, as in :meth:`predict`.
        horizon : int, default=None
            Steps; at most ``pred_len``.
        alpha : float or sequence of float, default=(0.05, 0.95)
            Quantile levels in (0, 1).

        Returns
        -------
        ndarray, DataFrame or panel
            Arrays in: an array of shape ``(len(alpha), *predict_shape)``
            (just ``predict``'s shape for one float). DataFrame or Series in:
            a DataFrame with column levels ``(series, alpha)`` (sktime's
            layout). A panel: the same container, one answer per member.

        Raises
        ------
        ValueError
            As :meth:`predict_interval`, for ``alpha`` outside (0, 1) or too
            far in the tails for the calibration windows.

        Examples
        --------
        >>> import numpy as np
        >>> from calf_sklearn.baselines import NaiveForecaster
        >>> X = np.cumsum(np.random.default_rng(0).normal(size=(300, 2)), axis=0)
        >>> model = NaiveForecaster(pred_len=5).fit(X)
        >>> low, middle, high = model.predict_quantiles(alpha=[0.1, 0.5, 0.9])
        >>> bool((middle == model.predict()).all()), bool((low < middle).all() and (middle < high).all())
        (True, True)
        """
        levels, single = self._levels(alpha, "alpha", lambda a: check_coverage(a, "alpha"))
        # Rounded: 2 * 0.9975 - 1 is 0.9950000000000001, which would cost a rank.
        coverage_of = {a: round(abs(2 * a - 1), 12) for a in levels}
        coverages = sorted({coverage_of[a] for a in levels if a != 0.5})
        request, point, bounds = self._interval_bounds(X, horizon, coverages, "predict_quantiles")
        by_coverage = dict(zip(coverages, bounds))
        quantiles = [point if a == 0.5 else by_coverage[coverage_of[a]][0 if a < 0.5 else 1] for a in levels]

        def wrap(arrays, meta, spec):
            if meta["kind"] == "array":
                return arrays[0] if single else np.stack(arrays)
            names = _series_names(meta)
            columns = [(name, level) for name in names for level in levels]
            blocks = [array[:, series] for series in range(len(names)) for array in arrays]
            return _levelled_frame(blocks, columns, spec)

        return self._answer(request, quantiles, wrap)

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
        data = self._validate_input(X, reset=False, labels=False)
        need = self.seq_len + self.pred_len
        for position, values in enumerate(data.values):
            if len(values) < (self.pred_len + 1 if self._pads() else need):
                where = "X" if data.layout is None else f"X's {data.layout.describe(position)}"
                raise ValueError(
                    f"{where} has {len(values)} rows; scoring needs at least seq_len + pred_len = "
                    f"{self.seq_len} + {self.pred_len} = {need} rows."
                )
        mean, scale = self._scaling(data)
        scaled = [self._scale(values, m, s) for values, m, s in zip(data.values, mean, scale)]
        # NaN marks padding, so that a model of raw values can tell it from data.
        windows = PanelWindows(
            scaled, self.seq_len, self.pred_len, stride=stride, pad=self._pads(), fill=np.nan
        )
        squared = absolute = 0.0
        for error, _ in self._window_errors(windows, mean, scale):
            squared += float(np.square(error).sum())
            absolute += float(np.abs(error).sum())
        count = len(windows) * self.pred_len * self.n_features_in_
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
