"""Compiled forecasting: same forecasts, one compiled shape, never pickled, a warned fallback."""

import pickle
import warnings

import numpy as np
import pytest
import torch
from conftest import tiny

from calf_sklearn import CALFForecaster
from calf_sklearn.compiled import CompiledForecast, CompileFallbackWarning


def series(n=200):
    t = np.arange(n)
    return np.column_stack([np.sin(t / 6), np.cos(t / 9)])


@pytest.fixture(scope="module")
def model():
    return CALFForecaster(**tiny(random_state=0)).fit(series())


def recording_compile(calls):
    """A stand-in for torch.compile that records the batch shapes the compiled code would see."""

    def compile_(module, **options):
        calls.append(options)

        def run(batch):
            calls.append(tuple(batch.shape))
            return module(batch)

        return run

    return compile_


def test_every_batch_is_padded_to_one_shape_and_trimmed_back(model, monkeypatch):
    calls = []
    monkeypatch.setattr(torch, "compile", recording_compile(calls))
    model = pickle.loads(pickle.dumps(model)).set_params(compile=True, batch_size=16)
    windows = np.random.default_rng(0).normal(size=(40, model.seq_len, 2))  # batches of 16, 16, 8
    compiled = model.predict(windows)
    expected = model.set_params(compile=False).predict(windows)
    np.testing.assert_allclose(compiled, expected, rtol=0, atol=1e-6)
    options, *shapes = calls
    assert options["dynamic"] is False and options["options"] == {"freezing": True}
    assert shapes == [(16, model.seq_len, 2)] * 3  # the short last batch was padded


def test_a_batch_larger_than_the_compiled_shape_is_refused():
    forward = CompiledForecast(torch.nn.Identity(), batch_size=2)
    with pytest.raises(ValueError, match="exceeds batch_size=2"):
        forward(torch.zeros(3, 4))


def test_a_failing_compiler_falls_back_once_with_a_warning(model, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("no C++ compiler found\nmore detail")

    monkeypatch.setattr(torch, "compile", broken)
    model = pickle.loads(pickle.dumps(model)).set_params(compile=True)
    expected = model.set_params(compile=False).predict()
    model.set_params(compile=True)
    with pytest.warns(CompileFallbackWarning, match="no C\\+\\+ compiler found.*uncompiled network"):
        np.testing.assert_array_equal(model.predict(), expected)
    assert model._compiled_forecast.failure == "RuntimeError: no C++ compiler found"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no second attempt, no second warning
        np.testing.assert_array_equal(model.predict(), expected)


def test_compiled_forecasts_equal_the_plain_ones_and_never_enter_a_pickle(model):
    """A real torch.compile (inductor, frozen weights): tens of seconds on a CPU."""
    model = pickle.loads(pickle.dumps(model))
    windows = np.random.default_rng(1).normal(size=(20, model.seq_len, 2))
    expected = model.predict(windows)
    model.set_params(compile=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error", CompileFallbackWarning)
        compiled = model.predict(windows)
    assert model._compiled_forecast.failure is None
    np.testing.assert_allclose(compiled, expected, rtol=1e-5, atol=1e-5)
    restored = pickle.loads(pickle.dumps(model))
    assert "_compiled_forecast" not in vars(restored)
    assert restored.compile is True  # the option travels; the compiled code is rebuilt on use


def test_refitting_drops_the_code_compiled_for_the_previous_network(model, monkeypatch):
    calls = []
    monkeypatch.setattr(torch, "compile", recording_compile(calls))
    model = pickle.loads(pickle.dumps(model)).set_params(compile=True)
    model.predict()
    first = model._compiled_forecast
    model.fit(series(180))  # its calibration already forecasts with the new network
    model.predict()
    assert model._compiled_forecast is not first and model._compiled_forecast.network is model.module_
    assert first.network is not model.module_


def test_an_error_after_compilation_is_raised_not_taken_for_a_compiler_failure(monkeypatch):
    calls = []

    def compile_(module, **options):
        def run(batch):
            calls.append(len(batch))
            if len(calls) > 1:
                raise RuntimeError("a later batch failed")
            return module(batch)

        return run

    monkeypatch.setattr(torch, "compile", compile_)
    forward = CompiledForecast(torch.nn.Identity(), batch_size=2)
    forward(torch.zeros(2, 3))
    with pytest.raises(RuntimeError, match="a later batch failed"):
        forward(torch.zeros(1, 3))
    assert forward.failure is None
