"""The data folder, and reading a benchmark CSV from it (downloading it when it is missing)."""

from __future__ import annotations

import difflib
import os
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from . import download as _download
from .registry import DATASETS, DatasetInfo, unknown_message

__all__ = ["DATA_ENV", "get_data_home", "load_dataset"]

DATA_ENV = "CALF_SKLEARN_DATA"


def get_data_home(data_home=None):
    """Folder that holds the benchmark CSV files.

    ``data_home`` when given, else ``$CALF_SKLEARN_DATA`` when set, else
    ``data`` inside the platform's user data folder (for example
    ``~/.local/share/calf-sklearn/data`` on Linux). Asking does not create it.

    Parameters
    ----------
    data_home : str or path-like, default=None
        Folder to use; ``~`` is expanded.

    Returns
    -------
    pathlib.Path
        The folder; it may not exist yet.

    Examples
    --------
    >>> get_data_home("~/benchmarks").name
    'benchmarks'
    >>> isinstance(get_data_home(), Path)
    True
    """
    if data_home is not None:
        return Path(os.fspath(data_home)).expanduser()
    env = os.environ.get(DATA_ENV)
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_data_dir("calf-sklearn", appauthor=False)) / "data"


def resolve(name, data_home):
    """The registry entry (or None) and the path of the file ``name`` refers to."""
    folder = get_data_home(data_home)
    if isinstance(name, DatasetInfo):
        return name, folder / name.filename
    if isinstance(name, os.PathLike):
        name = os.fspath(name)
    if not isinstance(name, str):
        raise TypeError(
            f"name must be a data set name, a file name or a DatasetInfo, got {type(name).__name__}."
        )
    if name in DATASETS:
        info = DATASETS[name]
        return info, folder / info.filename
    candidate = Path(name).expanduser()
    path = candidate if candidate.is_absolute() else folder / candidate
    if not (candidate.suffix or len(candidate.parts) > 1 or path.is_file()):
        raise ValueError(unknown_message(name))
    # A registered file given by path keeps its split, URL and checksums.
    info = DATASETS.get(candidate.name)
    return info, path


def missing_message(path, info, reason=None):
    """Message for a data file that is not in its folder: where it was looked for and how to get it."""
    folder = path.parent
    where = f"Data file {path.name!r} was not found in {folder}"
    elsewhere = (
        f"or point at the folder that holds it with data_home=... or the {DATA_ENV} environment variable"
    )
    if info is None or info.url is None:
        known = [i.filename for i in DATASETS.values()]
        if folder.is_dir():
            known += sorted(p.name for p in folder.iterdir() if p.is_file())
        close = difflib.get_close_matches(path.name, known, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        return (
            f"{where}.{hint} No download URL is known for it (registered data sets: "
            f"{', '.join(DATASETS)}); put the file there, {elsewhere}."
        )
    if reason is None:
        return f"{where}. Download it from {info.url} into that folder (or pass download=True), {elsewhere}."
    return (
        f"{where}, and downloading it from {info.url} failed ({reason}). Download it by hand into "
        f"that folder, {elsewhere}."
    )


def _parse_dates(column):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pd.to_datetime(column)


def _looks_like_dates(column):
    if pd.api.types.is_numeric_dtype(column.dtype) or pd.api.types.is_bool_dtype(column.dtype):
        return False
    try:
        return bool(_parse_dates(column).notna().any())
    except (ValueError, TypeError, OverflowError):
        return False


def _read_csv(path):
    label = path.name
    try:
        raw = pd.read_csv(path, encoding="utf-8-sig", encoding_errors="replace")
    except pd.errors.EmptyDataError as error:
        raise ValueError(f"{label} is empty: it has no header and no data rows.") from error
    raw.columns = [str(column).strip() for column in raw.columns]
    if len(raw) == 0:
        raise ValueError(f"{label} has a header but no data rows.")
    names = list(raw.columns)
    date_pos = next((i for i, column in enumerate(names) if column.lower() == "date"), None)
    if date_pos is None:
        if _looks_like_dates(raw.iloc[:, 0]):
            date_pos = 0
        else:
            raise ValueError(
                f"{label} has no date column: no column is named 'date' and the first column "
                f"{names[0]!r} does not hold dates."
            )
    try:
        dates = _parse_dates(raw.iloc[:, date_pos])
    except (ValueError, TypeError, OverflowError) as error:
        raise ValueError(
            f"{label}: the date column {names[date_pos]!r} does not parse as dates ({error})."
        ) from error
    if dates.isna().any():
        row = int(np.flatnonzero(dates.isna().to_numpy())[0])
        raise ValueError(
            f"{label}: the date column {names[date_pos]!r} is empty at data row {row} (0-based)."
        )
    values = raw.iloc[:, [i for i in range(raw.shape[1]) if i != date_pos]]
    if values.shape[1] == 0:
        raise ValueError(f"{label} has a date column but no value columns.")
    bad = [i for i, dtype in enumerate(values.dtypes) if not pd.api.types.is_numeric_dtype(dtype)]
    if bad:
        first = values.iloc[:, bad[0]]
        offending = first[pd.to_numeric(first, errors="coerce").isna() & first.notna()]
        example = (
            f" (for example {offending.iloc[0]!r} at data row {offending.index[0]})" if len(offending) else ""
        )
        raise ValueError(
            f"{label}: columns {[values.columns[i] for i in bad]} are not numeric{example}; every column "
            "but the date column must hold numbers."
        )
    frame = values.astype(np.float64)
    frame.index = pd.DatetimeIndex(dates, name="date")
    frame.columns = pd.Index(list(values.columns))
    return frame


def load_file(info, path, download):
    """Read the CSV at ``path``, first downloading it (registry entry ``info``) when missing and allowed."""
    if not path.is_file():
        if info is None or info.url is None or not download:
            raise FileNotFoundError(missing_message(path, info))
        try:
            _download.fetch(info, path)
        except _download.DownloadFailed as error:
            raise FileNotFoundError(missing_message(path, info, reason=str(error))) from error
    return _read_csv(path)


def load_dataset(name, *, data_home=None, download=True):
    """Read a benchmark CSV into a float64 DataFrame indexed by its dates.

    Rows are kept exactly as they are in the file: a repeated timestamp (two
    rows of ``weather.csv``, positions 19043 and 19044, are both
    ``2020-05-12 06:00:00``) and irregular steps are neither dropped nor
    filled, because the published loaders, and :func:`split_borders`, cut
    the parts by row position. Drop repeats before giving such a frame to an
    estimator that needs a unique index, or pass ``frame.to_numpy()``.

    The file may have CRLF or LF line endings and a UTF-8 byte-order mark;
    header names are kept as written, only stripped of surrounding
    whitespace (bytes that are not UTF-8 become U+FFFD, the character that
    ``weather.csv`` already has in three of its names). The date column is
    the column named ``date`` in any case, else the first column if it holds
    dates. Empty cells of value columns become NaN.

    Parameters
    ----------
    name : str, path-like or DatasetInfo
        A registered name (see :data:`DATASETS`; case-insensitive, for
        example ``"ETTh1"``, ``"weather"``, ``"ecl"``, ``"ili"``), the file
        name or path of any CSV with a date column (relative paths are taken
        inside the data folder), or a :class:`DatasetInfo`, for example one
        with another ``url``.
    data_home : str or path-like, default=None
        Data folder, see :func:`get_data_home`.
    download : bool, default=True
        Download a missing registered file into the data folder. The file is
        written to a temporary name, checked against the known checksums and
        only then renamed into place.

    Returns
    -------
    pandas.DataFrame
        One float64 column per value column, in file order, indexed by a
        DatetimeIndex named ``"date"``.

    Raises
    ------
    ValueError
        If ``name`` is unknown (with the closest known name), or the file
        has no date column or a non-numeric value column (named).
    FileNotFoundError
        If the file is missing and cannot be downloaded; the message names
        the file, the folder searched and the URL to fetch it from.
    ChecksumError
        If a download does not match its known checksums.

    Examples
    --------
    >>> import shutil, tempfile
    >>> from pathlib import Path
    >>> folder = Path(tempfile.mkdtemp())
    >>> from calf_sklearn.datasets import make_synthetic_series
    >>> make_synthetic_series(300, 2).to_csv(folder / "toy.csv", index_label="date")
    >>> frame = load_dataset("toy.csv", data_home=folder)
    >>> frame.shape, list(frame.columns), frame.index.name, frame.dtypes.iloc[0]
    ((300, 2), ['s0', 's1'], 'date', dtype('float64'))
    >>> shutil.rmtree(folder)
    """
    info, path = resolve(name, data_home)
    return load_file(info, path, download)
