"""Empirical coverage of the conformal prediction intervals at 80/90/95%, on real data.

For ETTh1 (horizon 96, the long-term protocol's splits and scaling) and M4-Hourly
(the short-term protocol: every series, calibrated on the last H points of each
training series, scored on the test file), every model is fitted once per
``interval_method`` ("scaled" and "absolute"; same seed, so the same weights)
and its intervals are scored on the test data: the share of test values inside
(coverage) and the mean width (ETTh1: on the scaled data; M4: in units of each
series' MASE scale, as MSIS scales).

CALF runs on a randomly initialised GPT-2 of the paper's shape with capped
training (say so wherever the figures are shown):

    python benchmarks/interval_coverage.py --data-home ../shared/data
    python benchmarks/interval_coverage.py --data-home ../shared/data --quick   # small backbone, fewer epochs

Prints a table per data set and the mean absolute gap between coverage and
level per method, which decides the package's default ``interval_method``.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import time

import numpy as np

from calf_sklearn import CALFForecaster
from calf_sklearn._series.measures import _seasonal_scales
from calf_sklearn.baselines import (
    DLinearForecaster,
    Naive2Forecaster,
    NaiveForecaster,
    SeasonalNaiveForecaster,
)
from calf_sklearn.benchmark import GPT2_SHAPE, preset
from calf_sklearn.datasets import load_benchmark, load_m4
from calf_sklearn.short_term import m4_preset
from calf_sklearn.windows import WindowedSeries

LEVELS = (0.8, 0.9, 0.95)
METHODS = ("scaled", "absolute")
SMALL = {"n_embd": 64, "n_layer": 2, "n_head": 4, "vocab_size": 300}


def _cpu():
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        fields = dict(line.split(":", 1) for line in out.splitlines() if ":" in line)
        flags = fields.get("Flags", "")
        wanted = [f for f in ("avx2", "avx512f", "avx512_bf16", "amx_tile") if f in flags.split()]
        return f"{fields.get('Model name', '?').strip()}, {os.cpu_count()} CPUs, flags: {' '.join(wanted)}"
    except (OSError, subprocess.CalledProcessError):
        return platform.processor() or platform.machine()


def _calf_backbone(quick):
    if quick:
        return {"llm": dict(SMALL), "pretrained": False, "n_layers": 2, "n_principal_words": 16}
    return {"llm": dict(GPT2_SHAPE), "pretrained": False}


def _score_long_term(model, test, seq_len, pred_len):
    """Per level: pooled coverage, mean width, and the coverage gap by look-back volatility.

    The conditional figure splits every (window, series) pair into thirds by the
    spread of its look-back and averages |coverage - level| over the thirds: an
    interval method that ignores volatility over-covers calm windows and
    under-covers volatile ones, which pooled coverage hides.
    """
    windows = WindowedSeries(test, seq_len, pred_len)
    x, y = windows.batch(np.arange(len(windows)))
    bounds = model.predict_interval(x, coverage=list(LEVELS))
    spread = x.std(axis=1)  # (windows, series)
    thirds = np.digitize(spread, np.quantile(spread, [1 / 3, 2 / 3]))
    scores = {}
    for level, (lower, upper) in bounds.items():
        inside = (y >= lower) & (y <= upper)  # (windows, steps, series)
        by_third = [inside.transpose(0, 2, 1)[thirds == k].mean() for k in range(3)]
        gap = float(np.mean([abs(c - level) for c in by_third]))
        scores[level] = (float(inside.mean()), float((upper - lower).mean()), gap)
    return scores


def etth1(data_home, quick, seed):
    data = load_benchmark("ETTh1", seq_len=96, data_home=data_home)
    train, validation, test = data.scaled("train"), data.scaled("validation"), data.scaled("test")
    seq_len = pred_len = 96
    n_train = len(train) - seq_len - pred_len + 1
    stride = max(1, n_train // 1024)  # CALF on about 1024 training windows: capped, and said so
    epochs = 1 if quick else 3
    calf = {
        **preset("ETTh1"),
        **_calf_backbone(quick),
        "pred_len": pred_len,
        "seq_len": seq_len,
        "max_epochs": epochs,
        "window_stride": stride,
        "random_state": seed,
    }
    models = {
        "naive": lambda m: NaiveForecaster(pred_len=pred_len, interval_method=m),
        "seasonal naive (24)": lambda m: SeasonalNaiveForecaster(
            pred_len=pred_len, period=24, interval_method=m
        ),
        "DLinear": lambda m: DLinearForecaster(
            pred_len=pred_len, seq_len=seq_len, interval_method=m, random_state=seed
        ),
        f"CALF ({epochs} epochs, every {stride}th window)": lambda m: CALFForecaster(
            **calf, interval_method=m
        ),
    }
    rows = []
    for name, build in models.items():
        for method in METHODS:
            started = time.perf_counter()
            model = build(method).fit(train, X_val=validation)
            scores = _score_long_term(model, test, seq_len, pred_len)
            rows.append((name, method, model.calibration_.n_windows, scores, time.perf_counter() - started))
    return rows


def m4_hourly(data_home, quick, seed):
    data = load_m4("Hourly", data_home=data_home)
    group = data.group
    members = [series[:, None] for series in data.train]
    h, m = group.horizon, group.period
    epochs = 2 if quick else 10
    calf = {**m4_preset(group), **_calf_backbone(quick), "max_epochs": epochs, "random_state": seed}
    models = {
        "Naive1": lambda k: NaiveForecaster(pred_len=h, validation_size=h, interval_method=k),
        "seasonal naive": lambda k: SeasonalNaiveForecaster(pred_len=h, period=m, validation_size=h, interval_method=k),
        "Naive2": lambda k: Naive2Forecaster(pred_len=h, period=m, validation_size=h, interval_method=k),
        "DLinear (every 15th window)": lambda k: DLinearForecaster(
            pred_len=h, seq_len=2 * h, padding=True, validation_size=h, window_stride=15,
            interval_method=k, random_state=seed,
        ),
        f"CALF ({epochs} epochs)": lambda k: CALFForecaster(**calf, interval_method=k),
    }  # fmt: skip
    scales = _seasonal_scales(data.train, data.n_series, m)
    rows = []
    for name, build in models.items():
        for method in METHODS:
            started = time.perf_counter()
            model = build(method).fit(members)
            bounds = model.predict_interval(coverage=list(LEVELS))
            scores = {}
            for level in LEVELS:
                lower = np.stack([member[level][0][:, 0] for member in bounds])
                upper = np.stack([member[level][1][:, 0] for member in bounds])
                inside = (data.test >= lower) & (data.test <= upper)  # (series, steps)
                # Conditional: how far each series' own coverage is from the level.
                gap = float(np.mean(np.abs(inside.mean(axis=1) - level)))
                scores[level] = (
                    float(inside.mean()),
                    float(np.mean((upper - lower).mean(axis=1) / scales)),
                    gap,
                )
            rows.append((name, method, model.calibration_.n_windows, scores, time.perf_counter() - started))
    return rows


def _print(title, rows, conditional):
    print(f"\n### {title}\n")
    header = " | ".join(f"{level:.0%} cov / width / gap" for level in LEVELS)
    print(f"| model | method | calibration windows | {header} | seconds |")
    print("|---|---|---|" + "---|" * len(LEVELS) + "---|")
    for name, method, n, scores, seconds in rows:
        cells = " | ".join("{:.3f} / {:.3f} / {:.3f}".format(*scores[level]) for level in LEVELS)
        print(f"| {name} | {method} | {n} | {cells} | {seconds:.0f} |")
    print(f"\n(gap: {conditional})")


def _gaps(rows, which):
    gaps = {method: [] for method in METHODS}
    for _, method, _, scores, _ in rows:
        gaps[method] += [
            abs(scores[level][0] - level) if which == 0 else scores[level][2] for level in LEVELS
        ]
    return {method: round(float(np.mean(values)), 4) for method, values in gaps.items()}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--data-home", default=None, help="folder with ETTh1.csv and m4/ (default: the package's)"
    )
    parser.add_argument("--quick", action="store_true", help="small random backbone, fewer epochs")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--only", choices=("etth1", "m4"), help="one data set only")
    args = parser.parse_args(argv)
    import torch

    backbone = (
        "small random GPT-2 (width 64, 2 blocks)" if args.quick else "random GPT-2 of the paper's shape"
    )
    print(
        f"CPU: {_cpu()}; torch {torch.__version__}, {torch.get_num_threads()} threads; CALF backbone: {backbone}"
    )
    every = []
    if args.only in (None, "etth1"):
        rows = etth1(args.data_home, args.quick, args.seed)
        _print(
            "ETTh1, horizon 96: every test window, coverage and mean width on the scaled data",
            rows,
            "mean |coverage - level| over thirds of the (window, series) pairs by look-back spread",
        )
        every += rows
    if args.only in (None, "m4"):
        rows = m4_hourly(args.data_home, args.quick, args.seed)
        _print(
            "M4-Hourly, horizon 48: all 414 test series, width in units of each series' MASE scale",
            rows,
            "mean over the series of |that series' coverage over its 48 steps - level|",
        )
        every += rows
    print("\nMean |pooled coverage - level| over models, levels and data sets:", _gaps(every, 0))
    print("Mean conditional gap over models, levels and data sets:", _gaps(every, 2))


if __name__ == "__main__":
    main()
