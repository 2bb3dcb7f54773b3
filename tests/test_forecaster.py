"""CALFForecaster: fit/predict for every input kind, training control, errors and scores."""

import math
import warnings

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import TINY_GPT2, make_series, tiny
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from calf_sklearn import CALFForecaster, mae_scorer, mse_scorer
from calf_sklearn.losses import CALFLoss
from calf_sklearn.network import CALFNetwork
from calf_sklearn.training import Trainer
from calf_sklearn.windows import temporal_split

SEQ, PRED = 24, 8


def make_frame():
    index = pd.date_range("2024-01-01", periods=200, freq="h")
    return pd.DataFrame(make_series(200, 3, seed=1), index=index, columns=["load", "temp", "wind"])


def recursive_warnings(caught):
    return [w for w in caught if issubclass(w.category, UserWarning) and "recursive" in str(w.message)]


def predict_quietly(est, *args, **kwargs):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = est.predict(*args, **kwargs)
    return out, caught


# -------------------------------------------------------------- shared fits


@pytest.fixture(scope="module")
def array_data():
    return make_series(240, 3)


@pytest.fixture(scope="module")
def fitted_array(module_env, array_data):
    return CALFForecaster(**tiny()).fit(array_data)


@pytest.fixture(scope="module")
def refit(module_env, array_data):
    """A second fit with the same seed, watching the caller's RNGs and input."""
    X = array_data.copy()
    torch_before = torch.get_rng_state()
    numpy_before = np.random.get_state()
    est = CALFForecaster(**tiny()).fit(X)
    return {
        "est": est,
        "X": X,
        "torch_before": torch_before,
        "torch_after": torch.get_rng_state(),
        "numpy_before": numpy_before,
        "numpy_after": np.random.get_state(),
    }


@pytest.fixture(scope="module")
def fitted_other_seed(module_env, array_data):
    return CALFForecaster(**tiny(random_state=1)).fit(array_data)


@pytest.fixture(scope="module")
def frame_data():
    return make_frame()


@pytest.fixture(scope="module")
def fitted_frame(module_env, frame_data):
    return CALFForecaster(**tiny()).fit(frame_data)


@pytest.fixture(scope="module")
def range_frame():
    return pd.DataFrame(make_series(120, 2, seed=2), columns=["a", "b"])


@pytest.fixture(scope="module")
def fitted_range(module_env, range_frame):
    return CALFForecaster(**tiny(max_epochs=1)).fit(range_frame)


@pytest.fixture(scope="module")
def single_series():
    index = pd.date_range("2023-03-01", periods=120, freq="D")
    return pd.Series(make_series(120, 1, seed=3)[:, 0], index=index, name="sales")


@pytest.fixture(scope="module")
def fitted_single(module_env, single_series):
    return CALFForecaster(**tiny(max_epochs=1)).fit(single_series)


@pytest.fixture(scope="module")
def eval_data():
    return make_series(120, 3, seed=5)


# ------------------------------------------------------- outputs and shapes


def test_array_in_array_out(fitted_array):
    forecast = fitted_array.predict()
    assert isinstance(forecast, np.ndarray)
    assert forecast.shape == (PRED, 3)
    assert forecast.dtype == np.float64
    assert np.isfinite(forecast).all()


def test_forecast_is_in_the_data_units(fitted_array, array_data):
    # The series trends upwards to about 2.4 at its end; a forecast in scaled
    # units would sit near 0 with unit spread.
    forecast = fitted_array.predict()
    last = array_data[-SEQ:]
    assert np.all(np.abs(forecast.mean(axis=0) - last.mean(axis=0)) < 3 * last.std(axis=0) + 1.0)
    assert forecast.mean() > 1.0


def test_predict_without_x_forecasts_after_the_training_data(fitted_array, array_data):
    np.testing.assert_array_equal(fitted_array.predict(), fitted_array.predict(array_data))
    np.testing.assert_array_equal(fitted_array.predict(), fitted_array.predict(array_data[-SEQ:]))


def test_frame_with_hourly_index(fitted_frame, frame_data):
    forecast = fitted_frame.predict()
    assert isinstance(forecast, pd.DataFrame)
    assert list(forecast.columns) == ["load", "temp", "wind"]
    expected = pd.date_range(frame_data.index[-1] + pd.Timedelta(hours=1), periods=PRED, freq="h")
    pd.testing.assert_index_equal(forecast.index, expected)
    assert forecast.index.freq == pd.tseries.frequencies.to_offset("h")
    assert forecast.index[0] > frame_data.index[-1]
    assert np.isfinite(forecast.to_numpy()).all()


def test_frame_forecast_equals_array_forecast_of_the_same_window(fitted_frame, frame_data):
    forecast = fitted_frame.predict()
    windows = frame_data.to_numpy()[None, -SEQ:]
    # Not bit-exact: the frame's values are column-major, the stored window is not.
    np.testing.assert_array_equal(forecast.to_numpy(), fitted_frame.predict(windows)[0])


def test_frame_with_range_index(fitted_range, range_frame):
    forecast = fitted_range.predict()
    assert isinstance(forecast, pd.DataFrame)
    assert list(forecast.columns) == ["a", "b"]
    pd.testing.assert_index_equal(forecast.index, pd.RangeIndex(120, 120 + PRED), exact=False)
    assert pd.api.types.is_integer_dtype(forecast.index.dtype)


def test_series_in_series_out(fitted_single, single_series):
    forecast = fitted_single.predict()
    assert isinstance(forecast, pd.Series)
    assert forecast.name == "sales"
    assert forecast.shape == (PRED,)
    expected = pd.date_range(single_series.index[-1] + pd.Timedelta(days=1), periods=PRED, freq="D")
    pd.testing.assert_index_equal(forecast.index, expected)
    assert fitted_single.n_features_in_ == 1


def test_series_predict_with_x_continues_its_index(fitted_single, single_series):
    recent = single_series.iloc[:60]
    forecast = fitted_single.predict(recent)
    assert isinstance(forecast, pd.Series)
    pd.testing.assert_index_equal(
        forecast.index, pd.date_range(recent.index[-1] + pd.Timedelta(days=1), periods=PRED, freq="D")
    )
    np.testing.assert_array_equal(
        forecast.to_numpy(), fitted_single.predict(recent.to_numpy()[None, -SEQ:, None])[0, :, 0]
    )


def test_predict_x_array_forecasts_after_its_end(fitted_array, array_data):
    recent = array_data[40:100].copy()
    before = recent.copy()
    forecast = fitted_array.predict(recent)
    assert isinstance(forecast, np.ndarray) and forecast.shape == (PRED, 3)
    np.testing.assert_array_equal(forecast, fitted_array.predict(recent[None, -SEQ:])[0])
    # A different look-back gives a different forecast: X is really used.
    assert not np.allclose(forecast, fitted_array.predict())
    np.testing.assert_array_equal(recent, before)


def test_predict_x_frame_continues_its_index(fitted_frame, frame_data):
    recent = frame_data.iloc[30:90]
    before = recent.copy()
    forecast = fitted_frame.predict(recent)
    assert isinstance(forecast, pd.DataFrame)
    assert list(forecast.columns) == list(frame_data.columns)
    expected = pd.date_range(frame_data.index[89] + pd.Timedelta(hours=1), periods=PRED, freq="h")
    pd.testing.assert_index_equal(forecast.index, expected)
    np.testing.assert_array_equal(
        forecast.to_numpy(), fitted_frame.predict(recent.to_numpy()[None, -SEQ:])[0]
    )
    pd.testing.assert_frame_equal(recent, before)


def test_predict_x_frame_with_integer_index_continues_it(fitted_frame, frame_data):
    recent = frame_data.iloc[:60].set_axis(pd.RangeIndex(1000, 1120, 2))
    forecast = fitted_frame.predict(recent)
    pd.testing.assert_index_equal(forecast.index, pd.RangeIndex(1120, 1120 + 2 * PRED, 2), exact=False)


def test_predict_x_frame_with_irregular_index_continues_at_its_common_step(fitted_frame, frame_data):
    # One missing hour: no frequency can be inferred, the common step is one hour.
    recent = frame_data.iloc[:60].drop(frame_data.index[30])
    assert pd.infer_freq(recent.index) is None
    with pytest.warns(UserWarning, match="irregular"):
        forecast = fitted_frame.predict(recent)
    expected = pd.DatetimeIndex([recent.index[-1] + pd.Timedelta(hours=k) for k in range(1, PRED + 1)])
    pd.testing.assert_index_equal(forecast.index, expected, exact=False)


def test_unnamed_series_gives_an_unnamed_series(module_env):
    unnamed = pd.Series(make_series(100, 1, seed=8)[:, 0])
    est = CALFForecaster(**tiny(max_epochs=1)).fit(unnamed)
    forecast = est.predict()
    assert isinstance(forecast, pd.Series)
    pd.testing.assert_index_equal(forecast.index, pd.RangeIndex(100, 100 + PRED), exact=False)
    assert forecast.name is None


def test_predict_3d_batch(fitted_array, array_data):
    starts = [0, 17, 100, 200]
    windows = np.stack([array_data[s : s + SEQ] for s in starts])
    forecast = fitted_array.predict(windows)
    assert isinstance(forecast, np.ndarray)
    assert forecast.shape == (len(starts), PRED, 3)
    # A batch of four and a batch of one take different matrix-multiply
    # blockings, so they agree to float32 rounding, not bit for bit.
    for k, s in enumerate(starts):
        np.testing.assert_allclose(
            forecast[k], fitted_array.predict(array_data[s : s + SEQ]), rtol=1e-5, atol=1e-6
        )
    # The last training window, as a batch of one, is the default forecast.
    np.testing.assert_array_equal(fitted_array.predict(array_data[None, -SEQ:])[0], fitted_array.predict())


def test_predict_3d_longer_windows_use_their_last_seq_len_rows(fitted_array, array_data):
    long = np.stack([array_data[:50], array_data[100:150]])
    np.testing.assert_array_equal(fitted_array.predict(long), fitted_array.predict(long[:, -SEQ:]))


# ----------------------------------------------------------------- horizons


def test_integer_x_is_the_horizon(fitted_array):
    by_position, caught_a = predict_quietly(fitted_array, 24)
    by_name, caught_b = predict_quietly(fitted_array, horizon=24)
    assert by_position.shape == (24, 3)
    np.testing.assert_array_equal(by_position, by_name)
    np.testing.assert_array_equal(predict_quietly(fitted_array, np.int64(24))[0], by_name)
    assert len(recursive_warnings(caught_a)) == len(recursive_warnings(caught_b)) == 1


def test_integer_x_and_horizon_together_is_an_error(fitted_array):
    with pytest.raises(TypeError):
        fitted_array.predict(24, horizon=24)


@pytest.mark.parametrize("horizon", [1, 5, PRED])
def test_shorter_horizon_is_a_prefix(fitted_array, horizon):
    forecast, caught = predict_quietly(fitted_array, horizon=horizon)
    assert forecast.shape == (horizon, 3)
    np.testing.assert_array_equal(forecast, fitted_array.predict()[:horizon])
    assert recursive_warnings(caught) == []


@pytest.mark.parametrize("horizon", [PRED + 1, 20, 3 * PRED + 1])
def test_longer_horizon_is_recursive_and_warns_once(fitted_array, horizon):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        forecast = fitted_array.predict(horizon=horizon)
    assert len(recursive_warnings(caught)) == 1
    assert len([w for w in caught if issubclass(w.category, UserWarning)]) == 1
    assert forecast.shape == (horizon, 3)
    assert np.isfinite(forecast).all()
    np.testing.assert_array_equal(forecast[:PRED], fitted_array.predict())


def test_recursive_second_round_starts_from_the_first_rounds_forecast(fitted_array, array_data):
    forecast, _ = predict_quietly(fitted_array, horizon=2 * PRED)
    context = np.concatenate([array_data, forecast[:PRED]])
    np.testing.assert_array_equal(forecast[PRED:], fitted_array.predict(context))


def test_longer_horizon_on_a_batch_warns_once(fitted_array, array_data):
    windows = np.stack([array_data[s : s + SEQ] for s in (0, 50, 100)])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        forecast = fitted_array.predict(windows, horizon=20)
    assert len(recursive_warnings(caught)) == 1
    assert forecast.shape == (3, 20, 3)
    np.testing.assert_array_equal(forecast[:, :PRED], fitted_array.predict(windows))


def test_longer_horizon_frame_index(fitted_frame, frame_data):
    forecast, caught = predict_quietly(fitted_frame, horizon=20)
    assert len(recursive_warnings(caught)) == 1
    expected = pd.date_range(frame_data.index[-1] + pd.Timedelta(hours=1), periods=20, freq="h")
    pd.testing.assert_index_equal(forecast.index, expected)
    pd.testing.assert_frame_equal(forecast.iloc[:PRED], fitted_frame.predict())


@pytest.mark.parametrize("horizon", [0, -3])
def test_non_positive_horizon_is_an_error(fitted_array, horizon):
    with pytest.raises(ValueError, match="horizon"):
        fitted_array.predict(horizon=horizon)


# ------------------------------------------------------------ predict errors


def test_too_few_rows_to_predict(fitted_array, array_data):
    with pytest.raises(ValueError) as info:
        fitted_array.predict(array_data[:10])
    assert "10" in str(info.value)
    assert str(SEQ) in str(info.value)


def test_too_short_3d_windows(fitted_array, array_data):
    with pytest.raises(ValueError, match=str(SEQ)):
        fitted_array.predict(array_data[None, :10])


def test_different_number_of_series_at_predict(fitted_array, array_data):
    with pytest.raises(ValueError, match="3"):
        fitted_array.predict(array_data[:, :2])
    with pytest.raises(ValueError, match="3"):
        fitted_array.predict(array_data[None, -SEQ:, :2])


def test_different_columns_at_predict(fitted_frame, frame_data):
    with pytest.raises(ValueError):
        fitted_frame.predict(frame_data.rename(columns={"wind": "rain"}))
    with pytest.raises(ValueError):
        fitted_frame.predict(frame_data[["load", "temp"]])


def test_nan_in_predict_x_is_an_error(fitted_array, array_data):
    recent = array_data[-SEQ:].copy()
    recent[3, 1] = np.nan
    with pytest.raises(ValueError):
        fitted_array.predict(recent)


def test_predict_before_fit_is_an_error(tiny_params):
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        CALFForecaster(**tiny_params).predict()


# -------------------------------------------------------- fitted attributes


def test_fitted_attributes(fitted_array, array_data):
    est = fitted_array
    assert est.n_features_in_ == 3
    assert not hasattr(est, "feature_names_in_")
    assert isinstance(est.module_, CALFNetwork)
    assert not est.module_.has_training_parts
    assert not any("lora_" in name for name, _ in est.module_.named_parameters())
    assert est.device_ == torch.device("cuda" if torch.cuda.is_available() else "cpu")
    assert est.training_interrupted_ is False
    assert isinstance(est.history_, list) and len(est.history_) == 2
    for record in est.history_:
        assert {"train_loss", "task_loss", "output_loss", "feature_loss", "val_mse"} <= record.keys()
        for key in ("train_loss", "task_loss", "output_loss", "feature_loss", "val_mse"):
            assert math.isfinite(record[key])
    val = [record["val_mse"] for record in est.history_]
    assert est.best_epoch_ == int(np.argmin(val)) + 1
    # The scaler is fitted on the training rows only (240 rows, 0.2 held out).
    np.testing.assert_allclose(est.scaler_.mean_, array_data[:192].mean(axis=0))
    np.testing.assert_array_equal(est.last_window_, array_data[-SEQ:])


def test_fitted_attributes_frame(fitted_frame):
    np.testing.assert_array_equal(
        fitted_frame.feature_names_in_, np.array(["load", "temp", "wind"], dtype=object)
    )
    assert fitted_frame.n_features_in_ == 3


def test_fit_returns_self_and_keeps_params(fitted_array):
    assert fitted_array.get_params()["llm"] == TINY_GPT2
    assert fitted_array.get_params()["random_state"] == 0


# ----------------------------------------------------- seeds, RNG, inputs


def test_same_seed_same_forecast(fitted_array, refit, eval_data):
    np.testing.assert_array_equal(refit["est"].predict(), fitted_array.predict())
    np.testing.assert_array_equal(refit["est"].predict(eval_data), fitted_array.predict(eval_data))
    assert refit["est"].history_ == [
        {**r, "seconds": s["seconds"]} for r, s in zip(fitted_array.history_, refit["est"].history_)
    ]


def test_different_seed_different_forecast(fitted_array, fitted_other_seed):
    assert not np.allclose(fitted_other_seed.predict(), fitted_array.predict())


def test_fit_leaves_global_rng_alone(refit):
    assert torch.equal(refit["torch_before"], refit["torch_after"])
    for before, after in zip(refit["numpy_before"], refit["numpy_after"]):
        np.testing.assert_array_equal(before, after)


def test_fit_does_not_mutate_the_input(refit, array_data):
    np.testing.assert_array_equal(refit["X"], make_series(240, 3))


def test_fit_does_not_mutate_a_frame(fitted_frame, frame_data):
    pd.testing.assert_frame_equal(frame_data, make_frame())
    assert frame_data.index.freq == pd.tseries.frequencies.to_offset("h")


# ------------------------------------------------------- training control


def _trainable_snapshot(network):
    return {name: p.detach().clone() for name, p in network.named_parameters() if p.requires_grad}


def test_early_stopping_restores_the_best_epoch(tiny_params, monkeypatch):
    script = [1.0, 0.5, 0.9, 0.8, 0.95] + [0.1] * 5
    calls = iter(script)
    seen = []

    def scripted_validation(self, data):
        seen.append(_trainable_snapshot(self.network))
        return next(calls)

    monkeypatch.setattr(Trainer, "validation_mse", scripted_validation)
    est = CALFForecaster(**{**tiny_params, "max_epochs": 10, "patience": 3}).fit(make_series(120, 2))

    assert est.best_epoch_ == 2
    assert len(est.history_) == 5
    assert [record["val_mse"] for record in est.history_] == script[:5]
    kept = dict(est.module_.named_parameters())
    compared = [name for name in seen[1] if name in kept and "c_attn" not in name]
    for name in (
        "head.weight",
        "head.bias",
        "input_projection.weight",
        "temporal.wpe.weight",
        "temporal.ln_f.weight",
    ):
        assert name in compared
    for name in compared:
        torch.testing.assert_close(kept[name], seen[1][name], rtol=0, atol=0, msg=name)
    # Training went on after epoch 2, so keeping epoch 2 was a real restore.
    assert not torch.equal(seen[4]["head.weight"], seen[1]["head.weight"])


def test_validation_size_zero_trains_max_epochs_and_keeps_the_last(tiny_params, monkeypatch):
    after_epoch = []
    original = Trainer.train_epoch

    def recording(self, data, epoch):
        terms = original(self, data, epoch)
        after_epoch.append(self.network.head.weight.detach().clone())
        return terms

    monkeypatch.setattr(Trainer, "train_epoch", recording)
    X = make_series(100, 2)
    est = CALFForecaster(**{**tiny_params, "max_epochs": 3, "validation_size": 0}).fit(X)
    assert len(est.history_) == 3
    assert all(record["val_mse"] is None for record in est.history_)
    assert est.best_epoch_ == 3
    assert torch.equal(est.module_.head.weight, after_epoch[-1])
    assert not torch.equal(after_epoch[-1], after_epoch[-2])
    np.testing.assert_allclose(est.scaler_.mean_, X.mean(axis=0))


def test_keyboard_interrupt_keeps_the_best_weights(tiny_params, monkeypatch):
    original = Trainer.train_epoch
    calls = iter([0.5, 0.9])
    seen = []

    def interrupting(self, data, epoch):
        if epoch == 3:
            raise KeyboardInterrupt
        return original(self, data, epoch)

    def scripted_validation(self, data):
        seen.append(_trainable_snapshot(self.network))
        return next(calls)

    monkeypatch.setattr(Trainer, "train_epoch", interrupting)
    monkeypatch.setattr(Trainer, "validation_mse", scripted_validation)
    est = CALFForecaster(**{**tiny_params, "max_epochs": 5})
    with pytest.warns(UserWarning, match="nterrupt"):
        returned = est.fit(make_series(120, 2))
    assert returned is est
    assert est.training_interrupted_ is True
    assert len(est.history_) == 2
    assert est.best_epoch_ == 1
    assert torch.equal(est.module_.head.weight, seen[0]["head.weight"])
    assert not torch.equal(seen[0]["head.weight"], seen[1]["head.weight"])
    forecast = est.predict()
    assert forecast.shape == (PRED, 2) and np.isfinite(forecast).all()


def _nan_after(monkeypatch, n_calls):
    original = CALFLoss.__call__
    count = {"n": 0}

    def poisoned(self, outputs, target, **kwargs):
        total, terms = original(self, outputs, target, **kwargs)
        count["n"] += 1
        if count["n"] > n_calls:
            total = total * float("nan")
        return total, terms

    monkeypatch.setattr(CALFLoss, "__call__", poisoned)


def test_non_finite_loss_names_the_epoch(tiny_params, monkeypatch):
    X = make_series(100, 2)
    train_stop, _ = temporal_split(100, 0.2, SEQ, PRED)
    batches_per_epoch = math.ceil((train_stop - SEQ - PRED + 1) / tiny_params["batch_size"])
    _nan_after(monkeypatch, batches_per_epoch)  # the first batch of epoch 2 goes bad
    est = CALFForecaster(**{**tiny_params, "max_epochs": 3})
    with pytest.raises(FloatingPointError, match="epoch 2"):
        est.fit(X)
    assert not hasattr(est, "module_")
    assert not hasattr(est, "n_features_in_")


def test_failing_fit_leaves_a_fitted_estimator_as_it_was(tiny_params, monkeypatch):
    est = CALFForecaster(**{**tiny_params, "max_epochs": 1}).fit(make_series(100, 2))
    forecast = est.predict()
    state = dict(est.__dict__)
    weights = {k: v.clone() for k, v in est.module_.state_dict().items()}

    def unchanged():
        assert est.__dict__.keys() == state.keys()
        for key, value in state.items():
            assert est.__dict__[key] is value, key
        np.testing.assert_array_equal(est.predict(), forecast)
        for key, value in est.module_.state_dict().items():
            assert torch.equal(value, weights[key]), key

    # Rejected while validating the data (after feature names were read).
    bad = pd.DataFrame(make_series(100, 3, seed=9), columns=["x", "y", "z"])
    bad.iloc[50, 1] = np.nan
    with pytest.raises(ValueError):
        est.fit(bad)
    unchanged()
    assert not hasattr(est, "feature_names_in_")
    assert est.n_features_in_ == 2

    # Failing in the middle of training.
    _nan_after(monkeypatch, 1)
    with pytest.raises(FloatingPointError):
        est.fit(make_series(100, 3, seed=9))
    unchanged()


# ------------------------------------------------------------- parameters


def test_init_stores_params_unchanged(tiny_params):
    est = CALFForecaster(**tiny_params)
    params = est.get_params()
    for key, value in tiny_params.items():
        assert params[key] == value
    assert params["llm"] is tiny_params["llm"]
    defaults = CALFForecaster().get_params()
    assert params.keys() == defaults.keys()
    for key in defaults.keys() - tiny_params.keys():
        assert params[key] == defaults[key]


def test_init_does_not_validate(tiny_params):
    odd = {"pred_len": -5, "task_loss": "l2", "device": "tpu", "feature_weight": -1.0, "n_layers": 99}
    est = CALFForecaster(**odd)
    assert {key: est.get_params()[key] for key in odd} == odd


@pytest.mark.parametrize(
    "overrides, match",
    [
        ({"task_loss": "l2"}, "Did you mean"),
        ({"output_loss": "smoth_l1"}, "Did you mean 'smooth_l1'"),
        ({"feature_weight": -0.1}, "feature_weight"),
        ({"task_weight": 0, "output_weight": 0.0, "feature_weight": 0}, "all 0"),
        ({"n_layers": 3}, "n_layers=3"),
        ({"n_principal_words": 33}, "n_principal_words=33"),
        ({"pretrained": True}, "pretrained=False"),
        ({"device": "cuda:7"}, "cuda:7"),
        ({"device": "tpu"}, "tpu"),
        ({"validation_size": 1.5}, "validation_size"),
    ],
)
def test_bad_params_raise_at_fit(tiny_params, overrides, match):
    est = CALFForecaster(**{**tiny_params, **overrides})  # no error here
    with pytest.raises(ValueError, match=match):
        est.fit(make_series(80, 2))
    assert not hasattr(est, "module_")
    assert not hasattr(est, "n_features_in_")


def test_more_series_than_positions(tiny_params):
    X = make_series(80, TINY_GPT2["n_positions"] + 1)
    est = CALFForecaster(**tiny_params)
    with pytest.raises(ValueError) as info:
        est.fit(X)
    assert str(TINY_GPT2["n_positions"] + 1) in str(info.value)
    assert str(TINY_GPT2["n_positions"]) in str(info.value)
    assert not hasattr(est, "n_features_in_")


def test_series_too_short_to_fit(tiny_params):
    with pytest.raises(ValueError, match="seq_len \\+ pred_len"):
        CALFForecaster(**tiny_params).fit(make_series(35, 2))


# ------------------------------------------------------------------ scores


def _hand_errors(est, X, stride=1):
    starts = range(0, len(X) - SEQ - PRED + 1, stride)
    windows = np.stack([X[s : s + SEQ] for s in starts])
    truth = np.stack([X[s + SEQ : s + SEQ + PRED] for s in starts])
    forecast = est.predict(windows)
    m = X.shape[1]

    def scale(a):
        a = a.reshape(-1, m)
        if hasattr(est.scaler_, "feature_names_in_"):
            a = pd.DataFrame(a, columns=est.scaler_.feature_names_in_)
        return est.scaler_.transform(a)

    scaled_forecast, scaled_truth = scale(forecast), scale(truth)
    error = scaled_forecast - scaled_truth
    return np.mean(error**2), np.mean(np.abs(error)), len(windows)


def test_evaluate_matches_a_hand_computation(fitted_array, eval_data):
    result = fitted_array.evaluate(eval_data)
    mse, mae, n_windows = _hand_errors(fitted_array, eval_data)
    assert result["n_windows"] == n_windows == 120 - SEQ - PRED + 1
    assert result["mse"] == pytest.approx(mse, rel=1e-4)
    assert result["mae"] == pytest.approx(mae, rel=1e-4)


def test_evaluate_with_stride(fitted_array, eval_data):
    result = fitted_array.evaluate(eval_data, stride=5)
    mse, mae, n_windows = _hand_errors(fitted_array, eval_data, stride=5)
    assert result["n_windows"] == n_windows == math.ceil((120 - SEQ - PRED + 1) / 5)
    assert result["mse"] == pytest.approx(mse, rel=1e-4)
    assert result["mae"] == pytest.approx(mae, rel=1e-4)


def test_score_is_negative_mse(fitted_array, eval_data):
    score = fitted_array.score(eval_data)
    assert score == -fitted_array.evaluate(eval_data)["mse"]
    assert score < 0
    assert fitted_array.score(eval_data, None) == score


def test_score_on_a_frame(fitted_frame, frame_data):
    recent = frame_data.iloc[-60:]
    score = fitted_frame.score(recent)
    assert score == -fitted_frame.evaluate(recent)["mse"]
    mse, _, _ = _hand_errors(fitted_frame, recent.to_numpy())
    assert score == pytest.approx(-mse, rel=1e-4)


@pytest.mark.parametrize("n_rows", [SEQ + PRED - 1, 10])
def test_score_too_short_says_how_long(fitted_array, eval_data, n_rows):
    for method in (fitted_array.score, fitted_array.evaluate):
        with pytest.raises(ValueError) as info:
            method(eval_data[:n_rows])
        message = str(info.value)
        assert "seq_len + pred_len" in message
        assert str(SEQ + PRED) in message
        assert str(n_rows) in message


def test_evaluate_exactly_one_window(fitted_array, eval_data):
    result = fitted_array.evaluate(eval_data[: SEQ + PRED])
    assert result["n_windows"] == 1
    mse, _, _ = _hand_errors(fitted_array, eval_data[: SEQ + PRED])
    assert result["mse"] == pytest.approx(mse, rel=1e-4)


def test_scorers_equal_evaluate(fitted_array, eval_data):
    errors = fitted_array.evaluate(eval_data)
    assert mse_scorer(fitted_array, eval_data) == -errors["mse"]
    assert mae_scorer(fitted_array, eval_data) == -errors["mae"]
    assert mse_scorer(fitted_array, eval_data, None) == -errors["mse"]


def test_scorers_on_a_pipeline(fitted_array, array_data, eval_data):
    scaler = StandardScaler().fit(array_data)
    pipe = Pipeline([("scale", scaler), ("calf", fitted_array)])
    errors = fitted_array.evaluate(scaler.transform(eval_data))
    assert mse_scorer(pipe, eval_data) == -errors["mse"]
    assert mae_scorer(pipe, eval_data) == -errors["mae"]
    # Scaling really happened: the raw data score differently.
    assert mse_scorer(pipe, eval_data) != mse_scorer(fitted_array, eval_data)
    alone = Pipeline([("calf", fitted_array)])
    assert mse_scorer(alone, eval_data) == mse_scorer(fitted_array, eval_data)
