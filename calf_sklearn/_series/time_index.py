"""Time-index checks, the index of future steps, and its JSON form (pandas only).

A DataFrame's index is continued into the forecast when it is a
DatetimeIndex, a PeriodIndex, a TimedeltaIndex or integer labels. Any other
index (strings, floats, intervals, ...) cannot be continued: forecasts are
then labelled by row position, and a warning says so when the data is given.
"""

from __future__ import annotations

import contextlib
import warnings

import numpy as np
import pandas as pd

_TIME_INDEXES = (pd.DatetimeIndex, pd.PeriodIndex, pd.TimedeltaIndex)
# pandas >= 3.1 warns that infer_freq will return an offset instead of a
# string; asking for the offset now silences it and changes nothing for us,
# since the result goes through to_offset either way.
_OFFSET_OPTION = "future.infer_freq_returns_offset"


def _offset_option():
    try:
        pd.get_option(_OFFSET_OPTION)
    except (KeyError, pd.errors.OptionError):  # pandas without the option returns strings, silently
        return contextlib.nullcontext()
    return pd.option_context(_OFFSET_OPTION, True)


def _infer_freq(index):
    """The offset that ``pd.infer_freq`` finds, or ``None``; never a pandas warning."""
    if len(index) < 3:
        return None
    try:
        with _offset_option():
            freq = pd.infer_freq(index)
    except (TypeError, ValueError):
        return None
    return None if freq is None else pd.tseries.frequencies.to_offset(freq)


def _frequency(index):
    return index.freq if index.freq is not None else _infer_freq(index)


def _common_step(index):
    # Differences of the datetime64/timedelta64 values keep their unit (ns, us, ...).
    return pd.Timedelta(pd.Series(np.diff(index.to_numpy())).mode().iloc[0])


def _has_gaps(index):
    """Whether a time index skips steps (or has uneven ones)."""
    if isinstance(index, pd.PeriodIndex):
        return len(index) > 1 and not index.equals(
            pd.period_range(index[0], periods=len(index), freq=index.freq)
        )
    return len(index) > 2 and _frequency(index) is None


def regular_grid(index):
    """The evenly spaced index that ``index``'s gaps skip steps of, or ``None`` if there is none.

    The grid runs from the first to the last label at the most common step (a
    PeriodIndex: at its frequency). ``None`` when the index has no gaps, is
    not a time index, or has labels off that grid (uneven steps, not gaps).

    Parameters
    ----------
    index : pandas.Index
        A sorted index without repeats.

    Returns
    -------
    pandas.Index or None

    Examples
    --------
    >>> import pandas as pd
    >>> index = pd.DatetimeIndex(["2024-01-01 00:00", "2024-01-01 01:00", "2024-01-01 04:00"])
    >>> len(regular_grid(index))  # 02:00 and 03:00 are missing
    5
    >>> regular_grid(pd.date_range("2024-01-01", periods=5, freq="h")) is None
    True
    >>> days = pd.bdate_range("2024-01-01", periods=10).delete(3)  # business days, one missing
    >>> len(regular_grid(days)), regular_grid(days).freqstr
    (10, 'B')
    >>> months = pd.date_range("2024-01-01", periods=12, freq="MS").delete(5)
    >>> len(regular_grid(months))
    12
    """
    if not isinstance(index, _TIME_INDEXES) or not index.is_unique or not index.is_monotonic_increasing:
        return None
    if not _has_gaps(index):
        return None
    if isinstance(index, pd.PeriodIndex):
        grid = pd.period_range(index[0], index[-1], freq=index.freq)
        return grid if index.isin(grid).all() else None
    if isinstance(index, pd.TimedeltaIndex):
        grid = pd.timedelta_range(index[0], index[-1], freq=_common_step(index), name=index.name)
        return grid if index.isin(grid).all() else None
    # A calendar step (business days, months, ...) before a fixed one: of the grids that hold
    # every label, the one with the fewest rows is the index's own step.
    weekly = f"W-{index[0].strftime('%a').upper()}"
    grids = []
    for step in (_common_step(index), "B", weekly, "MS", "ME", "QS", "QE", "YS", "YE"):
        try:
            grid = pd.date_range(index[0], index[-1], freq=step, tz=index.tz, name=index.name)
        except ValueError:
            continue
        if index.isin(grid).all():
            grids.append(grid)
    return min(grids, key=len) if grids else None


def check_time_index(index, name="X", continued=True, missing=None):
    """Reject a time index that is unsorted or repeats; warn if it has gaps or cannot be continued.

    Rows are taken as equally spaced steps, so an irregular index is accepted
    with a warning; forecasts then continue at its most common step (a
    PeriodIndex: at its frequency). An index that is neither a time index nor
    integer labels is accepted, with a warning that forecasts are labelled by
    row position when ``continued`` says forecasts will be labelled from it.
    ``missing="raise"`` (an estimator's setting): the gaps warning also says
    that ``missing="mask"`` would add the skipped time stamps as missing rows.
    """
    kind = type(index).__name__
    if isinstance(index, _TIME_INDEXES):
        if not index.is_monotonic_increasing:
            raise ValueError(
                f"{name}'s {kind} is not sorted in time; sort it first with {name}.sort_index()."
            )
        if not index.is_unique:
            repeated = index[index.duplicated()]
            raise ValueError(
                f"{name}'s {kind} repeats {len(repeated)} timestamp(s) (first: {repeated[0]}); "
                f"drop or aggregate them first, e.g. {name}[~{name}.index.duplicated()]."
            )
        if _has_gaps(index):
            step = index.freqstr if isinstance(index, pd.PeriodIndex) else _common_step(index)
            hint = ""
            if missing == "raise" and regular_grid(index) is not None:
                hint = " Pass missing='mask' to add the skipped time stamps as rows of missing values."
            warnings.warn(
                f"{name}'s {kind} has irregular steps; rows are treated as equally "
                f"spaced and forecasts are stamped every {step}.{hint}",
                UserWarning,
                stacklevel=3,
            )
        return
    if continued and not pd.api.types.is_integer_dtype(index.dtype):
        warnings.warn(
            f"{name}'s index ({kind} of {index.dtype}) cannot be continued into the future, so "
            f"forecasts are labelled by row position ({len(index)}, {len(index) + 1}, ...). Give "
            f"{name} a DatetimeIndex, PeriodIndex or TimedeltaIndex, or integer labels, to have "
            "forecasts continue it.",
            UserWarning,
            stacklevel=3,
        )


def index_spec(index):
    """A small description of ``index`` from which future labels follow."""
    name = index.name
    if isinstance(index, pd.PeriodIndex) and len(index) >= 1:
        return {"kind": "period", "last": index[-1], "freq": index.freq, "name": name}
    if isinstance(index, pd.DatetimeIndex) and len(index) >= 2:
        freq, step = _frequency(index), _common_step(index)
        return {"kind": "datetime", "last": index[-1], "freq": freq, "step": step, "name": name}
    if isinstance(index, pd.TimedeltaIndex) and len(index) >= 2:
        return {"kind": "timedelta", "last": index[-1], "step": _common_step(index), "name": name}
    if pd.api.types.is_integer_dtype(index.dtype) and len(index) >= 1:
        step = int(index[-1] - index[-2]) if len(index) >= 2 else 1
        return {"kind": "integer", "last": int(index[-1]), "step": step or 1, "name": name}
    return {"kind": "position", "last": len(index) - 1, "step": 1, "name": None}


def future_index(spec, horizon):
    """The labels of the ``horizon`` steps after the end described by ``spec``."""
    kind, name = spec["kind"], spec.get("name")
    if kind == "period":
        return pd.period_range(spec["last"] + 1, periods=horizon, freq=spec["freq"], name=name)
    if kind == "datetime" and spec["freq"] is not None:
        return pd.date_range(spec["last"], periods=horizon + 1, freq=spec["freq"], name=name)[1:]
    if kind in ("datetime", "timedelta"):
        labels = [spec["last"] + spec["step"] * k for k in range(1, horizon + 1)]
        index_class = pd.DatetimeIndex if kind == "datetime" else pd.TimedeltaIndex
        return index_class(labels, name=name)
    start = spec["last"] + spec["step"]
    return pd.RangeIndex(start, start + spec["step"] * horizon, spec["step"], name=name)


def _json_name(name):
    # Only a name JSON keeps as it is; any other (a tuple, a number) is not saved.
    return name if isinstance(name, str) else None


def spec_to_json(spec):
    """``spec`` as JSON-ready values (for the safetensors header)."""
    if spec is None:
        return None
    name = _json_name(spec.get("name"))
    if spec["kind"] == "datetime":
        last = spec["last"]
        return {
            "kind": "datetime",
            "last": last.isoformat(),
            "unit": last.unit,
            "tz": None if last.tz is None else str(last.tz),
            "freq": None if spec["freq"] is None else pd.tseries.frequencies.to_offset(spec["freq"]).freqstr,
            "step_ns": int(spec["step"].value),
            "name": name,
        }
    if spec["kind"] == "period":
        last = spec["last"]  # a Period spells its frequency for periods ("M"), its offset does not ("ME")
        return {"kind": "period", "last": str(last), "freq": last.freqstr, "name": name}
    if spec["kind"] == "timedelta":
        last, step = spec["last"], spec["step"]
        return {
            "kind": "timedelta",
            "last_ns": int(last.value),
            "step_ns": int(step.value),
            "unit": last.unit,
            "name": name,
        }
    return {**spec, "name": name}


def spec_from_json(spec):
    """The inverse of :func:`spec_to_json`."""
    if spec is None:
        return None
    name = spec.get("name")  # files written before names were kept have none
    if spec["kind"] == "datetime":
        last = pd.Timestamp(spec["last"]).as_unit(spec["unit"])
        if spec["tz"] is not None:
            last = last.tz_convert(spec["tz"])
        freq = None if spec["freq"] is None else pd.tseries.frequencies.to_offset(spec["freq"])
        step = pd.Timedelta(spec["step_ns"], unit="ns")
        return {"kind": "datetime", "last": last, "freq": freq, "step": step, "name": name}
    if spec["kind"] == "period":
        last = pd.Period(spec["last"], freq=spec["freq"])
        return {"kind": "period", "last": last, "freq": last.freq, "name": name}
    if spec["kind"] == "timedelta":
        last, step = (
            pd.Timedelta(spec[key], unit="ns").as_unit(spec["unit"]) for key in ("last_ns", "step_ns")
        )
        return {"kind": "timedelta", "last": last, "step": step, "name": name}
    return {**spec, "name": name}
