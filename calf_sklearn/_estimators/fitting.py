"""Fitting every forecaster shares: one template from raw input to a fitted estimator.

``fit`` checks the parameters, prepares the data (validate, split off the
validation tail, scale, cut windows), calls the estimator's ``_fit`` on it
(the model's own training), then builds the :class:`FittedState` (scaling,
last look-backs, answer layout, conformal calibration) and sets it in one
step. The public ``fit`` checks and converts; ``_fit`` can assume clean,
windowed data (sktime's ``fit`` -> ``_fit`` template). If any step raises,
the estimator is left exactly as it was.
"""

from __future__ import annotations

import contextlib
from typing import NamedTuple

import numpy as np

from .._series import panel
from .._series.conformal import ConformalCalibration, look_back_spread
from .._series.time_index import index_spec
from .._series.windows import PanelWindows, RecentWindows, temporal_split
from .._utils import checks
from .state import FittedState


class Prepared(NamedTuple):
    """What :meth:`FitMixin._prepare_fit` hands to an estimator's ``_fit``."""

    data: object  # the validated input (inputs.Input)
    train: object  # window source of the training windows (None: nothing to train)
    validation: object  # window source of the validation windows, or None
    validation_parts: list | None  # each member's raw validation rows
    scaled_validation: list | None  # the same, scaled (float32), or None
    mean: np.ndarray  # (n_members, n_series) scaling fitted on the training rows
    scale: np.ndarray
    scaler: object  # the StandardScaler of one series (None for a panel)
    X_val: object = None  # the X_val given to fit, for forecasters that calibrate on it directly

    @property
    def members(self):
        """The validated members' values (what, with the validation parts, identifies a fit's data)."""
        return self.data.values


def window_times(windows):
    """Each window's position in time, increasing within a member: a window's start, or an
    :class:`ExpandingWindows` window's first target (its cut)."""
    return windows.starts if hasattr(windows, "starts") else windows.cuts


class Rolled(NamedTuple):
    """Forecast errors of a run of windows, with what the intervals need to score them."""

    errors: np.ndarray  # (n_windows, pred_len, n_targets) forecast - truth, fitted scale; NaN: not observed
    spread: np.ndarray  # (n_windows, n_targets) each look-back's spread (see look_back_spread)
    member: np.ndarray  # (n_windows,) the panel member of each window
    times: np.ndarray  # (n_windows,) each window's start, increasing within a member


class FitMixin:
    """The fit template and its steps; a forecaster implements ``_fit(prepared, **options)``."""

    def _pads(self):
        """Whether windows that reach before a series' start are zero-padded; ``padding`` estimators override."""
        return False

    def _samples_recent(self):
        """Whether training samples the M4 protocol's recent windows; ``window_sampling`` estimators override."""
        return False

    def _window_stride(self):
        """Distance between training window starts; ``window_stride`` estimators override."""
        return 1

    def _scoring_batch(self):
        """Windows forecast at a time when scoring and calibrating (at least 256)."""
        return 256

    def fit(self, X, y=None, *, X_val=None):
        """Fit the forecaster to ``X`` (see the estimator's own documentation).

        Parameters
        ----------
        X : array-like of shape (n_steps, n_series), DataFrame, Series or panel
            The series, oldest row first, or a panel of them.
        y : None
            Ignored.
        X_val : array-like, DataFrame or panel, default=None
            Validation series (its first ``seq_len`` rows are look-back only).

        Returns
        -------
        self : estimator
            The fitted forecaster.
        """
        return self._fit_and_set(X, X_val)

    def _fit_and_set(self, X, X_val, **options):
        """The template: check, prepare, ``_fit``, then set the fitted state, all or nothing."""
        with self._unchanged_on_failure():
            self._validate_params()
            prepared = self._prepare_fit(X, X_val)
            self._fit(prepared, **options)
            self._fitted_state(prepared).apply(self)
        return self

    def _fit(self, prepared, **options):  # pragma: no cover - every estimator overrides it
        raise NotImplementedError

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

    def _split(self, values, X_val, name="X"):
        """Training rows and validation rows (``None`` for none) of a validated X."""
        n_rows, pad = len(values), self._pads()
        if X_val is None:
            validation_size = checks.check_validation_size(self.validation_size)
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

    def _prepare_fit(self, X, X_val):
        """Validate X (and X_val), split, scale and window it: what every estimator's fit does first."""
        data = self._validate_input(X, reset=True)
        train, validation = self._split_input(data, X_val)
        if self._masks_missing():
            self._check_training_rows_observed(train, data.layout)
        mean, scale, scaler = self._fit_scaling(train, single=data.layout is None)

        def scaled(parts):
            return [((part - m) / s).astype(np.float32) for part, m, s in zip(parts, mean, scale)]

        pad, masks, targets = self._pads(), self._masks_missing(), self._target_mask()
        if self._samples_recent():
            train_windows = RecentWindows(
                scaled(train), self.seq_len, self.pred_len, self.history_size, targets=targets
            )
        else:
            train_windows = PanelWindows(
                scaled(train),
                self.seq_len,
                self.pred_len,
                stride=self._window_stride(),
                pad=pad,
                missing=masks,
                targets=targets,
            )
            if masks:
                self._keep_observed(train_windows, self.min_observed, "training")
        validation_windows = scaled_validation = None
        if validation is not None:
            scaled_validation = scaled(validation)
            validation_windows = PanelWindows(
                scaled_validation, self.seq_len, self.pred_len, pad=pad, missing=masks, targets=targets
            )
            if masks:
                self._keep_observed(validation_windows, self.min_observed, "validation")
        return Prepared(
            data, train_windows, validation_windows, validation, scaled_validation, mean, scale, scaler, X_val
        )

    def _check_training_rows_observed(self, train, layout):
        """Refuse a series with no observed value in the training rows: nothing could scale it."""
        names = getattr(self, "feature_names_in_", None)
        for position, rows in enumerate(train):
            empty = np.flatnonzero(np.isnan(rows).all(axis=0)) if len(rows) else []
            if len(empty):
                where = "X" if layout is None else f"X's {layout.describe(position)}"
                series = repr(names[empty[0]]) if names is not None else str(empty[0])
                raise ValueError(
                    f"{where}: series {series} has no observed value in the training rows (those "
                    "before the validation part), so it cannot be scaled. Lower validation_size, "
                    "or pass more of its history."
                )

    def _keep_observed(self, windows, min_observed, part):
        """Leave out the windows a masked fit cannot learn from; refuse when none is left."""
        total = len(windows)
        windows.keep_observed(min_observed)
        if total and not len(windows):
            raise ValueError(
                f"None of the {total} {part} windows has enough observed values: each needs at least "
                f"min_observed={min_observed} of its look-back observed, every series observed in its "
                "look-back and one observed target. Lower min_observed, or pass longer stretches of "
                "observed data"
                + (
                    "; or hold out no validation rows (validation_size=0) or pass X_val."
                    if part == "validation"
                    else "."
                )
            )

    def _fitted_state(self, prepared):
        """The :class:`FittedState` of a fit whose model ``_fit`` has trained."""
        data = prepared.data
        calibration = self._calibrate(self._calibration_source(prepared))
        keys = ("kind", "columns", "name")
        specs = [index_spec(meta["index"]) if meta["index"] is not None else None for meta in data.metas]
        if data.layout is None:
            return FittedState(
                last_window=self._last_windows(data.values)[0],
                output=self._target_meta({key: data.metas[0][key] for key in keys}),
                index_spec=specs[0],
                calibration=calibration,
                scaler=prepared.scaler,
            )
        return FittedState(
            last_window=self._last_windows(data.values, data.layout),
            output={
                "layout": data.layout,
                "members": [self._target_meta({key: m[key] for key in keys}) for m in data.metas],
            },
            index_spec=specs,
            calibration=calibration,
            member_ids=list(data.layout.ids),
            member_mean=prepared.mean,
            member_scale=prepared.scale,
        )

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

    # ------------------------------------------------------------ calibration

    def _calibration_source(self, prepared):
        """The windows that calibrate the intervals, with their members' scaling; ``None`` for none."""
        return self._validation_windows(prepared.scaled_validation, prepared.mean, prepared.scale)

    def _validation_windows(self, members, mean, scale):
        """Every window of the (scaled) validation members; members without rows take no part."""
        if members is None:
            return None
        kept = [position for position, member in enumerate(members) if len(member)]
        if not kept:
            return None
        windows = PanelWindows(
            [members[p] for p in kept],
            self.seq_len,
            self.pred_len,
            pad=self._pads(),
            fill=np.nan,
            missing=self._masks_missing(),
            targets=self._target_mask(),
        )
        if self._masks_missing():
            windows.keep_observed(0.0)  # a window with an unobserved series cannot be forecast
        return windows, mean[kept], scale[kept]

    def _calibrate(self, source):
        """Conformal scores of the windows of ``source`` (see :meth:`_calibration_source`), or ``None``."""
        if source is None or len(source[0]) == 0:
            return None
        rolled = self._roll(*source)
        return ConformalCalibration(rolled.errors, self.interval_method, rolled.spread)

    def _roll(self, windows, mean, scale):
        """The :class:`Rolled` errors of every window of a :class:`PanelWindows`, in its order."""
        n_targets = np.arange(self.n_features_in_)[self._targets()].size
        errors, spreads = [np.empty((0, self.pred_len, n_targets))], [np.empty((0, n_targets))]
        for error, x, observed in self._window_errors(windows, mean, scale):
            # A missing target has no error: NaN, which calibration and scores leave out.
            errors.append(error if observed is None else np.where(observed, error, np.nan))
            spreads.append(self._target_spread(x))
        return Rolled(np.concatenate(errors), np.concatenate(spreads), windows.member, window_times(windows))

    def _target_spread(self, x):
        """The targets' :func:`look_back_spread` of scaled windows ``x``, over the rows the forecasts read."""
        return look_back_spread(self._look_back_rows(x))[:, self._targets()]

    def _window_errors(self, windows, mean, scale):
        """Forecast minus truth of every window of ``windows``, in chunks, with the look-backs and
        which targets are observed (``None``: all of them; else a boolean mask, ``missing="mask"``).

        ``mean``/``scale`` (n_members, M): the scaling of the members the
        windows belong to (``windows.member``).
        """
        chunk = self._scoring_batch()
        for start in range(0, len(windows), chunk):
            rows = np.arange(start, min(start + chunk, len(windows)))
            x, y, *mask = windows.batch(rows)
            members = windows.member[rows]
            error = self._forecast_for_scoring(self._look_back_rows(x), mean[members], scale[members]) - y
            targets = self._targets()  # covariates are inputs: no error of theirs counts
            yield error[..., targets], x, (mask[0][..., targets] > 0 if mask else None)

    def _forecast_for_scoring(self, windows, mean, scale):
        """Scaled forecasts of scaled windows (NaN: padding, or missing); ``mean``/``scale`` (N, M) are their scaling."""
        if not self._masks_missing():
            windows = np.nan_to_num(windows, nan=0.0)  # padding: zeros, as the M4 protocol pads
        return self._forecast_scaled(windows).astype(np.float64)
