"""Forecast a panel of many series and plot members with their intervals
=====================================================================

Twelve shops' hourly sales, each with its own length, level and noise, make
one **panel**: a dict ``{id: DataFrame}``. One global CALF model is fitted on
all of them; each member is scaled by its own training rows. The forecaster
then gives, for every member, its point forecast and split-conformal
prediction intervals calibrated on the validation tail of every member. The
script checks the intervals on a week that no fit saw and draws three
members with their 50% and 90% bands.

The backbone is a small **randomly initialised** GPT-2 (width 64, 2 blocks),
so the script runs offline; it is not the paper's pre-trained model. For
the pre-trained GPT-2, replace ``llm=SMALL_GPT2, pretrained=False`` with
``llm="gpt2"``.

Run it from the repository root::

    python examples/panel_intervals.py           # longer series, 15 epochs
    python examples/panel_intervals.py --quick   # shorter series, 2 epochs (the tests and the docs build)
"""

# %%
# Options and the panel
# ---------------------
# Every member is a DataFrame with an hourly DatetimeIndex and one column.
# The shops differ in length (a shop that opened later has fewer rows), in
# level (from tens to hundreds of sales an hour) and in noise. The last week
# of every member is kept aside to check the intervals.
import argparse

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from calf_sklearn import CALFForecaster

parser = argparse.ArgumentParser(description="Forecast a panel and plot members with their intervals")
parser.add_argument("--quick", action="store_true", help="shorter series, 2 epochs (for tests)")
parser.add_argument("--seed", type=int, default=0, help="random seed of the data and the model (default 0)")
args = parser.parse_args()
QUICK = args.quick

# A small GPT-2, randomly initialised (pretrained=False below): not the paper's model.
SMALL_GPT2 = {"n_embd": 64, "n_layer": 2, "n_head": 4, "n_positions": 64}
PRED_LEN, SEQ_LEN, HELD_OUT = 24, 72, 168

rng = np.random.default_rng(args.seed)
panel = {}
for shop in range(12):
    n_rows = int(rng.integers(500, 800) if QUICK else rng.integers(1500, 2400))
    hours = np.arange(n_rows)
    level = rng.uniform(20, 400)
    daily = np.clip(np.sin((hours % 24 - 7) / 24 * 2 * np.pi), 0, None)  # open in the day
    weekly = 1 + 0.3 * (hours // 24 % 7 >= 5)  # busier at weekends
    sales = level * (0.2 + daily * weekly) * (1 + rng.normal(0, 0.05 + 0.1 * rng.random(), n_rows))
    start = pd.Timestamp("2024-01-01") + pd.Timedelta(hours=int(rng.integers(0, 600)))
    index = pd.date_range(start, periods=n_rows, freq="h")
    panel[f"shop_{shop:02d}"] = pd.DataFrame({"sales": sales}, index=index)

train = {shop: frame.iloc[:-HELD_OUT] for shop, frame in panel.items()}
print(f"Panel: {len(panel)} members, {min(map(len, panel.values()))} to {max(map(len, panel.values()))} rows")
print(f"Held out: the last {HELD_OUT} rows (one week) of every member")

# %%
# One global model for the whole panel
# ------------------------------------
# ``validation_size=0.25`` holds out the last quarter of every member's
# training rows: early stopping watches them, and their forecast errors
# calibrate the intervals ("scaled" conformal intervals: each error is
# divided by the spread of its window's look-back).
model = CALFForecaster(
    pred_len=PRED_LEN,
    seq_len=SEQ_LEN,
    llm=SMALL_GPT2,
    pretrained=False,  # random initialisation, said explicitly
    n_layers=2,
    n_principal_words=32,
    validation_size=0.25,
    max_epochs=2 if QUICK else 15,
    patience=3,
    random_state=args.seed,
).fit(train)
print(f"Fitted on {len(train)} members in {len(model.history_)} epochs")
print("Backbone: small randomly initialised GPT-2 (width 64, 2 blocks), NOT the paper's pre-trained model.")

# %%
# Forecasts with intervals, for every member
# ------------------------------------------
# One forward pass gives the point forecasts and the intervals at both
# levels. A panel in gives a panel out: a dict of DataFrames whose columns
# are ``(series, coverage, "lower"/"upper")``.
forecast, bands = model.predict_with_interval(coverage=[0.5, 0.9])
first = next(iter(bands))
print(f"Intervals of {first}:")
print(bands[first].head(3).round(1))

# %%
# Do the intervals hold on a week no fit saw?
# -------------------------------------------
# ``evaluate`` forecasts every 24th origin of the held-out week (with the
# look-back before it) in every member, and reports the share of the true
# values inside the intervals. Split conformal promises the level for windows
# that behave like the calibration windows; with this few windows the
# measured share varies by a few points.
rows = []
for coverage in (0.5, 0.9):
    held_out = {shop: frame.iloc[-(HELD_OUT + SEQ_LEN) :] for shop, frame in panel.items()}
    scores = model.evaluate(held_out, stride=PRED_LEN, coverage=coverage)
    rows.append((coverage, scores["interval_coverage"], scores["interval_width"], scores["n_windows"]))
print(f"{'level':>6}{'coverage':>10}{'mean width':>12}{'windows':>9}")
for coverage, covered, width, n_windows in rows:
    print(f"{coverage:>6.2f}{covered:>10.3f}{width:>12.3f}{n_windows:>9}")
print("(width in each member's scaled units: 1 is one standard deviation of the rows it trained on)")

# %%
# Three members with their bands
# ------------------------------
# The last three days of history, the next day's truth (the first hours of
# the held-out week), the forecast and its 50% and 90% intervals. Each member
# keeps its own timestamps and scale.
fig, axes = plt.subplots(3, 1, figsize=(9, 8), sharex=False)
for ax, shop in zip(axes, ["shop_00", "shop_05", "shop_10"]):
    history = train[shop]["sales"].iloc[-3 * 24 :]
    truth = panel[shop]["sales"].iloc[len(train[shop]) : len(train[shop]) + PRED_LEN]
    band = bands[shop]["sales"]
    ax.plot(history.index, history, color="grey", lw=1, label="history")
    ax.plot(truth.index, truth, color="black", lw=1.5, label="truth (held out)")
    ax.fill_between(band.index, band[0.9]["lower"], band[0.9]["upper"], color="C0", alpha=0.2, label="90%")
    ax.fill_between(band.index, band[0.5]["lower"], band[0.5]["upper"], color="C0", alpha=0.4, label="50%")
    ax.plot(forecast[shop].index, forecast[shop]["sales"], color="C0", lw=1.5, label="CALF forecast")
    ax.set_ylabel(f"{shop}\nsales / hour")
axes[0].legend(loc="upper left", ncol=5, fontsize="small")
fig.suptitle(
    "Synthetic hourly panel, 12 members: CALF with a small randomly initialised GPT-2\n"
    f"({'quick: 2 epochs' if QUICK else 'up to 15 epochs'}; not the paper's pre-trained model)"
)
fig.tight_layout()
plt.show()  # a window where matplotlib has a screen; the gallery and the tests skip it
