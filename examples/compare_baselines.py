"""CALF against DLinear and the naive forecasts on ETTh1
=====================================================

The paper's long-term setting on a real benchmark data set: ETTh1 (hourly
readings of an electricity transformer, 7 series), a 96-hour look-back and a
96-hour horizon, the published 12/4/4-month split and its scaling. CALF,
DLinear, the naive (last value) and the seasonal naive (same hour yesterday)
forecasts are trained on the same rows and scored on the same test windows,
by mean squared and absolute error and by the coverage of their 90%
intervals. A second figure draws one test window of the series ``OT``.

The backbone is a small **randomly initialised** GPT-2 (width 64, 2 blocks),
so the script runs offline on a CPU. It is not the paper's pre-trained
model: the figures here say that the comparison runs, not how CALF compares
with the paper. ``calf-sklearn benchmark --dataset ETTh1`` runs the full
protocol with the paper's backbone; for it here, replace
``llm=SMALL_GPT2, pretrained=False, n_layers=2, n_principal_words=48`` with
``llm="gpt2", n_layers=6, n_principal_words=500``.

The CSV is read from ``--data-home`` or the ``CALF_SKLEARN_DATA``
environment variable (a folder holding ``ETTh1.csv``); nothing is downloaded
unless you pass ``--download``.

Run it from the repository root::

    python examples/compare_baselines.py --data-home ../shared/data           # every window, up to 10 epochs
    python examples/compare_baselines.py --data-home ../shared/data --quick   # 1 epoch on every 8th window
"""

# %%
# Options and the data
# --------------------
# ``load_benchmark`` cuts the paper's split and fits the scaler on the
# training rows, as the published loaders do; every figure below is in those
# scaled units. Validation and test begin with ``seq_len`` rows of
# look-back.
import argparse
import time

import matplotlib.pyplot as plt
import numpy as np

from calf_sklearn import CALFForecaster
from calf_sklearn.baselines import DLinearForecaster, NaiveForecaster, SeasonalNaiveForecaster
from calf_sklearn.benchmark import preset
from calf_sklearn.datasets import load_benchmark

parser = argparse.ArgumentParser(description="CALF against DLinear and the naive forecasts on ETTh1")
parser.add_argument("--quick", action="store_true", help="1 epoch on every 8th training window (for tests)")
parser.add_argument(
    "--data-home", default=None, help="folder holding ETTh1.csv (default: $CALF_SKLEARN_DATA)"
)
parser.add_argument("--download", action="store_true", help="download ETTh1.csv if it is missing")
args = parser.parse_args()
QUICK = args.quick

# A small GPT-2, randomly initialised (pretrained=False below): not the paper's model.
SMALL_GPT2 = {"n_embd": 64, "n_layer": 2, "n_head": 4, "n_positions": 64}
SEQ_LEN = PRED_LEN = 96

data = load_benchmark("ETTh1", seq_len=SEQ_LEN, data_home=args.data_home, download=args.download)
train, validation, test = data.scaled("train"), data.scaled("validation"), data.scaled("test")
columns = list(data.frame.columns)
print(data)
print(f"train {train.shape}, validation {validation.shape}, test {test.shape}; series: {', '.join(columns)}")

# %%
# Four forecasters, the same rows
# -------------------------------
# CALF takes the authors' ETTh1 settings (``preset``: batch 256, learning
# rate 5e-4, L1 losses), with fewer epochs; DLinear its own recipe. The
# naive forecasts learn nothing: their validation windows only calibrate
# their intervals. Every model stops early on (or calibrates with) the same
# validation part.
stride = 8 if QUICK else 1
settings = {**preset("ETTh1"), "max_epochs": 1 if QUICK else 10, "patience": 3}
models = {
    "CALF": CALFForecaster(
        pred_len=PRED_LEN,
        seq_len=SEQ_LEN,
        llm=SMALL_GPT2,
        pretrained=False,  # random initialisation, said explicitly
        n_layers=2,
        n_principal_words=48,
        window_stride=stride,
        random_state=0,
        **settings,
    ),
    "DLinear": DLinearForecaster(
        pred_len=PRED_LEN,
        seq_len=SEQ_LEN,
        max_epochs=1 if QUICK else 10,
        window_stride=stride,
        random_state=0,
    ),
    "seasonal naive (24 h)": SeasonalNaiveForecaster(pred_len=PRED_LEN, period=24),
    "naive (last value)": NaiveForecaster(pred_len=PRED_LEN),
}
fit_seconds = {}
for name, model in models.items():
    started = time.perf_counter()
    model.fit(train, X_val=validation)
    fit_seconds[name] = time.perf_counter() - started
print(
    "CALF backbone: small randomly initialised GPT-2 (width 64, 2 blocks), NOT the paper's pre-trained model."
)

# %%
# Scores on the test windows
# --------------------------
# ``evaluate`` forecasts every ``test_stride``-th test window and pools the
# errors over every horizon step and series, on the model's fitted scale.
# Each model standardises with the mean and spread of every row it was fitted
# on: here all of the benchmark's training rows, which are already
# standardised, so its scaling is the identity (to rounding) and the errors
# are in the benchmark's units. With a subset of the training rows (as in
# few_shot.py) that would no longer hold.
test_stride = 24 if QUICK else 1
scores = {name: model.evaluate(test, stride=test_stride, coverage=0.9) for name, model in models.items()}
n_windows = next(iter(scores.values()))["n_windows"]
print(f"\nETTh1, horizon {PRED_LEN}: {n_windows} test windows{' (every 24th)' if QUICK else ''}")
print(f"{'model':<24}{'MSE':>8}{'MAE':>8}{'90% PI coverage':>17}{'fit s':>8}")
for name, score in scores.items():
    print(
        f"{name:<24}{score['mse']:>8.4f}{score['mae']:>8.4f}"
        f"{score['interval_coverage']:>17.3f}{fit_seconds[name]:>8.1f}"
    )
if QUICK:
    print("QUICK MODE: 1 epoch on every 8th window; these figures mean nothing.")

fig, ax = plt.subplots(figsize=(7, 3.5))
names = list(scores)
positions = np.arange(len(names))
ax.bar(positions - 0.2, [scores[name]["mse"] for name in names], width=0.4, label="MSE")
ax.bar(positions + 0.2, [scores[name]["mae"] for name in names], width=0.4, label="MAE")
ax.set_xticks(positions, names)
ax.set_ylabel("test error (scaled units)")
ax.legend()
ax.set_title(
    f"ETTh1, horizon {PRED_LEN}, {n_windows} test windows; CALF: small random GPT-2"
    f"{', quick (1 epoch)' if QUICK else ''}",
    fontsize="medium",
)
fig.tight_layout()

# %%
# One test window of ``OT``
# -------------------------
# The oil temperature ``OT`` is the series the paper's figures show. Each
# model forecasts the 96 hours after the same look-back.
origin = len(test) // 2
look_back = test[origin : origin + SEQ_LEN]
truth = test[origin + SEQ_LEN : origin + SEQ_LEN + PRED_LEN]
ot = columns.index("OT")
fig, ax = plt.subplots(figsize=(9, 3.5))
ax.plot(np.arange(-SEQ_LEN, 0), look_back[:, ot], color="grey", lw=1, label="look-back")
ax.plot(np.arange(PRED_LEN), truth[:, ot], color="black", lw=1.5, label="truth")
for name, model in models.items():
    ax.plot(np.arange(PRED_LEN), model.predict(look_back)[:, ot], lw=1.2, label=name)
ax.set_xlabel("hours from the forecast origin")
ax.set_ylabel("OT (scaled)")
ax.legend(ncol=3, fontsize="small")
ax.set_title(
    f"ETTh1 test window {origin}, series OT; CALF: small random GPT-2{', quick (1 epoch)' if QUICK else ''}",
    fontsize="medium",
)
fig.tight_layout()
plt.show()  # a window where matplotlib has a screen; the gallery and the tests skip it
