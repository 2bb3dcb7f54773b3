"""Fit, forecast, grid-search and save a CALFForecaster
====================================================

The shortest tour of the estimator: fit on a DataFrame and forecast the next
steps, search over the loss weights with temporal cross-validation, then save
the best model with joblib and load it back.

It runs offline on a built-in synthetic series (3 hourly series). The backbone
is a small **randomly initialised** GPT-2 (width 64, 2 blocks, GPT-2's
vocabulary), not the paper's pre-trained model, so its figures say nothing
about the paper's. For real use, drop ``llm=`` and ``pretrained=False`` to get
the pre-trained "gpt2" (downloaded once from the Hugging Face hub, then
cached), and pass your own DataFrame (time steps x series).

Run it from the repository root::

    python examples/quickstart.py           # 2000 steps, 10 epochs per fit
    python examples/quickstart.py --quick   # 600 steps, 2 epochs per fit

The tests and the documentation build run it with ``--quick``.
"""

# %%
# Options
# -------
# The script takes its settings from the command line. ``--quick`` shortens
# the series and the training so that the whole script runs in seconds.

import argparse
import os
import tempfile

import joblib
import numpy as np
from sklearn.model_selection import GridSearchCV, TimeSeriesSplit

from calf_sklearn import CALFForecaster, mae_scorer, mse_scorer
from calf_sklearn.datasets import make_synthetic_series

parser = argparse.ArgumentParser(description="Fit, forecast, grid-search and save a CALFForecaster")
parser.add_argument("--quick", action="store_true", help="smaller data, 2 epochs (for tests)")
args = parser.parse_args()
QUICK = args.quick

# A small GPT-2, randomly initialised (pretrained=False below): not the paper's model.
SMALL_GPT2 = {"n_embd": 64, "n_layer": 2, "n_head": 4, "n_positions": 64}

# %%
# Data and settings
# -----------------
# A synthetic DataFrame: one row per hour, one column per series. The last
# 200 rows are kept apart as a test part. The same settings serve every model
# below.

data = make_synthetic_series(n_steps=600 if QUICK else 2000, n_series=3)
train, test = data.iloc[:-200], data.iloc[-200:]
params = {
    "pred_len": 24,
    "seq_len": 48,
    "llm": SMALL_GPT2,
    "pretrained": False,
    "n_layers": 2,
    "n_principal_words": 32,
    "max_epochs": 2 if QUICK else 10,
    "random_state": 0,
}

# %%
# Fit and forecast
# ----------------
# ``predict()`` without arguments forecasts the ``pred_len`` steps after the
# training data: a DataFrame in, a DataFrame with future timestamps out.
# ``score`` is minus the MSE of rolling forecasts over the test part.

model = CALFForecaster(**params).fit(train)
print(model.predict().head())
print(f"rolling-window MSE on the test part: {-model.score(test):.4f}")

# %%
# Grid search over the loss weights
# ---------------------------------
# ``GridSearchCV`` with ``TimeSeriesSplit`` keeps every validation fold after
# the rows its model was trained on. The package's scorers compute errors of
# rolling forecasts; the best-MSE grid point is refitted on all of ``train``.

search = GridSearchCV(
    CALFForecaster(**params),
    param_grid={"feature_weight": [0.0, 0.01], "output_weight": [0.0, 1.0]},
    cv=TimeSeriesSplit(n_splits=2),
    scoring={"mse": mse_scorer, "mae": mae_scorer},
    refit="mse",
)
search.fit(train)
print("best loss weights:", search.best_params_)

# %%
# Save and load
# -------------
# A fitted forecaster is saved with joblib like any scikit-learn estimator.
# Loading it needs no network and no backbone download, and the loaded model
# gives the same forecast.

with tempfile.TemporaryDirectory() as folder:
    path = os.path.join(folder, "calf.joblib")
    joblib.dump(search.best_estimator_, path)
    loaded = joblib.load(path)
same = np.array_equal(loaded.predict().to_numpy(), search.best_estimator_.predict().to_numpy())
print("loaded model forecasts identically:", same)
