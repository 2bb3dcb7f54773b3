"""Which indexes a forecast continues, and what happens to the others.

The index logic is shared by every forecaster (``_base``), so the fast naive
forecaster stands in for all of them here; tests/test_persistence.py checks
that CALF's saved forecasters keep each kind.
"""

import warnings

import numpy as np
import pandas as pd
import pytest
from conftest import make_series

from calf_sklearn.baselines import NaiveForecaster

PRED = 5


def frame(index, n_series=2):
    return pd.DataFrame(make_series(len(index), n_series), index=index, columns=["a", "b"][:n_series])


def quietly(function, *args, **kwargs):
    """Call ``function`` with every warning turned into an error."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return function(*args, **kwargs)


@pytest.mark.parametrize("freq", ["M", "Q", "Y", "W", "D", "h", "15min"])
def test_a_period_index_is_continued_by_its_periods(freq):
    index = pd.period_range("2020-01-01", periods=40, freq=freq, name="period")
    model = quietly(NaiveForecaster(pred_len=PRED).fit, frame(index))
    forecast = quietly(model.predict)
    expected = pd.period_range(index[-1] + 1, periods=PRED, freq=freq, name="period")
    pd.testing.assert_index_equal(forecast.index, expected)
    # predict(X) continues X's own periods; a Series keeps its PeriodIndex too.
    recent = frame(index).iloc[:30]
    pd.testing.assert_index_equal(
        quietly(model.predict, recent).index,
        pd.period_range(index[29] + 1, periods=PRED, freq=freq, name="period"),
    )
    series = frame(index, n_series=1)["a"]
    single = NaiveForecaster(pred_len=PRED).fit(series)
    assert isinstance(single.predict(), pd.Series) and single.predict().index.equals(expected)


def test_a_period_index_with_gaps_is_accepted_with_a_warning():
    index = pd.period_range("2020-01", periods=40, freq="M").delete([5, 6])
    with pytest.warns(UserWarning, match="PeriodIndex has irregular steps; .* stamped every M"):
        model = NaiveForecaster(pred_len=PRED).fit(frame(index))
    assert model.predict().index[0] == index[-1] + 1


@pytest.mark.parametrize(
    "index, match",
    [
        (
            pd.period_range("2020-01", periods=40, freq="M")[::-1],
            r"PeriodIndex is not sorted in time; .*sort_index",
        ),
        (
            pd.PeriodIndex(
                ["2020-01"] * 2 + [f"2020-{m:02d}" for m in range(2, 12)] * 3, freq="M"
            ).sort_values(),
            r"PeriodIndex repeats 21 timestamp\(s\) \(first: 2020-01\)",
        ),
        (pd.timedelta_range("0s", periods=40, freq="1min")[::-1], r"TimedeltaIndex is not sorted in time"),
    ],
    ids=["unsorted-periods", "repeated-periods", "unsorted-timedeltas"],
)
def test_unsorted_or_repeated_time_indexes_are_refused(index, match):
    with pytest.raises(ValueError, match=match):
        NaiveForecaster(pred_len=PRED).fit(frame(index))


def test_a_timedelta_index_is_continued_at_its_step():
    index = pd.timedelta_range("1h", periods=40, freq="90s", name="elapsed")
    forecast = quietly(NaiveForecaster(pred_len=PRED).fit(frame(index)).predict)
    expected = pd.TimedeltaIndex(
        [index[-1] + pd.Timedelta(seconds=90) * k for k in range(1, PRED + 1)], name="elapsed"
    )
    pd.testing.assert_index_equal(forecast.index, expected)


def test_a_datetime_index_keeps_its_name_and_infers_its_frequency_without_pandas_warnings():
    # No freq set, as after read_csv: pandas infers it, and must not warn about how.
    index = pd.DatetimeIndex(list(pd.date_range("2024-01-01", periods=40, freq="MS")), name="month")
    assert index.freq is None
    forecast = quietly(quietly(NaiveForecaster(pred_len=PRED).fit, frame(index)).predict)
    pd.testing.assert_index_equal(
        forecast.index, pd.date_range("2027-05-01", periods=PRED, freq="MS", name="month")
    )


@pytest.mark.parametrize(
    "index",
    [pd.Index([f"row {i}" for i in range(40)]), pd.Index(np.arange(40) * 0.5), pd.interval_range(0, 40)],
    ids=["strings", "floats", "intervals"],
)
def test_an_index_that_cannot_be_continued_is_labelled_by_position_with_a_warning(index):
    with pytest.warns(
        UserWarning,
        match=r"cannot be continued into the future, so forecasts are labelled by row position \(40, 41",
    ):
        model = NaiveForecaster(pred_len=PRED).fit(frame(index))
    pd.testing.assert_index_equal(model.predict().index, pd.RangeIndex(40, 40 + PRED))
    with pytest.warns(UserWarning, match=r"by row position \(30, 31"):
        forecast = model.predict(frame(index).iloc[:30])
    pd.testing.assert_index_equal(forecast.index, pd.RangeIndex(30, 30 + PRED))
    # Scoring labels nothing, so it does not warn.
    assert quietly(model.evaluate, frame(index))["n_windows"] == 40 - 1 - PRED + 1
