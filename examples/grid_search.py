"""Grid search over CALF's loss weights with temporal cross-validation.

What it shows
-------------
* ``GridSearchCV`` over ``output_weight`` and ``feature_weight`` (the weights
  of CALF's output-consistency and feature-alignment loss terms; 0 removes a
  term) with ``TimeSeriesSplit``, so every validation fold lies after the rows
  its model was trained on;
* the package's scorers ``mse_scorer`` / ``mae_scorer`` (rolling forecasts
  over the test fold, errors on the forecaster's fitted scale) as a
  multi-metric ``scoring=``, refitting on the best MSE;
* the ``cv_results_`` table, the best parameters and the refitted model's
  error on a final test part that the search never saw.

The backbone is a small **randomly initialised** GPT-2 (width 64, 2 blocks,
GPT-2's vocabulary), so the script runs offline. It is not the paper's
pre-trained model; which loss weights win here says nothing about which win
with it. For the pre-trained GPT-2, replace ``llm=SMALL_GPT2,
pretrained=False`` with ``llm="gpt2"``.

Run::

    python examples/grid_search.py           # 4 grid points x 3 folds, 10 epochs each
    python examples/grid_search.py --quick   # 4 grid points x 2 folds, 2 epochs (used by the tests)
"""

import argparse
import time

import pandas as pd
from sklearn.model_selection import GridSearchCV, TimeSeriesSplit

from calf_sklearn import CALFForecaster, mae_scorer, mse_scorer
from calf_sklearn.datasets import make_synthetic_series

# A small GPT-2, randomly initialised (pretrained=False below): not the paper's model.
SMALL_GPT2 = {"n_embd": 64, "n_layer": 2, "n_head": 4, "n_positions": 64}

PARAM_GRID = {"output_weight": [0.0, 1.0], "feature_weight": [0.0, 0.01]}


def main(quick=False, random_state=0, n_jobs=None):
    """Run the search; returns the fitted ``GridSearchCV``."""
    data = make_synthetic_series(n_steps=800 if quick else 2400, n_series=3, random_state=random_state)
    # The last rows are a final test part that the search never sees.
    n_test = 200 if quick else 480
    train, test = data.iloc[:-n_test], data.iloc[-n_test:]

    forecaster = CALFForecaster(
        pred_len=24,
        seq_len=48,
        # llm="gpt2", pretrained=True,  # <- the paper's pre-trained GPT-2 (needs it downloaded)
        llm=SMALL_GPT2,
        pretrained=False,  # random initialisation, said explicitly
        n_layers=2,
        n_principal_words=32,
        max_epochs=2 if quick else 10,
        patience=3,
        random_state=random_state,  # every grid point starts from the same initial weights
    )
    n_splits = 2 if quick else 3
    search = GridSearchCV(
        forecaster,
        param_grid=PARAM_GRID,
        # TimeSeriesSplit: fold k trains on the first rows and is scored on the rows that follow.
        # Each fit holds out the last 20% of its training rows for early stopping on top of that.
        cv=TimeSeriesSplit(n_splits=n_splits),
        scoring={"mse": mse_scorer, "mae": mae_scorer},
        refit="mse",  # refit the best-MSE grid point on all of `train` afterwards
        n_jobs=n_jobs,
    )
    started = time.perf_counter()
    search.fit(train)
    seconds = time.perf_counter() - started
    n_points = len(search.cv_results_["params"])
    print(
        f"Grid search: {n_points} grid points x {n_splits} TimeSeriesSplit folds + 1 refit "
        f"in {seconds:.1f} s."
    )
    print(
        "Backbone: small randomly initialised GPT-2 (width 64, 2 blocks), NOT the paper's pre-trained model."
    )

    # cv_results_ holds negated errors (greater is better, as scikit-learn expects): flip the sign.
    results = pd.DataFrame(search.cv_results_)
    table = pd.DataFrame(
        {
            "output_weight": results["param_output_weight"].astype(float),
            "feature_weight": results["param_feature_weight"].astype(float),
            "cv_mse": -results["mean_test_mse"],
            "cv_mse_std": results["std_test_mse"],
            "cv_mae": -results["mean_test_mae"],
            "rank_mse": results["rank_test_mse"],
            "fit_s": results["mean_fit_time"],
        }
    )
    print("\ncv_results_ (MSE / MAE of rolling forecasts over the validation folds, fitted scale):")
    print(table.to_string(index=False, float_format=lambda v: f"{v:.4f}"))

    print(f"\nbest params: {search.best_params_}")
    print(f"best CV MSE: {-search.best_score_:.4f}")
    # The refitted best model, scored on the final test part (rolling windows, fitted scale).
    final = search.best_estimator_.evaluate(test)
    print(
        f"best model on the held-out test part ({final['n_windows']} windows): "
        f"MSE {final['mse']:.4f}  MAE {final['mae']:.4f}"
    )
    if quick:
        print("(quick mode: 2 epochs per fit; the ranking is noise and only shows that the search runs)")
    return search


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short series, 2 epochs per fit (for tests)")
    parser.add_argument("--seed", type=int, default=0, help="random_state (default 0)")
    parser.add_argument("--n-jobs", type=int, default=None, help="GridSearchCV n_jobs (default 1)")
    args = parser.parse_args()
    main(quick=args.quick, random_state=args.seed, n_jobs=args.n_jobs)
