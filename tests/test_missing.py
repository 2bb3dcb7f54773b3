"""Missing values: missing="raise" refuses them naming the remedy, missing="mask" learns around them (issue 22)."""

import contextlib
import io
import pickle

import joblib
import numpy as np
import pandas as pd
import pytest
from conftest import make_series, tiny
from sklearn.model_selection import GridSearchCV, TimeSeriesSplit

from calf_sklearn import CALFForecaster
from calf_sklearn._series.windows import WindowedSeries
from calf_sklearn.baselines import (
    DLinearForecaster,
    Naive2Forecaster,
    NaiveForecaster,
    SeasonalNaiveForecaster,
)
from calf_sklearn.cli import main
from calf_sklearn.persistence import load_forecaster, save_forecaster


def _gappy(X, seed=0, fraction=0.1):
    """X with ``fraction`` of its values removed at random and one series out for 20 rows."""
    rng = np.random.default_rng(seed)
    gappy = X.copy()
    gappy[rng.random(X.shape) < fraction] = np.nan
    gappy[100:120, 1] = np.nan
    return gappy


def _calf(**overrides):
    return CALFForecaster(**tiny(max_epochs=1, **overrides))


def _dlinear(**overrides):
    return DLinearForecaster(
        **{"pred_len": 8, "seq_len": 24, "max_epochs": 2, "random_state": 0, **overrides}
    )


FORECASTERS = {"calf": _calf, "dlinear": _dlinear}


@pytest.mark.parametrize("make", FORECASTERS.values(), ids=FORECASTERS)
def test_raise_refuses_nan_and_names_the_remedy(make):
    with pytest.raises(ValueError, match=r"NaN .*first at row \d+, series \d.*Pass missing='mask'"):
        make().fit(_gappy(make_series(300)))


@pytest.mark.parametrize("make", FORECASTERS.values(), ids=FORECASTERS)
def test_mask_fits_forecasts_and_calibrates_around_gaps(make, tmp_path):
    X = _gappy(make_series(300))
    original = X.copy()
    model = make(missing="mask").fit(X)
    np.testing.assert_array_equal(X, original)  # the caller's data is not touched
    forecast = model.predict()
    assert forecast.shape == (8, 3) and np.isfinite(forecast).all()
    point, (lower, upper) = model.predict_with_interval(coverage=0.8)
    assert np.isfinite(lower).all() and (lower <= point).all() and (point <= upper).all()
    look_back = X[-60:]
    assert np.isnan(look_back).any() and np.isfinite(model.predict(look_back)).all()
    # Saved and pickled models forecast gappy look-backs identically.
    again = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(again.predict(look_back), model.predict(look_back))
    if isinstance(model, CALFForecaster):
        save_forecaster(model, tmp_path / "m.safetensors")
        loaded = load_forecaster(tmp_path / "m.safetensors")
        assert loaded.missing == "mask"
        np.testing.assert_array_equal(loaded.predict(look_back), model.predict(look_back))


@pytest.mark.parametrize("make", FORECASTERS.values(), ids=FORECASTERS)
def test_mask_on_complete_data_is_the_unmasked_fit(make):
    """Without a NaN, missing='mask' changes nothing: the same windows, statistics and forecasts."""
    X = make_series(300)
    plain, masked = make().fit(X), make(missing="mask").fit(X)
    np.testing.assert_array_equal(plain.predict(), masked.predict())
    assert plain.evaluate(X[-100:]) == masked.evaluate(X[-100:])


def test_evaluate_scores_observed_targets_only():
    """evaluate's MSE is the mean over observed targets of the forecasts of the scored windows."""
    X = _gappy(make_series(300), seed=1)
    X[100:135, 1] = np.nan  # longer than a look-back: windows inside it cannot be forecast
    model = _calf(missing="mask", scaling=None).fit(X[:220])
    test = X[60:]
    scores = model.evaluate(test)
    windows = WindowedSeries(test, 24, 8, missing=True)
    windows.keep_observed(0.0)
    x, y, mask = windows.batch(np.arange(len(windows)))
    errors = (model.predict(x) - y)[mask > 0]
    assert scores["n_windows"] == len(windows) < len(test) - 31
    assert scores["mse"] == pytest.approx(np.mean(errors**2), rel=1e-6)
    assert scores["mae"] == pytest.approx(np.mean(np.abs(errors)), rel=1e-6)


def test_windows_with_too_few_observed_values_are_left_out():
    """min_observed=1 keeps only complete look-backs; none left is a clear error."""
    X = make_series(300)
    X[::5, 0] = np.nan  # every look-back of 24 rows misses some of series 0
    with pytest.raises(ValueError, match=r"None of the \d+ training windows .*min_observed=1.0"):
        _dlinear(missing="mask", min_observed=1.0).fit(X)
    assert np.isfinite(_dlinear(missing="mask", min_observed=0.9).fit(X).predict()).all()


def test_unforecastable_inputs_are_refused():
    X = _gappy(make_series(300))
    model = _dlinear(missing="mask").fit(X)
    look_back = X[-30:].copy()
    look_back[-24:, 2] = np.nan
    with pytest.raises(ValueError, match="no observed value of series 2 in its last seq_len=24 rows"):
        model.predict(look_back)
    empty = X.copy()
    empty[:, 0] = np.nan
    with pytest.raises(ValueError, match="series 0 has no observed value"):
        _dlinear(missing="mask").fit(empty)
    infinite = X.copy()
    infinite[5, 1] = np.inf
    with pytest.raises(ValueError, match="accepts NaN as a missing value, but not infinity"):
        _dlinear(missing="mask").fit(infinite)


def test_mask_refuses_what_it_cannot_mask():
    X = _gappy(make_series(300))
    with pytest.raises(ValueError, match="needs window_sampling='sliding'"):
        _calf(missing="mask", window_sampling="recent").fit(X)
    with pytest.raises(ValueError, match="task_loss='mase'.*missing values leave undefined"):
        _calf(missing="mask", task_loss="mase").fit(X)
    with pytest.raises(ValueError, match="missing"):
        _calf(missing="drop").fit(X)


def test_a_panel_with_gaps():
    """Members with gaps of their own, scaled by their observed values, forecast one by one."""
    members = {"a": _gappy(make_series(240, seed=1), seed=2), "b": _gappy(make_series(200, seed=3), seed=4)}
    model = _dlinear(missing="mask").fit(members)
    forecasts = model.predict()
    assert sorted(forecasts) == ["a", "b"] and all(np.isfinite(f).all() for f in forecasts.values())
    assert np.isfinite(model.member_mean_).all() and np.isfinite(model.member_scale_).all()


def test_grid_search_with_gaps():
    """GridSearchCV scores each split by the observed targets of its held-out rows."""
    X = _gappy(make_series(400))
    search = GridSearchCV(
        _dlinear(missing="mask", max_epochs=1), {"learning_rate": [1e-3, 5e-3]}, cv=TimeSeriesSplit(2)
    ).fit(X)
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()
    assert search.best_estimator_.missing == "mask"


def test_a_data_frame_with_gaps_keeps_its_labels():
    frame = pd.DataFrame(
        _gappy(make_series(300)),
        columns=["x", "y", "z"],
        index=pd.date_range("2024-01-01", periods=300, freq="h"),
    )
    forecast = _dlinear(missing="mask").fit(frame).predict()
    assert list(forecast.columns) == ["x", "y", "z"] and forecast.index[0] == frame.index[-1] + pd.Timedelta(
        "1h"
    )


def test_skipped_time_stamps_become_missing_rows():
    """Under mask, a DatetimeIndex that skips steps is filled in with NaN rows (and says how many)."""
    index = pd.date_range("2024-01-01", periods=320, freq="h")
    frame = pd.DataFrame(make_series(320), columns=["x", "y", "z"], index=index).drop(index[150:170])
    with pytest.warns(UserWarning, match="skips 20 time stamp.*added as rows of missing values"):
        model = _dlinear(missing="mask").fit(frame)
    assert model.n_features_in_ == 3 and model.predict().index[0] == index[-1] + pd.Timedelta("1h")
    with pytest.warns(
        UserWarning, match="irregular steps.*Pass missing='mask' to add the skipped time stamps"
    ):
        _dlinear().fit(frame)


def test_the_command_line_fits_a_csv_with_empty_cells(tmp_path):
    """`calf-sklearn fit --missing mask` reads empty cells as missing values."""
    frame = pd.DataFrame(_gappy(make_series(300)), columns=["a", "b", "c"])
    frame.index = pd.date_range("2024-01-01", periods=300, freq="h", name="date")
    frame.to_csv(tmp_path / "data.csv")
    assert ",," in (tmp_path / "data.csv").read_text()  # the gaps are empty cells
    argv = ["fit", str(tmp_path / "data.csv"), "-o", str(tmp_path / "m.joblib"), "--quiet"]
    options = ["--backbone-random", "--backbone-config", '{"n_embd": 16, "n_layer": 1, "n_head": 2}']
    options += ["--n-layers", "1", "--n-principal-words", "4", "--max-epochs", "1"]
    options += ["--seq-len", "24", "--pred-len", "8", "--missing", "mask", "--min-observed", "0.6"]
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main(argv + options)
    assert status == 0, err.getvalue()
    model = joblib.load(tmp_path / "m.joblib")
    assert (model.missing, model.min_observed) == ("mask", 0.6)


def test_mask_refuses_padding():
    with pytest.raises(ValueError, match="does not combine with padding=True"):
        _dlinear(missing="mask", padding=True).fit(_gappy(make_series(300)))


def test_nan_forecasts_are_not_taken_for_missing_targets(monkeypatch):
    """A forecast gone NaN still poisons the score; only a missing target is left out."""
    X = _gappy(make_series(300))
    model = _dlinear(missing="mask").fit(X)
    assert np.isfinite(model.evaluate(X[-100:])["mse"])
    monkeypatch.setattr(
        type(model), "_forecast_scaled", lambda self, windows: np.full((len(windows), 8, 3), np.nan)
    )
    assert np.isnan(model.evaluate(X[-100:])["mse"])


def test_statistics_of_a_complete_series_do_not_depend_on_its_batch():
    import torch

    from calf_sklearn._torch.branches import normalise

    complete = torch.randn(1, 24, 2)
    gappy = torch.randn(1, 24, 2)
    gappy[0, 3:6, 1] = float("nan")
    alone = normalise(complete)
    together = normalise(torch.cat([complete, gappy]))
    for a, b in zip(alone, together):
        assert torch.equal(a[0], b[0])


def test_a_window_exactly_at_min_observed_is_kept():
    """14 of 100 look-back values observed meets min_observed=0.14, though 0.14 * 100 > 14 in floats."""
    values = np.full((101, 1), np.nan)
    values[:14] = 1.0
    values[100] = 2.0  # the target
    series = WindowedSeries(values, seq_len=100, pred_len=1, missing=True)
    assert 0.14 * 100 > 14 and series.keep_observed(0.14) == 0 and len(series) == 1


def test_gaps_in_validation_rows_and_training_rows():
    index = pd.date_range("2024-01-01", periods=300, freq="h")
    frame = pd.DataFrame(make_series(300), columns=["x", "y", "z"], index=index)
    train, validation = frame.iloc[:220], frame.iloc[200:].drop(index[250:255])
    with pytest.warns(UserWarning, match="X_val's DatetimeIndex skips 5 time stamp"):
        _dlinear(missing="mask").fit(train, X_val=validation)
    unobserved = frame.copy()
    unobserved.iloc[:240, 2] = np.nan  # observed only in the validation part
    with pytest.raises(ValueError, match="series 'z' has no observed value in the training rows"):
        _dlinear(missing="mask").fit(unobserved)
    repeated = pd.concat([frame.iloc[:150], frame.iloc[149:]])
    with pytest.raises(ValueError, match="repeats 1 timestamp"):
        _dlinear(missing="mask").fit(repeated)


def test_the_sktime_adapter_accepts_gaps_under_mask():
    from calf_sklearn.sktime import CALFSktimeForecaster

    assert CALFSktimeForecaster(missing="mask").get_tag("capability:missing_values") is True
    assert CALFSktimeForecaster().get_tag("capability:missing_values") is False


RULES = {
    "naive": lambda **kw: NaiveForecaster(pred_len=8, **kw),
    "seasonal naive": lambda **kw: SeasonalNaiveForecaster(pred_len=8, period=7, **kw),
    "naive2": lambda **kw: Naive2Forecaster(pred_len=8, period=7, seq_len=70, **kw),
}


@pytest.mark.parametrize("make", RULES.values(), ids=RULES)
def test_rule_baselines_read_around_gaps(make):
    """The rules take missing='mask' too: forecasts, intervals and scores stay finite; complete data is unchanged."""
    X = make_series(300)
    gappy = _gappy(X)
    with pytest.raises(ValueError, match="Pass missing='mask'"):
        make().fit(gappy)
    model = make(missing="mask").fit(gappy)
    point, (lower, upper) = model.predict_with_interval(coverage=0.8)
    assert np.isfinite(point).all() and (lower <= point).all() and (point <= upper).all()
    assert np.isfinite(model.evaluate(gappy[-100:])["mse"])
    np.testing.assert_array_equal(make(missing="mask").fit(X).predict(), make().fit(X).predict())


def test_naive_repeats_the_last_observed_value():
    X = make_series(100)
    X[-3:, 0] = np.nan  # the last three rows of series 0 are missing
    forecast = NaiveForecaster(pred_len=4, missing="mask").fit(X).predict()
    assert (forecast[:, 0] == X[-4, 0]).all() and (forecast[:, 1] == X[-1, 1]).all()
