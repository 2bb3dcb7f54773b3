"""Saving and loading a fitted forecaster: exact forecasts offline, lean artifacts, version guard."""

import os
import pickle
import subprocess
import sys
import textwrap

import joblib
import numpy as np
import pandas as pd
import pytest
import torch
from conftest import TINY_GPT2, make_series
from conftest import tiny as base_tiny

import calf_sklearn
from calf_sklearn import CALFForecaster
from calf_sklearn._version import ARTIFACT_FORMAT

SEQ, PRED = 24, 8
# A vocabulary size that no other dimension of the tiny network has, so a
# leftover word-embedding matrix cannot hide behind another tensor's shape.
VOCAB = 101
FORBIDDEN_KEYS = ("textual", "cross_attention", "projections", "lora_", "wte", "principal_words")


def tiny(**overrides):
    return base_tiny(**{"llm": {**TINY_GPT2, "vocab_size": VOCAB}, **overrides})


@pytest.fixture(scope="module")
def data():
    return make_series(200, 3, seed=6)


@pytest.fixture(scope="module")
def fitted(module_env, data):
    return CALFForecaster(**tiny()).fit(data)


@pytest.fixture(scope="module")
def frame():
    index = pd.date_range("2024-05-01", periods=160, freq="15min")
    return pd.DataFrame(make_series(160, 2, seed=7), index=index, columns=["north", "south"])


@pytest.fixture(scope="module")
def fitted_frame(module_env, frame):
    return CALFForecaster(**tiny(max_epochs=1)).fit(frame)


def _windows(data):
    return np.stack([data[s : s + SEQ] for s in (0, 33, 120)])


def _tensors(obj):
    """Every tensor or array anywhere inside a nested state."""
    if isinstance(obj, (torch.Tensor, np.ndarray)):
        yield obj
    elif isinstance(obj, dict):
        for value in obj.values():
            yield from _tensors(value)
    elif isinstance(obj, (list, tuple)):
        for value in obj:
            yield from _tensors(value)


# ----------------------------------------------------------- fresh process


def test_joblib_artifact_predicts_exactly_in_a_fresh_offline_process(fitted, data, tmp_path):
    artifact = tmp_path / "model.joblib"
    joblib.dump(fitted, artifact)
    windows = _windows(data)
    np.save(tmp_path / "windows.npy", windows)
    before = {
        "default": fitted.predict(),
        "windows": fitted.predict(windows),
        "recent": fitted.predict(data[:90]),
    }

    hf_home, calf_cache, workdir = (tmp_path / name for name in ("hf-home", "calf-cache", "cwd"))
    for folder in (hf_home, calf_cache, workdir):
        folder.mkdir()
    env = dict(os.environ)
    env.update(
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        HF_HOME=str(hf_home),
        HF_HUB_CACHE=str(hf_home / "hub"),
        CALF_SKLEARN_CACHE=str(calf_cache),
    )
    env.pop("TRANSFORMERS_CACHE", None)
    script = textwrap.dedent(
        f"""
        import sys
        import joblib, numpy as np
        model = joblib.load({str(artifact)!r})
        assert "calf_sklearn" in sys.modules
        np.save("default.npy", model.predict())
        np.save("windows.npy", model.predict(np.load({str(tmp_path / "windows.npy")!r})))
        np.save("recent.npy", model.predict(np.load({str(tmp_path / "data.npy")!r})[:90]))
        print(type(model).__name__, model.n_features_in_, str(model.device_))
        """
    )
    np.save(tmp_path / "data.npy", data)
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.split() == ["CALFForecaster", "3", str(fitted.device_)]
    for name, expected in before.items():
        after = np.load(workdir / f"{name}.npy")
        assert after.shape == expected.shape
        assert np.array_equal(after, expected), name
    # Loading needed no backbone: nothing was fetched into the empty caches.
    assert not list(hf_home.rglob("*.safetensors")) and not list(hf_home.rglob("*.bin"))


# -------------------------------------------------------------- in process


def test_pickle_round_trip(fitted, data):
    loaded = pickle.loads(pickle.dumps(fitted))
    assert loaded is not fitted and loaded.module_ is not fitted.module_
    np.testing.assert_array_equal(loaded.predict(), fitted.predict())
    np.testing.assert_array_equal(loaded.predict(_windows(data)), fitted.predict(_windows(data)))
    assert loaded.score(data[-60:]) == fitted.score(data[-60:])
    assert loaded.get_params() == fitted.get_params()
    assert loaded.history_ == fitted.history_
    assert loaded.best_epoch_ == fitted.best_epoch_
    assert loaded.n_features_in_ == 3
    assert isinstance(loaded.device_, torch.device)
    assert not any(p.requires_grad for p in loaded.module_.parameters())
    assert not loaded.module_.training
    # The original still works after being pickled.
    np.testing.assert_array_equal(fitted.predict(), loaded.predict())


def test_unfitted_round_trip(tiny_params):
    est = CALFForecaster(**tiny_params)
    loaded = pickle.loads(pickle.dumps(est))
    assert loaded.get_params() == est.get_params()
    assert not hasattr(loaded, "module_")


def test_frame_forecaster_round_trips_with_columns_and_index(fitted_frame, frame, tmp_path):
    path = tmp_path / "frame.joblib"
    joblib.dump(fitted_frame, path)
    loaded = joblib.load(path)
    expected = fitted_frame.predict()
    forecast = loaded.predict()
    pd.testing.assert_frame_equal(forecast, expected)
    assert list(forecast.columns) == ["north", "south"]
    pd.testing.assert_index_equal(
        forecast.index, pd.date_range(frame.index[-1] + pd.Timedelta(minutes=15), periods=PRED, freq="15min")
    )
    np.testing.assert_array_equal(loaded.feature_names_in_, ["north", "south"])
    recent = frame.iloc[:50]
    pd.testing.assert_frame_equal(loaded.predict(recent), fitted_frame.predict(recent))
    with pytest.raises(ValueError):
        loaded.predict(frame.rename(columns={"south": "east"}))


# ----------------------------------------------------------------- lean


def test_artifact_is_lean(fitted):
    state = fitted.__getstate__()
    payload = state["module_"]
    assert isinstance(payload, dict)
    state_dict = payload["state_dict"]
    assert "head.weight" in state_dict
    for key in state_dict:
        for forbidden in FORBIDDEN_KEYS:
            assert forbidden not in key, key
    for tensor in _tensors(state):
        assert VOCAB not in tuple(tensor.shape), tuple(tensor.shape)
    for tensor in state_dict.values():
        assert tensor.device.type == "cpu"
    # Nothing big hides elsewhere: the pickle is about the size of the weights.
    weight_bytes = sum(t.numel() * t.element_size() for t in state_dict.values())
    assert len(pickle.dumps(fitted)) < 1.5 * weight_bytes + 100_000


def test_artifact_records_versions(fitted):
    state = fitted.__getstate__()
    assert state["_calf_sklearn_version"] == calf_sklearn.__version__
    assert state["module_"]["calf_sklearn_version"] == calf_sklearn.__version__
    assert state["module_"]["artifact_format"] == ARTIFACT_FORMAT


def test_getstate_does_not_disturb_the_fitted_estimator(fitted):
    forecast = fitted.predict()
    module = fitted.module_
    fitted.__getstate__()
    assert fitted.module_ is module
    assert isinstance(fitted.device_, torch.device)
    np.testing.assert_array_equal(fitted.predict(), forecast)


def test_pickling_does_not_modify_the_estimator(fitted, tiny_params):
    for est in (fitted, CALFForecaster(**tiny_params)):
        before = dict(vars(est))
        pickle.dumps(est)
        joblib.dump(est, os.devnull)
        assert sorted(set(vars(est)) ^ set(before)) == []
        for key, value in before.items():
            assert vars(est)[key] is value, key


# ------------------------------------------------------------ version guard


def _other_format_state(fitted):
    state = fitted.__getstate__()
    state = dict(state)
    state["module_"] = {
        **state["module_"],
        "artifact_format": ARTIFACT_FORMAT + 1,
        "calf_sklearn_version": "9.9.9",
    }
    return state


def test_setstate_refuses_another_artifact_format(fitted):
    blank = CALFForecaster.__new__(CALFForecaster)
    with pytest.raises(ValueError) as info:
        blank.__setstate__(_other_format_state(fitted))
    message = str(info.value)
    assert f"format {ARTIFACT_FORMAT + 1}" in message
    assert f"format {ARTIFACT_FORMAT}" in message
    assert "9.9.9" in message
    assert calf_sklearn.__version__ in message


def test_unpickling_refuses_another_artifact_format(fitted, monkeypatch):
    state = _other_format_state(fitted)
    monkeypatch.setattr(CALFForecaster, "__getstate__", lambda self: state)
    blob = pickle.dumps(fitted)
    monkeypatch.undo()
    with pytest.raises(ValueError, match=f"format {ARTIFACT_FORMAT + 1}"):
        pickle.loads(blob)


def test_setstate_refuses_a_payload_without_format(fitted):
    state = fitted.__getstate__()
    state = dict(state)
    state["module_"] = {k: v for k, v in state["module_"].items() if k != "artifact_format"}
    with pytest.raises(ValueError, match=str(ARTIFACT_FORMAT)):
        CALFForecaster.__new__(CALFForecaster).__setstate__(state)


def test_artifact_saved_on_a_gpu_loads_on_the_cpu(fitted, monkeypatch):
    """A state recorded on CUDA loads onto the CPU when no CUDA device exists.

    No GPU is needed: the saved tensors are always CPU tensors, and the state
    is edited to say it came from ``cuda:0``.
    """
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    state = fitted.__getstate__()
    assert all(t.device.type == "cpu" for t in state["module_"]["state_dict"].values())
    state["device_"] = "cuda:0"
    loaded = CALFForecaster.__new__(CALFForecaster)
    loaded.__setstate__(state)
    assert loaded.device_ == torch.device("cpu")
    np.testing.assert_array_equal(loaded.predict(), fitted.predict())


# ------------------------------------------------- safe format (no pickle)


def _safe_round_trip(model, tmp_path, name="model.safetensors"):
    path = calf_sklearn.save_forecaster(model, tmp_path / name)
    assert path == tmp_path / name and path.is_file()
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []
    return calf_sklearn.load_forecaster(path)


def test_safe_format_round_trip(fitted, data, tmp_path):
    loaded = _safe_round_trip(fitted, tmp_path)
    assert type(loaded) is CALFForecaster
    assert loaded.get_params() == fitted.get_params()
    np.testing.assert_array_equal(loaded.predict(), fitted.predict())
    np.testing.assert_array_equal(loaded.predict(_windows(data)), fitted.predict(_windows(data)))
    with pytest.warns(UserWarning, match="recursively"):
        np.testing.assert_array_equal(loaded.predict(horizon=20), fitted.predict(horizon=20))
    assert loaded.score(data[-60:]) == fitted.score(data[-60:])
    for name in ("n_features_in_", "history_", "best_epoch_", "training_interrupted_", "resumed_from_epoch_"):
        assert getattr(loaded, name) == getattr(fitted, name), name
    np.testing.assert_array_equal(loaded.last_window_, fitted.last_window_)
    for name in ("mean_", "scale_", "var_", "n_samples_seen_", "n_features_in_"):
        np.testing.assert_array_equal(getattr(loaded.scaler_, name), getattr(fitted.scaler_, name))
    assert loaded.device_ == fitted.device_
    assert not hasattr(loaded, "feature_names_in_")
    assert not any(p.requires_grad for p in loaded.module_.parameters())


def test_safe_format_keeps_columns_and_index(fitted_frame, frame, tmp_path):
    loaded = _safe_round_trip(fitted_frame, tmp_path)
    pd.testing.assert_frame_equal(loaded.predict(), fitted_frame.predict())
    pd.testing.assert_frame_equal(loaded.predict(frame.iloc[:50]), fitted_frame.predict(frame.iloc[:50]))
    np.testing.assert_array_equal(loaded.feature_names_in_, ["north", "south"])
    with pytest.raises(ValueError, match="feature names"):
        loaded.predict(frame.rename(columns={"south": "east"}))


@pytest.mark.parametrize(
    "index",
    [
        pd.date_range("2024-03-30", periods=120, freq="h", tz="Europe/Paris"),
        pd.date_range("2024-01-31", periods=120, freq="ME", name="month"),
        pd.RangeIndex(1000, 1240, 2),
        pd.period_range("2001Q1", periods=120, freq="Q", name="quarter"),
        pd.period_range("2024-01-01", periods=120, freq="D"),
        pd.timedelta_range("0s", periods=120, freq="90s", name="elapsed"),
    ],
    ids=["hourly-tz", "month-end", "integer-step", "quarterly-periods", "daily-periods", "timedelta"],
)
def test_safe_format_continues_the_index(module_env, index, tmp_path):
    frame = pd.DataFrame(make_series(120, 2, seed=3), index=index, columns=[10, 20])
    model = CALFForecaster(**tiny(max_epochs=1)).fit(frame)
    loaded = _safe_round_trip(model, tmp_path)
    pd.testing.assert_frame_equal(loaded.predict(), model.predict())
    assert type(loaded.predict().index) is type(index) and loaded.predict().index.name == index.name


def test_safe_format_series_and_config_params(module_env, tmp_path):
    from transformers import GPT2Config

    series = pd.Series(make_series(120, 1, seed=2)[:, 0], name="load")
    model = CALFForecaster(
        **tiny(
            llm=GPT2Config(**{**TINY_GPT2, "vocab_size": VOCAB}), cache_dir=tmp_path / "cache", max_epochs=1
        )
    ).fit(series)
    loaded = _safe_round_trip(model, tmp_path)
    pd.testing.assert_series_equal(loaded.predict(), model.predict())
    assert isinstance(loaded.llm, GPT2Config) and loaded.llm.to_dict() == model.llm.to_dict()
    assert loaded.cache_dir == tmp_path / "cache"


def test_safe_format_loads_without_unpickling(fitted, tmp_path):
    """In a fresh process where pickle and torch.load cannot run, loading still works."""
    path = calf_sklearn.save_forecaster(fitted, tmp_path / "model.safetensors")
    np.save(tmp_path / "expected.npy", fitted.predict())
    script = textwrap.dedent(
        f"""
        import sys, torch, numpy as np
        import calf_sklearn.network, transformers  # imports done before the guard goes up

        def guard(event, args):
            # Every unpickler (C or Python) raises this event before it loads a global.
            if event == "pickle.find_class":
                raise AssertionError(f"unpickling was attempted: {{args}}")

        def forbidden(*args, **kwargs):
            raise AssertionError("torch.load was called")

        torch.load = forbidden
        sys.addaudithook(guard)
        from calf_sklearn import load_forecaster
        model = load_forecaster({str(path)!r})
        assert np.array_equal(model.predict(), np.load({str(tmp_path / "expected.npy")!r}))
        print("ok")
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip() == "ok"


def _rewrite_header(path, edit):
    import json

    from safetensors import safe_open
    from safetensors.torch import save_file

    with safe_open(str(path), framework="pt") as handle:
        metadata = handle.metadata()
        tensors = {key: handle.get_tensor(key) for key in handle.keys()}  # noqa: SIM118 - not a dict
    header = json.loads(metadata["calf_sklearn"])
    edit(header)
    save_file(tensors, str(path), metadata={"calf_sklearn": json.dumps(header)})


def test_safe_format_refuses_another_version(fitted, tmp_path):
    path = calf_sklearn.save_forecaster(fitted, tmp_path / "model.safetensors")
    _rewrite_header(
        path, lambda h: h.update(artifact_format=ARTIFACT_FORMAT + 1, calf_sklearn_version="9.9.9")
    )
    with pytest.raises(ValueError) as info:
        calf_sklearn.load_forecaster(path)
    message = str(info.value)
    assert "9.9.9" in message and calf_sklearn.__version__ in message
    assert f"format {ARTIFACT_FORMAT + 1}" in message and f"format {ARTIFACT_FORMAT}" in message


def test_safe_format_refuses_other_files(fitted, tmp_path):
    from safetensors.torch import save_file

    other = tmp_path / "other.safetensors"
    save_file({"x": torch.zeros(3)}, str(other))
    with pytest.raises(ValueError, match="not a forecaster written by save_forecaster"):
        calf_sklearn.load_forecaster(other)
    garbage = tmp_path / "garbage.safetensors"
    garbage.write_bytes(b"\x00" * 64)
    with pytest.raises(ValueError, match="not a safetensors file"):
        calf_sklearn.load_forecaster(garbage)
    truncated = tmp_path / "truncated.safetensors"
    calf_sklearn.save_forecaster(fitted, truncated)
    truncated.write_bytes(truncated.read_bytes()[:-100])
    with pytest.raises(ValueError, match="not a safetensors file"):
        calf_sklearn.load_forecaster(truncated)
    with pytest.raises(FileNotFoundError, match="missing"):
        calf_sklearn.load_forecaster(tmp_path / "missing.safetensors")


def test_safe_format_refuses_what_it_cannot_store(fitted, tiny_params, tmp_path):
    from sklearn.exceptions import NotFittedError

    from calf_sklearn.baselines import NaiveForecaster

    with pytest.raises(NotFittedError):
        calf_sklearn.save_forecaster(CALFForecaster(**tiny_params), tmp_path / "a.safetensors")
    with pytest.raises(TypeError, match="joblib"):
        calf_sklearn.save_forecaster(
            NaiveForecaster(pred_len=2).fit(np.ones((5, 2))), tmp_path / "b.safetensors"
        )
    odd = pickle.loads(pickle.dumps(fitted))
    odd.random_state = np.random.RandomState(0)
    with pytest.raises(TypeError, match="random_state"):
        calf_sklearn.save_forecaster(odd, tmp_path / "c.safetensors")
    assert not list(tmp_path.iterdir())
