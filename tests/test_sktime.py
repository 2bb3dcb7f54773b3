"""The sktime forecaster passes sktime's own estimator suite and keeps its promises."""

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

sktime = pytest.importorskip("sktime", reason="the sktime extra: pip install 'calf-sklearn[sktime]'")

from sktime.forecasting.base import ForecastingHorizon
from sktime.utils.estimator_checks import check_estimator

from calf_sklearn.sktime import CALFSktimeForecaster


def tiny(**params):
    return CALFSktimeForecaster(**{**CALFSktimeForecaster.get_test_params()[0], **params})


def test_importing_the_package_does_not_import_sktime():
    code = "import sys, calf_sklearn; print('sktime' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_pred_len_none_takes_the_horizon_of_fit_and_fixes_it():
    y = pd.Series(np.sin(np.arange(60) / 4))
    forecaster = tiny().fit(y, fh=[2, 4])
    assert forecaster.pred_len_ == 4 and forecaster.predict().index.tolist() == [61, 63]
    with pytest.raises(ValueError, match="different forecasting horizon"):
        forecaster.predict(fh=[1])
    with pytest.raises(ValueError, match="requires `fh`|fh"):
        tiny().fit(y)


@pytest.fixture
def one_torch_thread():
    """Run torch on one thread, then restore the caller's setting.

    The suite fits hundreds of tiny models whose matrix products are too small to gain from a
    second thread; on a busy 2-core machine two threads per fit made it several times slower.
    """
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_sktime_estimator_suite_passes_in_full(one_torch_thread):
    # Every test sktime runs on a forecaster, for both parameter sets; raises on the first failure.
    results = check_estimator(CALFSktimeForecaster, raise_exceptions=True)
    assert results and all(outcome == "PASSED" for outcome in results.values())


def test_parameters_mirror_the_estimator():
    import inspect

    from calf_sklearn import CALFForecaster

    ours = inspect.signature(CALFSktimeForecaster.__init__).parameters
    theirs = inspect.signature(CALFForecaster.__init__).parameters
    # target_columns is sktime's y (targets) and X (covariates), not a parameter.
    assert list(ours) == [name for name in theirs if name != "target_columns"]
    assert all(ours[n].default == theirs[n].default for n in ours if n not in ("self", "pred_len"))
    assert ours["pred_len"].default is None


def test_relative_and_absolute_fh_select_the_same_steps():
    y = pd.Series(np.sin(np.arange(60) / 4), index=pd.period_range("2020-01", periods=60, freq="M"))
    forecaster = tiny(pred_len=5).fit(y)
    full = forecaster.predict(fh=[1, 2, 3, 4, 5])
    relative = forecaster.predict(fh=[2, 5])
    absolute = forecaster.predict(
        fh=ForecastingHorizon(pd.PeriodIndex(["2025-02", "2025-05"], freq="M"), is_relative=False)
    )
    assert list(relative.index.astype(str)) == ["2025-02", "2025-05"]
    np.testing.assert_array_equal(relative.to_numpy(), full.iloc[[1, 4]].to_numpy())
    np.testing.assert_array_equal(absolute.to_numpy(), relative.to_numpy())


def test_beyond_pred_len_predict_is_recursive_but_intervals_refuse():
    y = pd.DataFrame(np.random.default_rng(0).normal(size=(60, 2)), columns=["a", "b"])
    forecaster = tiny(pred_len=3).fit(y, fh=[1, 2, 3])
    with pytest.warns(UserWarning, match="recursively"):
        assert forecaster.predict(fh=[1, 2, 3, 4, 5, 6]).shape == (6, 2)
    with pytest.raises(ValueError, match="exceeds pred_len=3"):
        forecaster.predict_interval(fh=[4], coverage=0.5)
    assert forecaster.predict_interval(fh=[1, 2, 3], coverage=0.5).shape == (3, 4)


def test_a_panel_trains_one_model_and_forecasts_every_member():
    rng = np.random.default_rng(0)
    index = pd.MultiIndex.from_product([["x", "y", "z"], range(40)], names=["id", "t"])
    y = pd.DataFrame({"v": rng.normal(size=120)}, index=index)
    forecaster = tiny().fit(y, fh=[1, 2])
    forecast = forecaster.predict()
    assert forecast.index.tolist() == [(m, t) for m in "xyz" for t in (40, 41)]
    direct = forecaster.forecaster_.predict({m: y.loc[m].to_numpy() for m in "xyz"}, horizon=2)
    np.testing.assert_array_equal(forecast.loc["y"].to_numpy(), direct["y"])


def test_members_that_end_at_different_times_are_refused():
    index = pd.MultiIndex.from_tuples([("x", t) for t in range(30)] + [("y", t) for t in range(25)])
    y = pd.DataFrame({"v": np.arange(55.0)}, index=index)
    with pytest.raises(ValueError, match="end at the same time point"):
        tiny().fit(y, fh=[1])


def test_update_without_refit_forecasts_from_the_new_end():
    y = pd.Series(np.sin(np.arange(80) / 4))
    forecaster = tiny(pred_len=2).fit(y.iloc[:60], fh=[1, 2])
    network = forecaster.forecaster_
    forecaster.update(y.iloc[60:], update_params=False)
    assert forecaster.forecaster_ is network
    expected = network.predict(y.to_numpy()[:, None], horizon=2)[:, 0]
    np.testing.assert_array_equal(forecaster.predict().to_numpy(), expected)
    assert forecaster.predict().index.tolist() == [80, 81]


def test_exogenous_x_is_read_as_covariates():
    """sktime's X: its past columns are CALF's covariates; forecasts are of y's columns only."""
    index = pd.period_range("2020-01", periods=80, freq="M")
    rng = np.random.default_rng(0)
    driver = pd.DataFrame({"driver": np.sin(np.arange(80) / 3) + 0.1 * rng.normal(size=80)}, index=index)
    y = pd.DataFrame({"sales": driver["driver"].shift(1).bfill() * 2 + 5}, index=index)
    forecaster = tiny(pred_len=4).fit(y, X=driver)
    assert forecaster.get_tag("capability:exogenous") is True
    assert forecaster.forecaster_.target_indices_ == [0] and forecaster.forecaster_.n_features_in_ == 2
    future = pd.DataFrame({"driver": np.zeros(4)}, index=pd.period_range("2026-09", periods=4, freq="M"))
    forecast = forecaster.predict(fh=[1, 2, 3, 4], X=future)
    assert list(forecast.columns) == ["sales"] and forecast.shape == (4, 1)
    changed = driver.copy()
    changed["driver"] = changed["driver"].to_numpy()[::-1]
    other = tiny(pred_len=4).fit(y, X=changed).predict(fh=[1, 2, 3, 4], X=future)
    assert not np.allclose(forecast.to_numpy(), other.to_numpy())
    with pytest.raises(ValueError, match="fitted with exogenous X"):
        forecaster.update(y.iloc[-3:], update_params=False)


def test_adaptive_intervals_walk_only_over_what_update_added():
    """Rows the forecaster was fitted on would teach the walk in-sample errors: it gets the rows
    added since the fit, after a look-back of seq_len rows."""
    y = pd.Series(np.sin(np.arange(120) / 4) + 0.1 * np.random.default_rng(0).normal(size=120))
    adaptive = tiny(interval_method="adaptive").fit(y[:80], fh=[1, 2, 3])

    def split(forecaster):  # the split-conformal interval after the fitted data: no walk
        lower, upper = forecaster.forecaster_.predict_interval(coverage=0.8)
        return np.column_stack([lower[:, 0], upper[:, 0]])

    # Nothing observed since the fit: the split-conformal intervals.
    np.testing.assert_allclose(adaptive.predict_interval(coverage=0.8).to_numpy(), split(adaptive))
    adaptive.update(y[80:110], update_params=False)
    inner = adaptive.forecaster_
    lower, upper = inner.predict_interval(y[80 - inner.seq_len : 110].to_numpy()[:, None], coverage=0.8)
    answer = adaptive.predict_interval(coverage=0.8).to_numpy()
    np.testing.assert_allclose(answer, np.column_stack([lower[:, 0], upper[:, 0]]))
    whole = inner.predict_interval(y[:110].to_numpy()[:, None], coverage=0.8)  # what the fit rows would teach
    assert not np.allclose(answer[:, 1], whole[1][:, 0])
    # A refit makes every row seen so far in-sample: nothing left to walk over.
    adaptive.update(y[110:], update_params=True)
    np.testing.assert_allclose(adaptive.predict_interval(coverage=0.8).to_numpy(), split(adaptive))
