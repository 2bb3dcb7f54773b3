"""Bad input: a clear error of the usual type, and a fitted forecaster left exactly as it was."""

import warnings

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import TINY_GPT2, make_series, tiny
from sklearn.model_selection import GridSearchCV, TimeSeriesSplit

from calf_sklearn import CALFForecaster
from calf_sklearn.baselines import DLinearForecaster

SEQ, PRED = 24, 8
N_ROWS = 120
COLUMNS = ["north", "south"]


def _frame(n_rows=N_ROWS, seed=3):
    index = pd.date_range("2024-01-01", periods=n_rows, freq="h")
    return pd.DataFrame(make_series(n_rows, 2, seed=seed), index=index, columns=COLUMNS)


@pytest.fixture(scope="module")
def fitted(module_env):
    return CALFForecaster(**tiny(max_epochs=1)).fit(_frame())


@pytest.fixture
def unchanged(fitted):
    """Asserts, after the test body, that the fitted forecaster is exactly as before."""
    state = dict(fitted.__dict__)
    weights = {key: value.clone() for key, value in fitted.module_.state_dict().items()}
    forecast = fitted.predict()
    yield
    assert fitted.__dict__.keys() == state.keys()
    for key, value in state.items():
        assert fitted.__dict__[key] is value, key
    for key, value in fitted.module_.state_dict().items():
        assert torch.equal(value, weights[key]), key
    pd.testing.assert_frame_equal(fitted.predict(), forecast)


def _with(frame, row, column, value):
    frame = frame.copy()
    frame.iloc[row, column] = value
    return frame


def _shuffled(frame):
    return frame.iloc[np.r_[1, 0, 2 : len(frame)]]


def _repeated(frame):
    index = frame.index.to_list()
    index[7] = index[6]
    return frame.set_axis(pd.DatetimeIndex(index))


BAD_DATA = {
    "nan": (
        lambda f: _with(f, 5, 1, np.nan),
        ValueError,
        r"1 NaN and 0 infinite .*row 5, series 'south'.*interpolate",
    ),
    "inf": (lambda f: _with(f, 9, 0, np.inf), ValueError, r"0 NaN and 1 infinite .*row 9, series 'north'"),
    "too few rows": (lambda f: f.iloc[:35], ValueError, r"n_samples=35 rows.*seq_len \+ pred_len = 32"),
    "non-numeric column": (
        lambda f: f.assign(city=["Lyon"] * len(f)),
        ValueError,
        r"column 'city' is not numeric .*'Lyon'.*select_dtypes",
    ),
    "numbers as text": (
        lambda f: f.assign(south=f["south"].astype(str).where(f.index != f.index[4], "n/a")),
        ValueError,
        r"column 'south' is not numeric .*'n/a'",
    ),
    "date column": (
        lambda f: f.reset_index(names="when"),
        ValueError,
        r"column 'when' holds dates.*set_index\('when'\)",
    ),
    "unsorted index": (_shuffled, ValueError, r"not sorted.*sort_index"),
    "repeated timestamps": (_repeated, ValueError, r"repeats 1 timestamp.*duplicated"),
    "empty": (lambda f: f.iloc[:0], ValueError, r"X is empty \(0 rows\).*seq_len \+ pred_len = 32"),
    "1-D array": (lambda f: f["north"].to_numpy(), ValueError, r"reshape\(-1, 1\)"),
    "complex": (lambda f: f.to_numpy() * 1j, ValueError, r"[Cc]omplex"),
    "overflowing values": (lambda f: f * 1e300, ValueError, r"too large to standardise"),
}


@pytest.mark.parametrize("case", list(BAD_DATA))
def test_bad_training_data(fitted, unchanged, case):
    make, error, match = BAD_DATA[case]
    bad = make(_frame())
    with pytest.raises(error, match=match):
        fitted.fit(bad)


def test_bad_data_is_not_modified(fitted, unchanged):
    bad = _with(_frame(), 5, 1, np.nan)
    copy = bad.copy(deep=True)
    with pytest.raises(ValueError):
        fitted.fit(bad)
    pd.testing.assert_frame_equal(bad, copy)


BAD_PARAMS = {
    "unknown loss": ({"feature_loss": "cosine"}, ValueError, r"feature_loss='cosine' is not one of"),
    "loss alias": ({"task_loss": "mae"}, ValueError, r"Did you mean 'l1'"),
    "negative weight": (
        {"output_weight": -1.0},
        ValueError,
        r"output_weight must be finite and in \[0.0, inf\)",
    ),
    "deeper than the backbone": ({"n_layers": 3}, ValueError, r"n_layers=3 exceeds the backbone's 2 blocks"),
    "too many principal words": (
        {"n_principal_words": 33},
        ValueError,
        r"n_principal_words=33 exceeds the backbone's embedding width 32",
    ),
    "more series than positions": (
        {"llm": {**TINY_GPT2, "n_positions": 1}},
        ValueError,
        r"X has 2 series but the backbone has only 1 positions",
    ),
    "config typo": ({"llm": {**TINY_GPT2, "n_embdd": 64}}, ValueError, r"'n_embdd'.*Did you mean 'n_embd'"),
    "missing device": ({"device": "cuda:3"}, ValueError, r"cuda:3"),
    "unknown device": ({"device": "npu"}, ValueError, r"device='npu' is not a torch device"),
    "float length": ({"seq_len": 24.0}, TypeError, r"seq_len must be an integer, got 24.0"),
}


@pytest.mark.parametrize("case", list(BAD_PARAMS))
def test_bad_params_fail_at_fit(fitted, unchanged, case):
    params, error, match = BAD_PARAMS[case]
    original = fitted.get_params()
    fitted.set_params(**params)
    try:
        with pytest.raises(error, match=match):
            fitted.fit(_frame())
    finally:
        fitted.set_params(**original)


def test_device_that_does_not_exist_on_this_machine(fitted, unchanged, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    fitted.set_params(device="cuda:1")
    try:
        with pytest.raises(ValueError, match=r"device='cuda:1' does not exist: this machine has 1 CUDA"):
            fitted.fit(_frame())
    finally:
        fitted.set_params(device="auto")


# ------------------------------------------------------------ at predict

BAD_PREDICT = {
    "another number of series": (
        lambda f: f.assign(east=f["north"]),
        ValueError,
        r"(?s)should match.*unseen at fit time:\n- east\nPass the columns \['north', 'south'\], in the order",
    ),
    "other column names": (
        lambda f: f.rename(columns={"south": "west"}),
        ValueError,
        r"feature names should match",
    ),
    "array with other series": (
        lambda f: np.zeros((30, 3)),
        ValueError,
        r"X has 3 features, but CALFForecaster is expecting 2 features as input\. Pass the columns",
    ),
    "nan": (lambda f: _with(f, 30, 0, np.nan), ValueError, r"1 NaN .*row 30, series 'north'"),
    "too short": (lambda f: f.iloc[:10], ValueError, r"X has 10 rows but the look-back needs seq_len=24"),
    "1-D": (lambda f: f["north"].to_numpy(), ValueError, r"reshape"),
    "non-numeric": (lambda f: f.assign(south="x"), ValueError, r"column 'south' is not numeric"),
    "unsorted index": (_shuffled, ValueError, r"not sorted"),
    "far outside the training scale": (
        lambda f: f * 1e20,
        ValueError,
        r"standard deviations .*units of the training data",
    ),
    "3-D with other series": (
        lambda f: np.zeros((2, SEQ, 3)),
        ValueError,
        r"3-D X must have shape \(n_windows, >= seq_len=24, n_series=2\), got \(2, 24, 3\)",
    ),
    "3-D with nan": (
        lambda f: np.where(np.arange(SEQ)[None, :, None] == 4, np.nan, np.zeros((2, SEQ, 2))),
        ValueError,
        r"row 4, series 0, window 0",
    ),
}


@pytest.mark.parametrize("case", list(BAD_PREDICT))
def test_bad_predict_input(fitted, unchanged, case):
    make, error, match = BAD_PREDICT[case]
    bad = make(_frame())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "X does not have valid feature names"
        with pytest.raises(error, match=match):
            fitted.predict(bad)


def test_irregular_index_is_accepted_with_a_warning(module_env):
    frame = _frame()
    frame = frame.drop(frame.index[[10, 50]])
    with pytest.warns(UserWarning, match="irregular steps; rows are treated as equally spaced"):
        model = CALFForecaster(**tiny(max_epochs=1)).fit(frame)
    assert model.predict().index[0] == frame.index[-1] + pd.Timedelta(hours=1)


# ----------------------------------------------------- unknown parameters


def test_unknown_parameter_suggests_the_closest_name(fitted, unchanged):
    with pytest.raises(ValueError, match=r"no parameter 'feature_wieght'\. Did you mean 'feature_weight'\?"):
        fitted.set_params(feature_wieght=0.1)


def test_unknown_parameter_in_a_grid_fails_at_search_fit(module_env):
    search = GridSearchCV(
        CALFForecaster(**tiny(max_epochs=1)),
        {"output_wieght": [0.0, 1.0]},
        cv=TimeSeriesSplit(n_splits=2),
        error_score="raise",
    )
    with pytest.raises(ValueError, match=r"Did you mean 'output_weight'"):
        search.fit(make_series(200, 2))


def test_unknown_keyword_in_the_constructor_fails_at_once():
    # At construction, which is earlier than fit: nothing could be done with it.
    with pytest.raises(TypeError, match=r"unexpected keyword argument 'seq_lenn'\. Did you mean 'seq_len'\?"):
        CALFForecaster(seq_lenn=96)
    with pytest.raises(TypeError, match=r"'movng_average'\. Did you mean 'moving_average'\?"):
        DLinearForecaster(movng_average=25)
    # Positional arguments still reach __init__ as before.
    assert CALFForecaster(12, 48).get_params()["seq_len"] == 48
