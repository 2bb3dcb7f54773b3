"""The ``calf-sklearn`` command: its parser, and running it with one-line errors.

The public face of this package is :mod:`calf_sklearn.cli`; its documentation is there.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import warnings

from .benchmark import add_benchmark
from .fit import add_fit
from .options import CommandError
from .predict import add_predict

__all__ = ["build_parser", "main", "main_exit"]


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
    from ..._version import __version__

    parser = argparse.ArgumentParser(
        prog="calf-sklearn", description="CALF forecasting (cross-modal fine-tuned GPT-2) from the shell."
    )
    parser.add_argument("--version", action="version", version=f"calf-sklearn {__version__}")
    subparsers = parser.add_subparsers(title="commands", metavar="COMMAND", required=True)
    add_fit(subparsers)
    add_predict(subparsers)
    add_benchmark(subparsers)
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
    except (CommandError, ValueError, TypeError, OSError) as error:
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
