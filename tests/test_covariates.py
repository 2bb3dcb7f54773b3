"""Covariates: target_columns picks the series to forecast; the others inform CALF's forecasts (issue 22)."""

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
from calf_sklearn._series.windows import PanelWindows
from calf_sklearn.baselines import DLinearForecaster, NaiveForecaster
from calf_sklearn.cli import main
from calf_sklearn.persistence import load_forecaster, save_forecaster

COLUMNS = ["load", "temp", "OT"]


def _frame(n_rows=300, seed=0):
    index = pd.date_range("2024-01-01", periods=n_rows, freq="h")
    return pd.DataFrame(make_series(n_rows, 3, seed=seed), columns=COLUMNS, index=index)


def _calf(**overrides):
    return CALFForecaster(**tiny(max_epochs=1, **overrides))


def _dlinear(**overrides):
    return DLinearForecaster(
        **{"pred_len": 8, "seq_len": 24, "max_epochs": 2, "random_state": 0, **overrides}
    )


MAKERS = {"calf": _calf, "dlinear": _dlinear, "naive": lambda **kw: NaiveForecaster(pred_len=8, **kw)}


@pytest.mark.parametrize("make", MAKERS.values(), ids=MAKERS)
def test_forecasts_intervals_and_scores_are_of_the_targets_only(make):
    frame = _frame()
    model = make(target_columns="OT").fit(frame)
    assert model.target_indices_ == [2]
    forecast = model.predict()
    assert list(forecast.columns) == ["OT"] and len(forecast) == 8
    _, interval = model.predict_with_interval(coverage=0.8)
    assert list(interval.columns.get_level_values(0).unique()) == ["OT"]
    assert model.calibration_.scores.shape[-1] == 1
    assert list(model.predict(frame.iloc[-60:]).columns) == ["OT"]
    # Arrays: positions, and the answer has the target columns only.
    assert make(target_columns=[0, 2]).fit(frame.to_numpy()).predict().shape == (8, 2)


def test_evaluate_scores_the_target_column():
    frame = _frame()
    model = _calf(target_columns="OT", scaling=None).fit(frame.iloc[:220])
    test = frame.iloc[150:].to_numpy()
    windows = PanelWindows([test], 24, 8)
    x, y = windows.batch(np.arange(len(windows)))
    error = model.predict(x)[..., 0] - y[..., 2]
    assert model.evaluate(frame.iloc[150:])["mse"] == pytest.approx(np.mean(error**2), rel=1e-6)


def test_calf_reads_the_covariates_and_dlinear_ignores_them():
    frame = _frame()
    look_back = frame.iloc[-40:].copy()
    changed = look_back.copy()
    # Not an affine change: each window's series is standardised, so scaling would not show.
    changed["temp"] = changed["temp"].to_numpy()[::-1]
    calf = _calf(target_columns="OT").fit(frame)
    assert not np.allclose(calf.predict(look_back), calf.predict(changed))
    dlinear = _dlinear(target_columns="OT").fit(frame)
    np.testing.assert_array_equal(dlinear.predict(look_back), dlinear.predict(changed))


def test_covariates_are_masked_out_of_the_targets():
    windows = PanelWindows([make_series(60)], seq_len=8, pred_len=4, targets=[False, False, True])
    x, _, mask = windows.batch([0, 5])
    assert x.shape == (2, 8, 3) and (mask[..., :2] == 0).all() and (mask[..., 2] == 1).all()


def test_every_column_a_target_is_no_covariate():
    frame = _frame()
    plain = _calf().fit(frame)
    named = _calf(target_columns=COLUMNS).fit(frame)
    assert named.target_indices_ is None
    np.testing.assert_array_equal(plain.predict(), named.predict())


@pytest.mark.parametrize(
    ("target_columns", "X", "error", "message"),
    [
        ("Ot", "frame", ValueError, "'Ot', which is not a column of X.*'OT'"),
        ("OT", "array", ValueError, "X has no column names"),
        (3, "array", ValueError, "position 3, but X has 3 columns"),
        (["OT", 2], "frame", ValueError, "names one column twice"),
        ([], "frame", ValueError, "non-empty list"),
        ([1.5], "frame", TypeError, "pass column names"),
    ],
)
def test_bad_target_columns_are_refused(target_columns, X, error, message):
    frame = _frame()
    with pytest.raises(error, match=message):
        _dlinear(target_columns=target_columns).fit(frame if X == "frame" else frame.to_numpy())


def test_a_look_back_without_the_covariates_is_refused():
    frame = _frame()
    model = _dlinear(target_columns="OT").fit(frame)
    with pytest.raises(ValueError, match="Pass the columns \\['load', 'temp', 'OT'\\]"):
        model.predict(frame[["OT"]].iloc[-40:])


def test_saved_pickled_panel_grid_search_and_gaps(tmp_path):
    frame = _frame()
    model = _calf(target_columns="OT").fit(frame)
    save_forecaster(model, tmp_path / "m.safetensors")
    loaded = load_forecaster(tmp_path / "m.safetensors")
    assert loaded.target_indices_ == [2]
    pd.testing.assert_frame_equal(loaded.predict(), model.predict())
    pd.testing.assert_frame_equal(pickle.loads(pickle.dumps(model)).predict(), model.predict())
    panel = {"north": _frame(seed=1), "south": _frame(240, seed=2)}
    forecasts = _dlinear(target_columns="OT").fit(panel).predict()
    assert all(list(f.columns) == ["OT"] for f in forecasts.values())
    search = GridSearchCV(
        _dlinear(target_columns="OT", max_epochs=1), {"learning_rate": [1e-3, 5e-3]}, cv=TimeSeriesSplit(2)
    ).fit(_frame(400))
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()
    gappy = frame.copy()
    gappy.iloc[::7, 1] = np.nan  # a covariate with holes
    assert list(_dlinear(target_columns="OT", missing="mask").fit(gappy).predict().columns) == ["OT"]


def test_the_command_line_takes_target_columns(tmp_path):
    frame = _frame()
    frame.index.name = "date"
    frame.to_csv(tmp_path / "data.csv")
    argv = ["fit", str(tmp_path / "data.csv"), "-o", str(tmp_path / "m.joblib"), "--quiet"]
    options = ["--backbone-random", "--backbone-config", '{"n_embd": 16, "n_layer": 1, "n_head": 2}']
    options += ["--n-layers", "1", "--n-principal-words", "4", "--max-epochs", "1"]
    options += ["--seq-len", "24", "--pred-len", "8", "--target-columns", "OT"]
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main(argv + options)
    assert status == 0, err.getvalue()
    assert joblib.load(tmp_path / "m.joblib").target_columns == ["OT"]


def test_recent_windows_recursion_numpy_positions_and_the_sktime_adapter():
    """Covariates are masked in the M4 protocol's windows too; recursion holds them; numpy ints name columns."""
    from calf_sklearn._series.windows import RecentWindows
    from calf_sklearn.sktime import CALFSktimeForecaster

    windows = RecentWindows(
        [make_series(50)], seq_len=8, pred_len=4, history_size=2, targets=[False, True, False]
    )
    _, _, mask = windows.batch([0])
    assert mask[..., [0, 2]].sum() == 0 and mask[..., 1].sum() > 0
    frame = _frame()
    model = _calf(target_columns=np.int64(2)).fit(frame)
    with pytest.warns(UserWarning, match="recursively"):
        assert list(model.predict(horizon=20).columns) == ["OT"]
    recent = _calf(target_columns="OT", window_sampling="recent", scaling=None, validation_size=8).fit(frame)
    assert list(recent.predict().columns) == ["OT"]
    assert "target_columns" not in CALFSktimeForecaster().get_params()
