"""``calf-sklearn benchmark``: the paper's long-term or M4 short-term protocol from the shell."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..._estimators.constraints import choices
from .options import backbone_config, random_backbone

__all__ = ["add_benchmark"]


def _value(text):
    """A ``--set`` value: JSON when it parses (numbers, true/false, null), else the string."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def _assignment(text):
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    return key.strip(), _value(value.strip())


def add_benchmark(subparsers):
    """Add the ``benchmark`` subcommand: the long-term or M4 protocol with its options.

    Parameters
    ----------
    subparsers : argparse._SubParsersAction
        What ``add_subparsers`` returned for the ``calf-sklearn`` parser.

    Examples
    --------
    >>> import argparse
    >>> parser = argparse.ArgumentParser()
    >>> add_benchmark(parser.add_subparsers())
    >>> sorted(parser._subparsers._group_actions[0].choices)
    ['benchmark']
    """
    from ..long_term import MODELS
    from ..m4 import M4_MODELS

    parser = subparsers.add_parser(
        "benchmark",
        help="run the paper's long-term or M4 short-term forecasting protocol with baselines",
        description=(
            "Train CALF (with the authors' per-data-set settings) and the naive and DLinear baselines on "
            "a benchmark's training part, score every test window on the scaled data, and write "
            "results.csv, results.md and forecasts.png. For an M4 group (--dataset M4-Hourly, ...) "
            "CALF, DLinear, Naive1, seasonal naive and Naive2 are fitted on every series of the group "
            "and scored by sMAPE, MASE and OWA against its test file. Running the same command again "
            "resumes an interrupted run."
        ),
    )
    data = parser.add_argument_group("data and protocol")
    data.add_argument(
        "--dataset",
        required=True,
        help="ETTh1, ETTh2, ETTm1, ETTm2, Weather, ECL, Traffic, Exchange, ILI, the file name of a "
        "CSV with a date column in the data folder, or an M4 group (M4-Yearly, M4-Quarterly, "
        "M4-Monthly, M4-Weekly, M4-Daily, M4-Hourly: the short-term protocol, scored by sMAPE, MASE "
        "and OWA against the M4 benchmarks)",
    )
    data.add_argument(
        "--pred-len",
        type=int,
        nargs="+",
        default=None,
        metavar="P",
        help="horizon(s); several run one after another (default: 96; an M4 group's own horizon)",
    )
    data.add_argument("--seq-len", type=int, help="look-back length (default: 96; twice the horizon for M4)")
    data.add_argument("--data-home", help="data folder (default: $CALF_SKLEARN_DATA or the user data folder)")
    data.add_argument(
        "--percent",
        type=int,
        default=100,
        help="few-shot: train on the first PERCENT%% of the training windows (default: 100)",
    )
    data.add_argument(
        "--target-dataset",
        help="zero-shot: test on this data set's test part; CALF then trains with the authors' "
        "zero-shot settings (learning rate 1e-3, at most 5 epochs, patience 1), which --max-epochs "
        "and --set override",
    )
    backbone = parser.add_argument_group("backbone")
    backbone.add_argument(
        "--llm",
        default="gpt2",
        help="hub id or local folder of a language model of a supported family: GPT-2, Llama, "
        "Qwen2, Mistral, GPT-NeoX, Phi (default: gpt2)",
    )
    backbone.add_argument("--revision", help="hub branch, tag or commit")
    backbone.add_argument("--local-files-only", action="store_true", help="never contact the hub")
    backbone.add_argument(
        "--backbone-random",
        action="store_true",
        help="randomly initialised backbone of the published shape of --llm, e.g. gpt2, "
        "SmolLM-135M, Qwen2.5-0.5B (labelled in the output)",
    )
    backbone.add_argument(
        "--backbone-config",
        type=backbone_config,
        metavar="JSON",
        help="randomly initialised backbone of this configuration (a JSON object or file; "
        "with model_type for a family other than GPT-2)",
    )
    run = parser.add_argument_group("run")
    run.add_argument(
        "--quick",
        action="store_true",
        help="smoke test: subsampled windows, 2 epochs (labelled QUICK in the output)",
    )
    run.add_argument("--max-epochs", type=int, help="cap CALF's epochs (overrides the preset)")
    run.add_argument(
        "--set",
        type=_assignment,
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="any CALFForecaster parameter, e.g. --set batch_size=64 (repeatable)",
    )
    run.add_argument(
        "--models",
        nargs="+",
        choices=list(dict.fromkeys(MODELS + M4_MODELS)),
        help="models to run (default: naive dlinear calf; for M4 also snaive and naive2)",
    )
    run.add_argument("--output-dir", default="benchmark-results", help="default: benchmark-results")
    run.add_argument("--no-resume", action="store_true", help="start over instead of resuming")
    run.add_argument("--no-plot", action="store_true", help="skip forecasts.png")
    run.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N (default: auto)")
    run.add_argument(
        "--precision",
        choices=choices("precision"),
        help="CALF's arithmetic: float32 (default), bfloat16 (mixed, CPU or CUDA) or float16 (mixed, "
        "CUDA only); runs in another precision keep their own result folders",
    )
    run.add_argument(
        "--coverage",
        type=float,
        metavar="C",
        help="coverage of the prediction intervals scored on the test data (default: 0.9; 0.95 for M4)",
    )
    run.add_argument(
        "--interval-method",
        choices=choices("interval_method"),
        help="every model's prediction intervals: split conformal on scaled or absolute errors, or "
        "adaptive (AgACI: the test windows walk forward in time, each interval learning from the "
        "errors observed before it; reported beside split conformal's). Default: each model's "
        "own, scaled",
    )
    run.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    run.add_argument("-q", "--quiet", action="store_true", help="no progress output")
    parser.set_defaults(handler=_benchmark)


def _benchmark(args):
    import pandas as pd

    from ..._torch.distributed import main_process
    from ..experiment import BenchmarkInterrupted
    from ..long_term import run_benchmark
    from ..report import to_markdown

    llm, pretrained = args.llm, True
    if args.backbone_config is not None:
        llm, pretrained = args.backbone_config, False
    elif args.backbone_random:
        llm, pretrained = random_backbone(args.llm), False
    params = dict(args.set)
    if args.max_epochs is not None:
        params["max_epochs"] = args.max_epochs
    if args.precision is not None:
        params["precision"] = args.precision
    tables = []
    try:
        for pred_len in args.pred_len or [None]:
            table = run_benchmark(
                args.dataset,
                pred_len,
                seq_len=args.seq_len,
                data_home=args.data_home,
                target_dataset=args.target_dataset,
                percent=args.percent,
                llm=llm,
                pretrained=pretrained,
                revision=args.revision,
                local_files_only=args.local_files_only,
                quick=args.quick,
                params=params,
                models=args.models,
                output_dir=args.output_dir,
                resume=not args.no_resume,
                plot=not args.no_plot,
                device=args.device,
                random_state=args.seed,
                coverage=args.coverage,
                interval_method=args.interval_method,
                # Epoch and batch progress bars: a CPU epoch of the paper's shape takes minutes.
                verbose=0 if args.quiet else 2,
            )
            tables.append(table)
            if not main_process():  # under torchrun: the first process reports and writes
                continue
            print()
            print(to_markdown(table))
            print(
                f"Written to {table.attrs['folder']}/ (results.csv, results.md"
                + (")" if args.no_plot else ", forecasts.png)")
            )
    except BenchmarkInterrupted as stop:
        print(f"\nStopped: {stop}", file=sys.stderr)
        return 130
    if len(tables) > 1 and main_process():
        combined = pd.concat(tables, ignore_index=True)
        path = Path(args.output_dir) / f"{tables[0]['dataset'].iloc[0]}_all_horizons.csv"
        combined.to_csv(path, index=False)
        print(f"All horizons: {path}")
    return 0
