"""Fit, forecast, grid-search and save a CALFForecaster.

Runs offline on a built-in synthetic series with a small randomly initialised
GPT-2 (not the paper's pre-trained model). For real use, drop ``llm=`` and
``pretrained=False`` to get the pre-trained "gpt2", and pass your own
DataFrame (time steps x series).

    python examples/quickstart.py [--quick]
"""

import argparse
import os
import tempfile

import joblib
import numpy as np
from sklearn.model_selection import GridSearchCV, TimeSeriesSplit

from calf_sklearn import CALFForecaster, mae_scorer, mse_scorer
from calf_sklearn.datasets import make_synthetic_series

SMALL_GPT2 = {"n_embd": 64, "n_layer": 2, "n_head": 4, "n_positions": 64}


def main(quick=False):
    data = make_synthetic_series(n_steps=600 if quick else 2000, n_series=3)
    train, test = data.iloc[:-200], data.iloc[-200:]
    params = {
        "pred_len": 24,
        "seq_len": 48,
        "llm": SMALL_GPT2,
        "pretrained": False,
        "n_layers": 2,
        "n_principal_words": 32,
        "max_epochs": 2 if quick else 10,
        "random_state": 0,
    }

    # 1. Fit and forecast: a DataFrame in, a DataFrame with future timestamps out.
    model = CALFForecaster(**params).fit(train)
    print(model.predict().head())
    print(f"rolling-window MSE on the test part: {-model.score(test):.4f}")

    # 2. Grid search over the loss weights with temporal cross-validation.
    search = GridSearchCV(
        CALFForecaster(**params),
        param_grid={"feature_weight": [0.0, 0.01], "output_weight": [0.0, 1.0]},
        cv=TimeSeriesSplit(n_splits=2),
        scoring={"mse": mse_scorer, "mae": mae_scorer},
        refit="mse",
    )
    search.fit(train)
    print("best loss weights:", search.best_params_)

    # 3. Save, load (no network or backbone needed) and get the same forecast.
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "calf.joblib")
        joblib.dump(search.best_estimator_, path)
        loaded = joblib.load(path)
    same = np.array_equal(loaded.predict().to_numpy(), search.best_estimator_.predict().to_numpy())
    print("loaded model forecasts identically:", same)
    return same


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller data, 2 epochs (for tests)")
    main(parser.parse_args().quick)
