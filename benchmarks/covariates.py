"""OT with the six load series as covariates against OT alone, on ETTh1 (issue 22).

The long-term protocol's ETTh1 splits and scaling (horizon 96, look-back 96).
Each model is fitted twice with the same seed and settings: on the target
``OT`` alone, and on all seven columns with ``target_columns="OT"`` (the six
load series are covariates: CALF reads them as extra series tokens; DLinear
forecasts each series from its own past, so they only change which windows'
errors it trains on). Both are scored on OT over every window of the test
split, in the protocol's scaled units.

CALF runs on a randomly initialised backbone with capped training: with
``--quick`` a small one (width 64, 2 blocks), otherwise GPT-2's published
shape; about 1024 training windows an epoch. Say so wherever the figures
are shown.

    python benchmarks/covariates.py --data-home ../shared/data --quick
"""

from __future__ import annotations

import argparse

import torch
from missing_values import models, print_pair, test_mse

from calf_sklearn._utils.hardware import cpu_description
from calf_sklearn.datasets import load_benchmark


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-home", default=None)
    parser.add_argument("--quick", action="store_true", help="small random backbone (width 64, 2 blocks)")
    parser.add_argument("--epochs", type=int, default=None, help="CALF's epochs (default: 3, 2 with --quick)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    data = load_benchmark("ETTh1", seq_len=96, data_home=args.data_home)
    train, validation, test = data.scaled("train"), data.scaled("validation"), data.scaled("test")
    target = list(data.frame.columns).index("OT") if "OT" in data.frame.columns else train.shape[1] - 1
    stride = max(1, (len(train) - 96 - 96 + 1) // 1024)
    epochs = args.epochs or (2 if args.quick else 3)
    print(
        "ETTh1, horizon 96, look-back 96; target OT; covariates: the six load series (HUFL, HULL, MUFL, "
        "MULL, LUFL, LULL), known up to the forecast origin; test: MSE of OT over every window of the "
        "test split, in the protocol's scaled units."
    )
    backbone = (
        "small random backbone (width 64, 2 blocks)" if args.quick else "random GPT-2 of the published shape"
    )
    print(f"CALF: {backbone}, {epochs} epochs, every {stride}th training window; seed {args.seed}")
    print(f"CPU: {cpu_description()}, {args.threads} torch threads; torch {torch.__version__}\n")
    print(
        "| model | OT alone: test MSE | OT + 6 covariates: test MSE | ratio | seconds (alone / covariates) |"
    )
    print("|---|---|---|---|---|")
    for name, build in models(args.quick, stride, epochs, args.seed).items():
        fits = (
            lambda build=build: build("raise").fit(train[:, [target]], X_val=validation[:, [target]]),
            lambda build=build: build("raise").set_params(target_columns=target).fit(train, X_val=validation),
        )
        print_pair(name, fits, lambda model: test_mse(model, test, target))


if __name__ == "__main__":
    main()
