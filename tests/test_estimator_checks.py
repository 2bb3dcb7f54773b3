"""scikit-learn's own estimator checks on every forecaster of the package.

The checks feed small random matrices (tens of rows); the forecasters are
configured to fit on them: a two-step look-back, a one-step horizon and no
held-out validation rows. CALF runs on a tiny random GPT-2.
"""

import pytest
from conftest import TINY_GPT2
from sklearn.utils.estimator_checks import parametrize_with_checks

from calf_sklearn import CALFForecaster
from calf_sklearn.baselines import (
    DLinearForecaster,
    Naive2Forecaster,
    NaiveForecaster,
    SeasonalNaiveForecaster,
)

# Rows are time steps, not exchangeable samples: a forecast is made from the
# *last* rows of X and has pred_len rows, whatever the number of rows passed.
# So permuting rows or predicting on a subset of rows cannot give permuted or
# subset outputs; these two checks assume row-wise predictions.
EXPECTED_FAILED_CHECKS = {
    "check_methods_sample_order_invariance": (
        "rows are time steps: predict forecasts after the last rows, so its output does not "
        "follow a permutation of the input rows"
    ),
    "check_methods_subset_invariance": (
        "rows are time steps: predict returns pred_len future rows, not one output per input row"
    ),
}

ESTIMATORS = [
    CALFForecaster(
        pred_len=1,
        seq_len=2,
        llm=dict(TINY_GPT2),
        pretrained=False,
        n_layers=1,
        n_principal_words=8,
        max_epochs=1,
        batch_size=8,
        validation_size=0,
        random_state=0,
    ),
    DLinearForecaster(pred_len=1, seq_len=2, max_epochs=1, validation_size=0, random_state=0),
    NaiveForecaster(pred_len=1),
    SeasonalNaiveForecaster(pred_len=1, period=2),
    Naive2Forecaster(pred_len=1, period=2, seq_len=4),
]


@pytest.fixture(autouse=True)
def _array_api_dispatch(monkeypatch):
    # check_array_api_input only runs (instead of skipping) with this set; it
    # verifies that turning on scikit-learn's array API dispatch with NumPy
    # input changes nothing.
    monkeypatch.setenv("SCIPY_ARRAY_API", "1")


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=lambda estimator: EXPECTED_FAILED_CHECKS)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)
