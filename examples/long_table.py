"""Forecast many series kept in a long (id, time, value) table, in groups that fit the backbone
============================================================================================

What it shows
-------------
* a long table, one row per (id, time) pair (as databases and many data
  files keep panel data), pivoted with pandas to the wide layout the
  forecaster takes: one row per time step, one column per id;
* what happens when there are more series than the backbone has positions
  (CALF gives each series one token, so a GPT-2 with ``n_positions`` positions
  takes at most that many series): ``fit`` raises a ``ValueError`` that says
  so, and the script forecasts the ids in groups of at most ``n_positions``
  instead, one forecaster per group (``sklearn.base.clone`` of one template);
* the wide forecasts put side by side again and melted back to a long
  (id, time, forecast) table.

To make the limit visible with 20 ids, the backbone here has only 8
positions. The published GPT-2 has 1024, so with ``llm="gpt2"`` grouping is
only needed above 1024 series; grouping also keeps each model's memory in
bounds. Series in different groups do not see each other (CALF's attention
across series works within a group), so put related series in the same group.

The backbone is a small **randomly initialised** GPT-2 (width 64, 2 blocks,
8 positions, GPT-2's vocabulary), so the script runs offline. It is not the
paper's pre-trained model. For the pre-trained GPT-2, replace
``llm=SMALL_GPT2, pretrained=False`` with ``llm="gpt2"`` (and set
``GROUP_SIZE`` to at most 1024).

Run it from the repository root::

    python examples/long_table.py           # 20 ids, 10 epochs per group
    python examples/long_table.py --quick   # 20 ids, 1 epoch per group

The tests and the documentation build run it with ``--quick``.
"""

# %%
# Options
# -------
# The script takes its settings from the command line. The backbone has only
# 8 positions, so one model takes at most 8 series: ``GROUP_SIZE``.

import argparse

import numpy as np
import pandas as pd
from sklearn.base import clone

from calf_sklearn import CALFForecaster

parser = argparse.ArgumentParser(
    description="Forecast many series kept in a long (id, time, value) table, in groups that fit the backbone"
)
parser.add_argument("--quick", action="store_true", help="shorter series, 1 epoch per group (for tests)")
parser.add_argument("--ids", type=int, default=20, help="number of ids in the long table (default 20)")
parser.add_argument("--seed", type=int, default=0, help="random_state (default 0)")
args = parser.parse_args()
QUICK = args.quick

# A small GPT-2, randomly initialised (pretrained=False below): not the paper's model.
# Only 8 positions, so that 20 series are more than one model can take.
SMALL_GPT2 = {"n_embd": 64, "n_layer": 2, "n_head": 4, "n_positions": 8}
GROUP_SIZE = SMALL_GPT2["n_positions"]

# %%
# A long table
# ------------
# One row per id and hour, with columns ``id``, ``time`` and ``value``, in no
# particular order, as a database query or a data file may return them.


def make_long_table(n_ids=20, n_steps=600, random_state=0):
    """A long table: columns ``id``, ``time`` (hourly) and ``value``, one row per id and hour."""
    rng = np.random.default_rng(random_state)
    time = pd.date_range("2024-03-01", periods=n_steps, freq="h")
    t = np.arange(n_steps)
    frames = []
    for i in range(n_ids):
        level, amplitude, phase = rng.uniform(5, 50), rng.uniform(1, 5), rng.uniform(0, 2 * np.pi)
        value = level + amplitude * np.sin(2 * np.pi * t / 24 + phase) + rng.normal(0, 0.5, n_steps)
        frames.append(pd.DataFrame({"id": f"meter_{i:02d}", "time": time, "value": value}))
    # Rows of a long table come in any order; shuffle them to make the point.
    return pd.concat(frames).sample(frac=1.0, random_state=random_state).reset_index(drop=True)


horizon = 24
long = make_long_table(n_ids=args.ids, n_steps=500 if QUICK else 1500, random_state=args.seed)
print(f"Long table: {len(long)} rows, {long['id'].nunique()} ids")
print(long.head().to_string(index=False))

# %%
# Long to wide
# ------------
# The forecaster takes a wide table: rows are time steps, sorted, and columns
# are ids. ``pivot`` refuses repeated (time, id) pairs, and the forecaster
# takes no gaps, so aggregate and fill those first if your data has any.

wide = long.pivot(index="time", columns="id", values="value").sort_index()
wide.columns.name = None
if wide.isna().any().any():  # the forecaster takes no gaps: fill or drop them first
    wide = wide.interpolate(limit_direction="both")
print(f"\nWide table: {wide.shape[0]} time steps x {wide.shape[1]} ids")

# %%
# One model for all ids fails
# ---------------------------
# A template forecaster holds the settings every group will use. Fitted on all
# ids at once it has more series than positions, and ``fit`` says so.

template = CALFForecaster(
    pred_len=horizon,
    seq_len=48,
    # llm="gpt2", pretrained=True,  # <- the paper's pre-trained GPT-2 (1024 positions)
    llm=SMALL_GPT2,
    pretrained=False,  # random initialisation, said explicitly
    n_layers=2,
    n_principal_words=32,
    max_epochs=1 if QUICK else 10,
    random_state=args.seed,
)
print(
    f"Backbone: small randomly initialised GPT-2 (width 64, 2 blocks, {GROUP_SIZE} positions), "
    "NOT the paper's pre-trained model."
)

try:
    clone(template).fit(wide)
except ValueError as error:
    print(f"\nOne model for all {wide.shape[1]} ids fails as expected:\n  ValueError: {error}")

# %%
# Forecast in groups
# ------------------
# The ids are split into groups of at most ``GROUP_SIZE``, and each group gets
# its own clone of the template. All forecasts share the same future
# timestamps, so they can be put side by side.

groups = [list(wide.columns[i : i + GROUP_SIZE]) for i in range(0, wide.shape[1], GROUP_SIZE)]
print(f"\nForecasting in {len(groups)} groups of at most {GROUP_SIZE} ids:")
forecasts = []
for number, ids in enumerate(groups):
    model = clone(template).fit(wide[ids])
    forecasts.append(model.predict())  # DataFrame: the next `horizon` hours x the group's ids
    print(f"  group {number}: {ids[0]} .. {ids[-1]} ({len(ids)} ids), {len(model.history_)} epochs")
forecast_wide = pd.concat(forecasts, axis=1)  # same future timestamps in every group
forecast_wide.index.name = "time"

# %%
# Back to a long table
# --------------------
# ``melt`` turns the wide forecast into one row per (id, future time), the
# layout the input came in.

result = (
    forecast_wide.reset_index()
    .melt(id_vars="time", var_name="id", value_name="forecast")
    .sort_values(["id", "time"], ignore_index=True)
)[["id", "time", "forecast"]]
print(
    f"\nLong forecast table: {len(result)} rows = {result['id'].nunique()} ids x "
    f"{result['time'].nunique()} steps"
)
print(result.head(8).to_string(index=False))
if QUICK:
    print("(quick mode: 1 epoch per group; the forecasts only show that the script runs)")
