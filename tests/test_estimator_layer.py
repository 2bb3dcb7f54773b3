"""The estimator layer's shared parts: the constraints table, the fit template, FittedState and
predict_with_interval (issue 19)."""

import inspect

import numpy as np
import pandas as pd
import pytest
from conftest import make_series, tiny

from calf_sklearn import CALFForecaster
from calf_sklearn._estimators.constraints import CALF_CONSTRAINTS, choices, validate_params
from calf_sklearn._estimators.state import FittedState
from calf_sklearn.baselines import (
    DLinearForecaster,
    Naive2Forecaster,
    NaiveForecaster,
    SeasonalNaiveForecaster,
)

# --------------------------------------------------------------- the table


def test_the_constraints_table_lists_every_calf_parameter_in_the_constructors_order():
    names = [name for name in inspect.signature(CALFForecaster).parameters]
    assert list(CALF_CONSTRAINTS) == names


def test_every_default_of_calf_passes_its_constraint():
    validate_params(CALFForecaster())


@pytest.mark.parametrize(
    ("name", "value", "error", "words"),
    [
        ("lora_dropout", 1.0, ValueError, "lora_dropout must be finite and in [0.0, 1.0)"),
        ("n_layers", 2.5, TypeError, "n_layers must be an integer"),
        ("task_loss", "huber", ValueError, "Did you mean 'smooth_l1'?"),
        ("feature_loss", "smape", ValueError, "feature_loss='smape' is not one of"),
        ("window_sampling", "recnet", ValueError, "Did you mean 'recent'?"),
        ("interval_method", "conformal", ValueError, "interval_method='conformal' is not one of"),
        ("precision", "float8", ValueError, "precision='float8' is not one of"),
        ("scaling", "none", ValueError, "Did you mean None?"),
        ("padding", "yes", TypeError, "padding must be True or False"),
        ("validation_size", 1.5, ValueError, "validation_size must be finite"),
    ],
)
def test_a_bad_value_is_refused_by_the_table_before_any_work(name, value, error, words):
    model = CALFForecaster(**tiny(**{name: value}))
    with pytest.raises(error, match=words.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[")):
        model.fit(make_series(120, 2))
    assert not hasattr(model, "n_features_in_")  # refused before the data was looked at


def test_the_cli_offers_the_tables_choices():
    from calf_sklearn.cli import build_parser

    parser = build_parser()
    fit = parser._subparsers._group_actions[0].choices["fit"]
    offered = {action.dest: action.choices for action in fit._actions if action.choices}
    for name in CALF_CONSTRAINTS:
        if choices(name) is not None:
            assert list(offered[name]) == choices(name), name
    assert choices("interval_method") == ["absolute", "scaled", "adaptive"]


def test_the_sktime_mirror_takes_calfs_parameters_from_the_table():
    pytest.importorskip("sktime")
    from calf_sklearn.sktime import CALFSktimeForecaster

    mirror = inspect.signature(CALFSktimeForecaster).parameters
    calf = inspect.signature(CALFForecaster).parameters
    # target_columns is sktime's y (targets) and X (covariates), not a parameter.
    assert list(mirror) == [name for name in CALF_CONSTRAINTS if name != "target_columns"]
    assert mirror["pred_len"].default is None
    assert all(mirror[name].default == calf[name].default for name in mirror if name != "pred_len")
    forecaster = CALFSktimeForecaster(12, 48, feature_weight=0.5)  # positional, as before
    assert (forecaster.pred_len, forecaster.seq_len, forecaster.feature_weight) == (12, 48, 0.5)
    assert forecaster.get_params()["llm"] == "gpt2"
    with pytest.raises(TypeError, match="Did you mean 'feature_weight'"):
        CALFSktimeForecaster(feature_weigth=0.5)


# ------------------------------------------------------ fit and FittedState


@pytest.mark.parametrize(
    "make",
    [
        lambda: NaiveForecaster(pred_len=4),
        lambda: SeasonalNaiveForecaster(pred_len=4, period=3),
        lambda: Naive2Forecaster(pred_len=4, period=3),
        lambda: DLinearForecaster(pred_len=4, seq_len=12, max_epochs=1, random_state=0),
    ],
    ids=["naive", "snaive", "naive2", "dlinear"],
)
def test_a_refit_on_one_series_forgets_the_panel_it_was_fitted_on(make):
    panel = {"a": make_series(80, 2, seed=1), "b": make_series(70, 2, seed=2)}
    single = make_series(90, 2, seed=3)
    model = make().fit(panel)
    assert model.member_ids_ == ["a", "b"]
    model.fit(single)
    assert not hasattr(model, "member_ids_") and not hasattr(model, "member_mean_")
    assert model.predict().shape == (4, 2)  # 0.1.0 failed here: the panel's answer layout stayed
    np.testing.assert_array_equal(model.predict(), make().fit(single).predict())
    model.fit(panel)  # and back: no scaler_ of the single series remains
    assert not hasattr(model, "scaler_") and sorted(model.predict()) == ["a", "b"]


def test_fitted_state_round_trips_through_an_estimator():
    model = NaiveForecaster(pred_len=3).fit(pd.DataFrame(make_series(60, 2), columns=["x", "y"]))
    state = FittedState.of(model)
    assert not state.is_panel and state.scaler is model.scaler_
    other = NaiveForecaster(pred_len=3).fit(make_series(50, 2, seed=9))
    state.apply(other)
    pd.testing.assert_frame_equal(other.predict(), model.predict())


def test_a_failed_fit_leaves_the_fitted_state_as_it_was():
    model = NaiveForecaster(pred_len=3).fit({"a": make_series(60, 2)})
    before = FittedState.of(model)
    with pytest.raises(ValueError, match="NaN"):
        model.fit(np.full((60, 2), np.nan))
    after = FittedState.of(model)
    assert after.member_ids == before.member_ids and after.output is before.output


# ------------------------------------------------------ predict_with_interval


def _same(a, b):
    if isinstance(a, dict):
        assert a.keys() == b.keys()
        for key in a:
            _same(a[key], b[key])
    elif isinstance(a, (tuple, list)):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            _same(x, y)
    elif isinstance(a, pd.DataFrame):
        pd.testing.assert_frame_equal(a, b)
    else:
        np.testing.assert_array_equal(a, b)


@pytest.fixture(scope="module")
def calf(module_env):
    frame = pd.DataFrame(
        make_series(200, 2), columns=["u", "v"], index=pd.date_range("2024-01-01", periods=200, freq="h")
    )
    return CALFForecaster(**tiny()).fit(frame), frame


@pytest.mark.parametrize("coverage", [0.8, [0.5, 0.8]])
@pytest.mark.parametrize("what", ["after fit", "frame", "batch", "horizon"])
def test_predict_with_interval_answers_as_predict_and_predict_interval(calf, what, coverage):
    model, frame = calf
    X, horizon = {
        "after fit": (None, None),
        "frame": (frame.iloc[:120], None),
        "batch": (np.stack([frame.to_numpy()[:24], frame.to_numpy()[50:74]]), None),
        "horizon": (None, 5),
    }[what]
    forecast, interval = model.predict_with_interval(X, horizon, coverage=coverage)
    _same(forecast, model.predict(X, horizon))
    _same(interval, model.predict_interval(X, horizon, coverage=coverage))


def test_predict_with_interval_on_a_panel_of_the_rules():
    model = Naive2Forecaster(pred_len=4, period=3).fit(
        [make_series(80, 1, seed=1), make_series(70, 1, seed=2)]
    )
    forecast, interval = model.predict_with_interval(coverage=0.5)
    _same(forecast, model.predict())
    _same(interval, model.predict_interval(coverage=0.5))
    with pytest.raises(ValueError, match="exceeds pred_len"):
        model.predict_with_interval(horizon=5)
