"""Properties of a fitted CALFForecaster over generated inputs (hypothesis).

The number of examples per property is set in ``EXAMPLES``; the README
reports their sum. A fitted tiny forecaster is shared by all properties, so
the examples cost forward passes, not fits.
"""

import pickle

import numpy as np
import pytest
from conftest import TINY_GPT2, make_series, tiny
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from calf_sklearn import CALFForecaster

SEQ, PRED, M = 24, 8, 3
EXAMPLES = {
    "shape": 100,
    "equivariance": 200,
    "batch": 50,
    "pickle": 50,
    "clone": 100,
}

# Float32 is the network's precision; a window is compared with its own
# spread, so the bounds below hold at any scale.
F32_EPS = float(np.finfo(np.float32).eps)


def _settings(name):
    return settings(
        max_examples=EXAMPLES[name],
        deadline=None,
        derandomize=True,  # the same examples on every run: CI is reproducible
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )


@pytest.fixture(scope="module")
def model(module_env):
    return CALFForecaster(**tiny(max_epochs=1, batch_size=16)).fit(make_series(200, M, seed=1))


@pytest.fixture(scope="module")
def reloaded(model):
    return pickle.loads(pickle.dumps(model))


finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False, width=64)


def windows():
    return st.integers(SEQ, SEQ + 16).flatmap(lambda n: arrays(np.float64, (n, M), elements=finite))


# ----------------------------------------------------------- shape, finite


@_settings("shape")
@given(X=windows(), horizon=st.integers(1, 3 * PRED), batch=st.integers(1, 4))
def test_forecasts_have_the_right_shape_and_are_finite(model, X, horizon, batch):
    """Any finite look-back within +-1e6 (constant series included) gives finite forecasts."""
    with np.errstate(all="raise"):
        forecast = _quiet(model.predict, X, horizon=horizon)
    assert forecast.shape == (horizon, M)
    assert np.isfinite(forecast).all()
    stack = np.stack([X[-SEQ:] * (k + 1) for k in range(batch)])
    forecasts = _quiet(model.predict, stack, horizon=horizon)
    assert forecasts.shape == (batch, horizon, M)
    assert np.isfinite(forecasts).all()


def _quiet(method, *args, **kwargs):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # the recursive-horizon warning
        return method(*args, **kwargs)


# ------------------------------------------------------------ equivariance

pattern = arrays(np.float64, (SEQ, M), elements=st.floats(-1.0, 1.0, width=64))
per_series = st.tuples(*[st.floats(1e-2, 1e2) for _ in range(M)]).map(np.array)
shifts = st.tuples(*[st.floats(-1e3, 1e3) for _ in range(M)]).map(np.array)


@_settings("equivariance")
@given(Z=pattern, level=shifts, spread=per_series, scale=per_series, shift=shifts)
def test_forecasts_are_equivariant_to_scale_and_shift(model, Z, level, spread, scale, shift):
    """predict(a * X + b) == a * predict(X) + b per series, for a > 0.

    The network standardises each window by its own mean and standard
    deviation, so only rounding and the 1e-5 it adds to every variance
    separate the two sides. Both disturb a window's normalised values by
    about ``delta = max_k(eps32 * r_k + 1e-5 / v_k)`` over its series ``k``,
    with ``v_k`` the series' variance on the fitted scale and ``r_k`` the
    distance of its farthest value from the training mean in window
    standard deviations (float32 loses that many digits centring it). The
    series attend to one another, so any series' disturbance reaches every
    forecast. The tolerance, per series ``j``, is

        |difference_j| <= a_j * std(X_j) * (1e-5 + 10 * delta),

    ten times the largest ratio seen in 1,650 random windows on this tiny
    model (2.6), for windows whose standard deviation on the fitted scale is
    at least 0.1.
    """
    Z = Z - Z.mean(axis=0)
    assume((Z.std(axis=0) > 1e-3).all())
    X = level + spread * Z / Z.std(axis=0)
    Y = scale * X + shift
    fitted_scale, fitted_mean = model.scaler_.scale_, model.scaler_.mean_
    std_x, std_y = X.std(axis=0), Y.std(axis=0)
    variance = np.minimum(std_x / fitted_scale, std_y / fitted_scale) ** 2
    assume((variance >= 0.01).all())
    r = np.maximum(np.abs(X - fitted_mean).max(axis=0) / std_x, np.abs(Y - fitted_mean).max(axis=0) / std_y)
    delta = (F32_EPS * r + 1e-5 / variance).max()
    difference = np.abs(model.predict(Y) - (scale * model.predict(X) + shift))
    bound = scale * std_x * (1e-5 + 10 * delta)
    assert (difference <= bound).all(), (difference / bound).max(axis=0)


# ------------------------------------------------------------- batch size

BATCH_RTOL = 1e-5


@_settings("batch")
@given(
    stack=st.integers(1, 40).flatmap(
        lambda n: arrays(np.float64, (n, SEQ, M), elements=st.floats(-10, 10, width=64))
    ),
    batch_size=st.sampled_from([1, 3, 7, 64]),
)
def test_forecasts_do_not_depend_on_the_batch_size(model, stack, batch_size):
    """Forecasting in batches of any size gives the same forecasts.

    Matrix products over batches of different sizes may sum in another
    order, so equality is to float32 rounding: within 1e-5 of each window's
    forecast scale.
    """
    reference = model.predict(stack)
    other = pickle.loads(pickle.dumps(model)).set_params(batch_size=batch_size)
    forecast = other.predict(stack)
    spread = np.abs(reference).max(axis=1, keepdims=True) + 1.0
    assert (np.abs(forecast - reference) <= BATCH_RTOL * spread).all()
    # One window alone equals the same window inside the batch.
    assert (np.abs(model.predict(stack[:1]) - reference[:1]) <= BATCH_RTOL * spread[:1]).all()


# ---------------------------------------------------------------- pickle


@_settings("pickle")
@given(stack=st.integers(1, 8).flatmap(lambda n: arrays(np.float64, (n, SEQ + 4, M), elements=finite)))
def test_pickle_round_trip_changes_nothing(model, reloaded, stack):
    np.testing.assert_array_equal(reloaded.predict(stack), model.predict(stack))
    np.testing.assert_array_equal(reloaded.predict(stack[0]), model.predict(stack[0]))
    assert reloaded.get_params() == model.get_params()


# ----------------------------------------------------------------- clone

params = st.fixed_dictionaries(
    {
        "pred_len": st.integers(1, 400),
        "seq_len": st.integers(1, 800),
        "task_loss": st.sampled_from(["l1", "mse", "smooth_l1"]),
        "feature_weight": st.floats(0, 10),
        "output_weight": st.floats(0, 10),
        "learning_rate": st.floats(1e-6, 1e-1),
        "lora_r": st.integers(1, 64),
        "llm": st.sampled_from(["gpt2", dict(TINY_GPT2)]),
        "validation_size": st.one_of(st.floats(0, 0.9), st.integers(0, 500)),
        "random_state": st.one_of(st.none(), st.integers(0, 2**31 - 1)),
    }
)


@_settings("clone")
@given(values=params)
def test_clone_is_unfitted_with_equal_params(model, values):
    est = clone(model).set_params(**values)
    copy = clone(est)
    assert copy is not est and type(copy) is CALFForecaster
    assert copy.get_params() == est.get_params()
    if isinstance(values["llm"], dict):
        assert copy.llm is not est.llm  # a deep copy: editing one leaves the other
    with pytest.raises(NotFittedError):
        copy.predict()
    assert not any(name.endswith("_") and not name.startswith("__") for name in vars(copy))
