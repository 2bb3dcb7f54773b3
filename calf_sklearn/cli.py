"""The ``calf-sklearn`` command line.

``calf-sklearn benchmark --dataset ETTh1 --pred-len 96`` runs
:func:`calf_sklearn.benchmark.run_benchmark` and prints its table.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

__all__ = ["main"]


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


def _backbone_config(text):
    """A JSON object, or the path of a JSON file holding one."""
    path = Path(text)
    source = path.read_text() if path.is_file() else text
    try:
        config = json.loads(source)
    except json.JSONDecodeError as error:
        raise argparse.ArgumentTypeError(
            f"--backbone-config must be a JSON object or a JSON file; {text!r} is neither ({error})"
        ) from None
    if not isinstance(config, dict):
        raise argparse.ArgumentTypeError("--backbone-config must hold a JSON object of GPT2Config fields")
    return config


def _add_benchmark(subparsers):
    from .benchmark import MODELS

    parser = subparsers.add_parser(
        "benchmark",
        help="run the paper's long-term forecasting protocol with baselines",
        description=(
            "Train CALF (with the authors' per-data-set settings) and the naive and DLinear baselines on "
            "a benchmark's training part, score every test window on the scaled data, and write "
            "results.csv, results.md and forecasts.png. Running the same command again resumes an "
            "interrupted run."
        ),
    )
    data = parser.add_argument_group("data and protocol")
    data.add_argument(
        "--dataset",
        required=True,
        help="ETTh1, ETTh2, ETTm1, ETTm2, Weather, ECL, Traffic, "
        "Exchange, ILI, or the file name of a CSV with a date column in the data folder",
    )
    data.add_argument(
        "--pred-len",
        type=int,
        nargs="+",
        default=[96],
        metavar="P",
        help="horizon(s); several run one after another (default: 96)",
    )
    data.add_argument("--seq-len", type=int, default=96, help="look-back length (default: 96)")
    data.add_argument("--data-home", help="data folder (default: $CALF_SKLEARN_DATA or the user data folder)")
    data.add_argument(
        "--percent",
        type=int,
        default=100,
        help="few-shot: train on the first PERCENT%% of the training windows (default: 100)",
    )
    data.add_argument("--target-dataset", help="zero-shot: test on this data set's test part")
    backbone = parser.add_argument_group("backbone")
    backbone.add_argument("--llm", default="gpt2", help="hub id or local folder of a GPT-2 (default: gpt2)")
    backbone.add_argument("--revision", help="hub branch, tag or commit")
    backbone.add_argument("--local-files-only", action="store_true", help="never contact the hub")
    backbone.add_argument(
        "--backbone-random",
        action="store_true",
        help="randomly initialised GPT-2 of the published shape (labelled in the output)",
    )
    backbone.add_argument(
        "--backbone-config",
        type=_backbone_config,
        metavar="JSON",
        help="randomly initialised backbone of this GPT2Config (a JSON object or file)",
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
    run.add_argument("--models", nargs="+", choices=MODELS, default=list(MODELS), help="models to run")
    run.add_argument("--output-dir", default="benchmark-results", help="default: benchmark-results")
    run.add_argument("--no-resume", action="store_true", help="start over instead of resuming")
    run.add_argument("--no-plot", action="store_true", help="skip forecasts.png")
    run.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N (default: auto)")
    run.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    run.add_argument("-q", "--quiet", action="store_true", help="no progress output")
    parser.set_defaults(handler=_benchmark)


def _benchmark(args):
    import pandas as pd

    from .benchmark import GPT2_SHAPE, BenchmarkInterrupted, run_benchmark, to_markdown

    llm, pretrained = args.llm, True
    if args.backbone_config is not None:
        llm, pretrained = args.backbone_config, False
    elif args.backbone_random:
        llm, pretrained = dict(GPT2_SHAPE), False
    params = dict(args.set)
    if args.max_epochs is not None:
        params["max_epochs"] = args.max_epochs
    tables = []
    try:
        for pred_len in args.pred_len:
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
                # Epoch and batch progress bars: a CPU epoch of the paper's shape takes minutes.
                verbose=0 if args.quiet else 2,
            )
            print()
            print(to_markdown(table))
            print(
                f"Written to {table.attrs['folder']}/ (results.csv, results.md"
                + (")" if args.no_plot else ", forecasts.png)")
            )
            tables.append(table)
    except BenchmarkInterrupted as stop:
        print(f"\nStopped: {stop}", file=sys.stderr)
        return 130
    if len(tables) > 1:
        combined = pd.concat(tables, ignore_index=True)
        path = Path(args.output_dir) / f"{tables[0]['dataset'].iloc[0]}_all_horizons.csv"
        combined.to_csv(path, index=False)
        print(f"All horizons: {path}")
    return 0


def build_parser():
    """The argument parser of the ``calf-sklearn`` command."""
    from ._version import __version__

    parser = argparse.ArgumentParser(
        prog="calf-sklearn", description="CALF forecasting (cross-modal fine-tuned GPT-2) from the shell."
    )
    parser.add_argument("--version", action="version", version=f"calf-sklearn {__version__}")
    subparsers = parser.add_subparsers(title="commands", metavar="COMMAND", required=True)
    _add_benchmark(subparsers)
    return parser


def main(argv=None):
    """Run the ``calf-sklearn`` command; returns its exit status.

    Parameters
    ----------
    argv : list of str, default=None
        Arguments (``sys.argv[1:]`` when ``None``).

    Returns
    -------
    int
        0 on success; 1 on an error the user can fix (the message says how);
        130 when interrupted.

    Examples
    --------
    >>> args = build_parser().parse_args(["benchmark", "--dataset", "ETTh1", "--quick"])
    >>> args.pred_len, args.quick, args.models
    ([96], True, ['naive', 'dlinear', 'calf'])
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.handler(args)
    except (ValueError, FileNotFoundError, OSError) as error:
        print(f"calf-sklearn: error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nInterrupted.", file=sys.stderr)
        return 130


def main_exit():
    """Console-script entry point: run :func:`main` and exit with its status."""
    sys.exit(main())
