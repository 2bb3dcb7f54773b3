"""Test error with gaps in the training data against the clean fit, on ETTh1 (issue 22).

The long-term protocol's ETTh1 splits and scaling (horizon 96, look-back 96).
From the scaled training and validation rows, ``--fraction`` (10%) of the
values are removed at random and one 7-day gap (168 rows, every series) is
cut into the training rows. Each model is fitted on the clean rows
(``missing="raise"``) and on the gappy rows (``missing="mask"``), with the
same seed and settings, and both are scored on every window of the complete
test split. The script prints the two test MSEs and their ratio.

CALF runs on a randomly initialised backbone with capped training: with
``--quick`` a small one (width 64, 2 blocks), otherwise GPT-2's published
shape; about 1024 training windows a epoch. Say so wherever the figures
are shown.

    python benchmarks/missing_values.py --data-home ../shared/data --quick
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from calf_sklearn import CALFForecaster
from calf_sklearn._utils.hardware import cpu_description
from calf_sklearn.baselines import DLinearForecaster
from calf_sklearn.benchmark import GPT2_SHAPE, preset
from calf_sklearn.datasets import load_benchmark
from calf_sklearn.windows import WindowedSeries

SMALL = {"n_embd": 64, "n_layer": 2, "n_head": 4, "vocab_size": 300}
GAP = 7 * 24


def remove_values(values, fraction, rng, gap_at=None):
    """A copy of ``values`` with ``fraction`` of them set to NaN at random, and a ``GAP``-row gap at ``gap_at``."""
    gappy = values.copy()
    gappy[rng.random(values.shape) < fraction] = np.nan
    if gap_at is not None:
        gappy[gap_at : gap_at + GAP] = np.nan
    return gappy


def test_mse(model, test, target=None):
    """MSE over every window of ``test``, in the protocol's scaled units (the same for every model).

    ``evaluate`` would score on each model's own fitted scale, which a fit on
    gappy rows estimates from fewer values: the two fits' scores would not be
    in the same units. With ``target`` (a column of ``test``), only that
    column is scored; a model fitted on it alone is given that column alone.
    """
    windows = WindowedSeries(test, 96, 96)
    errors = []
    for start in range(0, len(windows), 512):
        x, y = windows.batch(np.arange(start, min(start + 512, len(windows))))
        if target is None:
            errors.append((model.predict(x) - y) ** 2)
            continue
        if model.n_features_in_ == 1:
            x = x[..., [target]]
        errors.append((model.predict(x)[..., -1] - y[..., target]) ** 2)
    return float(np.concatenate(errors).mean())


def print_pair(name, fits, score):
    """Fit the two ``fits`` (callables returning a fitted model), score each, print one table row.

    The row: both scores, the second over the first, and both fits' seconds.
    """
    scores, seconds = [], []
    for fit in fits:
        started = time.perf_counter()
        model = fit()
        seconds.append(time.perf_counter() - started)
        scores.append(score(model))
    print(
        f"| {name} | {scores[0]:.4f} | {scores[1]:.4f} | {scores[1] / scores[0]:.3f} | "
        f"{seconds[0]:.0f} / {seconds[1]:.0f} |",
        flush=True,
    )


def models(quick, stride, epochs, seed):
    """Builders of the compared models, given the ``missing`` setting."""
    backbone = (
        {"llm": dict(SMALL), "pretrained": False, "n_layers": 2, "n_principal_words": 16}
        if quick
        else {"llm": dict(GPT2_SHAPE), "pretrained": False}
    )
    calf = {
        **preset("ETTh1"),
        **backbone,
        "pred_len": 96,
        "seq_len": 96,
        "max_epochs": epochs,
        "window_stride": stride,
        "random_state": seed,
    }
    return {
        f"CALF ({epochs} epochs, every {stride}th window)": lambda missing: CALFForecaster(
            **calf, missing=missing
        ),
        "DLinear": lambda missing: DLinearForecaster(
            pred_len=96, seq_len=96, random_state=seed, missing=missing
        ),
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-home", default=None)
    parser.add_argument("--quick", action="store_true", help="small random backbone (width 64, 2 blocks)")
    parser.add_argument("--fraction", type=float, default=0.1, help="share of values removed at random")
    parser.add_argument("--epochs", type=int, default=None, help="CALF's epochs (default: 3, 2 with --quick)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    data = load_benchmark("ETTh1", seq_len=96, data_home=args.data_home)
    train, validation, test = data.scaled("train"), data.scaled("validation"), data.scaled("test")
    rng = np.random.default_rng(args.seed)
    gappy_train = remove_values(train, args.fraction, rng, gap_at=len(train) // 2)
    gappy_validation = remove_values(validation, args.fraction, rng)
    stride = max(1, (len(train) - 96 - 96 + 1) // 1024)
    epochs = args.epochs or (2 if args.quick else 3)
    print(
        f"ETTh1, horizon 96, look-back 96; {args.fraction:.0%} of the training and validation values "
        f"removed at random and a {GAP}-row gap (7 days, all series) in the training rows "
        f"({int(np.isnan(gappy_train).sum())} of {gappy_train.size} training values missing); "
        f"test: MSE over every window of the complete test split, in the protocol's scaled units."
    )
    backbone = (
        "small random backbone (width 64, 2 blocks)" if args.quick else "random GPT-2 of the published shape"
    )
    print(f"CALF: {backbone}, {epochs} epochs, every {stride}th training window; seed {args.seed}")
    print(f"CPU: {cpu_description()}, {args.threads} torch threads; torch {torch.__version__}\n")
    print("| model | clean fit: test MSE | gappy fit (mask): test MSE | ratio | seconds (clean / gappy) |")
    print("|---|---|---|---|---|")
    for name, build in models(args.quick, stride, epochs, args.seed).items():
        fits = (
            lambda build=build: build("raise").fit(train, X_val=validation),
            lambda build=build: build("mask").fit(gappy_train, X_val=gappy_validation),
        )
        print_pair(name, fits, lambda model: test_mse(model, test))


if __name__ == "__main__":
    main()
