"""Input checks every forecaster shares: series, panels and validation series become float arrays.

Messages name what was wrong and what to pass instead; scikit-learn's own
validation (``validate_data``) does the conversion, so its messages and
feature-name checks are the ones scikit-learn users know.
"""

from __future__ import annotations

import inspect
import numbers
import warnings
from typing import ClassVar, NamedTuple

import numpy as np
import pandas as pd
from sklearn.utils.validation import check_array, validate_data

from .._series import panel
from .._series.time_index import check_time_index, regular_grid
from .._utils import checks
from .constraints import check_missing_params, validate_params


def check_numeric_columns(frame, name="X"):
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


def check_finite(values, name="X", columns=None, *, missing=None):
    """Refuse NaN and infinite values, saying how many and where the first one is.

    ``missing``: the estimator's ``missing`` parameter, if it has one. With
    ``"mask"`` NaN is allowed (infinite values are not, nor a series with no
    observed value at all); with ``"raise"`` the message names that remedy.
    """
    finite = np.isfinite(values)
    if missing == "mask":
        finite |= np.isnan(values)
    if finite.all():
        if missing == "mask":
            _check_observed(values, name, columns)
        return
    n_nan, n_inf = int(np.isnan(values).sum()), int(np.isinf(values).sum())
    where = np.argwhere(~finite)[0]
    series = where[-1] if columns is None else repr(columns[where[-1]])
    place = f"row {where[-2]}, series {series}" + (f", window {where[0]}" if values.ndim == 3 else "")
    if missing == "mask":
        raise ValueError(
            f"{name} contains {n_inf} infinite value(s) (first at {place}); missing='mask' "
            "accepts NaN as a missing value, but not infinity. Replace them with NaN."
        )
    fix = "Fill the gaps first (e.g. DataFrame.interpolate() or .ffill()) or cut the series before them."
    if missing is not None and n_nan:
        fix = f"Pass missing='mask' to learn around the missing values, or: {fix[0].lower()}{fix[1:]}"
    raise ValueError(
        f"{name} contains {n_nan} NaN and {n_inf} infinite value(s) (first at {place}); the "
        f"forecaster needs complete series. {fix}"
    )


def _check_observed(values, name, columns):
    """Refuse a series with no observed value: nothing can standardise or forecast it."""
    flat = values.reshape(-1, values.shape[-1]) if values.ndim == 3 else values
    empty = np.flatnonzero(np.isnan(flat).all(axis=0))
    if len(flat) and len(empty):
        series = empty[0] if columns is None else repr(columns[empty[0]])
        raise ValueError(
            f"{name}'s series {series} has no observed value (all NaN); drop it, or fill some "
            "of it, before fitting or forecasting."
        )


class Input(NamedTuple):
    """Validated input: one series (``layout`` None) or a panel's members."""

    values: list  # 2-D float64 arrays, one per member
    metas: list  # how to mirror each member in the output
    layout: panel.PanelLayout | None


class InputMixin:
    """Parameter and input validation: the first thing ``fit``, ``predict`` and the scores do.

    A subclass lists what each parameter accepts in ``_parameter_constraints``
    (see :mod:`calf_sklearn._estimators.constraints`).
    """

    _parameter_constraints: ClassVar[dict] = {}

    def __new__(cls, *args, **kwargs):
        # Python would refuse a misspelt keyword too, but without naming the
        # parameter that was meant; __init__ stays a plain list of parameters
        # as scikit-learn requires.
        known = [name for name in inspect.signature(cls.__init__).parameters if name != "self"]
        checks.check_keywords(cls.__name__, kwargs, known)
        return super().__new__(cls)

    def _validate_params(self):
        """Check every parameter against ``_parameter_constraints``; subclasses add combinations."""
        validate_params(self, self._parameter_constraints)
        check_missing_params(self)

    def _resolve_targets(self):
        """Set ``target_indices_``: the positions of ``target_columns`` among X's columns (None: all)."""
        value, n = getattr(self, "target_columns", None), self.n_features_in_
        self.target_indices_ = None
        if value is None:
            return
        names = getattr(self, "feature_names_in_", None)
        positions = []
        for item in [value] if isinstance(value, (str, numbers.Integral)) else list(value):
            if isinstance(item, str):
                if names is None:
                    raise ValueError(
                        f"target_columns names the column {item!r}, but X has no column names; pass "
                        "a DataFrame, or positions (ints) for an array."
                    )
                where = [position for position, name in enumerate(names) if name == item]
                if not where:
                    raise ValueError(
                        f"target_columns names {item!r}, which is not a column of X.{checks.suggest(item, list(names))} "
                        f"X's columns: {list(names)}."
                    )
                positions.append(where[0])
            elif -n <= item < n:
                positions.append(int(item) % n)
            else:
                raise ValueError(f"target_columns holds the position {item}, but X has {n} columns.")
        if len(set(positions)) != len(positions):
            raise ValueError(f"target_columns names one column twice: {value!r}.")
        if len(positions) < n:  # every column a target: no covariates, as with None
            self.target_indices_ = sorted(positions)

    def _targets(self):
        """The target columns as an index into the last axis (every column when there are no covariates)."""
        indices = getattr(self, "target_indices_", None)
        return slice(None) if indices is None else np.asarray(indices)

    def _target_mask(self):
        """Which columns are targets, as a boolean array, or ``None`` when all are."""
        indices = getattr(self, "target_indices_", None)
        if indices is None:
            return None
        mask = np.zeros(self.n_features_in_, dtype=bool)
        mask[indices] = True
        return mask

    def _target_meta(self, meta):
        """An output description whose columns are the targets only."""
        if meta is None or meta.get("columns") is None or getattr(self, "target_indices_", None) is None:
            return meta
        return {**meta, "columns": meta["columns"][self._targets()]}

    def _masks_missing(self):
        """Whether NaN marks a missing value (``missing="mask"``) rather than an error."""
        return getattr(self, "missing", "raise") == "mask"

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
                    f"{checks.suggest(name, valid)} Valid parameters: {sorted(valid)}."
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
            X = self._checked_time_index(X, name, continued=labels)
            index, columns = X.index, X.columns
            check_numeric_columns(X, name)
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
        check_finite(values, name, columns, missing=getattr(self, "missing", None))
        return values, {"kind": kind, "columns": columns, "index": index, "name": series_name}

    def _checked_time_index(self, frame, name, continued):
        """``frame`` with its time index checked; under ``missing="mask"`` skipped steps are added as NaN rows."""
        grid = regular_grid(frame.index) if self._masks_missing() else None
        if grid is not None:
            warnings.warn(
                f"{name}'s {type(frame.index).__name__} skips {len(grid) - len(frame)} time stamp(s); "
                "with missing='mask' they are added as rows of missing values.",
                UserWarning,
                stacklevel=4,
            )
            frame = frame.reindex(grid)
        check_time_index(frame.index, name=name, continued=continued, missing=getattr(self, "missing", None))
        return frame

    def _validate_input(self, X, *, reset, labels=True, name="X"):
        """One series or a panel, validated member by member (see :mod:`calf_sklearn.panel`).

        ``reset`` (fit): the columns are learned, and with them which are targets.
        """
        data = self._validated_members(X, reset, labels, name)
        if reset:
            self._resolve_targets()
        return data

    def _validated_members(self, X, reset, labels, name):
        if not panel.is_panel(X):
            values, meta = self._validate_series(X, reset=reset, labels=labels, name=name)
            return Input([values], [meta], None)
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
        return Input(values, metas, layout)

    def _validate_validation(self, X_val, name="X_val"):
        """X_val as a 2-D float array with the training data's series."""
        if isinstance(X_val, pd.Series):
            X_val = X_val.to_frame()
        if isinstance(X_val, np.ndarray) and X_val.ndim == 1 and name != "X_val":
            X_val = X_val[:, None]
        if isinstance(X_val, pd.DataFrame):
            X_val = self._checked_time_index(X_val, name, continued=False)
            check_numeric_columns(X_val, name)
        values = check_array(X_val, dtype=np.float64, ensure_all_finite=False, input_name=name)
        check_finite(values, name, getattr(X_val, "columns", None), missing=getattr(self, "missing", None))
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
