"""Conformal prediction intervals: calibration, nesting, layouts, persistence, errors, CLI, benchmark.

Every forecaster calibrates at the end of ``fit`` on its validation windows
(see :mod:`calf_sklearn.intervals`); these tests check that the intervals
hold their nominal coverage on data like the calibration data (and miss it
on data that is not), that they are laid out like ``predict``'s output, that
they survive saving, and that bad requests are refused without side effects.
"""

import contextlib
import copy
import io
import itertools
import json
import math
import warnings
from fractions import Fraction

import joblib
import numpy as np
import pandas as pd
import pytest
from conftest import TINY_GPT2, make_series, tiny

from calf_sklearn import CALFForecaster, load_forecaster, save_forecaster
from calf_sklearn.baselines import (
    DLinearForecaster,
    Naive2Forecaster,
    NaiveForecaster,
    SeasonalNaiveForecaster,
)
from calf_sklearn.intervals import METHODS, ConformalCalibration, check_coverage, look_back_spread
from calf_sklearn.metrics import msis

COVERAGES = (0.5, 0.8, 0.9, 0.95)
ALPHAS = (0.025, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.975)


@pytest.fixture(scope="module", autouse=True)
def _one_torch_thread():
    """One torch thread: the tiny networks here run fastest that way on a small shared machine."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def hourly(values, columns=("a", "b"), start="2024-01-01"):
    return pd.DataFrame(
        values, columns=list(columns), index=pd.date_range(start, periods=len(values), freq="h")
    )


def inside(y, lower, upper):
    return (y >= lower) & (y <= upper)


def _calibration_state(model):
    """The calibration object and a copy of its scores, to compare after a call."""
    calibration = model.calibration_
    return calibration, calibration.scores.copy(), calibration.method


def _assert_calibration_unchanged(model, state):
    calibration, scores, method = state
    assert model.calibration_ is calibration
    np.testing.assert_array_equal(model.calibration_.scores, scores)
    assert model.calibration_.method == method


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def calf_single(module_env):
    """A tiny CALF fitted on one hourly DataFrame of two series (validation_size=0.2 calibrates)."""
    frame = hourly(make_series(200, 2, seed=3))
    model = CALFForecaster(**tiny(max_epochs=1)).fit(frame)
    return model, frame


@pytest.fixture(scope="module")
def calf_panel(module_env):
    """A tiny CALF fitted on a dict panel of two members."""
    X = make_series(240, 2, seed=4)
    data = {"north": X[:200], "south": X[40:]}
    model = CALFForecaster(**tiny(max_epochs=1, interval_method="absolute")).fit(data)
    return model, data


# ------------------------------------------------------------ 1. calibration on a stationary process

N_CAL_ROWS = 40_000  # validation rows of the rule baselines; DLinear gets an X_val this long
N_TEST_ROWS = 60_000
K_SIGMA = 4.0
MEAN, STD = np.array([0.0, 10.0]), np.array([1.0, 5.0])  # two series in different units


def _noise(seed, n_rows, inflate=1.0):
    """iid Gaussian noise with per-series mean and std (std times ``inflate``)."""
    return MEAN + inflate * STD * np.random.default_rng(seed).normal(size=(n_rows, 2))


def _coverage_band(coverage, n_cal, window, n_test):
    """The band an empirical coverage must fall in (see test_intervals_hold_their_coverage...)."""
    n_cal_eff = n_cal / (2 * window - 1)
    sigma = math.sqrt(coverage * (1 - coverage) * (1 / n_test + 1 / n_cal_eff))
    return coverage - K_SIGMA * sigma, coverage + 1 / (n_cal_eff + 1) + K_SIGMA * sigma


def _fit_on_noise(kind, method):
    if kind == "dlinear":
        model = DLinearForecaster(
            pred_len=4, seq_len=16, moving_average=5, max_epochs=1, random_state=0, interval_method=method
        )
        # Trained on one draw, calibrated on an independent one: the model is independent of
        # both the calibration windows and the test windows.
        return model.fit(_noise(10, 10_000), X_val=_noise(11, N_CAL_ROWS))
    if kind == "snaive":
        model = SeasonalNaiveForecaster(
            pred_len=4, period=8, validation_size=N_CAL_ROWS, interval_method=method
        )
    else:
        model = NaiveForecaster(pred_len=4, validation_size=N_CAL_ROWS, interval_method=method)
    return model.fit(_noise(12, N_CAL_ROWS + 500))


def _test_windows(model, inflate=1.0):
    """Non-overlapping windows of a fresh draw: look-backs and the futures they forecast."""
    window = model.seq_len + model.pred_len
    values = _noise(99, N_TEST_ROWS, inflate)
    windows = values[: len(values) // window * window].reshape(-1, window, 2)
    return windows[:, : model.seq_len], windows[:, model.seq_len :]


@pytest.fixture(scope="module", params=[(k, m) for k in ("snaive", "naive", "dlinear") for m in METHODS])
def noise_model(request):
    kind, method = request.param
    return kind, method, _fit_on_noise(kind, method)


def test_intervals_hold_their_coverage_on_a_stationary_process(noise_model):
    """On a fresh draw of the process that calibrated them, intervals cover about ``c``.

    Setting: iid Gaussian noise (two series, means 0 and 10, stds 1 and 5).
    The forecasts are fixed functions of the look-back (rule baselines), or of
    a network trained on an independent draw (DLinear, calibrated on an
    independent ``X_val``), so every window's score ``|y - f|`` (divided by
    its look-back spread for "scaled") has the same distribution in the
    calibration and the test data.

    Why the band is valid. Split conformal prediction: if a test score is
    exchangeable with the ``n`` calibration scores, the interval built from
    their ``ceil((n + 1) c)``-th smallest covers it with probability in
    ``[c, c + 1/(n + 1)]`` (the upper end holds when scores have no ties,
    true for continuous noise). The realised coverage of one fixed-seed run
    differs from that by two kinds of noise:

    * Calibration. Given the calibration scores, the coverage ``F(q)`` of
      their quantile ``q`` is random: for iid scores it is Beta-distributed
      with variance about ``c(1 - c)/n``. The calibration windows slide one
      row at a time, so two windows share data only when they start fewer
      than ``L = seq_len + pred_len`` rows apart: the scores are
      (L-1)-dependent. The variance of their empirical distribution function
      is then at most ``2L - 1`` times the iid one (each score correlates
      with at most 2L - 2 others, no correlation exceeds 1), and by the
      Bahadur representation the quantile's coverage error is that
      function's error. So ``n_cal_eff = n / (2L - 1)`` and
      ``var_cal = c(1 - c)/n_cal_eff``. Dependent windows are not exactly
      exchangeable with an independent test window, which costs a bias of
      order L/n; the top of the band allows ``1/(n_cal_eff + 1)`` (= (2L-1)/n
      roughly) for it and for the finite-sample excess together.
    * Test. The test windows are disjoint stretches of iid noise, hence
      independent. A window's pred_len x 2 indicators may be correlated
      (they share a look-back spread), but their mean has variance at most
      ``c(1 - c)``, so ``var_test <= c(1 - c)/n_windows``.

    ``sigma = sqrt(var_cal + var_test)``; with ``k = 4`` a run falls outside
    ``[c - k sigma, c + 1/(n_cal_eff + 1) + k sigma]`` with probability about
    6e-5 under the normal approximation (Chebyshev bounds it by 1/16 even
    without one), and the seeds are fixed. For c = 0.9 and the seasonal naive
    model the band is 0.867 .. 0.934: a quantile a few percent off in level,
    a wrong unit conversion or a one-sided quantile fails it.
    """
    kind, method, model = noise_model
    window = model.seq_len + model.pred_len
    n_cal = model.calibration_.n_windows
    expected = N_CAL_ROWS - window + 1 if kind == "dlinear" else N_CAL_ROWS - model.pred_len + 1
    assert n_cal == expected
    x, y = _test_windows(model)
    for coverage in (0.8, 0.9, 0.95):
        lower, upper = model.predict_interval(x, coverage=coverage)
        assert lower.shape == upper.shape == y.shape
        low, high = _coverage_band(coverage, n_cal, window, len(x))
        empirical = inside(y, lower, upper).mean()
        assert low <= empirical <= high, (kind, method, coverage, empirical, (low, high))
        # Each series, in its own units, is covered too (not one at the other's expense).
        for series in range(2):
            per_series = inside(y[..., series], lower[..., series], upper[..., series]).mean()
            assert low <= per_series <= high, (kind, method, coverage, series, per_series)


def test_intervals_miss_their_coverage_when_the_process_changes(noise_model):
    """The check above can fail: test noise three times wider than the calibration noise.

    ``"absolute"`` intervals keep the calibration's width, so at c = 0.9 they
    cover about P(|Z| < 1.645 / 3) = 0.42, far below the band. ``"scaled"``
    intervals scale with each window's look-back spread: the seasonal naive
    and DLinear look-backs (8 and 16 rows) see the wider noise, and both
    forecasts are (nearly, for DLinear's learnt bias on zero-mean noise)
    equivariant under ``mean + 3 (x - mean)``, so their scaled scores, and
    coverage, are those of the unchanged process: within the same band. The
    naive forecaster's one-row look-back has no spread to see (only the
    variance floor), so its "scaled" intervals miss too.
    """
    kind, method, model = noise_model
    window = model.seq_len + model.pred_len
    x, y = _test_windows(model, inflate=3.0)
    lower, upper = model.predict_interval(x, coverage=0.9)
    empirical = inside(y, lower, upper).mean()
    low, high = _coverage_band(0.9, model.calibration_.n_windows, window, len(x))
    if method != "absolute" and kind != "naive":  # "adaptive" scores as "scaled"; a batch has no walk
        assert low <= empirical <= high
    else:
        assert empirical < 0.55 < low


# ------------------------------------------------------------------ 2. nesting and monotonicity


def _model(kind, method):
    return {
        "calf": lambda: CALFForecaster(**tiny(max_epochs=1, interval_method=method)),
        "dlinear": lambda: DLinearForecaster(
            pred_len=8, seq_len=24, moving_average=5, max_epochs=1, random_state=0, interval_method=method
        ),
        "naive": lambda: NaiveForecaster(pred_len=8, interval_method=method),
        "snaive": lambda: SeasonalNaiveForecaster(pred_len=8, period=7, interval_method=method),
        "naive2": lambda: Naive2Forecaster(pred_len=8, period=7, interval_method=method),
        "naive2-seq": lambda: Naive2Forecaster(pred_len=8, period=7, seq_len=24, interval_method=method),
    }[kind]()


def _assert_nested(point, intervals):
    """``intervals`` {coverage: (lower, upper)} nest as coverage grows, around ``point``."""
    levels = sorted(intervals)
    lower, upper = intervals[levels[0]]
    assert np.all(lower <= point) and np.all(point <= upper)
    for smaller, larger in itertools.pairwise(levels):
        assert np.all(intervals[larger][0] <= intervals[smaller][0])
        assert np.all(intervals[larger][1] >= intervals[smaller][1])


def _assert_monotone_quantiles(point, quantiles):
    assert quantiles.shape == (len(ALPHAS), *point.shape)
    assert np.all(np.diff(quantiles, axis=0) >= 0)
    np.testing.assert_array_equal(quantiles[ALPHAS.index(0.5)], point)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("kind", ["calf", "dlinear", "naive", "snaive", "naive2", "naive2-seq"])
def test_intervals_nest_and_quantiles_are_monotone(module_env, kind, method):
    X = make_series(240, 2, seed=5)
    model = _model(kind, method).fit(X)
    assert model.calibration_.max_coverage > max(COVERAGES)
    point = model.predict()
    intervals = model.predict_interval(coverage=list(COVERAGES))
    assert list(intervals) == list(COVERAGES)
    _assert_nested(point, intervals)
    _assert_monotone_quantiles(point, model.predict_quantiles(alpha=ALPHAS))
    # The same after another look-back than the training data's end.
    later = make_series(300, 2, seed=6)[-100:]
    _assert_nested(model.predict(later), model.predict_interval(later, coverage=list(COVERAGES)))

    panel = {"north": X[:200], "south": X[40:]}
    model = _model(kind, method).fit(panel)
    points = model.predict()
    intervals = model.predict_interval(coverage=list(COVERAGES))
    quantiles = model.predict_quantiles(alpha=ALPHAS)
    assert list(intervals) == list(quantiles) == ["north", "south"]
    for member in panel:
        _assert_nested(points[member], intervals[member])
        _assert_monotone_quantiles(points[member], quantiles[member])


# -------------------------------------------------------------- 3. ConformalCalibration by hand


def _rank(n, coverage):
    """ceil((n + 1) c) in exact arithmetic, c read as the decimal it was written as."""
    return math.ceil((n + 1) * Fraction(str(coverage)))


@pytest.mark.parametrize("n", [1, 4, 9, 19, 20, 37, 99, 250])
def test_half_width_is_the_conformal_order_statistic(n):
    rng = np.random.default_rng(n)
    # Two steps and two series, each with its own scores in a shuffled order.
    scores = np.stack([rng.permutation(n) + 1.0, 10 * (rng.permutation(n) + 1.0)], axis=1)
    errors = np.stack([scores, -scores[:, ::-1]], axis=2)  # signs do not matter: |error|
    calibration = ConformalCalibration(errors, "absolute")
    assert calibration.n_windows == n
    assert calibration.max_coverage == n / (n + 1)
    assert calibration.scores.dtype == np.float32 and calibration.scores.shape == (n, 2, 2)
    assert np.all(np.diff(calibration.scores, axis=0) >= 0)
    for coverage in (0.1, 0.5, 0.8, 0.9, 0.95, 0.99, n / (n + 1)):
        rank = n if coverage == n / (n + 1) else _rank(n, coverage)
        if rank > n:
            continue
        expected = np.array([[rank, 10 * rank], [10 * rank, rank]], dtype=float)
        np.testing.assert_array_equal(calibration.half_width(coverage), expected)
    # Coverage n/(n + 1) is the most n windows support: the largest score.
    largest = calibration.half_width(calibration.max_coverage)
    np.testing.assert_array_equal(largest, [[n, 10 * n], [10 * n, n]])


def test_scaled_scores_are_divided_by_and_multiplied_by_the_spread():
    errors = np.array([[[2.0]], [[-6.0]], [[1.0]], [[9.0]]])  # 4 windows, 1 step, 1 series
    spread = np.array([[1.0], [3.0], [0.5], [3.0]])  # scores 2, 2, 2, 3
    calibration = ConformalCalibration(errors, "scaled", spread)
    np.testing.assert_array_equal(calibration.scores[:, 0, 0], [2.0, 2.0, 2.0, 3.0])
    # coverage 0.6: rank ceil(5 * 0.6) = 3 -> score 2; 0.8: rank 4 -> score 3.
    two_windows = calibration.half_width(0.6, spread=np.array([[1.0], [10.0]]))
    np.testing.assert_allclose(two_windows[:, 0, 0], [2.0, 20.0])
    np.testing.assert_allclose(calibration.half_width(0.8, spread=np.array([[0.5]]))[:, 0, 0], [1.5])
    absolute = ConformalCalibration(errors, "absolute")
    np.testing.assert_array_equal(absolute.scores[:, 0, 0], [1.0, 2.0, 6.0, 9.0])
    # "absolute" ignores a spread, but gives one width per window when asked for several.
    np.testing.assert_array_equal(absolute.half_width(0.8, spread=np.ones((3, 1))), np.full((3, 1, 1), 9.0))


def test_look_back_spread_is_the_floored_standard_deviation_ignoring_padding():
    windows = np.array(
        [[[1.0, 5.0], [3.0, 5.0], [np.nan, 5.0]], [[np.nan, 0.0], [np.nan, 2.0], [np.nan, 4.0]]]
    )
    spread = look_back_spread(windows)
    expected = np.sqrt(np.array([[1.0, 0.0], [0.0, 8 / 3]]) + 1e-5)
    np.testing.assert_allclose(spread, expected, rtol=1e-12)


@pytest.mark.parametrize(
    ("coverage", "n", "need"), [(0.95, 18, 19), (0.75, 2, 3), (0.99, 50, 99), (0.5, 0, 1)]
)
def test_too_high_a_coverage_names_the_windows_it_needs(coverage, n, need):
    if n == 0:
        with pytest.raises(ValueError, match="at least one calibration window"):
            ConformalCalibration(np.zeros((0, 1, 1)), "absolute")
        return
    calibration = ConformalCalibration(np.arange(1.0, n + 1).reshape(n, 1, 1), "absolute")
    message = rf"coverage={coverage} needs at least {need} calibration windows, but only {n} were held out"
    with pytest.raises(ValueError, match=message):
        calibration.half_width(coverage)
    # And that many windows do suffice.
    enough = ConformalCalibration(np.arange(1.0, need + 1).reshape(need, 1, 1), "absolute")
    assert enough.half_width(coverage)[0, 0] == need


@pytest.mark.parametrize(("coverage", "n", "need"), [(0.9, 8, 9), (0.8, 3, 4)])
def test_the_windows_needed_are_not_overstated(coverage, n, need):
    enough = ConformalCalibration(np.arange(1.0, need + 1).reshape(need, 1, 1), "absolute")
    assert enough.half_width(coverage)[0, 0] == need  # `need` windows calibrate it...
    calibration = ConformalCalibration(np.arange(1.0, n + 1).reshape(n, 1, 1), "absolute")
    with pytest.raises(ValueError, match=rf"needs at least {need} calibration windows"):  # ...so say `need`
        calibration.half_width(coverage)


def test_calibration_refuses_bad_construction():
    with pytest.raises(ValueError, match="look-back spread"):
        ConformalCalibration(np.ones((3, 1, 1)), "scaled")
    with pytest.raises(ValueError, match="interval_method"):
        ConformalCalibration(np.ones((3, 1, 1)), "relative")
    scaled = ConformalCalibration(np.ones((3, 1, 1)), "scaled", np.ones((3, 1)))
    with pytest.raises(ValueError, match="look-back spread"):
        scaled.half_width(0.5)


@pytest.mark.parametrize("bad", [0, 1, 0.0, 1.0, -0.1, 1.5, 90])
def test_check_coverage_refuses_levels_outside_the_open_unit_interval(bad):
    with pytest.raises(ValueError, match=r"coverage must be finite and in \(0.0, 1.0\).*e.g. 0.9 for 90%"):
        check_coverage(bad)
    with pytest.raises(ValueError, match=r"^alpha must"):
        check_coverage(bad, "alpha")
    assert check_coverage(0.25) == 0.25


# --------------------------------------------------------------------------- 4. output layouts


@pytest.fixture(scope="module")
def snaive_pair():
    """The same seasonal naive model fitted on an hourly DataFrame and on its values."""
    frame = hourly(make_series(160, 2, seed=7))
    by_frame = SeasonalNaiveForecaster(pred_len=6, period=7, validation_size=40).fit(frame)
    by_array = SeasonalNaiveForecaster(pred_len=6, period=7, validation_size=40).fit(frame.to_numpy())
    return by_frame, by_array, frame


def test_frame_intervals_have_sktimes_columns_and_the_forecast_index(snaive_pair):
    by_frame, by_array, frame = snaive_pair
    result = by_frame.predict_interval(coverage=[0.8, 0.5])
    expected_columns = [
        ("a", 0.8, "lower"), ("a", 0.8, "upper"), ("a", 0.5, "lower"), ("a", 0.5, "upper"),
        ("b", 0.8, "lower"), ("b", 0.8, "upper"), ("b", 0.5, "lower"), ("b", 0.5, "upper"),
    ]  # fmt: skip
    assert isinstance(result.columns, pd.MultiIndex) and result.columns.nlevels == 3
    assert list(result.columns) == expected_columns
    pd.testing.assert_index_equal(result.index, by_frame.predict().index)
    assert result.index[0] == frame.index[-1] + pd.Timedelta(hours=1)
    arrays = by_array.predict_interval(coverage=[0.8, 0.5])
    for position, series in enumerate("ab"):
        for level in (0.8, 0.5):
            np.testing.assert_array_equal(result[(series, level, "lower")], arrays[level][0][:, position])
            np.testing.assert_array_equal(result[(series, level, "upper")], arrays[level][1][:, position])
    # One float: the same layout with one coverage; a horizon cuts the rows.
    single = by_frame.predict_interval(frame, horizon=3, coverage=0.9)
    assert list(single.columns) == [
        ("a", 0.9, "lower"), ("a", 0.9, "upper"), ("b", 0.9, "lower"), ("b", 0.9, "upper")
    ]  # fmt: skip
    assert len(single) == 3
    np.testing.assert_array_equal(single.to_numpy(), by_frame.predict_interval(coverage=0.9).to_numpy()[:3])
    # An integer X is the horizon, as in predict.
    pd.testing.assert_frame_equal(by_frame.predict_interval(3), by_frame.predict_interval(horizon=3))


def test_series_intervals_are_named_by_the_series(module_env):
    values = make_series(160, 1, seed=8)[:, 0]
    index = pd.date_range("2024-03-01", periods=160, freq="D")
    for name, label in (("sales", "sales"), (None, 0)):
        series = pd.Series(values, index=index, name=name)
        model = NaiveForecaster(pred_len=4).fit(series)
        result = model.predict_interval(coverage=0.9)
        assert list(result.columns) == [(label, 0.9, "lower"), (label, 0.9, "upper")]
        pd.testing.assert_index_equal(result.index, model.predict().index)
        quantiles = model.predict_quantiles(alpha=[0.05, 0.5, 0.95])
        assert list(quantiles.columns) == [(label, 0.05), (label, 0.5), (label, 0.95)]
        np.testing.assert_array_equal(quantiles[(label, 0.5)], model.predict().to_numpy())
        np.testing.assert_array_equal(quantiles[(label, 0.05)], result[(label, 0.9, "lower")])


def test_array_intervals_are_a_tuple_or_a_dict(snaive_pair):
    _, model, _frame = snaive_pair
    lower, upper = model.predict_interval(coverage=0.9)
    assert lower.shape == upper.shape == model.predict().shape == (6, 2)
    several = model.predict_interval(coverage=(0.95, 0.5, 0.9))
    assert isinstance(several, dict) and list(several) == [0.95, 0.5, 0.9]
    np.testing.assert_array_equal(several[0.9][0], lower)
    np.testing.assert_array_equal(several[0.9][1], upper)
    # Quantiles: predict's shape for one float, stacked for several.
    np.testing.assert_array_equal(model.predict_quantiles(alpha=0.05), lower)
    stacked = model.predict_quantiles(alpha=[0.95, 0.5, 0.05])
    assert stacked.shape == (3, 6, 2)
    np.testing.assert_array_equal(stacked[0], upper)
    np.testing.assert_array_equal(stacked[1], model.predict())
    np.testing.assert_array_equal(stacked[2], lower)


@pytest.mark.parametrize("method", METHODS)
def test_three_dimensional_windows_get_one_interval_each(module_env, method):
    X = make_series(300, 2, seed=9)
    model = DLinearForecaster(pred_len=8, seq_len=24, moving_average=5, max_epochs=1, random_state=0,
                              interval_method=method).fit(X[:240])  # fmt: skip
    batch = np.stack([X[100:130], X[200:230], X[250:280]])  # longer than seq_len: the last 24 rows count
    lower, upper = model.predict_interval(batch, coverage=0.9)
    assert lower.shape == upper.shape == model.predict(batch).shape == (3, 8, 2)
    for n, window in enumerate(batch):
        if method == "adaptive":  # a longer history would be walked over: give the look-back alone
            window = window[-model.seq_len :]
        one_lower, one_upper = model.predict_interval(window, coverage=0.9)
        np.testing.assert_allclose(lower[n], one_lower, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(upper[n], one_upper, rtol=1e-5, atol=1e-6)
    several = model.predict_interval(batch, horizon=5, coverage=[0.5, 0.9])
    assert several[0.5][0].shape == (3, 5, 2)
    np.testing.assert_allclose(several[0.9][0], lower[:, :5], rtol=1e-5, atol=1e-6)
    quantiles = model.predict_quantiles(batch, alpha=[0.05, 0.5])
    assert quantiles.shape == (2, 3, 8, 2)
    np.testing.assert_allclose(quantiles[1], model.predict(batch), rtol=1e-5, atol=1e-6)
    half = (upper - lower) / 2
    if method == "absolute":  # one width per step and series, whatever the window
        np.testing.assert_allclose(half, np.broadcast_to(half[0], half.shape), rtol=1e-6)
    else:  # widths follow each window's own look-back spread
        look_back = batch[:, -24:]
        ratio = half / look_back.std(axis=1)[:, None, :]
        np.testing.assert_allclose(ratio, np.broadcast_to(ratio[0], ratio.shape), rtol=1e-3)


def test_panels_come_back_in_their_own_container(module_env):
    X = make_series(200, 2, seed=10)
    members = [X[:150], X[30:]]
    ids = ["p", "q"]
    model = SeasonalNaiveForecaster(pred_len=5, period=7, validation_size=40)

    # A list (and a tuple) of arrays: the same container, one tuple (or dict) per member.
    for container in (list, tuple):
        model.fit(container(members))
        result = model.predict_interval(coverage=0.9)
        assert type(result) is container and len(result) == 2
        for position, (lower, upper) in enumerate(result):
            point = model.predict()[position]
            assert lower.shape == point.shape == (5, 2) and np.all(lower <= point) and np.all(point <= upper)
        several = model.predict_interval(coverage=[0.5, 0.9])
        assert type(several) is container and list(several[1]) == [0.5, 0.9]
        np.testing.assert_array_equal(several[1][0.9][0], result[1][0])
        quantiles = model.predict_quantiles(alpha=[0.05, 0.95])
        assert type(quantiles) is container and quantiles[0].shape == (2, 5, 2)
        np.testing.assert_array_equal(quantiles[0][0], result[0][0])

    # A dict of DataFrames: the same ids, a frame of intervals each.
    frames = {i: hourly(m, start=s) for i, m, s in zip(ids, members, ["2024-01-01", "2024-02-01"])}
    model.fit(frames)
    result = model.predict_interval(coverage=0.9)
    forecast = model.predict()
    assert list(result) == list(forecast) == ids
    for member in ids:
        assert list(result[member].columns) == [("a", 0.9, "lower"), ("a", 0.9, "upper"),
                                                ("b", 0.9, "lower"), ("b", 0.9, "upper")]  # fmt: skip
        pd.testing.assert_index_equal(result[member].index, forecast[member].index)
    quantiles = model.predict_quantiles(alpha=[0.05, 0.95])
    assert list(quantiles) == ids
    assert list(quantiles["q"].columns) == [("a", 0.05), ("a", 0.95), ("b", 0.05), ("b", 0.95)]
    np.testing.assert_array_equal(quantiles["q"][("b", 0.95)], result["q"][("b", 0.9, "upper")])

    # An (id, time) MultiIndex frame: one frame, indexed like predict's.
    stacked = pd.concat(frames, names=["id", "time"])
    model.fit(stacked)
    result = model.predict_interval(coverage=[0.8, 0.9])
    forecast = model.predict()
    assert isinstance(result, pd.DataFrame)
    pd.testing.assert_index_equal(result.index, forecast.index)
    assert list(result.columns)[:4] == [
        ("a", 0.8, "lower"), ("a", 0.8, "upper"), ("a", 0.9, "lower"), ("a", 0.9, "upper")
    ]  # fmt: skip
    assert (result[("b", 0.9, "lower")] <= forecast["b"]).all()
    assert (forecast["b"] <= result[("b", 0.9, "upper")]).all()
    by_dict = model.predict_interval(frames, coverage=0.9)["q"]
    np.testing.assert_array_equal(
        result.loc["q", ("a", 0.9, "upper")].to_numpy(), by_dict[("a", 0.9, "upper")].to_numpy()
    )
    quantiles = model.predict_quantiles(alpha=0.5)
    pd.testing.assert_index_equal(quantiles.index, forecast.index)
    np.testing.assert_array_equal(quantiles[("a", 0.5)].to_numpy(), forecast["a"].to_numpy())


# ---------------------------------------------------------------------------- 5. persistence


def _assert_same_intervals(first, second):
    if isinstance(first, dict):
        assert list(first) == list(second)
        for key in first:
            _assert_same_intervals(first[key], second[key])
    elif isinstance(first, tuple):
        for a, b in zip(first, second):
            np.testing.assert_array_equal(a, b)
    elif isinstance(first, pd.DataFrame):
        pd.testing.assert_frame_equal(first, second)
    else:
        np.testing.assert_array_equal(first, second)


def test_joblib_and_safetensors_keep_the_calibration(calf_single, calf_panel, tmp_path):
    for (model, data), name in ((calf_single, "single"), (calf_panel, "panel")):
        expected = model.predict_interval(coverage=[0.5, 0.9])
        quantiles = model.predict_quantiles(alpha=ALPHAS)
        joblib.dump(model, tmp_path / f"{name}.joblib")
        save_forecaster(model, tmp_path / f"{name}.safetensors")
        copies = (joblib.load(tmp_path / f"{name}.joblib"), load_forecaster(tmp_path / f"{name}.safetensors"))
        for loaded in copies:
            assert loaded.calibration_.method == model.calibration_.method
            np.testing.assert_array_equal(loaded.calibration_.scores, model.calibration_.scores)
            _assert_same_intervals(loaded.predict_interval(coverage=[0.5, 0.9]), expected)
            _assert_same_intervals(loaded.predict_quantiles(alpha=ALPHAS), quantiles)
            _assert_same_intervals(
                loaded.predict_interval(data, coverage=0.8), model.predict_interval(data, coverage=0.8)
            )
    assert calf_single[0].calibration_.method == "scaled" and calf_panel[0].calibration_.method == "absolute"


def test_a_fit_without_calibration_saves_and_loads_none(module_env, tmp_path):
    model = CALFForecaster(**tiny(max_epochs=1, validation_size=0)).fit(make_series(120, 2, seed=11))
    assert model.calibration_ is None
    loaded = load_forecaster(save_forecaster(model, tmp_path / "bare.safetensors"))
    assert loaded.calibration_ is None
    np.testing.assert_array_equal(loaded.predict(), model.predict())
    with pytest.raises(ValueError, match="has no calibration for intervals"):
        loaded.predict_interval()


# ---------------------------------------------------------------------------- 6. bad input


def test_no_calibration_says_how_to_get_one(module_env):
    X = make_series(120, 2, seed=12)
    for model in (
        NaiveForecaster(pred_len=4, validation_size=0).fit(X),
        Naive2Forecaster(pred_len=4, period=7, validation_size=0).fit(X),
        DLinearForecaster(pred_len=4, seq_len=16, moving_average=5, max_epochs=1, validation_size=0).fit(X),
    ):
        assert model.calibration_ is None
        for call in (model.predict_interval, model.predict_quantiles):
            with pytest.raises(ValueError, match=r"no calibration for intervals.*validation_size > 0.*X_val"):
                call()


def test_refused_requests_say_why_and_change_nothing(snaive_pair):
    model, _, frame = snaive_pair
    n = model.calibration_.n_windows  # 40 - 6 + 1 = 35
    assert n == 35
    state = _calibration_state(model)
    before = frame.copy()
    point = model.predict(frame)
    cases = [
        ({"coverage": 1.5}, r"coverage must be finite and in \(0.0, 1.0\), got 1.5"),
        ({"coverage": 0.0}, r"coverage must be finite and in \(0.0, 1.0\)"),
        ({"coverage": [0.5, 1.0]}, r"coverage must be finite and in \(0.0, 1.0\), got 1.0"),
        ({"coverage": []}, "coverage is empty"),
        ({"coverage": 0.99}, rf"coverage=0.99 needs at least 99 calibration windows, but only {n}"),
        ({"horizon": 7}, r"horizon=7 exceeds pred_len=6.*Fit with pred_len >= 7"),
    ]
    for kwargs, message in cases:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # no recursive-forecast warning before the refusal
            with pytest.raises(ValueError, match=message):
                model.predict_interval(frame, **kwargs)
        _assert_calibration_unchanged(model, state)
    for alpha, message in [(1.0, r"alpha must be finite and in \(0.0, 1.0\)"), ([0.2, -0.1], "alpha must"),
                           (0.001, "needs at least"), ((), "alpha is empty")]:  # fmt: skip
        with pytest.raises(ValueError, match=message):
            model.predict_quantiles(frame, alpha=alpha)
        _assert_calibration_unchanged(model, state)
    with pytest.raises(ValueError, match="exceeds pred_len"):
        model.predict_quantiles(7)
    with pytest.raises(ValueError, match="exceeds pred_len"):
        model.predict_interval(np.ones((2, 7, 2)), horizon=12)
    # Successful calls change nothing either.
    model.predict_interval(frame, coverage=[0.5, 0.9])
    model.predict_quantiles(alpha=ALPHAS)
    _assert_calibration_unchanged(model, state)
    pd.testing.assert_frame_equal(frame, before)
    pd.testing.assert_frame_equal(model.predict(frame), point)
    assert model.calibration_.max_coverage == 35 / 36
    model.predict_interval(coverage=35 / 36)  # the most 35 windows calibrate is accepted


def test_a_failed_refit_keeps_the_calibration(module_env):
    X = make_series(200, 2, seed=13)
    other = make_series(150, 2, seed=14)

    naive2 = Naive2Forecaster(pred_len=4, period=7).fit(X)
    state, window = _calibration_state(naive2), naive2.last_window_.copy()
    expected = naive2.predict_interval(coverage=0.9)
    with pytest.raises(ValueError, match=r"seq_len=None.*not on X_val; set seq_len to use X_val"):
        naive2.fit(other, X_val=other[-40:])  # refused after the new data was taken in
    _assert_calibration_unchanged(naive2, state)
    np.testing.assert_array_equal(naive2.last_window_, window)
    _assert_same_intervals(naive2.predict_interval(coverage=0.9), expected)

    for model in (
        DLinearForecaster(pred_len=4, seq_len=16, moving_average=5, max_epochs=1, random_state=0).fit(X),
        SeasonalNaiveForecaster(pred_len=4, period=7).fit(X),
        CALFForecaster(**tiny(max_epochs=1)).fit(X),
    ):
        state = _calibration_state(model)
        expected = model.predict_interval(coverage=0.9)
        with pytest.raises(ValueError, match="X_val has 3 series but X has 2"):
            model.fit(other, X_val=make_series(60, 3))
        _assert_calibration_unchanged(model, state)
        _assert_same_intervals(model.predict_interval(coverage=0.9), expected)
        # A successful refit without validation data drops the old calibration: no stale intervals.
        model.set_params(validation_size=0).fit(other)
        assert model.calibration_ is None
        with pytest.raises(ValueError, match="no calibration"):
            model.predict_interval()


@pytest.mark.parametrize(
    ("n_windows", "alpha", "coverage"), [(199, 0.9975, 0.995), (149, 0.09, 0.82), (149, 0.91, 0.82)]
)
def test_quantiles_are_the_bounds_of_the_matching_interval(n_windows, alpha, coverage):
    X = np.random.default_rng(15).normal(size=(1000, 1))
    model = NaiveForecaster(pred_len=1, validation_size=n_windows, interval_method="absolute").fit(X)
    assert model.calibration_.n_windows == n_windows
    lower, upper = model.predict_interval(coverage=coverage)
    np.testing.assert_array_equal(model.predict_quantiles(alpha=alpha), lower if alpha < 0.5 else upper)


# ------------------------------------------------------------------------ 7. X_val calibrates


def _hand_scores(values, mean, scale, seq_len, pred_len, forecast, method):
    """Sorted conformal scores of every window of ``values``, computed here from the rule."""
    scaled = (values - mean) / scale
    errors, spreads = [], []
    for start in range(len(values) - seq_len - pred_len + 1):
        look_back = scaled[start : start + seq_len]
        errors.append(scaled[start + seq_len : start + seq_len + pred_len] - forecast(look_back))
        spreads.append(np.sqrt(look_back.var(axis=0) + 1e-5))
    scores, spreads = np.abs(np.array(errors)), np.array(spreads)
    if method == "adaptive":  # "scaled", with spreads floored at their 5th percentile
        spreads = np.maximum(spreads, np.percentile(spreads, 5, axis=0))
    if method != "absolute":
        scores = scores / spreads[:, None, :]
    return np.sort(scores, axis=0)


def _seasonal_rule(period, pred_len):
    return lambda look_back: np.tile(look_back[-period:], (math.ceil(pred_len / period), 1))[:pred_len]


@pytest.mark.parametrize("method", METHODS)
def test_rule_baselines_calibrate_on_their_tail_or_on_x_val(method):
    X = make_series(150, 2, seed=16)
    X_val = make_series(90, 2, seed=17) + 0.5
    period, pred_len = 7, 5
    model = SeasonalNaiveForecaster(
        pred_len=pred_len, period=period, validation_size=30, interval_method=method
    )
    model.fit(X)
    mean, scale = model.scaler_.mean_, model.scaler_.scale_  # every row scales a rule baseline
    np.testing.assert_allclose(mean, X.mean(axis=0))
    # The tail: its 30 rows are targets, with period rows of look-back before them.
    assert model.calibration_.n_windows == 30 - pred_len + 1
    rule = _seasonal_rule(period, pred_len)
    tail = _hand_scores(X[-30 - period :], mean, scale, period, pred_len, rule, method)
    np.testing.assert_allclose(model.calibration_.scores, tail, rtol=1e-6, atol=1e-6)
    point = model.predict()

    # X_val instead: every window of it, on X's scale; forecasts still start after X.
    model.fit(X, X_val=X_val)
    assert model.calibration_.n_windows == len(X_val) - period - pred_len + 1
    hand = _hand_scores(X_val, mean, scale, period, pred_len, rule, method)
    np.testing.assert_allclose(model.calibration_.scores, hand, rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(model.predict(), point)

    # A panel's X_val: one series per member, all of their windows.
    model.fit({"u": X, "v": X[20:]}, X_val={"u": X_val, "v": X_val[:50]})
    assert model.calibration_.n_windows == (90 - 12 + 1) + (50 - 12 + 1)

    for other in (
        NaiveForecaster(pred_len=pred_len, interval_method=method),
        Naive2Forecaster(pred_len=pred_len, period=period, seq_len=21, interval_method=method),
    ):
        other.fit(X, X_val=X_val)
        assert other.calibration_.n_windows == len(X_val) - other.seq_len - pred_len + 1
    naive = NaiveForecaster(pred_len=pred_len, interval_method="absolute").fit(X, X_val=X_val)

    def last_value(look_back):
        return np.repeat(look_back[-1:], pred_len, axis=0)

    hand = _hand_scores(X_val, mean, scale, 1, pred_len, last_value, "absolute")
    np.testing.assert_allclose(naive.calibration_.scores, hand, rtol=1e-6, atol=1e-6)

    with pytest.raises(ValueError, match=r"Naive2Forecaster\(seq_len=None\).*set seq_len to use X_val"):
        Naive2Forecaster(pred_len=pred_len, period=period, interval_method=method).fit(X, X_val=X_val)


def test_x_val_calibrates_the_trained_models(module_env):
    X = make_series(200, 2, seed=18)
    X_val = make_series(100, 2, seed=19)
    dlinear = DLinearForecaster(pred_len=8, seq_len=24, moving_average=5, max_epochs=1, random_state=0)
    assert dlinear.fit(X, X_val=X_val).calibration_.n_windows == 100 - 24 - 8 + 1
    assert dlinear.fit(X).calibration_.n_windows == 40 + 24 - 32 + 1  # validation_size=0.2 of 200 rows
    calf = CALFForecaster(**tiny(max_epochs=1, validation_size=0.4)).fit(X, X_val=X_val[:70])
    assert calf.calibration_.n_windows == 70 - 24 - 8 + 1  # X_val replaces validation_size
    assert calf.calibration_.scores.shape == (39, 8, 2)


# ---------------------------------------------------------------------------------- 8. msis


def test_msis_against_a_hand_computation():
    y = [[5.0, 9.0, 2.0], [10.0, 10.0, 10.0]]
    lower = [[4.0, 6.0, 3.0], [8.0, 9.0, 7.0]]
    upper = [[6.0, 8.0, 4.0], [12.0, 11.0, 13.0]]
    history = [[1.0, 2.0, 4.0, 5.0], [0.0, 4.0, 0.0, 4.0, 0.0]]
    # Series 0: inside (width 2), above by 1 (2 + 40), below by 1 (1 + 40); scale mean(1, 2, 1) = 4/3.
    # Series 1: all inside, widths 4, 2, 6; scale mean |diffs| = 4.
    expected = ((2 + 42 + 41) / 3 / (4 / 3) + (4 + 2 + 6) / 3 / 4) / 2
    assert msis(y, lower, upper, history) == pytest.approx(expected, rel=1e-12)
    # alpha sets the penalty (2 / alpha); period the scale (lag-2 differences).
    expected_alpha = ((2 + 22 + 21) / 3 / (4 / 3) + (4 + 2 + 6) / 3 / 4) / 2
    assert msis(y, lower, upper, history, alpha=0.1) == pytest.approx(expected_alpha, rel=1e-12)
    with pytest.raises(ValueError, match="series 1: its history does not change at lag 2"):
        msis(y, lower, upper, history, period=2)
    # Lag 2: series 0's scale is mean(|4 - 1|, |5 - 2|) = 3.
    expected_period = ((2 + 42 + 41) / 3 / 3.0 + (4 + 2 + 6) / 3 / 4) / 2
    history_period = [history[0], [0.0, 4.0, 4.0, 0.0, 0.0, 4.0]]  # lag-2 diffs 4, 4, 4, 4
    assert msis(y, lower, upper, history_period, period=2) == pytest.approx(expected_period, rel=1e-12)
    # One series given flat.
    assert msis([5.0, 9.0], [4.0, 6.0], [6.0, 8.0], [1.0, 2.0, 4.0, 5.0]) == pytest.approx(16.5)
    # A perfect, zero-width interval scores 0.
    assert msis([[1.0, 2.0]], [[1.0, 2.0]], [[1.0, 2.0]], [[0.0, 1.0, 3.0]]) == 0.0


def test_msis_refuses_bad_input():
    y, bounds, history = [[1.0, 2.0]], [[0.0, 1.0]], [[0.0, 1.0, 3.0]]
    for alpha in (0.0, 1.0, 1.5, -0.05):
        with pytest.raises(ValueError, match="alpha"):
            msis(y, bounds, bounds, history, alpha=alpha)
    with pytest.raises(ValueError, match="same shape"):
        msis(y, [[0.0, 1.0, 2.0]], bounds, history)
    with pytest.raises(ValueError, match="same shape"):
        msis(y, bounds, [[0.0]], history)
    with pytest.raises(ValueError, match="history has 2 series but y_true has 1"):
        msis(y, bounds, bounds, [[0.0, 1.0], [1.0, 2.0]])
    with pytest.raises(ValueError, match="too short for period 3"):
        msis(y, bounds, bounds, history, period=3)
    with pytest.raises(ValueError, match="finite"):
        msis([[np.nan, 2.0]], bounds, bounds, history)


# ---------------------------------------------------------------------------------- 9. CLI


SEQ, PRED = 24, 8
TINY_CLI = [
    "--backbone-random", "--backbone-config", json.dumps(TINY_GPT2), "--n-layers", "2",
    "--n-principal-words", "16", "--max-epochs", "1", "--seq-len", str(SEQ), "--pred-len", str(PRED),
    "--random-state", "0", "--quiet",
]  # fmt: skip


def run_cli(argv):
    from calf_sklearn.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main([str(arg) for arg in argv])
    return status, out.getvalue(), err.getvalue()


def test_cli_predict_writes_intervals_beside_each_series(module_env, tmp_path):
    frame = pd.DataFrame(
        make_series(160, 2, seed=20),
        columns=["a", "b"],
        index=pd.date_range("2024-01-01", periods=160, freq="h", name="date"),
    )
    data, model_path, output = tmp_path / "data.csv", tmp_path / "model.safetensors", tmp_path / "out.csv"
    frame.to_csv(data)
    status, _, err = run_cli(["fit", data, "-o", model_path, *TINY_CLI])
    assert status == 0, err
    status, out, err = run_cli(["predict", model_path, data, "-o", output, "--coverage", "0.9"])
    assert status == 0, err
    assert "with 90% intervals" in out
    written = pd.read_csv(output, index_col="date", parse_dates=True)
    assert list(written.columns) == ["a", "a_lower", "a_upper", "b", "b_lower", "b_upper"]
    assert len(written) == PRED
    for series in "ab":
        assert (written[f"{series}_lower"] <= written[series]).all()
        assert (written[series] <= written[f"{series}_upper"]).all()
        assert (written[f"{series}_upper"] > written[f"{series}_lower"]).all()
    # The numbers are the saved model's intervals, written at full precision.
    model = load_forecaster(model_path)
    intervals = model.predict_interval(frame, coverage=0.9)
    np.testing.assert_allclose(written["b_upper"], intervals[("b", 0.9, "upper")], rtol=1e-12)
    np.testing.assert_allclose(written["a"], model.predict(frame)["a"], rtol=1e-12)
    pd.testing.assert_index_equal(
        written.index, intervals.index, check_names=False, exact=False, check_freq=False
    )

    refusals = [
        (["--coverage", "1.5"], "coverage must be finite and in"),
        (["--coverage", "0.9", "--horizon", str(PRED + 1)], "exceeds pred_len"),
    ]
    for bad, message in refusals:
        refused = tmp_path / "refused.csv"
        status, _, err = run_cli(["predict", model_path, data, "-o", refused, *bad])
        assert status == 2 and message in err
        assert not refused.exists()  # refused before anything was written


# ---------------------------------------------------------------------------- 10. benchmark


@pytest.mark.parametrize("stride", [1, 7])
def test_benchmark_coverage_is_the_count_of_truths_inside(stride):
    from calf_sklearn._apps import long_term as benchmark

    rng = np.random.default_rng(21)
    train, test = rng.normal(size=(400, 2)).cumsum(axis=0), rng.normal(size=(150, 2)).cumsum(axis=0)
    model = NaiveForecaster(pred_len=6, validation_size=100).fit(train)
    scores = benchmark._evaluate(model, test, 1, 6, stride, plot_starts=[0], coverage=0.9)
    starts = range(0, len(test) - 7 + 1, stride)
    x = np.stack([test[s : s + 1] for s in starts])
    y = np.stack([test[s + 1 : s + 7] for s in starts])
    lower, upper = model.predict_interval(x, coverage=0.9)
    assert scores["test_windows"] == len(x)
    assert scores["interval_coverage"] == pytest.approx(inside(y, lower, upper).mean(), abs=1e-12)
    assert scores["interval_width"] == pytest.approx((upper - lower).mean(), rel=1e-12)
    assert 0 < scores["interval_coverage"] < 1
    # A coverage the calibration cannot support is not scored (NaN), and nothing fails.
    unscored = benchmark._evaluate(model, test, 1, 6, stride, plot_starts=[0], coverage=0.999)
    assert math.isnan(unscored["interval_coverage"]) and math.isnan(unscored["interval_width"])
    assert unscored["mse"] == pytest.approx(scores["mse"], rel=1e-12)


def test_copies_and_clones_keep_or_drop_the_calibration(snaive_pair):
    from sklearn.base import clone

    model = snaive_pair[0]
    duplicate = copy.deepcopy(model)
    _assert_same_intervals(duplicate.predict_interval(coverage=0.9), model.predict_interval(coverage=0.9))
    assert not hasattr(clone(model), "calibration_")


def test_calibration_leaves_out_missing_targets_per_step_and_series():
    """NaN errors (missing targets) drop out of their own step and series only; other columns are unchanged."""
    from calf_sklearn._series.conformal import ConformalCalibration

    rng = np.random.default_rng(0)
    errors = rng.normal(size=(60, 3, 2))
    gappy = errors.copy()
    gappy[rng.random(60) < 0.3, 1, 0] = np.nan
    complete = ConformalCalibration(errors, "absolute").half_width(0.9)
    masked = ConformalCalibration(gappy, "absolute")
    width = masked.half_width(0.9)
    observed = errors[~np.isnan(gappy[:, 1, 0]), 1, 0]
    expected = ConformalCalibration(observed[:, None, None], "absolute").half_width(0.9)[0, 0]
    assert width[1, 0] == pytest.approx(expected)
    untouched = np.ones_like(width, dtype=bool)
    untouched[1, 0] = False
    np.testing.assert_array_equal(width[untouched], complete[untouched])
    assert masked.n_windows == len(observed) < 60
