"""CSV files in and out of the ``fit`` and ``predict`` subcommands: time stamps and series columns."""

from __future__ import annotations

import warnings
from pathlib import Path

from .options import CommandError

__all__ = ["quoted_names", "read_csv", "select_series"]

# Column names taken for time stamps, in any case.
_DATE_NAMES = ("date", "time", "timestamp", "datetime")


def quoted_names(labels, limit=10):
    """Column names as an error message lists them, cut after ``limit`` names.

    Parameters
    ----------
    labels : iterable
        The names.
    limit : int, default=10
        Names shown at most.

    Returns
    -------
    str

    Examples
    --------
    >>> quoted_names(["a", "b", "c"]), quoted_names(range(12), limit=2)
    ("'a', 'b', 'c'", "'0', '1' and 10 more")
    """
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


def read_csv(path, date_column=None):
    """A CSV file as a DataFrame, indexed by its time-stamp column when it has one.

    Parameters
    ----------
    path : str or path-like
        The file.
    date_column : str, default=None
        The column of time stamps; ``None`` looks for one named date, time,
        timestamp or datetime (any case), else takes the first column if it
        parses as dates or has no header.

    Returns
    -------
    pandas.DataFrame

    Raises
    ------
    CommandError
        If the file is missing or not CSV, or ``date_column`` is not a column of dates.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> path = Path(tempfile.mkdtemp()) / "sales.csv"
    >>> _ = path.write_text("Date,north\\n2024-01-01,1.0\\n2024-01-02,2.0\\n")
    >>> frame = read_csv(path)
    >>> list(frame.columns), frame.index.name, str(frame.index[1].date())
    (['north'], 'Date', '2024-01-02')
    """
    import pandas as pd

    if not Path(path).is_file():
        raise CommandError(f"{path}: no such file")
    try:
        frame = pd.read_csv(path)
    except ValueError as error:  # pandas' ParserError and EmptyDataError, UnicodeDecodeError
        raise CommandError(f"cannot read {path} as CSV: {error}") from None
    if date_column is not None and date_column not in frame.columns:
        raise CommandError(
            f"--date-column {date_column!r} is not a column of {path}; it has {quoted_names(frame.columns)}"
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
        raise CommandError(f"column {date_column!r} of {path} does not parse as dates")
    return frame


def select_series(frame, columns, path, hint=""):
    """The series columns of ``frame``: ``columns``, or every one (all numeric) when ``None``.

    Parameters
    ----------
    frame : pandas.DataFrame
        As :func:`read_csv` read it.
    columns : list of str or None
        The series wanted.
    path : str or path-like
        The file, for error messages.
    hint : str, default=""
        Added to the message of a missing column.

    Returns
    -------
    pandas.DataFrame

    Raises
    ------
    CommandError
        If a column is missing or not numeric.

    Examples
    --------
    >>> import pandas as pd
    >>> frame = pd.DataFrame({"north": [1.0, 2.0], "south": [3.0, 4.0]})
    >>> list(select_series(frame, ["south"], "sales.csv").columns)
    ['south']
    """
    import pandas as pd

    if columns is not None:
        unknown = [column for column in columns if column not in frame.columns]
        if unknown:
            raise CommandError(
                f"{path} has no column {quoted_names(unknown)}; it has {quoted_names(frame.columns)}{hint}"
            )
        frame = frame[columns]
    text = [column for column in frame.columns if not pd.api.types.is_numeric_dtype(frame[column])]
    if text:
        raise CommandError(
            f"column {quoted_names(text)} of {path} is not numeric; pick the series with --columns, "
            "or name the time-stamp column with --date-column"
        )
    return frame
