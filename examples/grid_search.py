"""Grid search over CALF's loss weights with temporal cross-validation
===================================================================

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
  error on a final test part that the search never saw, and a heat map of
  the cross-validated MSE over the grid.

The backbone is a small **randomly initialised** GPT-2 (width 64, 2 blocks,
GPT-2's vocabulary), so the script runs offline. It is not the paper's
pre-trained model; which loss weights win here says nothing about which win
with it. For the pre-trained GPT-2, replace ``llm=SMALL_GPT2,
pretrained=False`` with ``llm="gpt2"``.

Run it from the repository root::

    python examples/grid_search.py              # 4 grid points x 3 folds, 10 epochs each
    python examples/grid_search.py --quick      # 4 grid points x 2 folds, 2 epochs
    python examples/grid_search.py --n-jobs 2   # fit 2 grid points at a time

The tests and the documentation build run it with ``--quick``.
"""

# %%
# Options
# -------
# The script takes its settings from the command line. ``--n-jobs`` is passed
# to ``GridSearchCV``, which then fits several grid points in parallel
# processes.

import argparse
import time

import matplotlib.pyplot as plt
import pandas as pd
from sklearn.model_selection import GridSearchCV, TimeSeriesSplit

from calf_sklearn import CALFForecaster, mae_scorer, mse_scorer
from calf_sklearn.datasets import make_synthetic_series

parser = argparse.ArgumentParser(
    description="Grid search over CALF's loss weights with temporal cross-validation"
)
parser.add_argument("--quick", action="store_true", help="short series, 2 epochs per fit (for tests)")
parser.add_argument("--seed", type=int, default=0, help="random_state (default 0)")
parser.add_argument("--n-jobs", type=int, default=None, help="GridSearchCV n_jobs (default 1)")
args = parser.parse_args()
QUICK = args.quick

# A small GPT-2, randomly initialised (pretrained=False below): not the paper's model.
SMALL_GPT2 = {"n_embd": 64, "n_layer": 2, "n_head": 4, "n_positions": 64}

PARAM_GRID = {"output_weight": [0.0, 1.0], "feature_weight": [0.0, 0.01]}

# %%
# Data
# ----
# Three synthetic hourly series. The last rows are a final test part that the
# search never sees, so the refitted model can be scored on rows that chose
# nothing.

data = make_synthetic_series(n_steps=800 if QUICK else 2400, n_series=3, random_state=args.seed)
n_test = 200 if QUICK else 480
train, test = data.iloc[:-n_test], data.iloc[-n_test:]

# %%
# Search over the loss weights
# ----------------------------
# Every grid point starts from the same initial weights (``random_state``), so
# the grid points differ only in the loss weights. ``TimeSeriesSplit`` trains
# fold k on the first rows and scores it on the rows that follow.

forecaster = CALFForecaster(
    pred_len=24,
    seq_len=48,
    # llm="gpt2", pretrained=True,  # <- the paper's pre-trained GPT-2 (needs it downloaded)
    llm=SMALL_GPT2,
    pretrained=False,  # random initialisation, said explicitly
    n_layers=2,
    n_principal_words=32,
    max_epochs=2 if QUICK else 10,
    patience=3,
    random_state=args.seed,  # every grid point starts from the same initial weights
)
n_splits = 2 if QUICK else 3
search = GridSearchCV(
    forecaster,
    param_grid=PARAM_GRID,
    # TimeSeriesSplit: fold k trains on the first rows and is scored on the rows that follow.
    # Each fit holds out the last 20% of its training rows for early stopping on top of that.
    cv=TimeSeriesSplit(n_splits=n_splits),
    scoring={"mse": mse_scorer, "mae": mae_scorer},
    refit="mse",  # refit the best-MSE grid point on all of `train` afterwards
    n_jobs=args.n_jobs,
)
started = time.perf_counter()
search.fit(train)
seconds = time.perf_counter() - started
n_points = len(search.cv_results_["params"])
print(f"Grid search: {n_points} grid points x {n_splits} TimeSeriesSplit folds + 1 refit in {seconds:.1f} s.")
print("Backbone: small randomly initialised GPT-2 (width 64, 2 blocks), NOT the paper's pre-trained model.")

# %%
# Cross-validation results
# ------------------------
# ``cv_results_`` holds negated errors (greater is better, as scikit-learn
# expects); the table flips the sign back, so smaller is better.

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

# %%
# The best grid point on the held-out test part
# ---------------------------------------------
# The search refitted the best-MSE grid point on all of ``train``; its error
# on the final test part (rolling windows, fitted scale) is the estimate to
# report, since the cross-validation scores were used to choose it.

print(f"\nbest params: {search.best_params_}")
print(f"best CV MSE: {-search.best_score_:.4f}")
final = search.best_estimator_.evaluate(test)
print(
    f"best model on the held-out test part ({final['n_windows']} windows): "
    f"MSE {final['mse']:.4f}  MAE {final['mae']:.4f}"
)
if QUICK:
    print("(quick mode: 2 epochs per fit; the ranking is noise and only shows that the search runs)")

# %%
# The cross-validated MSE over the grid
# -------------------------------------
# One cell per grid point: rows are ``output_weight``, columns
# ``feature_weight``. Each cell shows the mean MSE over the validation folds
# and its rank (1 is the best).

mse_grid = table.pivot(index="output_weight", columns="feature_weight", values="cv_mse")
rank_grid = table.pivot(index="output_weight", columns="feature_weight", values="rank_mse")
fig, ax = plt.subplots(figsize=(6, 4.5))
image = ax.imshow(mse_grid.to_numpy(), cmap="viridis")
fig.colorbar(image, ax=ax, label="mean CV MSE (fitted scale)")
for row, output_weight in enumerate(mse_grid.index):
    for column, feature_weight in enumerate(mse_grid.columns):
        value = mse_grid.loc[output_weight, feature_weight]
        rank = rank_grid.loc[output_weight, feature_weight]
        # Dark text on the bright end of the colour map, light text on the dark end.
        color = "black" if image.norm(value) > 0.5 else "white"
        ax.text(column, row, f"{value:.4f}\nrank {int(rank)}", ha="center", va="center", color=color)
ax.set_xticks(range(len(mse_grid.columns)), labels=[f"{w:g}" for w in mse_grid.columns])
ax.set_yticks(range(len(mse_grid.index)), labels=[f"{w:g}" for w in mse_grid.index])
ax.set_xlabel("feature_weight")
ax.set_ylabel("output_weight")
epochs = "quick run, 2 epochs per fit" if QUICK else "full run, up to 10 epochs per fit"
ax.set_title(
    f"Mean CV MSE over {n_splits} TimeSeriesSplit folds\n"
    f"synthetic series, small randomly initialised GPT-2, {epochs}",
    fontsize=10,
)
fig.tight_layout()
plt.show()  # a window where matplotlib has a screen; the gallery and the tests skip it
