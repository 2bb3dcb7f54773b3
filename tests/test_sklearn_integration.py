"""CALFForecaster inside scikit-learn: clone, params, Pipeline, GridSearchCV with TimeSeriesSplit."""

import itertools

import numpy as np
import pytest
from conftest import TINY_GPT2, make_series
from conftest import tiny as base_tiny
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV, TimeSeriesSplit
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.validation import check_is_fitted

from calf_sklearn import CALFForecaster, mae_scorer, mse_scorer

SEQ, PRED = 24, 8
GRID = {"feature_weight": [0.0, 0.01], "output_weight": [0.0, 1.0]}


def tiny(**overrides):
    return base_tiny(**{"max_epochs": 1, "batch_size": 32, "validation_size": 0.2, **overrides})


@pytest.fixture(scope="module")
def data():
    return make_series(300, 3, seed=4)


@pytest.fixture(scope="module")
def pipeline(module_env, data):
    pipe = Pipeline([("scale", StandardScaler()), ("calf", CALFForecaster(**tiny()))])
    returned = pipe.fit(data[:240])
    assert returned is pipe
    return pipe


@pytest.fixture(scope="module")
def search_default(module_env, data):
    search = GridSearchCV(CALFForecaster(**tiny()), param_grid=GRID, cv=TimeSeriesSplit(n_splits=2))
    return search.fit(data)


@pytest.fixture(scope="module")
def search_scorers(module_env, data):
    search = GridSearchCV(
        CALFForecaster(**tiny()),
        param_grid=GRID,
        scoring={"mse": mse_scorer, "mae": mae_scorer},
        refit="mse",
        cv=TimeSeriesSplit(n_splits=2),
    )
    return search.fit(data)


def grid_points():
    keys = sorted(GRID)
    return [dict(zip(keys, values)) for values in itertools.product(*(GRID[k] for k in keys))]


# --------------------------------------------------------------- clone, params


def test_clone_of_a_fitted_forecaster_is_unfitted_with_equal_params(pipeline):
    fitted = pipeline.named_steps["calf"]
    copy = clone(fitted)
    assert type(copy) is CALFForecaster and copy is not fitted
    assert copy.get_params() == fitted.get_params()
    assert copy.get_params()["llm"] == TINY_GPT2
    for attribute in ("module_", "history_", "scaler_", "n_features_in_", "best_epoch_"):
        assert not hasattr(copy, attribute)
    with pytest.raises(NotFittedError):
        check_is_fitted(copy)
    with pytest.raises(NotFittedError):
        copy.predict()
    check_is_fitted(fitted)


def test_clone_refits_to_the_same_forecaster(pipeline, data):
    fitted = pipeline.named_steps["calf"]
    scaled = pipeline.named_steps["scale"].transform(data[:240])
    again = clone(fitted).fit(scaled)
    np.testing.assert_array_equal(again.predict(), fitted.predict())


def test_clone_does_not_share_mutable_params(tiny_params):
    est = CALFForecaster(**tiny_params)
    copy = clone(est)
    copy.llm["n_embd"] = 64
    assert est.llm["n_embd"] == TINY_GPT2["n_embd"]


def test_set_params_and_get_params(tiny_params):
    est = CALFForecaster(**tiny_params)
    assert est.set_params(feature_weight=0.1, output_weight=0.0, max_epochs=3) is est
    params = est.get_params()
    assert params["feature_weight"] == 0.1
    assert params["output_weight"] == 0.0
    assert params["max_epochs"] == 3
    assert params["pred_len"] == tiny_params["pred_len"]
    with pytest.raises(ValueError):
        est.set_params(not_a_param=1)


def test_set_params_through_a_pipeline(tiny_params):
    pipe = Pipeline([("scale", StandardScaler()), ("calf", CALFForecaster(**tiny_params))])
    pipe.set_params(calf__feature_weight=0.5, calf__seq_len=12)
    assert pipe.named_steps["calf"].feature_weight == 0.5
    assert pipe.get_params()["calf__seq_len"] == 12


# -------------------------------------------------------------------- Pipeline


def test_pipeline_predict_recent(pipeline, data):
    recent = data[200:260]
    forecast = pipeline.predict(recent)
    assert isinstance(forecast, np.ndarray)
    assert forecast.shape == (PRED, 3)
    assert np.isfinite(forecast).all()
    calf, scaler = pipeline.named_steps["calf"], pipeline.named_steps["scale"]
    np.testing.assert_array_equal(forecast, calf.predict(scaler.transform(recent)))
    # The forecaster was fitted on the scaled data.
    np.testing.assert_allclose(calf.last_window_, scaler.transform(data[:240])[-SEQ:])


def test_pipeline_predict_passes_the_horizon(pipeline, data):
    recent = data[200:260]
    np.testing.assert_array_equal(pipeline.predict(recent, horizon=3), pipeline.predict(recent)[:3])


def test_pipeline_score(pipeline, data):
    test = data[240 - SEQ :]
    score = pipeline.score(test)
    calf, scaler = pipeline.named_steps["calf"], pipeline.named_steps["scale"]
    assert np.isfinite(score) and score < 0
    assert score == -calf.evaluate(scaler.transform(test))["mse"]
    assert score == mse_scorer(pipeline, test)


def test_pipeline_score_too_short(pipeline, data):
    with pytest.raises(ValueError, match="seq_len \\+ pred_len"):
        pipeline.score(data[: SEQ + PRED - 1])


# ---------------------------------------------------------------- GridSearchCV


def test_every_fold_is_long_enough(data):
    for train, test in TimeSeriesSplit(n_splits=2).split(data):
        assert len(train) * 0.8 >= SEQ + PRED and len(test) >= SEQ + PRED


def test_grid_search_default_scoring(search_default, data):
    search = search_default
    assert search.best_params_ in grid_points()
    tried = sorted(sorted(p.items()) for p in search.cv_results_["params"])
    assert tried == sorted(sorted(p.items()) for p in grid_points())
    scores = search.cv_results_["mean_test_score"]
    assert len(scores) == 4
    assert np.isfinite(scores).all() and (scores < 0).all()
    for split in ("split0_test_score", "split1_test_score"):
        assert np.isfinite(search.cv_results_[split]).all()
    assert search.best_index_ == int(np.argmax(scores))
    best = search.best_estimator_
    for key, value in search.best_params_.items():
        assert best.get_params()[key] == value
    assert best.n_features_in_ == 3
    forecast = best.predict()
    assert forecast.shape == (PRED, 3) and np.isfinite(forecast).all()
    # Refitted on all the data: forecasts follow its last rows.
    np.testing.assert_array_equal(best.last_window_, data[-SEQ:])


def test_grid_search_fold_score_is_the_forecasters_score(search_default, data):
    """One cell of cv_results_, recomputed by hand."""
    train, test = next(iter(TimeSeriesSplit(n_splits=2).split(data)))
    params = search_default.cv_results_["params"][0]
    est = CALFForecaster(**tiny()).set_params(**params).fit(data[train])
    assert search_default.cv_results_["split0_test_score"][0] == pytest.approx(
        est.score(data[test]), rel=1e-6
    )


def test_grid_search_with_scorers(search_scorers, search_default):
    search = search_scorers
    results = search.cv_results_
    assert search.best_params_ in grid_points()
    for metric in ("mse", "mae"):
        values = results[f"mean_test_{metric}"]
        assert len(values) == 4
        assert np.isfinite(values).all() and (values < 0).all()
    assert search.best_index_ == int(np.argmax(results["mean_test_mse"]))
    # Seeded fits: the MSE scorer gives what score() gave in the default search.
    np.testing.assert_allclose(
        results["mean_test_mse"], search_default.cv_results_["mean_test_score"], rtol=1e-9
    )
    # MAE and MSE are different numbers.
    assert not np.allclose(results["mean_test_mae"], results["mean_test_mse"])
    forecast = search.best_estimator_.predict()
    assert forecast.shape == (PRED, 3) and np.isfinite(forecast).all()
    assert search.score(make_series(300, 3, seed=4)[-60:]) == mse_scorer(
        search.best_estimator_, make_series(300, 3, seed=4)[-60:]
    )
