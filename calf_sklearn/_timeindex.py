"""Time-index checks and the index of future steps (pandas only)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd


def check_time_index(index, name="X"):
    """Reject a DatetimeIndex that is unsorted or repeats; warn if irregular.

    Rows are taken as equally spaced steps, so an irregular index is accepted
    with a warning; forecasts then continue at its most common step.
    """
    if not isinstance(index, pd.DatetimeIndex):
        return
    if not index.is_monotonic_increasing:
        raise ValueError(
            f"{name}'s DatetimeIndex is not sorted in time; sort it first with {name}.sort_index()."
        )
    if not index.is_unique:
        repeated = index[index.duplicated()]
        raise ValueError(
            f"{name}'s DatetimeIndex repeats {len(repeated)} timestamp(s) (first: {repeated[0]}); "
            f"drop or aggregate them first, e.g. {name}[~{name}.index.duplicated()]."
        )
    if len(index) > 2 and _frequency(index) is None:
        warnings.warn(
            f"{name}'s DatetimeIndex has irregular steps; rows are treated as equally "
            f"spaced and forecasts are stamped every {_common_step(index)}.",
            UserWarning,
            stacklevel=3,
        )


def _frequency(index):
    if index.freq is not None:
        return index.freq
    try:
        return pd.infer_freq(index) if len(index) > 2 else None
    except (TypeError, ValueError):
        return None


def _common_step(index):
    # Differences of the datetime64 values keep their unit (ns, us, ...).
    return pd.Timedelta(pd.Series(np.diff(index.to_numpy())).mode().iloc[0])


def index_spec(index):
    """A small description of ``index`` from which future labels follow."""
    if isinstance(index, pd.DatetimeIndex) and len(index) >= 2:
        freq = _frequency(index)
        return {
            "kind": "datetime",
            "last": index[-1],
            "freq": freq,
            "step": _common_step(index),
        }
    if pd.api.types.is_integer_dtype(index.dtype) and len(index) >= 1:
        step = int(index[-1] - index[-2]) if len(index) >= 2 else 1
        return {"kind": "integer", "last": int(index[-1]), "step": step or 1}
    return {"kind": "position", "last": len(index) - 1, "step": 1}


def future_index(spec, horizon):
    """The labels of the ``horizon`` steps after the end described by ``spec``."""
    if spec["kind"] == "datetime":
        if spec["freq"] is not None:
            return pd.date_range(spec["last"], periods=horizon + 1, freq=spec["freq"])[1:]
        return pd.DatetimeIndex([spec["last"] + spec["step"] * k for k in range(1, horizon + 1)])
    start = spec["last"] + spec["step"]
    return pd.RangeIndex(start, start + spec["step"] * horizon, spec["step"])
