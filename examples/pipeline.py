"""A scikit-learn Pipeline in front of CALFForecaster: what goes through it, what comes back
=========================================================================================

What it shows
-------------
* ``Pipeline([("log", FunctionTransformer(np.log1p, inverse_func=np.expm1)),
  ("calf", CALFForecaster(...))])`` on a positive series whose seasonal swings
  grow with its level (multiplicative), where a log transform helps;
* that ``fit``, ``predict`` and ``score`` pass ``X`` through the transformer
  first, and that the forecast comes back on the **transformed (log) scale**:
  a Pipeline never applies ``inverse_func`` to predictions, so the script
  does it explicitly with ``pipe[0].inverse_transform``;
* that ``pipe.score`` / ``mse_scorer(pipe, ...)`` measure errors of the log
  values (on the forecaster's own standardised scale), not in the data's
  units; the script computes errors in the data's units itself, and compares
  with a CALF fitted on the raw values.

The backbone is a small **randomly initialised** GPT-2 (width 64, 2 blocks,
GPT-2's vocabulary), so the script runs offline. It is not the paper's
pre-trained model. For the pre-trained GPT-2, replace ``llm=SMALL_GPT2,
pretrained=False`` with ``llm="gpt2"``.

Run it from the repository root::

    python examples/pipeline.py           # 20 epochs
    python examples/pipeline.py --quick   # 2 epochs on a shorter series

The tests and the documentation build run it with ``--quick``.
"""

# %%
# Options
# -------
# The script takes its settings from the command line. ``--quick`` shortens
# the series and trains 2 epochs.

import argparse

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer

from calf_sklearn import CALFForecaster, mse_scorer
from calf_sklearn.datasets import make_synthetic_series

parser = argparse.ArgumentParser(
    description="A scikit-learn Pipeline in front of CALFForecaster: what goes through it, what comes back"
)
parser.add_argument("--quick", action="store_true", help="shorter series, 2 epochs (for tests)")
parser.add_argument("--seed", type=int, default=0, help="random_state (default 0)")
args = parser.parse_args()
QUICK = args.quick

# A small GPT-2, randomly initialised (pretrained=False below): not the paper's model.
SMALL_GPT2 = {"n_embd": 64, "n_layer": 2, "n_head": 4, "n_positions": 64}

# %%
# A positive, multiplicative series
# ---------------------------------
# Hourly "demand" at three sites, always positive, whose daily swings grow
# with its level. On the log scale the swings have a constant size, which is
# why a log transform helps here.


def positive_demand(n_steps, random_state=0):
    """Hourly 'demand' > 0 whose daily swings scale with its level (exp of a seasonal signal)."""
    signal = make_synthetic_series(n_steps=n_steps, n_series=3, random_state=random_state)
    frame = np.exp(3.0 + 0.35 * signal)  # a DataFrame: index and columns are kept
    frame.columns = ["site_a", "site_b", "site_c"]
    return frame


seq_len, pred_len = 96, 24
data = positive_demand(800 if QUICK else 2400, args.seed)
n_test = 200 if QUICK else 480
train, test = data.iloc[:-n_test], data.iloc[-n_test:]

# %%
# The pipeline and fit
# --------------------
# ``pipe.fit(train)`` applies ``log1p`` to ``train`` and fits the forecaster
# on the result: the forecaster only ever sees log values.

calf = CALFForecaster(
    pred_len=pred_len,
    seq_len=seq_len,
    # llm="gpt2", pretrained=True,  # <- the paper's pre-trained GPT-2 (needs it downloaded)
    llm=SMALL_GPT2,
    pretrained=False,  # random initialisation, said explicitly
    n_layers=2,
    n_principal_words=48,
    max_epochs=2 if QUICK else 20,
    patience=3,
    random_state=args.seed,
)
pipe = Pipeline(
    [
        # validate=False (the default) lets the DataFrame through, so its DatetimeIndex reaches
        # the forecaster and forecasts keep their timestamps. It also works on 3-D window batches.
        ("log", FunctionTransformer(np.log1p, inverse_func=np.expm1)),
        ("calf", calf),
    ]
)
# A StandardScaler step instead would work the same way, but it is redundant (CALF already
# standardises each series internally, fitted on its training rows), returns plain arrays
# unless you call pipe.set_output(transform="pandas"), and rejects 3-D window batches.

pipe.fit(train)  # log1p(train) -> CALFForecaster.fit
print(
    "Backbone: small randomly initialised GPT-2 (width 64, 2 blocks), NOT the paper's pre-trained "
    f"model; {len(pipe[-1].history_)} epochs (best epoch {pipe[-1].best_epoch_})."
)

# %%
# Predict: the forecast is on the log scale
# -----------------------------------------
# ``pipe.predict`` returns the forecaster's output, in the units it was given:
# log1p units. A Pipeline never inverts the output of its final step, so the
# script calls ``pipe[0].inverse_transform`` itself.

# predict: log1p(X) -> CALFForecaster.predict, which undoes its OWN internal scaling only.
# Pipeline.predict needs an X, so to forecast after the end of the training data pass the
# training data (only its last seq_len rows are used) or call the last step directly:
# pipe[-1].predict() gives the same log-scale forecast.
forecast_log = pipe.predict(train)
same = np.array_equal(forecast_log.to_numpy(), pipe[-1].predict().to_numpy())
print(f"pipe.predict(train) equals pipe[-1].predict(): {same}")
forecast = pipe[0].inverse_transform(forecast_log)  # expm1: back to the data's units
# (expm1 of a forecast of log values is closer to a median than to a mean forecast: for
# skewed data it runs a little low. Correct for that yourself if you need mean forecasts.)
shown = pd.DataFrame(
    {
        "log1p scale (pipe.predict)": forecast_log["site_a"],
        "data units (inverse_transform)": forecast["site_a"],
        "actual": test["site_a"].iloc[:pred_len],
    }
)
print("\nsite_a, first forecast steps:")
print(shown.head().round(3).to_string())

# %%
# Score: also on the log scale
# ----------------------------
# ``pipe.score`` and ``mse_scorer`` (what ``GridSearchCV`` uses) give minus the
# MSE of rolling forecasts of the log values, on the forecaster's standardised
# scale. A grid search over this pipeline therefore ranks models by log-scale
# error.

log_scale_score = pipe.score(test)
print(f"\npipe.score(test) = {log_scale_score:.4f}  (minus the MSE of log1p values, forecaster's scale)")
print(f"mse_scorer(pipe, test) = {mse_scorer(pipe, test):.4f}  (the same number)")

# %%
# Errors in the data's units
# --------------------------
# Neither score gives errors in the data's units, so the script forecasts 3-D
# batches of rolling windows of the test part through the pipeline, inverts
# the forecasts and compares them with the truth. A CALF fitted on the raw
# values is the reference.


def rolling_windows(values, seq_len, pred_len, stride):
    """(look-backs, truths) of every ``stride``-th window of ``seq_len + pred_len`` rows."""
    starts = range(0, len(values) - seq_len - pred_len + 1, stride)
    looks = np.stack([values[s : s + seq_len] for s in starts])
    truths = np.stack([values[s + seq_len : s + seq_len + pred_len] for s in starts])
    return looks, truths


raw = clone(calf).fit(train)
looks, truths = rolling_windows(test.to_numpy(), seq_len, pred_len, stride=pred_len // 2)
# Divide by each series' training standard deviation so that the three series count alike.
scale = train.to_numpy().std(axis=0)
candidates = {
    "CALF on log1p (Pipeline)": np.expm1(pipe.predict(looks)),
    "CALF on raw values": raw.predict(looks),
}
rows = {}
print(f"\nTest part, {len(looks)} windows of {pred_len} steps, data units / training std:")
print(f"{'model':<28}{'MSE':>10}{'MAE':>10}")
for name, predicted in candidates.items():
    error = (predicted - truths) / scale
    rows[name] = (float(np.mean(error**2)), float(np.mean(np.abs(error))))
    print(f"{name:<28}{rows[name][0]:>10.4f}{rows[name][1]:>10.4f}")
if QUICK:
    print("(quick mode: 2 epochs; these figures only show that the script runs)")
