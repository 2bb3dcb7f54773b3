"""Few-shot forecasting on 10% of ETTh1's training windows, compared with DLinear and naive
========================================================================================

What it shows
-------------
* ``calf_sklearn.datasets.load_benchmark("ETTh1", seq_len=96, percent=10)``:
  the paper's split (12/4/4 months), the first 10% of the training windows
  kept for training, the scaler fitted on ALL training rows (the protocol);
* CALF, ``DLinearForecaster`` and ``NaiveForecaster`` trained on the same
  scaled rows (``fit(train, X_val=validation)``: early stopping on the
  validation part), and scored on the same test windows, as
  ``calf-sklearn benchmark`` scores them: forecasts of the scaled test part,
  MSE / MAE over every horizon step and series in the benchmark's scaled
  units (``calf_sklearn/_apps/long_term.py``, ``_evaluate``).

The CSV is read from ``--data-home`` or the ``CALF_SKLEARN_DATA``
environment variable (a folder holding ``ETTh1.csv``); nothing is
downloaded unless you pass ``--download``.

The backbone is a small **randomly initialised** GPT-2 (width 64, 2 blocks,
GPT-2's vocabulary), so the script runs offline on a CPU. It is not the
paper's pre-trained model, and the few-shot setting is exactly where
pre-training is supposed to matter: do not compare these figures with the
paper's. For the pre-trained GPT-2 (the paper keeps its first 6 blocks),
replace ``llm=SMALL_GPT2, pretrained=False, n_layers=2, n_principal_words=48``
with ``llm="gpt2", n_layers=6, n_principal_words=500``.

``--quick`` trains 1 epoch on every 4th training window and scores every
24th test window: a smoke test whose figures mean nothing.

Run it from the repository root::

    python examples/few_shot.py --data-home ../shared/data            # all windows, up to 20 epochs
    CALF_SKLEARN_DATA=../shared/data python examples/few_shot.py --quick

The tests and the documentation build run it with ``--quick`` (and
``--data-home`` set to the folder of the benchmark files).
"""

# %%
# Options
# -------
# The script takes its settings from the command line. Without
# ``--data-home`` the data folder is ``$CALF_SKLEARN_DATA``, else the
# package's default data folder.

import argparse
import time

import numpy as np

from calf_sklearn import CALFForecaster
from calf_sklearn.baselines import DLinearForecaster, NaiveForecaster
from calf_sklearn.benchmark import preset
from calf_sklearn.datasets import get_data_home, load_benchmark

parser = argparse.ArgumentParser(
    description="Few-shot forecasting on 10% of ETTh1's training windows, compared with DLinear and naive"
)
parser.add_argument("--quick", action="store_true", help="1 epoch, strided windows (for tests)")
parser.add_argument("--data-home", help="folder holding ETTh1.csv (default: $CALF_SKLEARN_DATA)")
parser.add_argument("--dataset", default="ETTh1", help="benchmark data set (default ETTh1)")
parser.add_argument("--percent", type=int, default=10, help="few-shot percentage (default 10)")
parser.add_argument("--download", action="store_true", help="download the data file if it is missing")
parser.add_argument("--seed", type=int, default=0, help="random_state (default 0)")
args = parser.parse_args()
QUICK = args.quick

# A small GPT-2, randomly initialised (pretrained=False below): not the paper's model.
SMALL_GPT2 = {"n_embd": 64, "n_layer": 2, "n_head": 4, "n_positions": 64}

# %%
# Load the benchmark
# ------------------
# ``load_benchmark`` cuts the paper's train / validation / test parts, keeps
# the first ``percent`` % of the training windows, and fits the scaler on all
# training rows. Validation and test begin with ``seq_len`` look-back rows, as
# the published loaders cut them.

seq_len, pred_len = 96, 96
data = load_benchmark(
    args.dataset, seq_len=seq_len, percent=args.percent, data_home=args.data_home, download=args.download
)
print(f"Data folder: {get_data_home(args.data_home)}")
print(data)
# The parts in the benchmark's scaled units (scaler fitted on all training rows).
train, validation, test = data.scaled("train"), data.scaled("validation"), data.scaled("test")

# %%
# Training and test windows
# -------------------------
# Every model trains on the same windows and is scored on the same rolling
# test windows. In quick mode only every 4th training window, every 24th test
# window and the first 256 validation windows are used.


def rolling_windows(values, seq_len, pred_len, stride):
    """(look-backs, truths) of every ``stride``-th window of ``seq_len + pred_len`` rows."""
    starts = range(0, len(values) - seq_len - pred_len + 1, stride)
    looks = np.stack([values[s : s + seq_len] for s in starts])
    truths = np.stack([values[s + seq_len : s + seq_len + pred_len] for s in starts])
    return looks, truths


stride = 4 if QUICK else 1  # training windows: every 4th in quick mode
test_stride = 24 if QUICK else 1  # test windows: every 24th in quick mode
if QUICK:
    validation = validation[: seq_len + pred_len + 255]  # 256 validation windows
n_train_windows = len(range(0, len(train) - seq_len - pred_len + 1, stride))

looks, truths = rolling_windows(test, seq_len, pred_len, test_stride)
print(
    f"\n{args.dataset}, horizon {pred_len}, look-back {seq_len}: training on {n_train_windows} windows "
    f"({args.percent}% of the training rows{', every 4th window' if QUICK else ''}), "
    f"{len(looks)} test windows{' (every 24th)' if QUICK else ''}."
)

# %%
# Three forecasters
# -----------------
# CALF with the authors' settings for the data set (``preset``), DLinear with
# its own recipe, and the naive last-value forecast as a floor that any model
# should beat.

settings = preset(args.dataset)  # the authors' ETTh1 settings: batch 256, lr 5e-4, L1 losses, ...
settings["max_epochs"] = 1 if QUICK else settings.get("max_epochs", 20)
models = {
    f"CALF ({args.percent}%)": CALFForecaster(
        pred_len=pred_len,
        seq_len=seq_len,
        # llm="gpt2", n_layers=6, n_principal_words=500,  # <- the paper's pre-trained GPT-2
        llm=SMALL_GPT2,
        pretrained=False,  # random initialisation, said explicitly
        n_layers=2,
        n_principal_words=48,
        window_stride=stride,
        random_state=args.seed,
        **settings,
    ),
    # DLinear with its own recipe (its ETTh1 script), on the same training windows.
    f"DLinear ({args.percent}%)": DLinearForecaster(
        pred_len=pred_len,
        seq_len=seq_len,
        learning_rate=5e-3,
        batch_size=32,
        max_epochs=1 if QUICK else 10,
        patience=3,
        window_stride=stride,
        random_state=args.seed,
    ),
    "naive last value": NaiveForecaster(pred_len=pred_len),
}
print(
    "CALF backbone: small randomly initialised GPT-2 (width 64, 2 blocks), NOT the paper's "
    "pre-trained model.\n"
)

# %%
# Fit and score
# -------------
# Each model is fitted on the scaled training rows, with early stopping on the
# validation part, and scored on the test windows in the benchmark's scaled
# units, as ``calf-sklearn benchmark`` scores it.


def score(model, looks, truths):
    """MSE and MAE of ``model``'s forecasts of ``looks``, in the units of ``truths``.

    This is how ``calf-sklearn benchmark`` scores. ``model.evaluate(test)`` would compare on the
    model's OWN fitted scale instead: each forecaster standardises its input again with a scaler
    fitted on the rows it was trained on, here the 10% few-shot rows, whose mean and spread
    differ from those of the full training part that the benchmark's scaler was fitted on.
    """
    error = model.predict(looks) - truths
    return float(np.mean(error**2)), float(np.mean(np.abs(error)))


results = {}
print(f"{'model':<20}{'test MSE':>10}{'test MAE':>10}{'epochs':>8}{'fit s':>8}")
for name, model in models.items():
    started = time.perf_counter()
    model.fit(train, X_val=validation)
    seconds = time.perf_counter() - started
    results[name] = score(model, looks, truths)
    epochs = len(getattr(model, "history_", [])) or "-"
    print(f"{name:<20}{results[name][0]:>10.4f}{results[name][1]:>10.4f}{epochs:>8}{seconds:>8.1f}")
print("\nMSE / MAE: every horizon step and series of the scaled test windows (benchmark units).")
if QUICK:
    print("QUICK MODE: 1 epoch on strided windows; these figures mean nothing.")
