"""``calf-sklearn predict``: forecast the steps after a CSV file with a saved model."""

from __future__ import annotations

import argparse
import textwrap
from pathlib import Path

from .csv_io import quoted_names, read_csv, select_series
from .options import CommandError, add_csv_options

__all__ = ["add_predict"]

# Series drawn by --plot: with more, each panel gets too small to read.
_MAX_PLOTTED = 4


def add_predict(subparsers):
    """Add the ``predict`` subcommand.

    Parameters
    ----------
    subparsers : argparse._SubParsersAction
        What ``add_subparsers`` returned for the ``calf-sklearn`` parser.

    Examples
    --------
    >>> import argparse
    >>> parser = argparse.ArgumentParser()
    >>> add_predict(parser.add_subparsers())
    >>> sorted(parser._subparsers._group_actions[0].choices)
    ['predict']
    """
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
    add_csv_options(parser)
    parser.set_defaults(handler=_predict)


def _load(path):
    """The forecaster saved at ``path``, read by its extension."""
    path = Path(path)
    if not path.is_file():
        raise CommandError(f"{path}: no such file")
    if path.suffix.lower() == ".safetensors":
        from ..._estimators.persistence import load_forecaster

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
            raise CommandError(
                f"cannot load a model from {path} ({type(error).__name__}: {error}); "
                "is it a file written by `calf-sklearn fit`?"
            ) from None
    if not (hasattr(model, "predict") and hasattr(model, "n_features_in_")):
        raise CommandError(f"{path} does not hold a fitted forecaster")
    return model


def _predict(args):
    import pandas as pd

    model = _load(args.model)
    names = getattr(model, "feature_names_in_", None)
    columns, hint = args.columns, ""
    if columns is None and names is not None:
        # The series the model knows, by name: other columns of the file are left out.
        columns, hint = [str(name) for name in names], f"; the model was fitted on {quoted_names(names)}"
    frame = select_series(read_csv(args.data, args.date_column), columns, args.data, hint)
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
        raise CommandError("--plot needs matplotlib: pip install 'calf-sklearn[plot]'") from None
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
