"""Quick start on a CSV file: read it with pandas, fit, forecast, score, plot
==========================================================================

What it shows
-------------
* reading a CSV with a ``date`` column into a DataFrame with a DatetimeIndex
  (without ``--csv`` it first writes a synthetic 3-series hourly CSV to a
  temporary folder);
* fitting ``CALFForecaster`` on all rows but a held-out tail, and getting a
  forecast DataFrame stamped with the next timestamps;
* MSE / MAE on the held-out tail against the naive last-value forecast
  (``calf_sklearn.baselines.NaiveForecaster``), both on the same windows;
* a figure of the recent history, the forecast and what actually happened,
  saved as a PNG with ``--plot``.

The backbone is a small **randomly initialised** GPT-2 (width 64, 2 blocks,
GPT-2's vocabulary), so the script runs offline in seconds. It is not the
paper's pre-trained model, and its figures say nothing about the paper's.
To use the pre-trained GPT-2, replace ``llm=SMALL_GPT2, pretrained=False``
with ``llm="gpt2"`` (downloaded once from the Hugging Face hub, then cached).

Run it from the repository root::

    python examples/quickstart_csv.py                      # synthetic CSV, 20 epochs
    python examples/quickstart_csv.py --csv my.csv --plot forecast.png
    python examples/quickstart_csv.py --quick              # small and fast

The tests and the documentation build run it with ``--quick``.

Your CSV needs a ``date`` column (or name it with ``--date-column``) and one
numeric column per series; rows are time steps, oldest first.
"""

# %%
# Options
# -------
# The script takes its settings from the command line. Without ``--csv`` it
# writes a synthetic CSV first; with ``--plot`` it also saves the figure.

import argparse
import tempfile
import time
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from calf_sklearn import CALFForecaster
from calf_sklearn.baselines import NaiveForecaster
from calf_sklearn.datasets import make_synthetic_series

parser = argparse.ArgumentParser(
    description="Quick start on a CSV file: read it with pandas, fit, forecast, score, plot"
)
parser.add_argument("--quick", action="store_true", help="short series, 2 epochs (for tests)")
parser.add_argument("--csv", help="CSV to read (default: write a synthetic one to a temp folder)")
parser.add_argument("--date-column", default="date", help="name of the date column (default: date)")
parser.add_argument("--plot", help="also save the figure to this PNG (default: not saved)")
parser.add_argument("--seed", type=int, default=0, help="random_state (default 0)")
args = parser.parse_args()
QUICK = args.quick

# A small GPT-2, randomly initialised (pretrained=False below): not the paper's model.
SMALL_GPT2 = {"n_embd": 64, "n_layer": 2, "n_head": 4, "n_positions": 64}

# %%
# Read the CSV
# ------------
# ``read_csv`` with ``index_col`` and ``parse_dates`` turns the date column
# into a DatetimeIndex; the other columns are the series. Without ``--csv``,
# a synthetic hourly CSV with three series is written to a temporary folder
# first.


def write_demo_csv(path, n_steps, random_state=0):
    """Write a synthetic hourly CSV with a ``date`` column and 3 series."""
    frame = make_synthetic_series(n_steps=n_steps, n_series=3, random_state=random_state)
    frame.columns = ["north", "south", "east"]
    frame.to_csv(path, index_label="date")
    return path


scratch = None  # the temporary folder of the synthetic CSV, if one is written
if args.csv is not None:
    csv = args.csv
else:
    scratch = tempfile.TemporaryDirectory(prefix="calf-quickstart-")
    csv = write_demo_csv(Path(scratch.name) / "demo_series.csv", 700 if QUICK else 2000, args.seed)
    print(f"Wrote a synthetic CSV (3 hourly series) to {csv} (deleted at the end)")

pred_len, seq_len = 24, 96
data = pd.read_csv(csv, index_col=args.date_column, parse_dates=True).sort_index()
print(f"Read {csv}: {data.shape[0]} rows x {data.shape[1]} series ({', '.join(map(str, data.columns))})")

# %%
# Fit on all rows but a held-out tail
# -----------------------------------
# The last few horizons are held out for scoring. CALF and the naive
# last-value forecast are fitted on the same training rows.

n_test = 4 * pred_len if QUICK else 8 * pred_len
train, test = data.iloc[:-n_test], data.iloc[-n_test:]
model = CALFForecaster(
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
started = time.perf_counter()
model.fit(train)
seconds = time.perf_counter() - started
naive = NaiveForecaster(pred_len=pred_len).fit(train)
print(
    "Backbone: small randomly initialised GPT-2 (width 64, 2 blocks), NOT the paper's pre-trained "
    f"model; trained {len(model.history_)} epochs in {seconds:.1f} s (best epoch {model.best_epoch_})."
)

# %%
# Forecast
# --------
# ``predict()`` without arguments forecasts the ``pred_len`` steps after the
# training data, as a DataFrame indexed by the future timestamps.

forecast = model.predict()
naive_forecast = naive.predict()
print("\nCALF forecast (first rows):")
print(forecast.head().round(3).to_string())

# %%
# Score on the held-out tail
# --------------------------
# Both methods forecast every ``pred_len``-th window whose look-back ends in or
# before the tail. Errors are divided by each series' training standard
# deviation, so every series counts alike.


def rolling_windows(values, seq_len, pred_len, stride):
    """(look-backs, truths) of every ``stride``-th window of ``seq_len + pred_len`` rows."""
    starts = range(0, len(values) - seq_len - pred_len + 1, stride)
    looks = np.stack([values[s : s + seq_len] for s in starts])
    truths = np.stack([values[s + seq_len : s + seq_len + pred_len] for s in starts])
    return looks, truths


values = data.to_numpy()
tail = values[-(n_test + seq_len) :]
looks, truths = rolling_windows(tail, seq_len, pred_len, stride=pred_len)
scale = train.to_numpy().std(axis=0)
rows = {}
for name, estimator in (("CALF", model), ("naive last value", naive)):
    error = (estimator.predict(looks) - truths) / scale
    rows[name] = (float(np.mean(error**2)), float(np.mean(np.abs(error))))
print(f"\nHeld-out tail: last {n_test} rows, {len(looks)} windows of {pred_len} steps, standardised units")
print(f"{'method':<20}{'MSE':>10}{'MAE':>10}")
for name, (mse, mae) in rows.items():
    print(f"{name:<20}{mse:>10.4f}{mae:>10.4f}")
if QUICK:
    print("(quick mode: 2 epochs on a short series; these figures only show that the script runs)")

# %%
# Plot the forecast against the held-out rows
# -------------------------------------------
# One panel per series: the last three look-backs of history, what actually
# happened next, the naive forecast and CALF's forecast.

history = train.iloc[-3 * seq_len :]
actual = test.iloc[:pred_len]
n_series = history.shape[1]
fig, axes = plt.subplots(n_series, 1, figsize=(9, 2.2 * n_series), sharex=True, squeeze=False)
for ax, column in zip(axes[:, 0], history.columns):
    ax.plot(history.index, history[column], color="0.45", label="history")
    ax.plot(actual.index, actual[column], color="black", label="actual")
    ax.plot(
        naive_forecast.index,
        naive_forecast[column],
        color="tab:blue",
        linestyle="--",
        label="naive last value",
    )
    ax.plot(forecast.index, forecast[column], color="tab:red", label="CALF forecast")
    ax.set_ylabel(column)
axes[0, 0].legend(loc="upper left", fontsize=8, ncol=4)
source = "synthetic CSV" if args.csv is None else Path(args.csv).name
mode = "quick run" if QUICK else "full run"
fig.suptitle(
    f"CALF forecast vs the held-out rows: {source}\n"
    f"small randomly initialised GPT-2 (not the pre-trained model), {mode}, {len(model.history_)} epochs",
    fontsize=10,
)
fig.autofmt_xdate()
fig.tight_layout()
if args.plot is not None:
    plot = Path(args.plot)
    fig.savefig(plot, dpi=90)
    print(f"\nPlot saved to {plot.resolve()}")

if scratch is not None:
    scratch.cleanup()  # the synthetic CSV is no longer needed
plt.show()  # a window where matplotlib has a screen; the gallery and the tests skip it
