"""Panels: many series, one global model.

Every container round-trips through predict, no training window crosses two
members, each member keeps its own scaling and validation tail, scores pool
every window of every member, errors name the member, and a saved panel
forecaster forecasts what it forecast before saving.
"""

import math
import re
import warnings

import joblib
import numpy as np
import pandas as pd
import pytest
from conftest import make_series, tiny
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from calf_sklearn import CALFForecaster, load_forecaster, save_forecaster
from calf_sklearn.baselines import DLinearForecaster, NaiveForecaster, SeasonalNaiveForecaster
from calf_sklearn.windows import PanelWindows, RecentWindows

SEQ, PRED = 24, 8
WINDOW = SEQ + PRED
COLUMNS = ["north", "south"]
# Members of different lengths, levels and spreads, so that a forecast or a
# scaling taken from the wrong member cannot pass for the right one.
LENGTHS = {"a": 80, "b": 61, "c": 47}
STARTS = {
    "a": pd.Timestamp("2024-01-01"),
    "b": pd.Timestamp("2023-06-15 06:00"),
    "c": pd.Timestamp("2022-03-01 12:00"),
}


def _settings(examples):
    return settings(
        max_examples=examples,
        deadline=None,
        derandomize=True,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )


def member_values(name, n_series=2):
    position = list(LENGTHS).index(name)
    values = make_series(LENGTHS[name], n_series, seed=position)
    return values * (1 + 2 * position) + 10 * position


def member_frame(name):
    index = pd.date_range(STARTS[name], periods=LENGTHS[name], freq="h")
    return pd.DataFrame(member_values(name), index=index, columns=COLUMNS)


def multiindex_panel(names=tuple(LENGTHS)):
    frame = pd.concat([member_frame(name) for name in names], keys=list(names), names=["store", "when"])
    assert isinstance(frame.index.get_level_values("when"), pd.DatetimeIndex)
    return frame


def make_panel(kind):
    """A panel of the three members, in the container ``kind``."""
    names = list(LENGTHS)
    if kind == "list-arrays":
        return [member_values(name) for name in names]
    if kind == "list-1d":
        return [member_values(name, 1)[:, 0] for name in names]
    if kind == "tuple-series":
        return tuple(member_frame(name)["north"].rename("load") for name in names)
    if kind == "tuple-frames":
        return tuple(member_frame(name) for name in names)
    if kind == "dict-frames":
        return {f"id-{name}": member_frame(name) for name in names}
    if kind == "dict-arrays":
        return {name: member_values(name) for name in names}
    if kind == "multiindex":
        return multiindex_panel()
    raise AssertionError(kind)


KINDS = ["list-arrays", "list-1d", "tuple-series", "tuple-frames", "dict-frames", "dict-arrays", "multiindex"]


def members_of(panel):
    """(id, member) pairs of a panel, as the user holds them."""
    if isinstance(panel, dict):
        return list(panel.items())
    if isinstance(panel, pd.DataFrame):
        ids = panel.index.get_level_values(0).unique()
        return [(member_id, panel.xs(member_id, level=0)) for member_id in ids]
    return list(enumerate(panel))


def raw(member):
    values = np.asarray(member, dtype=np.float64)
    return values[:, None] if values.ndim == 1 else values


def expected_first_timestamp(member):
    """The timestamp after a member's last, at its hourly frequency."""
    return member.index[-1] + pd.Timedelta(hours=1)


def check_same_container(forecast, panel, horizon):
    """``forecast`` holds one (horizon, M) forecast per member of ``panel``, the way ``panel`` does."""
    assert type(forecast) is type(panel)
    if isinstance(panel, pd.DataFrame):
        assert forecast.index.names == panel.index.names
        assert list(forecast.columns) == list(panel.columns)
        ids = panel.index.get_level_values(0).unique()
        assert list(forecast.index.get_level_values(0).unique()) == list(ids)
    elif isinstance(panel, dict):
        assert list(forecast) == list(panel)
    else:
        assert len(forecast) == len(panel)
    outputs = dict(members_of(forecast))
    for member_id, member in members_of(panel):
        output = outputs[member_id]
        assert len(output) == horizon
        if isinstance(member, pd.Series) and not isinstance(panel, pd.DataFrame):
            assert isinstance(output, pd.Series)
            assert output.name == member.name
        elif isinstance(member, pd.DataFrame):
            assert isinstance(output, pd.DataFrame)
            assert list(output.columns) == list(member.columns)
        else:
            assert isinstance(output, np.ndarray)
            assert output.shape == (horizon, raw(member).shape[1])
        if isinstance(member, (pd.Series, pd.DataFrame)):
            # Each member's forecast continues its own index, not the panel's first.
            assert output.index[0] == expected_first_timestamp(member)
            assert ((output.index[1:] - output.index[:-1]) == pd.Timedelta(hours=1)).all()
        assert np.isfinite(np.asarray(output, dtype=np.float64)).all()


def as_dict(forecast):
    return {member_id: np.asarray(output, dtype=np.float64) for member_id, output in members_of(forecast)}


def attributes_unchanged(model, before):
    changed = sorted(
        key
        for key in set(before) | set(model.__dict__)
        if before.get(key, "<missing>") is not model.__dict__.get(key, "<missing>")
    )
    return changed


@pytest.fixture(scope="module")
def calf_dict(module_env):
    """CALF fitted on a dict panel of DataFrames with string ids."""
    panel = make_panel("dict-frames")
    return CALFForecaster(**tiny(max_epochs=1)).fit(panel), panel


@pytest.fixture(scope="module")
def calf_multiindex(module_env):
    panel = multiindex_panel()
    return CALFForecaster(**tiny(max_epochs=1, random_state=3)).fit(panel), panel


# ------------------------------------------------------------ containers


@pytest.mark.parametrize("kind", KINDS)
def test_naive_round_trips_every_container_and_repeats_each_members_last_row(kind):
    panel = make_panel(kind)
    model = NaiveForecaster(pred_len=PRED).fit(panel)
    for forecast in (model.predict(), model.predict(panel)):
        check_same_container(forecast, panel, PRED)
        outputs = as_dict(forecast)
        for member_id, member in members_of(panel):
            expected = np.repeat(raw(member)[-1:], PRED, axis=0)
            np.testing.assert_array_equal(outputs[member_id].reshape(expected.shape), expected)


@pytest.mark.parametrize("kind", ["list-1d", "tuple-series", "dict-frames", "multiindex"])
def test_seasonal_naive_round_trips_and_repeats_each_members_last_cycle(kind):
    period = 5
    panel = make_panel(kind)
    model = SeasonalNaiveForecaster(pred_len=PRED, period=period).fit(panel)
    forecast = model.predict()
    check_same_container(forecast, panel, PRED)
    outputs = as_dict(forecast)
    for member_id, member in members_of(panel):
        values = raw(member)
        expected = np.stack([values[len(values) - period + (h % period)] for h in range(PRED)])
        np.testing.assert_array_equal(outputs[member_id].reshape(expected.shape), expected)


@pytest.mark.parametrize("kind", KINDS)
def test_calf_round_trips_every_container(module_env, kind):
    panel = make_panel(kind)
    model = CALFForecaster(**tiny(max_epochs=1)).fit(panel)
    assert model.member_ids_ == [member_id for member_id, _ in members_of(panel)]
    n_series = raw(members_of(panel)[0][1]).shape[1]
    assert model.last_window_.shape == (len(LENGTHS), SEQ, n_series)
    after_fit = model.predict()
    check_same_container(after_fit, panel, PRED)
    # The panel given again ends where the training data ends: the same forecasts.
    again = model.predict(panel)
    check_same_container(again, panel, PRED)
    for member_id, output in as_dict(after_fit).items():
        np.testing.assert_array_equal(as_dict(again)[member_id], output)
    # A longer horizon keeps each member's index running.
    with pytest.warns(UserWarning, match="recursively"):
        check_same_container(model.predict(horizon=PRED + 3), panel, PRED + 3)


def test_multiindex_forecast_index_is_id_then_continued_time(calf_multiindex):
    model, _panel = calf_multiindex
    forecast = model.predict()
    assert forecast.index.names == ["store", "when"]
    assert forecast.index.get_level_values("store").tolist() == [m for m in LENGTHS for _ in range(PRED)]
    for name, length in LENGTHS.items():
        times = forecast.xs(name, level="store").index
        assert isinstance(times, pd.DatetimeIndex)
        assert times[0] == STARTS[name] + pd.Timedelta(hours=length)
        assert times[-1] == STARTS[name] + pd.Timedelta(hours=length + PRED - 1)


# -------------------------------------------------------- predict(panel)


def test_predicting_one_fitted_member_equals_its_forecast_in_the_panel(calf_dict):
    model, panel = calf_dict
    full = model.predict()
    for member_id, member in panel.items():
        alone = model.predict({member_id: member})
        assert list(alone) == [member_id]
        assert alone[member_id].index.equals(full[member_id].index)
        # A batch of one window runs through other float32 kernels than a
        # batch of three: equal up to rounding.
        np.testing.assert_allclose(alone[member_id], full[member_id], rtol=1e-5, atol=1e-5)
    # Any two or more members, in any order, give bit-identical forecasts.
    reordered = model.predict({"id-c": panel["id-c"], "id-a": panel["id-a"]})
    assert list(reordered) == ["id-c", "id-a"]
    for member_id in reordered:
        pd.testing.assert_frame_equal(reordered[member_id], full[member_id])


def test_calf_forecast_of_a_fitted_member_uses_that_members_fitted_scaling(calf_dict):
    model, panel = calf_dict
    full = model.predict()
    for position, member_id in enumerate(model.member_ids_):
        window = panel[member_id].to_numpy()[-SEQ:]
        mean, scale = model.member_mean_[position], model.member_scale_[position]
        scaled = ((window - mean) / scale).astype(np.float32)
        by_hand = model._forecast_scaled(np.repeat(scaled[None], 2, axis=0))[0] * scale + mean
        np.testing.assert_allclose(full[member_id].to_numpy(), by_hand, rtol=1e-5, atol=1e-5)


def test_multiindex_subset_predict_equals_the_panels_forecast(calf_multiindex):
    model, panel = calf_multiindex
    full = model.predict()
    subset = model.predict(panel.loc[["c", "a"]])
    assert subset.index.get_level_values(0).unique().tolist() == ["c", "a"]
    for name in ("c", "a"):
        pd.testing.assert_frame_equal(subset.xs(name, level=0), full.xs(name, level=0))


def test_known_ids_use_fitted_scaling_unknown_ids_and_single_series_their_own():
    # DLinear does not normalise its windows itself, so the scaling shows in
    # the forecasts (CALF's own normalisation hides most of it).
    panel = make_panel("dict-arrays")
    model = DLinearForecaster(pred_len=PRED, seq_len=SEQ, max_epochs=1, random_state=0).fit(panel)
    member = panel["b"]
    fitted_scaling = model.predict({"b": member, "a": panel["a"]})["b"]
    np.testing.assert_allclose(fitted_scaling, model.predict()["b"], rtol=1e-6, atol=1e-6)
    own_scaling = model.predict(member)
    unseen = model.predict({"unseen": member, "a": panel["a"]})["unseen"]
    np.testing.assert_allclose(unseen, own_scaling, rtol=1e-6)
    # The fitted scaling (training rows only) and the member's own (all its
    # rows) differ, so the two forecasts differ.
    assert not np.allclose(fitted_scaling, own_scaling, rtol=1e-4, atol=1e-4)
    # An unknown id's own statistics are its rows' mean and (population) std.
    mean, scale = member.mean(axis=0), member.std(axis=0)
    scaled = ((member[-SEQ:] - mean) / scale).astype(np.float32)
    by_hand = model._forecast_scaled(scaled[None])[0] * scale + mean
    np.testing.assert_allclose(own_scaling, by_hand, rtol=1e-5, atol=1e-6)


# ------------------------------------------------------------ PanelWindows


def test_panel_windows_never_cross_members():
    # Member i holds values 1000 * i + row: a window's source is readable in its values.
    lengths = [40, 33, 50, 32, 31]
    members = [(1000.0 * i + np.arange(n))[:, None] for i, n in enumerate(lengths)]
    for stride in (1, 3, 7):
        windows = PanelWindows(members, SEQ, PRED, stride=stride)
        counts = [len(range(0, max(n - WINDOW + 1, 0), stride)) for n in lengths]
        assert len(windows) == sum(counts)
        assert np.bincount(windows.member, minlength=len(lengths)).tolist() == counts
        x, y = windows.batch(np.arange(len(windows)))
        joined = np.concatenate([x, y], axis=1)[:, :, 0]
        owners = joined // 1000
        assert (owners == owners[:, :1]).all(), "a window mixes two members"
        assert (owners[:, 0] == windows.member).all()
        assert (np.diff(joined, axis=1) == 1).all(), "a window skips rows"
        # The member of 31 rows is too short for a window of 32: it gives none.
        assert 4 not in windows.member


def test_panel_windows_pad_gives_short_members_one_front_padded_window():
    members = [np.arange(1.0, 6.0)[:, None], 100 + np.arange(40.0)[:, None], np.ones((WINDOW, 1))]
    windows = PanelWindows(members, SEQ, PRED, pad=True)
    assert len(windows) == 1 + (40 - WINDOW + 1) + 1
    x, y = windows.batch([0])
    # The 5 rows end the window, after WINDOW - 5 zeros.
    expected = np.r_[np.zeros(WINDOW - 5), np.arange(1.0, 6.0)]
    np.testing.assert_array_equal(np.r_[x[0, :, 0], y[0, :, 0]], expected)
    nan_padded = PanelWindows(members, SEQ, PRED, pad=True, fill=np.nan)
    assert np.isnan(nan_padded.batch([0])[0][0, : WINDOW - 5]).all()
    # Members long enough are not padded: same windows with or without pad.
    unpadded = PanelWindows(members[1:], SEQ, PRED)
    assert len(unpadded) == len(windows) - 1
    rest = windows.batch(np.arange(1, len(windows)))
    np.testing.assert_array_equal(rest[0], unpadded.batch(np.arange(len(unpadded)))[0])
    # Without pad the short member gives none.
    assert len(PanelWindows(members, SEQ, PRED)) == len(windows) - 1


@st.composite
def panel_windows_cases(draw):
    seq_len = draw(st.integers(1, 8))
    pred_len = draw(st.integers(1, 5))
    lengths = draw(st.lists(st.integers(1, 30), min_size=1, max_size=5))
    return (
        lengths,
        seq_len,
        pred_len,
        draw(st.integers(1, 5)),
        draw(st.booleans()),
        draw(st.integers(1, 2)),
    )


@_settings(150)
@given(panel_windows_cases())
def test_panel_windows_match_a_per_member_enumeration(case):
    lengths, seq_len, pred_len, stride, pad, n_series = case
    window = seq_len + pred_len
    rng = np.random.default_rng(sum(lengths))
    members = [rng.normal(size=(n, n_series)) + 100 * i for i, n in enumerate(lengths)]
    expected_x, expected_y, expected_member = [], [], []
    for i, member in enumerate(members):
        if pad and len(member) < window:
            member = np.concatenate([np.zeros((window - len(member), n_series)), member])
        for start in range(0, len(member) - window + 1, stride):
            expected_x.append(member[start : start + seq_len])
            expected_y.append(member[start + seq_len : start + window])
            expected_member.append(i)
    windows = PanelWindows(members, seq_len, pred_len, stride=stride, pad=pad)
    assert len(windows) == len(expected_member)
    assert windows.member.tolist() == expected_member
    if expected_member:
        order = rng.permutation(len(expected_member))
        x, y = windows.batch(order)
        np.testing.assert_array_equal(x, np.stack(expected_x)[order])
        np.testing.assert_array_equal(y, np.stack(expected_y)[order])


def test_panel_windows_are_views_of_one_joined_array():
    members = [np.arange(100.0)[:, None], np.arange(70.0)[:, None]]
    windows = PanelWindows(members, SEQ, PRED)
    # Every window is a view into one array of the members' rows: no copy per window.
    assert np.shares_memory(windows._windows, windows.values)
    assert windows.values.shape == (170, 1)


# ------------------------------------------------------------ RecentWindows


def test_recent_windows_cut_points_stay_in_range_for_every_member():
    lengths = np.array([1, 2, 5, 9, 40, 200])
    members = [np.arange(1.0, n + 1)[:, None] for n in lengths]
    seq_len, pred_len, history_size = 6, 4, 2.5  # history: int(2.5 * 4) = 10 rows
    windows = RecentWindows(members, seq_len, pred_len, history_size)
    rng = np.random.default_rng(0)
    low = np.maximum(1, lengths - 10)
    high = np.maximum(lengths - 1, 1)
    seen = [set() for _ in lengths]
    for _ in range(300):
        windows.resample(rng)
        assert ((windows.cuts >= low) & (windows.cuts <= high)).all()
        for i, cut in enumerate(windows.cuts):
            seen[i].add(int(cut))
    # Every allowed cut point is drawn (uniform draws over at most 10 points, 300 times).
    assert seen == [set(range(lo, hi + 1)) for lo, hi in zip(low, high)]


def test_recent_windows_pad_and_mask_exactly_where_the_member_ends():
    a = np.arange(1.0, 4.0)[:, None] * [1.0, -1.0]  # 3 rows
    b = 50 + np.arange(20.0)[:, None] * [1.0, -1.0]
    one = np.array([[7.0, 8.0]])
    windows = RecentWindows([a, b, one], seq_len=4, pred_len=3, history_size=2)
    windows.cuts = np.array([2, 18, 1])
    x, y, mask = windows.batch([0, 1, 2])
    assert x.shape == (3, 4, 2) and y.shape == mask.shape == (3, 3, 2)
    # a cut at row 2: two rows of padding, rows 0-1 as look-back, row 2 then padding as target.
    np.testing.assert_array_equal(x[0, :, 0], [0.0, 0.0, 1.0, 2.0])
    np.testing.assert_array_equal(x[0, :, 1], [0.0, 0.0, -1.0, -2.0])
    np.testing.assert_array_equal(y[0, :, 0], [3.0, 0.0, 0.0])
    np.testing.assert_array_equal(mask[0], [[1.0, 1.0], [0.0, 0.0], [0.0, 0.0]])
    # b cut at row 18: rows 14-17 as look-back, 18-19 as targets, one padded target.
    np.testing.assert_array_equal(x[1, :, 0], 50 + np.arange(14.0, 18.0))
    np.testing.assert_array_equal(y[1, :, 0], [68.0, 69.0, 0.0])
    np.testing.assert_array_equal(mask[1, :, 0], [1.0, 1.0, 0.0])
    # A one-row member: its row is the last look-back row, every target masked.
    np.testing.assert_array_equal(x[2], [[0.0, 0.0]] * 3 + [[7.0, 8.0]])
    np.testing.assert_array_equal(y[2], 0.0)
    np.testing.assert_array_equal(mask[2], 0.0)
    # Targets are never taken from the next member.
    assert not np.isin(y[0], b).any()


def test_recent_windows_one_row_member_always_cuts_after_its_row():
    windows = RecentWindows([np.array([[3.0]])], seq_len=2, pred_len=2, history_size=10)
    rng = np.random.default_rng(1)
    for _ in range(20):
        windows.resample(rng)
        assert windows.cuts.tolist() == [1]
        x, _y, mask = windows.batch([0])
        np.testing.assert_array_equal(x[0, :, 0], [0.0, 3.0])
        assert mask.sum() == 0


@_settings(100)
@given(
    st.lists(st.integers(1, 25), min_size=1, max_size=4),
    st.integers(1, 6),
    st.integers(1, 4),
    st.floats(0.25, 4.0),
    st.integers(0, 10**6),
)
def test_recent_windows_match_a_hand_gather(lengths, seq_len, pred_len, history_size, seed):
    members = [np.arange(1.0, n + 1)[:, None] + 1000 * i for i, n in enumerate(lengths)]
    windows = RecentWindows(members, seq_len, pred_len, history_size)
    windows.resample(np.random.default_rng(seed))
    x, y, mask = windows.batch(np.arange(len(lengths)))
    for i, (member, cut) in enumerate(zip(members, windows.cuts)):
        n = len(member)
        history = int(history_size * pred_len)
        if history >= 1:
            assert max(1, n - history) <= cut <= max(n - 1, 1)
        padded = np.concatenate([np.zeros(seq_len), member[:, 0], np.zeros(pred_len + 1)])
        rows = padded[cut : cut + seq_len + pred_len]
        np.testing.assert_array_equal(x[i, :, 0], rows[:seq_len])
        np.testing.assert_array_equal(y[i, :, 0], rows[seq_len:])
        np.testing.assert_array_equal(mask[i, :, 0], (cut + np.arange(pred_len) < n).astype(float))


def test_recent_windows_a_small_history_still_leaves_one_target():
    windows = RecentWindows([np.arange(40.0)[:, None]], seq_len=4, pred_len=8, history_size=0.1)
    windows.resample(np.random.default_rng(0))
    assert windows.cuts.tolist() == [39]
    assert windows.batch([0])[2].sum() >= 1


# ------------------------------------------------------------ scaling


@pytest.mark.parametrize("validation_size", [0.2, 8, 0])
def test_member_scaling_is_each_members_training_rows_mean_and_std(validation_size):
    panel = make_panel("dict-arrays")
    model = DLinearForecaster(
        pred_len=PRED, seq_len=SEQ, max_epochs=1, validation_size=validation_size, random_state=0
    ).fit(panel)
    assert model.member_mean_.shape == model.member_scale_.shape == (3, 2)
    for position, member in enumerate(panel.values()):
        held_out = (
            validation_size if isinstance(validation_size, int) else round(validation_size * len(member))
        )
        train = member[: len(member) - held_out]
        np.testing.assert_allclose(model.member_mean_[position], train.mean(axis=0), rtol=1e-12)
        np.testing.assert_allclose(model.member_scale_[position], train.std(axis=0), rtol=1e-10)
    assert not hasattr(model, "scaler_")


def test_member_scaling_with_x_val_uses_every_row_and_constant_series_get_scale_one():
    members = [make_series(60, 2, seed=1), np.column_stack([np.full(50, 4.0), np.arange(50.0)])]
    validation = [make_series(40, 2, seed=2), make_series(40, 2, seed=3)]
    model = DLinearForecaster(pred_len=PRED, seq_len=SEQ, max_epochs=1).fit(members, X_val=validation)
    np.testing.assert_allclose(model.member_mean_, [m.mean(axis=0) for m in members], rtol=1e-12)
    np.testing.assert_allclose(model.member_scale_[0], members[0].std(axis=0), rtol=1e-10)
    assert model.member_scale_[1, 0] == 1.0  # a constant series is not divided by zero
    np.testing.assert_allclose(model.member_scale_[1, 1], np.arange(50.0).std(), rtol=1e-12)


def test_scaling_none_records_zeros_and_ones(module_env):
    panel = make_panel("list-arrays")
    model = CALFForecaster(**tiny(max_epochs=1, scaling=None)).fit(panel)
    np.testing.assert_array_equal(model.member_mean_, np.zeros((3, 2)))
    np.testing.assert_array_equal(model.member_scale_, np.ones((3, 2)))


# ------------------------------------------------------------ evaluate


def _naive_pooled(members, means, scales, stride):
    squared, absolute, n_windows, count = 0.0, 0.0, 0, 0
    for values, mean, scale in zip(members, means, scales):
        scaled = ((values - mean) / scale).astype(np.float32).astype(np.float64)
        for start in range(0, len(values) - 1 - PRED + 1, stride):
            error = scaled[start] - scaled[start + 1 : start + 1 + PRED]
            squared += float(np.square(error).sum())
            absolute += float(np.abs(error).sum())
            n_windows += 1
            count += error.size
    return squared / count, absolute / count, n_windows


@pytest.mark.parametrize("stride", [1, 4])
def test_evaluate_pools_every_window_of_every_member_on_its_fitted_scale(stride):
    panel = make_panel("dict-arrays")
    model = NaiveForecaster(pred_len=PRED).fit(panel)
    # Naive holds nothing out: each member's scale is that of all its rows.
    for position, member in enumerate(panel.values()):
        np.testing.assert_allclose(model.member_mean_[position], member.mean(axis=0), rtol=1e-12)
    # Later rows of each member, at its own level and spread.
    later = {k: make_series(len(v) - 5, 2, seed=20 + i) * (1 + i) for i, (k, v) in enumerate(panel.items())}
    scores = model.evaluate(later, stride=stride)
    mse, mae, n_windows = _naive_pooled(later.values(), model.member_mean_, model.member_scale_, stride)
    assert scores["n_windows"] == n_windows
    assert scores["n_windows"] == sum(math.ceil((len(v) - PRED) / stride) for v in later.values())
    assert scores["mse"] == pytest.approx(mse, rel=1e-9)
    assert scores["mae"] == pytest.approx(mae, rel=1e-9)
    if stride == 1:
        assert model.score(later) == pytest.approx(-mse, rel=1e-9)
    # Pooled: the per-member scores weighted by their window counts, not their plain mean.
    parts = [model.evaluate({key: values}, stride=stride) for key, values in later.items()]
    weights = np.array([part["n_windows"] for part in parts])
    member_mse = np.array([part["mse"] for part in parts])
    assert scores["mse"] == pytest.approx(float(member_mse @ weights / weights.sum()), rel=1e-9)
    assert scores["mse"] != pytest.approx(float(member_mse.mean()), rel=1e-6)


def test_evaluate_on_a_list_panel_matches_the_hand_computation_with_positions_as_ids():
    panel = make_panel("list-arrays")
    model = NaiveForecaster(pred_len=PRED).fit(panel)
    scores = model.evaluate(panel)
    mse, mae, n_windows = _naive_pooled(panel, model.member_mean_, model.member_scale_, 1)
    assert scores["n_windows"] == n_windows
    assert (scores["mse"], scores["mae"]) == (pytest.approx(mse, rel=1e-9), pytest.approx(mae, rel=1e-9))


def test_evaluate_counts_the_padded_window_of_a_short_member(module_env):
    panel = {"long": make_series(70, 2, seed=1), "short": make_series(20, 2, seed=2)}
    model = CALFForecaster(**tiny(max_epochs=1, padding=True, validation_size=PRED)).fit(panel)
    scores = model.evaluate(panel)
    assert scores["n_windows"] == (70 - WINDOW + 1) + 1
    assert np.isfinite(scores["mse"]) and scores["mae"] ** 2 <= scores["mse"]


# ------------------------------------------------------------ errors


def _with_member(kind, replace):
    """The three-member panel of ``kind`` with its second member passed through ``replace``."""
    panel = make_panel(kind)
    if isinstance(panel, dict):
        key = list(panel)[1]
        return {**panel, key: replace(panel[key])}, repr(key)
    if isinstance(panel, pd.DataFrame):
        members = dict(members_of(panel))
        members["b"] = replace(members["b"])
        return pd.concat(list(members.values()), keys=list(members), names=panel.index.names), "'b'"
    members = list(panel)
    members[1] = replace(members[1])
    return type(panel)(members), "1"


def _with_nan(member):
    member = member.copy()
    if isinstance(member, pd.DataFrame):
        member.iloc[5, 1] = np.nan
    else:
        member[5, 1] = np.nan
    return member


def _drop_a_column(member):
    return member.iloc[:, :1] if isinstance(member, pd.DataFrame) else member[:, :1]


def _too_short(member):
    return member[:20]


@pytest.mark.parametrize("kind", ["list-arrays", "tuple-frames", "dict-frames", "multiindex"])
@pytest.mark.parametrize(
    "replace, message",
    [
        (_with_nan, r"contains 1 NaN"),
        (_drop_a_column, r"(1 features|columns|feature names)"),
        (_too_short, r"padding=True"),
    ],
)
def test_fit_errors_name_the_member(kind, replace, message):
    panel, name = _with_member(kind, replace)
    if kind == "multiindex" and replace is _drop_a_column:
        message = r"contains 61 NaN"  # one frame has one set of columns: the missing one reads as NaN
    with pytest.raises(ValueError, match=rf"^X's member {name}[ :]") as error, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        DLinearForecaster(pred_len=PRED, seq_len=SEQ, max_epochs=1).fit(panel)
    assert re.search(message, str(error.value)), str(error.value)


def test_too_short_member_message_gives_the_numbers_and_padding():
    panel = {"a": make_series(80, 2), "tiny": make_series(30, 2)}
    message = r"X's member 'tiny'.*30 rows.*seq_len \+ pred_len = 32.*padding=True"
    with pytest.raises(ValueError, match=message):
        DLinearForecaster(pred_len=PRED, seq_len=SEQ, max_epochs=1).fit(panel)


@pytest.mark.parametrize(
    "X_val, error, message",
    [
        ({"a": make_series(40, 2), "c": make_series(40, 2)}, ValueError, r"members \['a', 'c'\] differ"),
        ({"b": make_series(40, 2), "a": make_series(40, 2)}, ValueError, r"same ids, in the same order"),
        (make_series(40, 2), TypeError, r"X_val must be a panel"),
        ({"a": make_series(40, 2), "b": make_series(12, 2)}, ValueError, r"X_val's member 'b' has 12 rows"),
    ],
)
def test_x_val_must_match_the_members(X_val, error, message):
    panel = {"a": make_series(80, 2), "b": make_series(60, 2)}
    with pytest.raises(error, match=message):
        DLinearForecaster(pred_len=PRED, seq_len=SEQ, max_epochs=1).fit(panel, X_val=X_val)


def test_predict_and_evaluate_errors_name_the_member(calf_dict):
    model, panel = calf_dict
    bad = {**panel, "id-b": _with_nan(panel["id-b"])}
    with pytest.raises(ValueError, match=r"^X's member 'id-b' contains 1 NaN"):
        model.predict(bad)
    with pytest.raises(ValueError, match=r"^X's member 'id-b' contains 1 NaN"):
        model.evaluate(bad)
    with pytest.raises(ValueError, match=r"(?s)^X's member 'id-c'.*(features|columns)"):
        model.predict({**panel, "id-c": panel["id-c"].iloc[:, :1]})
    with pytest.raises(ValueError, match=r"^X's member 'id-b' has 20 rows; scoring needs"):
        model.evaluate({**panel, "id-b": panel["id-b"].iloc[:20]})


def test_predict_names_a_too_short_dict_member_by_its_id(calf_dict):
    model, panel = calf_dict
    with pytest.raises(ValueError, match=r"^X's member 'id-b' has 10 rows"):
        model.predict({**panel, "id-b": panel["id-b"].iloc[:10]})


def _failing_panels():
    wide_first = pd.DataFrame(make_series(80, 3), columns=["p", "q", "r"])
    return {
        "nan-after-a-wider-member": {"x": wide_first, "y": _with_nan(make_series(60, 3))},
        "too-short": {"id-a": member_frame("a"), "id-b": member_frame("b").iloc[:20]},
        "x-val-ids": ({"id-a": member_frame("a")}, {"other": member_frame("a")}),
    }


def _fit_failing(model, case):
    X = _failing_panels()[case]
    X, X_val = X if isinstance(X, tuple) else (X, None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a frame member then an array member: sklearn's feature-name warning
        with pytest.raises((ValueError, TypeError)):
            model.fit(X, X_val=X_val)


@pytest.mark.parametrize("case", ["nan-after-a-wider-member", "too-short", "x-val-ids"])
def test_failed_panel_fit_leaves_a_fitted_calf_exactly_as_it_was(calf_dict, case):
    model, panel = calf_dict
    before = dict(model.__dict__)
    forecasts = model.predict()
    _fit_failing(model, case)
    assert attributes_unchanged(model, before) == []
    after = model.predict()
    for member_id in forecasts:
        pd.testing.assert_frame_equal(after[member_id], forecasts[member_id])
    pd.testing.assert_frame_equal(model.predict(panel)["id-b"], forecasts["id-b"])


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda: DLinearForecaster(pred_len=PRED, seq_len=SEQ, max_epochs=1), id="dlinear"),
        pytest.param(lambda: NaiveForecaster(pred_len=PRED), id="naive"),
        pytest.param(lambda: SeasonalNaiveForecaster(pred_len=PRED, period=3), id="seasonal-naive"),
    ],
)
def test_failed_panel_fit_leaves_a_fitted_baseline_exactly_as_it_was(make):
    model = make().fit(make_panel("dict-frames"))
    before = dict(model.__dict__)
    _fit_failing(model, "nan-after-a-wider-member")
    assert attributes_unchanged(model, before) == []
    model.predict(make_panel("dict-frames"))


# ------------------------------------------------------------ padding


def test_padding_accepts_and_forecasts_a_short_member(module_env):
    short = make_series(20, 2, seed=4) + 3
    panel = {"long": make_series(90, 2, seed=1), "short": short, "exact": make_series(WINDOW, 2, seed=5)}
    with pytest.raises(ValueError, match=r"X's member 'short'.*padding=True"):
        CALFForecaster(**tiny(max_epochs=1, validation_size=PRED)).fit(panel)
    model = CALFForecaster(**tiny(max_epochs=1, padding=True, validation_size=PRED)).fit(panel)
    # NaN exactly before the short member's start; its rows after.
    assert np.isnan(model.last_window_[1, : SEQ - 20]).all()
    np.testing.assert_array_equal(model.last_window_[1, SEQ - 20 :], short)
    assert not np.isnan(model.last_window_[[0, 2]]).any()
    # Its scaling: its 12 training rows (20 minus validation_size=8).
    np.testing.assert_allclose(model.member_mean_[1], short[:12].mean(axis=0), rtol=1e-12)
    forecast = model.predict()
    assert forecast["short"].shape == (PRED, 2) and np.isfinite(forecast["short"]).all()
    np.testing.assert_array_equal(model.predict(panel)["short"], forecast["short"])
    # A short look-back at predict is padded too.
    assert np.isfinite(model.predict({"short": short[-10:], "long": panel["long"]})["short"]).all()


# ------------------------------------------------------------ persistence


def _assert_same_panel_forecasts(left, right):
    if isinstance(left, pd.DataFrame):
        pd.testing.assert_frame_equal(left, right, check_exact=True)
        return
    assert list(left) == list(right)
    for key in left:
        pd.testing.assert_frame_equal(left[key], right[key], check_exact=True)


@pytest.mark.parametrize("fitted", ["calf_dict", "calf_multiindex"])
@pytest.mark.parametrize("how", ["joblib", "safetensors"])
def test_saved_panel_forecaster_forecasts_identically(fitted, how, request, tmp_path):
    model, panel = request.getfixturevalue(fitted)
    if how == "joblib":
        joblib.dump(model, tmp_path / "model.joblib")
        loaded = joblib.load(tmp_path / "model.joblib")
    else:
        loaded = load_forecaster(save_forecaster(model, tmp_path / "model.safetensors"), device="cpu")
    assert loaded.member_ids_ == model.member_ids_
    assert all(isinstance(member_id, str) for member_id in loaded.member_ids_)
    np.testing.assert_array_equal(loaded.member_mean_, model.member_mean_)
    np.testing.assert_array_equal(loaded.last_window_, model.last_window_)
    forecast = loaded.predict()
    _assert_same_panel_forecasts(forecast, model.predict())
    _assert_same_panel_forecasts(loaded.predict(panel), model.predict(panel))
    if isinstance(panel, pd.DataFrame):
        assert forecast.index.names == ["store", "when"]
        assert forecast.xs("b", level="store").index[0] == expected_first_timestamp(member_frame("b"))
    else:
        assert forecast["id-c"].index[0] == expected_first_timestamp(member_frame("c"))


# ------------------------------------------------------------ the M4 settings


def test_recent_sampling_with_the_m4_settings_fits_and_is_reproducible(module_env):
    panel = {key: make_series(n, 2, seed=n) + 5 for key, n in (("long", 90), ("short", 20), ("mid", 40))}
    params = tiny(
        max_epochs=2,
        window_sampling="recent",
        padding=True,
        scaling=None,
        task_loss="smape",
        output_loss="mase",
        seasonal_period=2,
        validation_size=PRED,
    )
    first = CALFForecaster(**params).fit(panel)
    second = CALFForecaster(**params).fit(panel)
    assert len(first.history_) == 2
    for epoch in first.history_:
        assert np.isfinite(epoch["val_smape"]) and 0 <= epoch["val_smape"] <= 200
        assert np.isfinite(epoch["task_loss"]) and epoch["task_loss"] > 0
    assert [e["val_smape"] for e in first.history_] == [e["val_smape"] for e in second.history_]
    forecast = first.predict()
    for key in panel:
        assert forecast[key].shape == (PRED, 2) and np.isfinite(forecast[key]).all()
        np.testing.assert_array_equal(forecast[key], second.predict()[key])
    np.testing.assert_array_equal(first.member_mean_, 0.0)
    # Another seed trains another model.
    other = CALFForecaster(**{**params, "random_state": 1}).fit(panel)
    assert not np.array_equal(other.predict()["long"], forecast["long"])


def test_member_statistics_of_gappy_members_are_those_of_the_observed_values():
    """NaN marks a missing value: each member's mean and scale are StandardScaler's, which ignores NaN."""
    from sklearn.preprocessing import StandardScaler

    from calf_sklearn._estimators.scaling import member_statistics

    rng = np.random.default_rng(0)
    members = [rng.normal(3, 2, size=(n, 3)) for n in (50, 80, 20)]
    members[1][rng.random(80) < 0.3, 2] = np.nan
    members[2][:5, 0] = np.nan
    mean, scale = member_statistics([member.copy() for member in members])
    for position, member in enumerate(members):
        reference = StandardScaler().fit(member)
        np.testing.assert_allclose(mean[position], reference.mean_)
        np.testing.assert_allclose(scale[position], reference.scale_)
