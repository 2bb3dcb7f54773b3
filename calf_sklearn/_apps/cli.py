"""The ``calf-sklearn`` command line.

The public face of this module is :mod:`calf_sklearn.cli`; its documentation is there.
"""

from __future__ import annotations

import argparse
import contextlib
import inspect
import json
import re
import sys
import textwrap
import warnings
from pathlib import Path

__all__ = ["build_parser", "main", "main_exit"]


class _CommandError(Exception):
    """An error the user can fix; ``main`` prints its message without a traceback."""


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
    source = text
    if not text.lstrip().startswith("{"):  # as a path, a long JSON object would be "file name too long"
        try:
            source = Path(text).read_text()
        except OSError:
            pass  # not a readable file: the JSON error below names the problem
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
    from .long_term import MODELS
    from .m4 import M4_MODELS

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
        choices=_CHOICES["precision"],
        help="CALF's arithmetic: float32 (default), bfloat16 (mixed, CPU or CUDA) or float16 (mixed, "
        "CUDA only); runs in another precision keep their own result folders",
    )
    run.add_argument(
        "--coverage",
        type=float,
        metavar="C",
        help="coverage of the prediction intervals scored on the test data (default: 0.9; 0.95 for M4)",
    )
    run.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    run.add_argument("-q", "--quiet", action="store_true", help="no progress output")
    parser.set_defaults(handler=_benchmark)


def _benchmark(args):
    import pandas as pd

    from .long_term import GPT2_SHAPE, BenchmarkInterrupted, run_benchmark, to_markdown

    llm, pretrained = args.llm, True
    if args.backbone_config is not None:
        llm, pretrained = args.backbone_config, False
    elif args.backbone_random:
        llm, pretrained = dict(GPT2_SHAPE), False
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


# ------------------------------------------------------------------------------------- fit and predict

# Constructor parameters spelled another way on the command line.
_NOT_OPTIONS = {"pretrained": "--backbone-random", "verbose": "--quiet"}
# Parameters listed under "backbone" in --help; every other one is a training option.
_BACKBONE_PARAMS = ("llm", "revision", "local_files_only", "n_layers", "n_principal_words")
# Column names taken for time stamps, in any case.
_DATE_NAMES = ("date", "time", "timestamp", "datetime")
# Series drawn by --plot: with more, each panel gets too small to read.
_MAX_PLOTTED = 4


def _number(text):
    """An int when ``text`` is one (a row count), else a float (a fraction)."""
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    raise argparse.ArgumentTypeError(f"expected a number, got {text!r}")


def _column_list(text):
    names = [name.strip() for name in text.split(",") if name.strip()]
    if not names:
        raise argparse.ArgumentTypeError(f"expected comma-separated column names, got {text!r}")
    return names


# Option types the default value does not tell (a None default, or int-or-float).
def _scaling(text):
    return None if text.lower() == "none" else text


_TYPES = {"random_state": int, "validation_size": _number, "lora_alpha": _number, "scaling": _scaling}
# Parameters with a fixed set of values (the losses get theirs from calf_sklearn.losses).
_CHOICES = {
    "window_sampling": ["sliding", "recent"],
    "scaling": ["standard", None],
    "precision": ["float32", "bfloat16", "float16"],
}
# Short placeholders in --help; other options show their upper-cased name.
_METAVARS = {int: "N", float: "X", _number: "X"}
# Help for parameters whose docstring speaks of what only Python can pass (objects, fit's X_val).
_HELP = {
    "llm": "Hugging Face hub id of a GPT-2, or a local folder saved with save_pretrained "
    "(--backbone-random trains a randomly initialised one instead).",
    "validation_size": "Fraction (e.g. 0.2) or number (e.g. 500) of the last rows held out for early "
    "stopping; 0 trains for --max-epochs and keeps the last weights.",
    "random_state": "Seeds initialisation, dropout and shuffling; fits with the same integer give "
    "identical forecasts on the same machine. Without it every fit differs.",
}


def _param_docs(cls):
    """``{parameter: description}`` from the numpydoc "Parameters" section of ``cls``'s docstring."""
    doc = inspect.cleandoc(cls.__doc__ or "")  # no docstring under python -OO: plain defaults then
    section = re.search(r"^Parameters\n-+\n(.*?)(?=^\S[^\n]*\n-+\n|\Z)", doc, re.MULTILINE | re.DOTALL)
    docs, names = {}, []
    for line in section.group(1).splitlines() if section else []:
        if line and not line[0].isspace():  # "a, b : type, default=..." documents a and b together
            names = [name.strip() for name in line.split(":")[0].split(",")]
        elif line.strip():
            for name in names:
                docs[name] = f"{docs.get(name, '')} {line.strip()}".strip()
    # Plain text for a terminal: no reST roles or literal markers.
    return {name: re.sub(r":\w+:`([^`]*)`", r"\1", text).replace("``", "") for name, text in docs.items()}


def _estimator_params():
    """``{name: default}`` of the CALFForecaster parameters offered as options, in signature order."""
    from .._estimators.calf import CALFForecaster

    parameters = inspect.signature(CALFForecaster).parameters
    return {name: p.default for name, p in parameters.items() if name not in _NOT_OPTIONS}


def _add_estimator_options(parser):
    """One option per constructor parameter, generated from the signature so they stay in sync."""
    from .._estimators.calf import CALFForecaster
    from .._torch.losses import FEATURE_LOSSES, LOSSES

    docs = _param_docs(CALFForecaster)
    backbone = parser.add_argument_group("backbone")
    training = parser.add_argument_group("training (CALFForecaster parameters)")
    for name, default in _estimator_params().items():
        text = _HELP.get(name, docs.get(name, "")).replace("%", "%%")
        # SUPPRESS: only the options given reach the estimator, which keeps its own defaults.
        options = {"default": argparse.SUPPRESS, "help": f"{text} (default: {default})".lstrip()}
        if isinstance(default, bool):
            options["action"] = "store_true" if default is False else argparse.BooleanOptionalAction
        else:
            options["type"] = _TYPES.get(name, str if default is None else type(default))
            options["metavar"] = _METAVARS.get(options["type"])
            if name.endswith("_loss"):
                options["choices"] = list(FEATURE_LOSSES if name == "feature_loss" else LOSSES)
            elif name in _CHOICES:
                options["choices"] = _CHOICES[name]
        group = backbone if name in _BACKBONE_PARAMS else training
        group.add_argument("--" + name.replace("_", "-"), **options)
    return backbone


def _add_data_options(parser):
    data = parser.add_argument_group("CSV columns")
    data.add_argument(
        "--date-column",
        metavar="NAME",
        help="column of time stamps, used to stamp the forecast (default: a column named date, time, "
        "timestamp or datetime in any case, else the first column if it parses as dates or has no "
        "header, else none)",
    )
    data.add_argument(
        "--columns",
        type=_column_list,
        metavar="A,B,C",
        help="comma-separated series to use (default: fit takes every column but the time stamps, "
        "which must then all be numeric; predict takes the series the model was fitted on)",
    )


def _add_fit(subparsers):
    parser = subparsers.add_parser(
        "fit",
        help="train a forecaster on a CSV file and save it",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=textwrap.dedent(
            """\
            Train a CALFForecaster (GPT-2 fine-tuned the CALF way) on the series of a CSV file,
            one row per time step and one column per series, oldest row first, and save it.
            The last --validation-size of the rows is held out, in time order, for early
            stopping, unless --validation-file gives a separate validation series. The
            backbone and training options are CALFForecaster's parameters, with its defaults.
            An output ending in .safetensors is written in a format that runs no code when
            loaded; any other name is written with joblib (a pickle)."""
        ),
        epilog=textwrap.dedent(
            """\
            examples:
              calf-sklearn fit ETTh1.csv --pred-len 96 -o etth1.joblib
              calf-sklearn fit sales.csv --columns north,south --seq-len 48 --pred-len 12 \\
                  --backbone-random --max-epochs 5 -o sales.safetensors
              calf-sklearn fit train.csv --validation-file val.csv --pred-len 96 -o model.joblib"""
        ),
    )
    parser.add_argument("data", metavar="DATA.csv", help="training series: time steps x series")
    parser.add_argument(
        "-o",
        "--output",
        required=True,
        metavar="MODEL",
        help="where to save the model: NAME.safetensors (safe to load) or any other name (joblib)",
    )
    parser.add_argument(
        "--validation-file",
        metavar="VAL.csv",
        help="a separate validation series for early stopping, read with the same CSV rules (and "
        "--columns, --date-column) as DATA.csv; its first --seq-len rows are look-back only, so "
        "include the seq_len rows before the validation period. All of DATA.csv then trains and "
        "--validation-size does not apply (default: hold out the last --validation-size of DATA.csv)",
    )
    parser.add_argument(
        "--checkpoint",
        metavar="PATH",
        help="keep the training state here after every epoch; running the same command again "
        "resumes after the last finished epoch (default: no checkpoint)",
    )
    parser.add_argument(
        "-q", "--quiet", action="store_true", help="no progress bar (default: a bar over epochs)"
    )
    _add_data_options(parser)
    backbone = _add_estimator_options(parser)
    backbone.add_argument(
        "--backbone-random",
        action="store_true",
        help="train a randomly initialised backbone instead of pre-trained weights: GPT-2 small's "
        "shape unless --backbone-config gives another; needs no network and no download "
        "(default: pre-trained --llm)",
    )
    backbone.add_argument(
        "--backbone-config",
        type=_backbone_config,
        metavar="JSON",
        help="GPT2Config fields of the random backbone, as a JSON object or the path of a JSON file; "
        "implies --backbone-random (default: GPT-2 small's shape)",
    )
    parser.set_defaults(handler=_fit)


def _add_predict(subparsers):
    parser = subparsers.add_parser(
        "predict",
        help="forecast the steps after the end of a CSV file with a saved model",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=textwrap.dedent(
            """\
            Load a model saved by `calf-sklearn fit` and forecast the steps after the last row
            of a CSV file (its last seq_len rows are the look-back). The forecast is written as
            CSV: one column per series and, when the input has time stamps, a first column that
            continues them. Models are loaded by extension, as fit saves them. A joblib file
            runs code when loaded: only load models you trust (.safetensors files run none)."""
        ),
        epilog=textwrap.dedent(
            """\
            examples:
              calf-sklearn predict etth1.joblib ETTh1.csv -o forecast.csv
              calf-sklearn predict sales.safetensors sales.csv -o next.csv --horizon 6 --plot next.png
              calf-sklearn predict sales.safetensors sales.csv -o next.csv --coverage 0.9 --plot next.png"""
        ),
    )
    parser.add_argument("model", metavar="MODEL", help="a model saved by `calf-sklearn fit`")
    parser.add_argument("data", metavar="DATA.csv", help="the series to forecast from, at least seq_len rows")
    parser.add_argument(
        "-o", "--output", required=True, metavar="FORECAST.csv", help="where to write the forecast"
    )
    parser.add_argument(
        "--horizon",
        type=int,
        metavar="H",
        help="steps to forecast; above the model's pred_len the forecast is recursive and a warning "
        "says so (default: the model's pred_len)",
    )
    parser.add_argument(
        "--coverage",
        type=float,
        metavar="C",
        help="also write a prediction interval of this coverage (e.g. 0.9) around each forecast: "
        "columns SERIES_lower and SERIES_upper after SERIES; conformal, calibrated on the fit's "
        "validation windows; at most the model's pred_len steps (default: no interval)",
    )
    parser.add_argument(
        "--plot",
        metavar="PNG",
        help="also save a picture of the last seq_len rows and the forecast of the first "
        f"{_MAX_PLOTTED} series, with the interval shaded when --coverage is given; needs "
        "matplotlib (default: no picture)",
    )
    _add_data_options(parser)
    parser.set_defaults(handler=_predict)


def _names(labels, limit=10):
    """``'a', 'b', 'c'`` for an error message, cut after ``limit`` names."""
    labels = [str(label) for label in labels]
    shown = ", ".join(repr(label) for label in labels[:limit])
    return shown + (f" and {len(labels) - limit} more" if len(labels) > limit else "")


def _time_index(column):
    """``column`` as an index of time stamps (numbers stay numbers), or ``None`` if it is not one."""
    import pandas as pd

    if pd.api.types.is_numeric_dtype(column):
        return pd.Index(column)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pandas warns when it falls back to parsing value by value
        dates = pd.to_datetime(column, errors="coerce")
    return None if dates.isna().any() else pd.DatetimeIndex(dates)


def _unnamed(column):
    return str(column).startswith("Unnamed: ")  # pandas' name for a blank header


def _read_csv(path, date_column=None):
    """A CSV file as a DataFrame, indexed by its time-stamp column when it has one."""
    import pandas as pd

    if not Path(path).is_file():
        raise _CommandError(f"{path}: no such file")
    try:
        frame = pd.read_csv(path)
    except ValueError as error:  # pandas' ParserError and EmptyDataError, UnicodeDecodeError
        raise _CommandError(f"cannot read {path} as CSV: {error}") from None
    if date_column is not None and date_column not in frame.columns:
        raise _CommandError(
            f"--date-column {date_column!r} is not a column of {path}; it has {_names(frame.columns)}"
        )
    if date_column is not None:
        candidates = [date_column]
    else:
        named = [column for column in frame.columns if str(column).lower() in _DATE_NAMES]
        # The first column if it holds dates, or if it has no header: how pandas writes an index.
        first = [
            column
            for column in frame.columns[:1]
            if _unnamed(column) or not pd.api.types.is_numeric_dtype(frame[column])
        ]
        candidates = list(dict.fromkeys(named + first))
    for column in candidates:
        index = _time_index(frame[column])
        if index is not None:
            name = "" if _unnamed(column) else column  # "" keeps the forecast's header blank too
            return frame.drop(columns=column).set_axis(index.rename(name), axis=0)
    if date_column is not None:
        raise _CommandError(f"column {date_column!r} of {path} does not parse as dates")
    return frame


def _select(frame, columns, path, hint=""):
    """The series columns of ``frame``: ``columns``, or every one (all numeric) when ``None``."""
    import pandas as pd

    if columns is not None:
        unknown = [column for column in columns if column not in frame.columns]
        if unknown:
            raise _CommandError(
                f"{path} has no column {_names(unknown)}; it has {_names(frame.columns)}{hint}"
            )
        frame = frame[columns]
    text = [column for column in frame.columns if not pd.api.types.is_numeric_dtype(frame[column])]
    if text:
        raise _CommandError(
            f"column {_names(text)} of {path} is not numeric; pick the series with --columns, "
            "or name the time-stamp column with --date-column"
        )
    return frame


def _random_backbone_line(config, n_layers):
    from .long_term import GPT2_SHAPE

    shape = {**GPT2_SHAPE, **config}  # GPT2Config's defaults are GPT-2 small's shape
    return (
        f"Backbone: randomly initialised GPT-2 (width {shape['n_embd']}, first {n_layers} of "
        f"{shape['n_layer']} blocks), not pre-trained weights."
    )


def _fit(args):
    from .._estimators.calf import CALFForecaster
    from .._torch.backbone import BackboneUnavailableError
    from .long_term import GPT2_SHAPE

    params = {name: getattr(args, name) for name in _estimator_params() if hasattr(args, name)}
    random_backbone = args.backbone_random or args.backbone_config is not None
    if random_backbone:
        if "llm" in params:
            raise _CommandError("--llm names pre-trained weights; leave it out with --backbone-random")
        params.update(llm=args.backbone_config or dict(GPT2_SHAPE), pretrained=False)
    model = CALFForecaster(**params, verbose=0 if args.quiet else 1)
    output = Path(args.output)
    save = _saver(output)  # before training, so a bad output path does not waste a fit
    frame = _select(_read_csv(args.data, args.date_column), args.columns, args.data)
    validation = None
    if args.validation_file is not None:
        if "validation_size" in params:
            raise _CommandError(
                "--validation-size holds out rows of DATA.csv and --validation-file replaces them; "
                "give one of the two"
            )
        hint = f"; {args.data} has the series {_names(frame.columns)}"
        validation = _select(
            _read_csv(args.validation_file, args.date_column), list(frame.columns), args.validation_file, hint
        )
    if random_backbone:
        print(_random_backbone_line(model.llm, model.n_layers))
    try:
        model.fit(frame, X_val=validation, checkpoint=args.checkpoint)
    except BackboneUnavailableError as error:
        raise _CommandError(
            f"{error} On the command line: --llm FOLDER, --local-files-only, or --backbone-random."
        ) from None
    save(model, output)
    scores = [epoch["val_mse"] for epoch in model.history_ if epoch.get("val_mse") is not None]
    if validation is not None:
        print(f"Validated on every window of {args.validation_file} ({len(validation)} rows).")
    if model.resumed_from_epoch_:
        print(f"Resumed from {args.checkpoint} after epoch {model.resumed_from_epoch_}.")
    print(
        f"Trained {len(model.history_)} epoch(s), best epoch {model.best_epoch_}"
        + (f", last validation MSE {scores[-1]:.4g} (standardised)" if scores else ", no validation")
        + (" (interrupted: best weights so far kept)" if model.training_interrupted_ else "")
        + "."
    )
    print(f"Model saved to {output}")
    return 0


def _saver(path):
    """The function that writes a model to ``path``, chosen by its extension."""
    if not path.parent.is_dir():
        raise _CommandError(f"cannot save the model to {path}: folder {path.parent} does not exist")
    if path.suffix.lower() == ".safetensors":
        from .._estimators.persistence import save_forecaster  # lazily: torch and safetensors load slowly

        return save_forecaster
    import joblib

    return joblib.dump


def _load(path):
    """The forecaster saved at ``path``, read by its extension."""
    path = Path(path)
    if not path.is_file():
        raise _CommandError(f"{path}: no such file")
    if path.suffix.lower() == ".safetensors":
        from .._estimators.persistence import load_forecaster

        model = load_forecaster(path)  # raises ValueError, with its own message, on a foreign file
    else:
        import pickle

        import joblib

        try:
            model = joblib.load(path)
        # A damaged or foreign pickle fails in any of these ways, with a message meaningless alone.
        except (
            pickle.UnpicklingError,
            EOFError,
            LookupError,
            AttributeError,
            ImportError,
            ValueError,
        ) as error:
            raise _CommandError(
                f"cannot load a model from {path} ({type(error).__name__}: {error}); "
                "is it a file written by `calf-sklearn fit`?"
            ) from None
    if not (hasattr(model, "predict") and hasattr(model, "n_features_in_")):
        raise _CommandError(f"{path} does not hold a fitted forecaster")
    return model


def _predict(args):
    import pandas as pd

    model = _load(args.model)
    names = getattr(model, "feature_names_in_", None)
    columns, hint = args.columns, ""
    if columns is None and names is not None:
        # The series the model knows, by name: other columns of the file are left out.
        columns, hint = [str(name) for name in names], f"; the model was fitted on {_names(names)}"
    frame = _select(_read_csv(args.data, args.date_column), columns, args.data, hint)
    intervals = None
    if args.coverage is not None:  # first: a refused interval stops before any forecast is made
        intervals = model.predict_interval(frame, horizon=args.horizon, coverage=args.coverage)
    forecast = model.predict(frame, horizon=args.horizon)
    written, bands = forecast, None
    if intervals is not None:
        bands = {
            column: (intervals[(column, args.coverage, "lower")], intervals[(column, args.coverage, "upper")])
            for column in forecast.columns
        }
        parts = {}
        for column in forecast.columns:
            lower, upper = bands[column]
            parts[column], parts[f"{column}_lower"], parts[f"{column}_upper"] = forecast[column], lower, upper
        written = pd.DataFrame(parts, index=forecast.index)
    dated = frame.index.name is not None  # the file had a time-stamp column: continue it
    written.to_csv(args.output, index=dated, index_label=frame.index.name)
    band = f" with {args.coverage:.0%} intervals" if bands else ""
    print(f"Forecast of {len(forecast)} steps for {forecast.shape[1]} series{band} written to {args.output}")
    if args.plot:
        _plot(frame, forecast, model.seq_len, args.plot, bands, args.coverage)
        print(f"Plot written to {args.plot}")
    return 0


def _plot(history, forecast, seq_len, path, bands=None, coverage=None):
    """Save a picture of the look-back and the forecast of the first few series (and their intervals)."""
    import pandas as pd

    try:
        from matplotlib.figure import Figure  # not pyplot: no GUI backend, no global state
    except ImportError:
        raise _CommandError("--plot needs matplotlib: pip install 'calf-sklearn[plot]'") from None
    columns = list(forecast.columns[:_MAX_PLOTTED])
    figure = Figure(figsize=(9, 1 + 2 * len(columns)), layout="constrained")
    axes = figure.subplots(len(columns), 1, sharex=True, squeeze=False)[:, 0]
    recent = history.iloc[-seq_len:]
    for ax, column in zip(axes, columns):
        # The forecast line starts at the last observation so the two lines join.
        ahead = pd.concat([recent[column].iloc[-1:], forecast[column]])
        ax.plot(recent.index, recent[column].to_numpy(), color="0.35", label="history")
        ax.plot(ahead.index, ahead.to_numpy(), color="tab:blue", label="forecast")
        if bands:
            lower, upper = bands[column]
            ax.fill_between(
                forecast.index, lower.to_numpy(), upper.to_numpy(), color="tab:blue", alpha=0.2,
                label=f"{coverage:.0%} interval",
            )  # fmt: skip
        ax.set_ylabel(str(column))
    shown = f"first {len(columns)} of {forecast.shape[1]} series" if forecast.shape[1] > len(columns) else ""
    axes[0].set_title(f"Forecast of {len(forecast)} steps after the last {len(recent)} rows {shown}".strip())
    axes[0].legend(loc="upper left")
    figure.savefig(path, dpi=100)


@contextlib.contextmanager
def _plain_warnings():
    """Show warnings as one ``calf-sklearn: warning: ...`` line, not Python's source excerpt."""

    def show(message, category, filename, lineno, file=None, line=None):
        print(f"calf-sklearn: warning: {message}", file=sys.stderr)

    with warnings.catch_warnings():
        warnings.showwarning = show
        yield


def build_parser():
    """The argument parser of the ``calf-sklearn`` command and its subcommands.

    Returns
    -------
    argparse.ArgumentParser
        With the subcommands ``fit``, ``predict`` and ``benchmark``.

    Examples
    --------
    >>> args = build_parser().parse_args(["predict", "model.safetensors", "data.csv", "-o", "f.csv"])
    >>> args.model, args.output, args.horizon
    ('model.safetensors', 'f.csv', None)
    """
    from .._version import __version__

    parser = argparse.ArgumentParser(
        prog="calf-sklearn", description="CALF forecasting (cross-modal fine-tuned GPT-2) from the shell."
    )
    parser.add_argument("--version", action="version", version=f"calf-sklearn {__version__}")
    subparsers = parser.add_subparsers(title="commands", metavar="COMMAND", required=True)
    _add_fit(subparsers)
    _add_predict(subparsers)
    _add_benchmark(subparsers)
    return parser


def main(argv=None):
    """Run the ``calf-sklearn`` command; returns its exit status.

    Parameters
    ----------
    argv : list of str, default=None
        Arguments (``sys.argv[1:]`` when ``None``). A malformed command line
        exits through argparse (status 2) with its usage message.

    Returns
    -------
    int
        0 on success; 2 (as argparse uses) on an error the user can fix,
        after a one-line message saying what; 130 when interrupted.

    Examples
    --------
    >>> args = build_parser().parse_args(["benchmark", "--dataset", "ETTh1", "--quick"])
    >>> args.pred_len, args.quick, args.models  # None: the data set's defaults (96; an M4 group's own)
    (None, True, None)
    >>> args = build_parser().parse_args(["fit", "data.csv", "-o", "m.joblib", "--pred-len", "24"])
    >>> args.pred_len, args.output, hasattr(args, "seq_len")  # options left out keep the estimator's default
    (24, 'm.joblib', False)
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        with _plain_warnings():
            return args.handler(args)
    except (_CommandError, ValueError, TypeError, OSError) as error:
        # One line, like argparse's own errors; the estimator's messages say how to fix the input.
        print(f"calf-sklearn: error: {' '.join(str(error).split())}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\nInterrupted.", file=sys.stderr)
        return 130


def main_exit():
    """Console-script entry point: run :func:`main` and exit with its status.

    Raises
    ------
    SystemExit
        Always, with :func:`main`'s return value as the status.

    Examples
    --------
    >>> import sys
    >>> from unittest import mock
    >>> with mock.patch.object(sys, "argv", ["calf-sklearn", "--version"]):  # doctest: +ELLIPSIS
    ...     try:
    ...         main_exit()
    ...     except SystemExit as done:
    ...         print("status", done.code)
    calf-sklearn ...
    status 0
    """
    sys.exit(main())
