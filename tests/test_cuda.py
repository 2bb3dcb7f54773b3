"""The CUDA paths, on a GPU: run with ``pytest -m cuda`` (``benchmarks/gpu_check.sh`` does).

Marked ``cuda`` and left out of the default run (``-m "not cuda"`` in
``pyproject.toml``): CI has no GPU. Selected on a machine without one, every
test fails on the first line and says so instead of skipping.
"""

import warnings

import numpy as np
import pytest
import torch
from conftest import tiny

from calf_sklearn import CALFForecaster, load_forecaster, save_forecaster
from calf_sklearn.precision import ReducedPrecisionWarning, has_native_bfloat16

pytestmark = pytest.mark.cuda


@pytest.fixture(autouse=True)
def gpu():
    assert torch.cuda.is_available(), "these tests need a CUDA GPU; the default run leaves them out"
    return torch.device("cuda")


def series(n=240, seed=0):
    t = np.arange(n)
    noise = np.random.default_rng(seed).normal(scale=0.1, size=(n, 3))
    return np.column_stack([np.sin(t / 6), np.cos(t / 9), np.sin(t / 4)]) + noise


@pytest.mark.parametrize("precision", ["float32", "bfloat16", "float16"])
def test_a_fit_on_the_gpu_forecasts_there_and_after_loading_on_a_cpu(gpu, precision, tmp_path):
    if precision == "bfloat16" and not has_native_bfloat16(gpu):
        pytest.xfail("this GPU has no bfloat16 arithmetic (before Ampere)")
    X = series()
    est = CALFForecaster(**tiny(device="cuda", precision=precision)).fit(X)
    assert est.device_.type == "cuda"
    on_gpu = est.predict()
    assert on_gpu.shape == (8, 3) and np.isfinite(on_gpu).all()

    path = save_forecaster(est, tmp_path / "model.safetensors")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ReducedPrecisionWarning)  # float16 runs as float32 on a CPU
        loaded = load_forecaster(path, device="cpu")
    assert loaded.device_.type == "cpu"
    on_cpu = loaded.predict()
    # The same weights; only the device's arithmetic differs.
    tolerance = {"float32": 1e-4, "bfloat16": 5e-2, "float16": 5e-3}[precision]
    np.testing.assert_allclose(on_cpu, on_gpu, rtol=tolerance, atol=tolerance)


def test_the_same_seed_gives_the_same_fit_on_the_gpu(gpu):
    X = series()
    first = CALFForecaster(**tiny(device="cuda")).fit(X).predict()
    second = CALFForecaster(**tiny(device="cuda")).fit(X).predict()
    np.testing.assert_allclose(first, second, rtol=1e-5, atol=1e-5)


def test_a_compiled_forecast_on_the_gpu_matches_the_plain_one(gpu):
    est = CALFForecaster(**tiny(device="cuda")).fit(series())
    plain = est.predict()
    compiled = est.set_params(compile=True).predict()
    assert est._compiled_forecast.failure is None, est._compiled_forecast.failure
    np.testing.assert_allclose(compiled, plain, rtol=1e-4, atol=1e-4)
