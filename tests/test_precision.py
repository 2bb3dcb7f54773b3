"""Reduced precision: names, device checks, mixed-precision training, bfloat16 forecasting and saving."""

import copy
import pickle
import warnings

import joblib
import numpy as np
import pytest
import torch
from conftest import tiny, tiny_network

from calf_sklearn import CALFForecaster, load_forecaster, save_forecaster
from calf_sklearn._torch import precision as precision_module
from calf_sklearn.losses import CALFLoss
from calf_sklearn.network import forecast_windows
from calf_sklearn.precision import (
    Precision,
    ReducedPrecisionWarning,
    check_precision,
    place_network,
    resolve_precision,
)
from calf_sklearn.training import Trainer, read_checkpoint
from calf_sklearn.windows import WindowedSeries

CPU = torch.device("cpu")


def series(n=240, seed=0):
    t = np.arange(n)
    noise = np.random.default_rng(seed).normal(scale=0.1, size=(n, 2))
    return np.column_stack([np.sin(t / 6), np.cos(t / 9)]) + noise


def quietly(fit, *args, **kwargs):
    """Call without the warning that bfloat16 is emulated (whether or not this CPU has it)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ReducedPrecisionWarning)
        return fit(*args, **kwargs)


@pytest.fixture(scope="module")
def fitted():
    """The same fit in float32 and in bfloat16."""
    X = series()
    return {
        "float32": CALFForecaster(**tiny(random_state=0)).fit(X),
        "bfloat16": quietly(CALFForecaster(**tiny(random_state=0, precision="bfloat16")).fit, X),
    }


def trainer_for(network, precision=None, max_epochs=2):
    return Trainer(
        network,
        CALFLoss("l1", "l1", "l1", 1.0, 1.0, 0.01),
        learning_rate=1e-3,
        projection_learning_rate=1e-4,
        batch_size=8,
        max_epochs=max_epochs,
        patience=10,
        cosine_t_max=20,
        device=CPU,
        generator=torch.Generator().manual_seed(0),
        precision=precision,
    )


def windows(seed=0):
    values = np.random.default_rng(seed).normal(size=(80, 2)).astype(np.float32)
    return WindowedSeries(values, 8, 4)


# ------------------------------------------------------------------ names


@pytest.mark.parametrize(
    ("value", "name"),
    [
        ("float32", "float32"),
        ("bfloat16", "bfloat16"),
        ("float16", "float16"),
        ("32-true", "float32"),
        ("bf16-mixed", "bfloat16"),
        ("16-mixed", "float16"),
        ("bf16", "bfloat16"),
        (32, "float32"),
        (16, "float16"),
        ("BF16-Mixed", "bfloat16"),
    ],
)
def test_lightning_names_are_accepted(value, name):
    assert check_precision(value) == name


@pytest.mark.parametrize("value", ["bf16-true", "16-true"])
def test_half_precision_master_weights_are_refused_with_the_alternative(value):
    with pytest.raises(ValueError, match="keeps the weights themselves in half precision.*'bfloat16'"):
        check_precision(value)


@pytest.mark.parametrize(("value", "hint"), [("bfloat", "Did you mean 'bfloat16'"), (True, "is not one of")])
def test_unknown_precisions_are_refused(value, hint):
    with pytest.raises(ValueError, match=hint):
        check_precision(value)


def test_float16_needs_cuda():
    with pytest.raises(ValueError, match="needs a CUDA device.*'bfloat16'"):
        resolve_precision("16-mixed", CPU)


@pytest.mark.parametrize("native", [True, False])
def test_bfloat16_warns_only_where_the_cpu_emulates_it(monkeypatch, native):
    monkeypatch.setattr(precision_module, "has_native_bfloat16", lambda device: native)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert resolve_precision("bfloat16", CPU) == Precision("bfloat16", "cpu")
    emulated = [w for w in caught if issubclass(w.category, ReducedPrecisionWarning)]
    assert len(emulated) == (0 if native else 1)


def test_native_bfloat16_is_read_from_the_cpu():
    flags = precision_module._cpu_flags()
    assert isinstance(precision_module.has_native_bfloat16(CPU), bool)
    if not ({"avx512_bf16", "amx_bf16"} & flags):
        assert not precision_module.has_native_bfloat16(CPU)


# ---------------------------------------------------------------- network


def test_bfloat16_weights_keep_the_window_statistics_in_float32():
    """Raw values of magnitude 1e4: a bfloat16 mean would be off by tens, ours is not."""
    network = tiny_network().strip_for_inference().eval()
    half = copy.deepcopy(network).to(torch.bfloat16)
    x = 10_000 + torch.randn(6, 8, 3, generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        reference, forecast = network(x), half(x)
    assert forecast.dtype == torch.float32
    # bfloat16 steps are 64 apart at 1e4; the forecast stays within the normalised error.
    assert float((forecast - reference).abs().max()) < 0.2
    assert float((forecast.mean() - reference.mean()).abs()) < 0.05


def test_forecast_windows_under_autocast_matches_bfloat16_weights_closely():
    network = tiny_network().strip_for_inference()
    x = np.random.default_rng(0).normal(size=(10, 8, 2))
    mixed = forecast_windows(network, x, 4, CPU, precision=Precision("bfloat16", "cpu"))
    plain = forecast_windows(network, x, 4, CPU)
    assert mixed.dtype == np.float32
    assert not np.array_equal(mixed, plain)  # the products did run in bfloat16
    np.testing.assert_allclose(mixed, plain, atol=0.1)


# ---------------------------------------------------------------- training


def test_mixed_precision_training_keeps_float32_master_weights_and_state():
    network = tiny_network()
    trainer = trainer_for(network, Precision("bfloat16", "cpu"))
    x, y = windows().batch(np.arange(8))
    before = {n: p.detach().clone() for n, p in network.named_parameters() if p.requires_grad}
    terms = trainer.train_step(torch.from_numpy(x), torch.from_numpy(y))
    assert np.isfinite(terms["train_loss"])
    trained = [p for p in network.parameters() if p.requires_grad]
    assert all(p.dtype == torch.float32 and p.grad.dtype == torch.float32 for p in trained)
    frozen = [p for p in network.parameters() if not p.requires_grad]
    # Frozen matrices need no float32 master copy; frozen vectors (LayerNorms, biases) keep float32.
    assert {p.dtype for p in frozen if p.ndim == 2} == {torch.bfloat16}
    assert {p.dtype for p in frozen if p.ndim == 1} == {torch.float32}
    state = [s for group in trainer.optimizer.state.values() for s in group.values() if torch.is_tensor(s)]
    assert state and all(s.dtype == torch.float32 for s in state if s.is_floating_point())
    moved = [n for n, p in network.named_parameters() if p.requires_grad and not torch.equal(p, before[n])]
    assert moved


def test_float32_training_is_unchanged_by_the_precision_machinery():
    """precision=None and an explicit float32 Precision take bit-identical steps."""
    results = []
    for precision in (None, Precision("float32", "cpu")):
        network = tiny_network()
        trainer = trainer_for(network, precision)
        x, y = windows().batch(np.arange(8))
        trainer.train_step(torch.from_numpy(x), torch.from_numpy(y))
        results.append([p.detach().clone() for p in network.parameters()])
    assert all(torch.equal(a, b) for a, b in zip(*results))


def test_float16_steps_through_the_gradient_scaler():
    """The CUDA float16 path, run on the CPU: scaled backward, unscaled steps, a scale that updates."""
    network = tiny_network()
    trainer = trainer_for(network, Precision("float16", "cpu"))
    assert trainer.scaler.is_enabled()
    start = trainer.scaler.get_scale()
    head = network.head.weight.detach().clone()
    x, y = windows().batch(np.arange(8))
    terms = trainer.train_step(torch.from_numpy(x), torch.from_numpy(y))
    assert np.isfinite(terms["train_loss"])
    # Either the step was taken (finite gradients) or skipped and the scale lowered.
    assert not torch.equal(network.head.weight, head) or trainer.scaler.get_scale() < start
    assert network.head.weight.dtype == torch.float32


def test_a_resumed_float16_fit_restores_the_gradient_scale(tmp_path):
    path = tmp_path / "fit.ckpt"
    unbroken = trainer_for(tiny_network(), Precision("float16", "cpu"), max_epochs=3)
    unbroken.fit(windows(), windows(1))
    first = trainer_for(tiny_network(), Precision("float16", "cpu"), max_epochs=2)
    first.fit(windows(), windows(1), checkpoint=path)
    state = read_checkpoint(path)
    assert state["grad_scaler"]["scale"] == first.scaler.get_scale()
    resumed = trainer_for(tiny_network(), Precision("float16", "cpu"), max_epochs=3)
    resumed.fit(windows(), windows(1), resume=state)
    assert resumed.scaler.get_scale() == unbroken.scaler.get_scale()
    for a, b in zip(resumed.network.parameters(), unbroken.network.parameters()):
        assert torch.equal(a, b)


# --------------------------------------------------------------- estimator


def test_bfloat16_forecaster_forecasts_with_bfloat16_weights(fitted):
    model = fitted["bfloat16"]
    assert {p.dtype for p in model.module_.parameters()} == {torch.bfloat16}
    forecast = model.predict()
    assert forecast.dtype == np.float64 and np.isfinite(forecast).all()
    # A different arithmetic, the same model: the two fits forecast alike.
    reference = fitted["float32"].predict()
    assert np.abs(forecast - reference).max() < 0.5 * np.abs(reference).max()
    lower, upper = model.predict_interval(coverage=0.8)
    assert (lower <= forecast).all() and (forecast <= upper).all()


def test_precision_names_train_the_same_model():
    X = series(160)
    a = quietly(CALFForecaster(**tiny(random_state=1, precision="bf16-mixed", max_epochs=1)).fit, X)
    b = quietly(CALFForecaster(**tiny(random_state=1, precision="bfloat16", max_epochs=1)).fit, X)
    np.testing.assert_array_equal(a.predict(), b.predict())


def test_a_bfloat16_pickle_is_about_half_the_size_and_forecasts_the_same(fitted):
    sizes = {name: len(pickle.dumps(model)) for name, model in fitted.items()}
    assert sizes["bfloat16"] < 0.6 * sizes["float32"]
    loaded = quietly(pickle.loads, pickle.dumps(fitted["bfloat16"]))
    assert {p.dtype for p in loaded.module_.parameters()} == {torch.bfloat16}
    np.testing.assert_array_equal(loaded.predict(), fitted["bfloat16"].predict())


def test_a_bfloat16_safetensors_file_is_about_half_the_size_and_forecasts_the_same(fitted, tmp_path):
    sizes = {}
    for name, model in fitted.items():
        path = save_forecaster(model, tmp_path / f"{name}.safetensors")
        sizes[name] = path.stat().st_size
    loaded = quietly(load_forecaster, tmp_path / "bfloat16.safetensors")
    assert loaded.precision == "bfloat16"
    np.testing.assert_array_equal(loaded.predict(), fitted["bfloat16"].predict())
    assert sizes["bfloat16"] < 0.6 * sizes["float32"]


def test_float16_on_a_cpu_is_refused_before_training_and_leaves_the_model_as_it_was(fitted):
    model = copy.deepcopy(fitted["float32"])
    before = model.predict()
    model.set_params(precision="float16")
    with pytest.raises(ValueError, match="needs a CUDA device"):
        model.fit(series())
    assert model.module_.head.weight.dtype == torch.float32
    np.testing.assert_array_equal(model.predict(), before)


def test_a_float16_model_loaded_on_a_cpu_runs_in_float32_with_a_warning(fitted, tmp_path):
    """What a forecaster trained with float16 on a GPU does on a CPU-only machine."""
    model = copy.deepcopy(fitted["float32"])
    model.module_.half()  # as a float16 fit leaves it
    model.precision = "float16"
    expected = copy.deepcopy(model.module_).float()
    for load in (
        lambda: pickle.loads(pickle.dumps(model)),
        lambda: joblib.load(joblib.dump(model, tmp_path / "m.joblib")[0]),
        lambda: load_forecaster(save_forecaster(model, tmp_path / "m.safetensors")),
    ):
        with pytest.warns(ReducedPrecisionWarning, match="converted to float32"):
            loaded = load()
        assert {p.dtype for p in loaded.module_.parameters()} == {torch.float32}
        for a, b in zip(loaded.module_.parameters(), expected.parameters()):
            assert torch.equal(a, b)  # every float16 value is exactly a float32


def test_place_network_leaves_runnable_dtypes_alone():
    network = torch.nn.Linear(3, 2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert place_network(network, CPU).weight.dtype == torch.float32


def test_precision_is_part_of_a_checkpoints_identity(tmp_path):
    X = series(160)
    path = tmp_path / "fit.ckpt"
    CALFForecaster(**tiny(random_state=0, max_epochs=1)).fit(X, checkpoint=path)
    with pytest.raises(ValueError, match="belongs to another fit"):
        quietly(
            CALFForecaster(**tiny(random_state=0, max_epochs=1, precision="bfloat16")).fit, X, checkpoint=path
        )


def test_bad_precision_is_refused_before_any_work():
    with pytest.raises(ValueError, match="precision='float8' is not one of"):
        CALFForecaster(**tiny(precision="float8")).fit(series(120))


def test_frozen_matrices_held_in_bfloat16_give_the_products_autocast_gives():
    """Holding the frozen matrices in bfloat16 changes memory, not the training step."""
    results = []
    for hold in (False, True):
        network = tiny_network()
        trainer = trainer_for(network, Precision("bfloat16", "cpu"))
        if not hold:  # undo what the trainer did: plain autocast over float32 weights
            for parameter in network.parameters():
                parameter.data = parameter.data.float()
        frozen = [p for p in network.parameters() if not p.requires_grad and p.ndim == 2]
        assert {p.dtype for p in frozen} == {torch.bfloat16 if hold else torch.float32}
        x, y = windows().batch(np.arange(8))
        results.append(trainer.train_step(torch.from_numpy(x), torch.from_numpy(y)))
    assert results[0] == results[1]


def test_stripping_merges_lora_in_float32():
    network = tiny_network().hold_frozen_matrices_in(torch.bfloat16)
    network.strip_for_inference()
    assert {p.dtype for p in network.parameters()} == {torch.float32}


@pytest.mark.parametrize("native", [True, False])
def test_emulated_bfloat16_stores_the_matrices_in_the_fast_layout(monkeypatch, native):
    monkeypatch.setattr(precision_module, "has_native_bfloat16", lambda device: native)
    network = tiny_network().strip_for_inference().eval()
    x = torch.randn(4, 8, 2)
    half = copy.deepcopy(network).to(torch.bfloat16)
    with torch.inference_mode():
        expected = half(x)
    placed = place_network(half, CPU, warn=False)
    weight = placed.temporal.h[0].mlp.c_fc.weight
    assert weight.is_contiguous() == native
    with torch.inference_mode():
        np.testing.assert_allclose(placed(x).numpy(), expected.numpy(), atol=0.05)


@pytest.mark.parametrize("value", ["BFloat16", "Float32", torch.bfloat16, torch.float32])
def test_names_in_any_case_and_torch_dtypes_are_accepted(value):
    assert check_precision(value) in ("bfloat16", "float32")


def test_another_name_of_the_same_precision_resumes_the_same_checkpoint(tmp_path):
    X = series(160)
    path = tmp_path / "fit.ckpt"
    first = quietly(
        CALFForecaster(**tiny(random_state=0, max_epochs=1, precision="bfloat16")).fit, X, checkpoint=path
    )
    again = CALFForecaster(**tiny(random_state=0, max_epochs=1, precision="bf16-mixed"))
    quietly(again.fit, X, checkpoint=path)
    assert again.resumed_from_epoch_ == 1
    np.testing.assert_array_equal(again.predict(), first.predict())
