"""Adaptive conformal intervals (``interval_method="adaptive"``): the walk and where it is used.

The walk (:func:`calf_sklearn.intervals.adaptive_thresholds`) must learn only
from targets observed before each origin, reduce to Gibbs and Candes' ACI
recursion with one expert, and bring coverage back to its level when the
future is calmer or wilder than the calibration windows. The estimators must
walk where they are given successive windows (``evaluate``, a history given to
``predict_interval``, the sktime adapter's updates, the benchmark) and nowhere
else.
"""

import joblib
import numpy as np
import pandas as pd
import pytest
from conftest import make_series

from calf_sklearn import CALFForecaster, load_forecaster, save_forecaster
from calf_sklearn.baselines import (
    DLinearForecaster,
    Naive2Forecaster,
    NaiveForecaster,
    SeasonalNaiveForecaster,
)
from calf_sklearn.benchmark import run_benchmark
from calf_sklearn.cli import main
from calf_sklearn.intervals import GAMMAS, ConformalCalibration, adaptive_thresholds, look_back_spread


def _calibration(n=400, steps=3, n_series=2, seed=0):
    scores = np.abs(np.random.default_rng(seed).normal(size=(n, steps, n_series)))
    return ConformalCalibration(scores, "absolute")


def _walk_scores(n_origins, steps=3, n_series=2, scale=1.0, seed=1):
    return np.abs(np.random.default_rng(seed).normal(scale=scale, size=(n_origins, steps, n_series)))


# ----------------------------------------------------------------------------- the walk


def test_before_anything_is_observed_the_walk_gives_the_split_threshold():
    calibration = _calibration()
    scores = _walk_scores(50)
    times = np.arange(50) * 100  # every step of every forecast is observed before the next origin
    walked = adaptive_thresholds(calibration, scores, times, 0.9)
    np.testing.assert_array_equal(walked[0], calibration.threshold(0.9))
    # Origins so close that nothing is observed yet (step 0 of origin 0 is observed from time 1 on).
    walked = adaptive_thresholds(calibration, scores[:1], np.array([0]), 0.9)
    np.testing.assert_array_equal(walked[0], calibration.threshold(0.9))


def test_the_walk_never_learns_from_the_future():
    """Changing a score changes only the thresholds of origins after its target was observed."""
    calibration = _calibration(steps=4)
    scores = _walk_scores(300, steps=4)
    times = np.arange(300) * 2  # stride 2: step h of origin s is observed from time 2 s + h + 1
    base = adaptive_thresholds(calibration, scores, times, 0.8)
    for origin, step in [(100, 0), (100, 3), (250, 2)]:
        changed = scores.copy()
        changed[origin, step] = [50.0, 0.0]  # a far miss and an exact hit
        walked = adaptive_thresholds(calibration, changed, times, 0.8)
        observed_at = times[origin] + step + 1
        before = times < observed_at
        np.testing.assert_array_equal(walked[before], base[before])
        assert not np.array_equal(walked[~before], base[~before])


def test_one_expert_is_gibbs_and_candes_aci():
    """With one step size the walk is ACI's recursion on the rolling reference, written out here."""
    n, gamma, level = 200, 0.05, 0.9
    calibration_scores = np.sort(np.abs(np.random.default_rng(2).normal(size=n)))
    calibration = ConformalCalibration(calibration_scores.reshape(n, 1, 1), "absolute")
    scores = np.abs(np.random.default_rng(3).normal(scale=1.5, size=(300, 1, 1)))
    walked = adaptive_thresholds(calibration, scores, np.arange(300), level, gammas=(gamma,))

    alpha = 1 - level
    rate, reference, stale, expected = alpha, list(calibration_scores), 0, []
    for t in range(300):
        stale += 1
        if stale >= 8 and t > 0:  # re-sorted every max(8, n // 25) origins
            recent = [float(s) for s in scores[:t, 0, 0][-n:]]  # observed before origin t
            reference, stale = sorted(_kept(calibration_scores, len(recent)) + recent), 0
        rank = min(int(np.ceil((len(reference) + 1) * (1 - rate) - 1e-9)), len(reference))
        threshold = reference[rank - 1] if rank > 0 else 0.0
        expected.append(threshold)
        rate += gamma * (alpha - float(scores[t, 0, 0] > threshold))
    np.testing.assert_allclose(walked[:, 0, 0], expected)


def _kept(sorted_scores, n_recent):
    """The calibration scores the reference keeps beside ``n_recent`` revealed ones: evenly by rank."""
    n = len(sorted_scores)
    kept = n - n_recent
    return [float(sorted_scores[min(int((i + 0.5) * n / max(kept, 1)), n - 1)]) for i in range(kept)]


@pytest.mark.parametrize("scale", [0.5, 2.5])
def test_coverage_comes_back_to_its_level_when_the_future_drifts(scale):
    """Calmer (0.5) or wilder (2.5, beyond every calibration score) than the calibration."""
    calibration = _calibration(n=300)
    scores = _walk_scores(3000, scale=scale)
    times = np.arange(3000)
    split = np.mean(scores <= calibration.threshold(0.9))
    assert abs(split - 0.9) > 0.08  # the drift is real
    walked = adaptive_thresholds(calibration, scores, times, 0.9)
    assert abs(np.mean(scores <= walked) - 0.9) < 0.02
    # Each step and series on its own, too.
    assert np.all(np.abs(np.mean(scores <= walked, axis=0) - 0.9) < 0.03)
    # And without drift it stays where split conformal is.
    same = _walk_scores(3000, seed=7)
    assert abs(np.mean(same <= adaptive_thresholds(calibration, same, times, 0.9)) - 0.9) < 0.02


def test_unobserved_targets_teach_nothing():
    """NaN scores move no expert and no weight (a calibration of 5,000 re-sorts every 50 origins:
    none here, so the two walks see the same reference)."""
    calibration = _calibration(n=5000)
    scores = _walk_scores(45)
    times = np.arange(45) * 3
    holes = scores.copy()
    holes[::5] = np.nan  # every fifth origin: no target observed
    walked = adaptive_thresholds(calibration, holes, times, 0.9)
    kept = np.ones(45, dtype=bool)
    kept[::5] = False
    without = adaptive_thresholds(calibration, scores[kept], times[kept], 0.9)
    np.testing.assert_array_equal(walked[kept], without)
    assert not np.array_equal(walked[-1], calibration.threshold(0.9))  # it did learn


def test_the_walk_refuses_what_it_cannot_walk():
    calibration = _calibration(n=9)
    scores = _walk_scores(5)
    with pytest.raises(ValueError, match="needs at least 19 calibration windows"):
        adaptive_thresholds(calibration, scores, np.arange(5), 0.95)
    with pytest.raises(ValueError, match="strictly increasing"):
        adaptive_thresholds(calibration, scores, np.array([0, 1, 1, 2, 3]), 0.8)
    with pytest.raises(ValueError, match=r"shape \(n_origins, 3, 2\)"):
        adaptive_thresholds(calibration, scores[:, :2], np.arange(5), 0.8)
    assert len(GAMMAS) > 1 and min(GAMMAS) > 0


# ------------------------------------------------------------------------ the estimators


def _drifting(n_rows=1500, seed=0, calm_until=900, factor=3.0):
    """Two noisy random walks whose steps grow ``factor`` times wider after ``calm_until``."""
    rng = np.random.default_rng(seed)
    steps = rng.normal(size=(n_rows, 2)) * np.array([1.0, 4.0])
    steps[calm_until:] *= factor
    return np.cumsum(steps, axis=0) + np.array([0.0, 50.0])


def test_a_history_is_walked_over_as_by_hand():
    """predict_interval after a history: the walk over its origins, computed here for Naive."""
    X = _drifting()
    model = NaiveForecaster(pred_len=4, validation_size=300, interval_method="adaptive").fit(X[:900])
    history = X[900:1100]
    point = model.predict(history)
    lower, upper = model.predict_interval(history, coverage=0.8)

    scaled = (history - model.scaler_.mean_) / model.scaler_.scale_
    n, floor = len(history), np.sqrt(1e-5)  # a one-row look-back's spread is the variance floor
    scores = np.full((n, 4, 2), np.nan)  # origin o forecasts rows o .. o + 3 from row o - 1
    for origin in range(1, n):
        for step in range(min(4, n - origin)):
            scores[origin, step] = np.abs(scaled[origin + step] - scaled[origin - 1]) / floor
    walked = adaptive_thresholds(model.calibration_, scores[1:], np.arange(1, n), 0.8)
    final = adaptive_thresholds(
        model.calibration_, np.concatenate([scores[1:], np.full((1, 4, 2), np.nan)]), np.arange(1, n + 1), 0.8
    )[-1]
    np.testing.assert_allclose(upper - point, final * floor * model.scaler_.scale_, rtol=1e-6)
    np.testing.assert_allclose(point - lower, final * floor * model.scaler_.scale_, rtol=1e-6)
    assert not np.allclose(final, model.calibration_.threshold(0.8))  # the drift was learnt
    assert walked.shape == (n - 1, 4, 2)


def test_without_successive_windows_adaptive_is_split_conformal():
    """After the training data, or for a batch of look-backs, nothing was observed since calibration:
    the split-conformal interval of the (floored) scaled scores."""
    X = _drifting()
    model = DLinearForecaster(
        pred_len=6, seq_len=24, moving_average=5, max_epochs=1, random_state=0, interval_method="adaptive"
    ).fit(X[:900])
    calibration, scale = model.calibration_, model.scaler_.scale_
    assert calibration.spread_floor.shape == (2,)
    for request in (None, np.stack([X[950:974], X[1000:1024]]), X[1000:1024]):
        look_backs = X[876:900][None] if request is None else np.asarray(request).reshape(-1, 24, 2)
        spread = look_back_spread((look_backs - model.scaler_.mean_) / scale)
        half = calibration.half_width(0.9, spread) * scale
        point = model.predict(request)
        lower, upper = model.predict_interval(request, coverage=0.9)
        np.testing.assert_allclose(upper - point, half.reshape(upper.shape), rtol=1e-6)
        np.testing.assert_allclose(point - lower, half.reshape(upper.shape), rtol=1e-6)
    # A flat look-back is scored with the floor, not with the variance floor alone.
    flat = np.full((24, 2), 3.0)
    lower, upper = model.predict_interval(flat, coverage=0.9)
    floor_half = calibration.threshold(0.9) * calibration.spread_floor * scale
    np.testing.assert_allclose(upper - lower, 2 * floor_half, rtol=1e-6)


def test_evaluate_walks_forward_and_brings_coverage_back():
    """A strong season and noise that turns five times wider: the look-back spread (the season's)
    hardly changes, so "scaled" intervals under-cover; the walk learns the wider errors."""
    t = np.arange(3000)[:, None]
    noise = np.random.default_rng(4).normal(size=(3000, 2)) * np.where(t < 1400, 0.2, 1.0)
    X = 10 * np.sin(2 * np.pi * t / 12) + noise
    scores = {}
    for method in ("scaled", "adaptive"):
        model = SeasonalNaiveForecaster(pred_len=4, period=12, validation_size=400, interval_method=method)
        model.fit(X[:1400])
        scores[method] = model.evaluate(X[1400:], coverage=0.9)
    assert scores["scaled"]["interval_coverage"] < 0.5
    assert abs(scores["adaptive"]["interval_coverage"] - 0.9) < 0.03
    assert scores["adaptive"]["interval_width"] > 3 * scores["scaled"]["interval_width"]
    assert scores["adaptive"]["mse"] == scores["scaled"]["mse"]  # the forecasts are the same


def test_split_coverage_from_evaluate_matches_predict_interval():
    X = make_series(600, 2, seed=3)
    model = DLinearForecaster(pred_len=6, seq_len=24, moving_average=5, max_epochs=1, random_state=0)
    model.fit(X[:400])
    scores = model.evaluate(X[400:], stride=5, coverage=0.8)
    starts = np.arange(0, 200 - 30 + 1, 5)
    windows = np.stack([X[400 + s : 400 + s + 24] for s in starts])
    truth = np.stack([X[400 + s + 24 : 400 + s + 30] for s in starts])
    lower, upper = model.predict_interval(windows, coverage=0.8)
    assert scores["n_windows"] == len(starts)
    assert scores["interval_coverage"] == pytest.approx(np.mean((truth >= lower) & (truth <= upper)))
    assert scores["interval_width"] == pytest.approx(np.mean((upper - lower) / model.scaler_.scale_))
    with pytest.raises(ValueError, match=r"coverage must be finite and in \(0.0, 1.0\)"):
        model.evaluate(X[400:], coverage=1.5)
    uncalibrated = DLinearForecaster(pred_len=6, seq_len=24, max_epochs=1, validation_size=0).fit(X[:400])
    with pytest.raises(ValueError, match="has no calibration for intervals"):
        uncalibrated.evaluate(X[400:], coverage=0.8)
    assert "interval_coverage" not in uncalibrated.evaluate(X[400:])


def test_each_panel_member_walks_its_own_history():
    X = _drifting(n_rows=1200)
    model = NaiveForecaster(pred_len=4, validation_size=200, interval_method="adaptive")
    model.fit({"a": X[:700, :1], "b": X[100:800, 1:]})
    first = model.predict_interval({"a": X[700:900, :1], "b": X[800:1000, 1:]})
    second = model.predict_interval({"a": X[700:900, :1], "b": X[820:880, 1:]})
    np.testing.assert_array_equal(first["a"][0], second["a"][0])
    assert not np.array_equal(first["b"][0], second["b"][0])


def test_adaptive_forecasters_save_and_load(tmp_path, tiny_params):
    X = _drifting(n_rows=400)
    frame = pd.DataFrame(X[:300], columns=["x", "y"])
    model = CALFForecaster(**{**tiny_params, "interval_method": "adaptive", "max_epochs": 1}).fit(frame)
    history = pd.DataFrame(X[300:], columns=["x", "y"])
    expected = model.predict_interval(history, coverage=[0.5, 0.8])
    save_forecaster(model, tmp_path / "model.safetensors")
    loaded = load_forecaster(tmp_path / "model.safetensors")
    assert loaded.calibration_.method == "adaptive" and loaded.interval_method == "adaptive"
    pd.testing.assert_frame_equal(loaded.predict_interval(history, coverage=[0.5, 0.8]), expected)
    joblib.dump(model, tmp_path / "model.joblib")
    unpickled = joblib.load(tmp_path / "model.joblib")
    pd.testing.assert_frame_equal(unpickled.predict_interval(history, coverage=[0.5, 0.8]), expected)
    # A calibration unpickled from 0.1.0 has no spread_floor attribute: it saves and loads as before.
    old = CALFForecaster(**{**tiny_params, "max_epochs": 1}).fit(frame)
    del old.calibration_.spread_floor
    save_forecaster(old, tmp_path / "old.safetensors")
    pd.testing.assert_frame_equal(
        load_forecaster(tmp_path / "old.safetensors").predict_interval(history), old.predict_interval(history)
    )
    # Nested levels even though each level walks on its own.
    assert (expected[("x", 0.8, "upper")] >= expected[("x", 0.5, "upper")]).all()
    assert (expected[("x", 0.8, "lower")] <= expected[("x", 0.5, "lower")]).all()


def test_naive2_over_whole_histories_walks_with_expanding_windows():
    """Naive2(seq_len=None) forecasts each origin from every row before it; evaluate needs a seq_len."""
    X = _drifting(n_rows=400)[:, :1] + 300.0
    model = Naive2Forecaster(pred_len=3, period=4, validation_size=60, interval_method="adaptive").fit(
        X[:200]
    )
    point = model.predict(X[:320])
    lower, upper = model.predict_interval(X[:320], coverage=0.8)
    assert np.all(lower <= point) and np.all(point <= upper)
    spread = look_back_spread(((X[:320] - model.scaler_.mean_) / model.scaler_.scale_)[None])
    nominal = model.calibration_.half_width(0.8, spread)[0] * model.scaler_.scale_  # no walk
    assert not np.allclose(upper - point, nominal)  # the history was walked over
    with pytest.raises(
        ValueError, match=r"Naive2Forecaster\(seq_len=None\) forecasts from each series' whole"
    ):
        model.evaluate(X[200:], coverage=0.8)
    # Under "mask", a history whose first rows miss a series starts its walk once every series was seen.
    gappy = X.copy()
    gappy[:3] = np.nan
    masked = Naive2Forecaster(
        pred_len=3, period=4, validation_size=60, interval_method="adaptive", missing="mask"
    )
    lower, upper = masked.fit(gappy[:200]).predict_interval(gappy[:320], coverage=0.8)
    assert np.all(np.isfinite(lower)) and np.all(upper >= lower)
    windowed = Naive2Forecaster(pred_len=3, period=4, seq_len=40, interval_method="adaptive").fit(X[:200])
    assert 0.0 < windowed.evaluate(X[200:], coverage=0.8)["interval_coverage"] <= 1.0


# ------------------------------------------------------------------------ the benchmark


def test_the_benchmark_reports_adaptive_beside_split(data_home, tmp_path):
    """ETTh1, quick, the naive forecast: its one-row look-backs all have the same spread, so the
    split figures of the adaptive run are those of a "scaled" run."""
    status = main(
        ["benchmark", "--dataset", "ETTh1", "--data-home", str(data_home), "--quick", "--models", "naive",
         "--interval-method", "adaptive", "--output-dir", str(tmp_path), "--no-plot", "-q"]
    )  # fmt: skip
    assert status == 0
    folder = tmp_path / "ETTh1_sl96_pl96_pretrained_quick_adaptive"
    adaptive = pd.read_csv(folder / "results.csv").iloc[0]
    scaled = run_benchmark(
        "ETTh1",
        96,
        data_home=data_home,
        quick=True,
        models=("naive",),
        output_dir=tmp_path,
        plot=False,
        verbose=0,
    ).iloc[0]
    assert adaptive.interval_method == "adaptive" and scaled.interval_method == "scaled"
    assert adaptive.mse == pytest.approx(scaled.mse)
    assert adaptive.split_interval_coverage == pytest.approx(scaled.interval_coverage)
    assert adaptive.split_interval_width == pytest.approx(scaled.interval_width)
    assert abs(adaptive.interval_coverage - 0.9) < 0.03
    assert abs(adaptive.interval_coverage - 0.9) < abs(scaled.interval_coverage - 0.9)
    report = (folder / "results.md").read_text()
    assert "90% adaptive PI coverage" in report and "split PI coverage" in report
    assert "AgACI" in report


def test_m4_has_nothing_to_walk_over(data_home, tmp_path):
    """Each series is forecast once, right after its calibration windows: adaptive = split."""
    rows = {
        method: run_benchmark(
            "M4-Hourly", data_home=data_home, quick=True, models=("naive",), output_dir=tmp_path,
            plot=False, verbose=0, interval_method=method,
        ).iloc[0]
        for method in ("scaled", "adaptive")
    }  # fmt: skip
    assert rows["adaptive"].interval_coverage == rows["scaled"].interval_coverage
    assert rows["adaptive"].interval_method == "adaptive"
    with pytest.raises(
        ValueError, match=r"interval_method='aci' is not one of \['absolute', 'adaptive', 'scaled'\]"
    ):
        run_benchmark(
            "ETTh1", data_home=data_home, models=("naive",), output_dir=tmp_path, interval_method="aci"
        )
