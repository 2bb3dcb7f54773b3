"""Data for examples, tests and the long-term forecasting benchmarks (NumPy, pandas, scikit-learn).

:func:`make_synthetic_series` makes a small seasonal series for examples. The rest of the module reads
the public benchmark CSVs of the long-term forecasting literature (ETT, Weather, ECL, Traffic,
Exchange, ILI) from a data folder, downloads a missing one when it knows where from, checks the
download against known checksums, and cuts the train / validation / test parts the way the published
Time-Series-Library / CALF loaders do (METHOD.md section 10).

Examples
--------
>>> sorted(DATASETS)[:4]
['ECL', 'ETTh1', 'ETTh2', 'ETTm1']
>>> DATASETS["ettm1"].split, DATASETS["ili"].filename
('ett_minute', 'national_illness.csv')
"""

from __future__ import annotations

import dataclasses
import difflib
import hashlib
import http.client
import operator
import os
import tempfile
import urllib.error
import urllib.request
import warnings
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from ._version import __version__

__all__ = [
    "DATASETS",
    "DATA_ENV",
    "BenchmarkData",
    "ChecksumError",
    "DatasetInfo",
    "get_data_home",
    "load_benchmark",
    "load_dataset",
    "make_synthetic_series",
    "split_borders",
]

DATA_ENV = "CALF_SKLEARN_DATA"
SPLITS = ("ett_hour", "ett_minute", "ratio")
PARTS = ("train", "validation", "test")

# Train / validation / test stops of the ETT-hour split: 12/4/4 months of 30 days (x 4 for minutes).
_ETT_HOUR_STOPS = (8640, 11520, 14400)
_ETT_SCALE = {"ett_hour": 1, "ett_minute": 4}
_TIMEOUT = 60.0
_CHUNK = 1 << 20
_HEX = frozenset("0123456789abcdef")


def make_synthetic_series(n_steps=2000, n_series=4, *, freq="h", start="2024-01-01", random_state=0):
    """A seasonal multivariate series with trend, coupling and noise.

    Each series mixes a daily (24-step) and a weekly (168-step) cycle with its
    own phase and amplitude, a slow trend, and noise; the last series follows
    the first with a lag, so there is something to learn across series.

    Parameters
    ----------
    n_steps : int, default=2000
        Number of time steps.
    n_series : int, default=4
        Number of series (at least 1).
    freq : str, default="h"
        Frequency of the DatetimeIndex.
    start : str, default="2024-01-01"
        First timestamp.
    random_state : int, default=0
        Seed of the noise and the per-series settings.

    Returns
    -------
    pandas.DataFrame of shape (n_steps, n_series)
        Columns ``s0, s1, ...`` indexed by timestamps.

    Examples
    --------
    >>> frame = make_synthetic_series(500, 3)
    >>> frame.shape, list(frame.columns)
    ((500, 3), ['s0', 's1', 's2'])
    >>> frame.index.freqstr
    'h'
    """
    rng = np.random.default_rng(random_state)
    t = np.arange(n_steps)[:, None]
    phase = rng.uniform(0, 2 * np.pi, size=(2, n_series))
    amplitude = rng.uniform(0.5, 2.0, size=(2, n_series))
    values = (
        amplitude[0] * np.sin(2 * np.pi * t / 24 + phase[0])
        + amplitude[1] * np.sin(2 * np.pi * t / 168 + phase[1])
        + rng.uniform(-1, 1, size=n_series) * t / n_steps
        + 0.2 * rng.normal(size=(n_steps, n_series))
    )
    if n_series > 1:
        lag = 6
        values[lag:, -1] += 0.8 * values[:-lag, 0]
    index = pd.date_range(start, periods=n_steps, freq=freq)
    return pd.DataFrame(values, index=index, columns=[f"s{i}" for i in range(n_series)])


# --------------------------------------------------------------------------------------------------
# Registry
# --------------------------------------------------------------------------------------------------


class ChecksumError(OSError):
    """A downloaded file does not match any checksum known for it.

    The message names the expected and the actual digests. The download is
    deleted before this is raised, so no damaged file is left in the data folder.

    Examples
    --------
    >>> issubclass(ChecksumError, OSError)
    True
    """


def _is_hex(text, length):
    return isinstance(text, str) and len(text) == length and set(text) <= _HEX


@dataclasses.dataclass(frozen=True)
class DatasetInfo:
    """Where a benchmark file comes from, how to check it and how to split it.

    Parameters
    ----------
    name : str
        Display name, for example ``"ETTh1"``.
    filename : str
        File name in the data folder (no folder part).
    split : {"ett_hour", "ett_minute", "ratio"}, default="ratio"
        Split convention, see :func:`split_borders`.
    url : str or None, default=None
        Public address to download the file from; ``None`` if unknown.
    sha256 : tuple of str, default=()
        Accepted SHA-256 hex digests of the file (a single string is accepted
        too). May be empty.
    git_blob_sha1 : str or None, default=None
        Alternative check: the Git blob id of the file, that is the SHA-1 of
        ``b"blob %d\\0" % size`` followed by the content. A download passes
        when it matches any ``sha256`` digest or this blob id; with neither
        known it is kept with a warning that prints its SHA-256.
    n_series : int or None, default=None
        Number of value columns (all columns but the date).
    freq : str or None, default=None
        Sampling interval, in words.

    Examples
    --------
    >>> info = DATASETS["ETTh1"]
    >>> info.filename, info.split, info.n_series, info.freq
    ('ETTh1.csv', 'ett_hour', 7, '1 hour')

    A local copy or a mirror is a modified entry, for example
    ``dataclasses.replace(DATASETS["ETTh1"], url="https://mirror.example/ETTh1.csv")``:

    >>> import dataclasses
    >>> mirror = dataclasses.replace(info, url="https://mirror.example/ETTh1.csv")
    >>> mirror.sha256 == info.sha256
    True
    """

    name: str
    filename: str
    split: str = "ratio"
    url: str | None = None
    sha256: tuple = ()
    git_blob_sha1: str | None = None
    n_series: int | None = None
    freq: str | None = None

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name.strip():
            raise ValueError(f"DatasetInfo.name must be a non-empty string, got {self.name!r}.")
        if (
            not isinstance(self.filename, str)
            or not self.filename
            or Path(self.filename).name != self.filename
        ):
            raise ValueError(f"DatasetInfo.filename must be a plain file name, got {self.filename!r}.")
        if self.split not in SPLITS:
            raise ValueError(f"DatasetInfo.split must be one of {SPLITS}, got {self.split!r}.")
        digests = (self.sha256,) if isinstance(self.sha256, str) else tuple(self.sha256)
        digests = tuple(str(d).lower() for d in digests)
        for digest in digests:
            if not _is_hex(digest, 64):
                raise ValueError(f"DatasetInfo.sha256 must hold 64-digit hex digests, got {digest!r}.")
        object.__setattr__(self, "sha256", digests)
        if self.git_blob_sha1 is not None:
            blob = str(self.git_blob_sha1).lower()
            if not _is_hex(blob, 40):
                raise ValueError(f"DatasetInfo.git_blob_sha1 must be a 40-digit hex id, got {blob!r}.")
            object.__setattr__(self, "git_blob_sha1", blob)


_ETT_BASE = "https://raw.githubusercontent.com/zhouhaoyi/ETDataset/1d16c8f4f943005d613b5bc962e9eeb06058cf07/ETT-small/"
_TSL_BASE = "https://huggingface.co/datasets/thuml/Time-Series-Library/resolve/main/"

_REGISTRY = (
    DatasetInfo(
        "ETTh1",
        "ETTh1.csv",
        "ett_hour",
        _ETT_BASE + "ETTh1.csv",
        ("f18de3ad269cef59bb07b5438d79bb3042d3be49bdeecf01c1cd6d29695ee066",),
        "a52c4925778c07c1ef1a2cf6fd01594919717d9e",
        7,
        "1 hour",
    ),
    DatasetInfo(
        "ETTh2",
        "ETTh2.csv",
        "ett_hour",
        _ETT_BASE + "ETTh2.csv",
        ("a3dc2c597b9218c7ce1cd55eb77b283fd459a1d09d753063f944967dd6b9218b",),
        "6e3760778598fdee5208213d3fce122637307eec",
        7,
        "1 hour",
    ),
    DatasetInfo(
        "ETTm1",
        "ETTm1.csv",
        "ett_minute",
        _ETT_BASE + "ETTm1.csv",
        ("6ce1759b1a18e3328421d5d75fadcb316c449fcd7cec32820c8dafda71986c9e",),
        "62c9f979e2dc5b05d9cc5b38891e60e6baf77417",
        7,
        "15 minutes",
    ),
    DatasetInfo(
        "ETTm2",
        "ETTm2.csv",
        "ett_minute",
        _ETT_BASE + "ETTm2.csv",
        (),
        "f9d46027c987d442d2d8f81308d1d8c4d1d35db8",
        7,
        "15 minutes",
    ),
    DatasetInfo(
        "Weather",
        "weather.csv",
        "ratio",
        _TSL_BASE + "weather/weather.csv",
        (
            # As published (CRLF line endings) and with CRLF turned into LF.
            "34ee981d07313e51da2a50bb600072c8ae4a69cb4b0651f4cb93a069d7a2ba63",
            "9b2b19b13e342d9c9b9c51620d42b4be232df7fba30e7f5c4968b7c79ab138ad",
        ),
        None,
        21,
        "10 minutes",
    ),
    DatasetInfo(
        "ECL",
        "electricity.csv",
        "ratio",
        _TSL_BASE + "electricity/electricity.csv",
        ("7e45845d54c5219bad0ae6bc1b5316cf8ff9cead5d33fa998a5a51c2e4a497ad",),
        None,
        321,
        "1 hour",
    ),
    DatasetInfo(
        "Traffic",
        "traffic.csv",
        "ratio",
        _TSL_BASE + "traffic/traffic.csv",
        ("cb06463d56fa17d87f47027cd9389ceae82a69eddee51cdb61480e120dab0b16",),
        None,
        862,
        "1 hour",
    ),
    DatasetInfo(
        "Exchange",
        "exchange_rate.csv",
        "ratio",
        _TSL_BASE + "exchange_rate/exchange_rate.csv",
        (),
        None,
        8,
        "1 day",
    ),
    DatasetInfo(
        "ILI",
        "national_illness.csv",
        "ratio",
        _TSL_BASE + "illness/national_illness.csv",
        ("8594cecb98c6f2f9dc014eca11c4d5d1e38ad5ce6ed0592d4abe65b146fce395",),
        "ae0424af871366ecacc501399fcb730e9200458c",
        7,
        "1 week",
    ),
)

_EXTRA_ALIASES = {
    "ECL": ("electricity",),
    "Exchange": ("exchange_rate", "exchange-rate"),
    "ILI": ("illness", "national_illness", "national-illness"),
}


def _key(name):
    return str(name).strip().lower()


class _Registry(Mapping):
    """Read-only, case-insensitive mapping of benchmark names to :class:`DatasetInfo`.

    Iteration gives the canonical names; lookups also accept the file name,
    its stem and a few aliases (``"electricity"``, ``"illness"``), in any case.

    Examples
    --------
    >>> DATASETS["ecl"].name, DATASETS["Electricity.csv"].name, DATASETS["illness"].name
    ('ECL', 'ECL', 'ILI')
    >>> "etth2" in DATASETS, "nope" in DATASETS
    (True, False)
    >>> len(DATASETS)
    9
    """

    def __init__(self, infos, aliases):
        self._infos = {info.name: info for info in infos}
        self._keys = {}
        for info in infos:
            names = (info.name, info.filename, Path(info.filename).stem, *aliases.get(info.name, ()))
            for alias in names:
                self._keys[_key(alias)] = info.name

    def __getitem__(self, name):
        if isinstance(name, str):
            canonical = self._keys.get(_key(name))
            if canonical is not None:
                return self._infos[canonical]
        raise KeyError(_unknown_message(name))

    def __iter__(self):
        return iter(self._infos)

    def __len__(self):
        return len(self._infos)

    def __repr__(self):
        return f"DATASETS({', '.join(self._infos)})"

    def suggestion(self, name):
        """Closest known name to ``name``, or ``None``."""
        match = difflib.get_close_matches(_key(name), list(self._keys), n=1, cutoff=0.6)
        return self._keys[match[0]] if match else None


DATASETS = _Registry(_REGISTRY, _EXTRA_ALIASES)


def _unknown_message(name):
    guess = DATASETS.suggestion(name) if isinstance(name, str) else None
    hint = f" Did you mean {guess!r}?" if guess else ""
    return (
        f"Unknown data set {name!r}.{hint} Known names: {', '.join(DATASETS)} (case-insensitive); "
        "or pass the file name of a CSV in the data folder, such as 'mydata.csv'."
    )


# --------------------------------------------------------------------------------------------------
# Data folder and file resolution
# --------------------------------------------------------------------------------------------------


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


def _resolve(name, data_home):
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
        raise ValueError(_unknown_message(name))
    # A registered file given by path keeps its split, URL and checksums.
    info = DATASETS.get(candidate.name)
    return info, path


def _missing_message(path, info, reason=None):
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


# --------------------------------------------------------------------------------------------------
# Download and verification
# --------------------------------------------------------------------------------------------------


class _DownloadFailed(Exception):
    pass


def _digests(path):
    """SHA-256 and Git blob SHA-1 of a file, in one pass."""
    sha256 = hashlib.sha256()
    blob = hashlib.sha1()
    blob.update(b"blob %d\0" % os.path.getsize(path))
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            sha256.update(chunk)
            blob.update(chunk)
    return sha256.hexdigest(), blob.hexdigest()


def _verify(path, info, source):
    """Raise ChecksumError unless ``path`` matches a digest of ``info``; warn when none is known."""
    sha256, blob = _digests(path)
    if not info.sha256 and info.git_blob_sha1 is None:
        warnings.warn(
            f"{info.filename} downloaded from {source} could not be verified: no checksum is known for "
            f"{info.name}. Its sha256 is {sha256} (git blob sha1 {blob}); compare it with a trusted copy.",
            UserWarning,
            stacklevel=5,
        )
        return
    if sha256 in info.sha256 or blob == info.git_blob_sha1:
        return
    expected = [f"sha256 {d}" for d in info.sha256]
    if info.git_blob_sha1 is not None:
        expected.append(f"git blob sha1 {info.git_blob_sha1}")
    raise ChecksumError(
        f"Checksum mismatch for {info.filename} downloaded from {source}: expected "
        f"{' or '.join(expected)}, got sha256 {sha256} (git blob sha1 {blob}). "
        "The download was deleted; check the URL, or fetch the file by hand."
    )


def _download(info, path):
    """Fetch ``info.url`` to ``path`` through a verified temporary file next to it."""
    request = urllib.request.Request(info.url, headers={"User-Agent": f"calf-sklearn/{__version__}"})
    try:
        response = urllib.request.urlopen(request, timeout=_TIMEOUT)
    except (urllib.error.URLError, OSError, ValueError) as error:
        detail = error if isinstance(error, urllib.error.HTTPError) else getattr(error, "reason", error)
        raise _DownloadFailed(detail) from error
    with response:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
        try:
            size = 0
            with os.fdopen(handle, "wb") as out:
                try:
                    while chunk := response.read(_CHUNK):
                        out.write(chunk)
                        size += len(chunk)
                except (OSError, http.client.HTTPException) as error:
                    raise _DownloadFailed(f"the transfer broke off: {error!r}") from error
            expected = response.headers.get("Content-Length")
            if expected is not None and expected.isdigit() and int(expected) != size:
                raise _DownloadFailed(f"the transfer broke off after {size} of {expected} bytes")
            _verify(tmp, info, info.url)
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)


# --------------------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------------------


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


def _load(info, path, download):
    if not path.is_file():
        if info is None or info.url is None or not download:
            raise FileNotFoundError(_missing_message(path, info))
        try:
            _download(info, path)
        except _DownloadFailed as error:
            raise FileNotFoundError(_missing_message(path, info, reason=str(error))) from error
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
    >>> make_synthetic_series(300, 2).to_csv(folder / "toy.csv", index_label="date")
    >>> frame = load_dataset("toy.csv", data_home=folder)
    >>> frame.shape, list(frame.columns), frame.index.name, frame.dtypes.iloc[0]
    ((300, 2), ['s0', 's1'], 'date', dtype('float64'))
    >>> shutil.rmtree(folder)
    """
    info, path = _resolve(name, data_home)
    return _load(info, path, download)


# --------------------------------------------------------------------------------------------------
# Splits
# --------------------------------------------------------------------------------------------------


def _check_int(value, name, low, high=None):
    if isinstance(value, bool):
        value = None
    try:
        value = operator.index(value) if value is not None else None
    except TypeError:
        value = None
    if value is None or value < low or (high is not None and value > high):
        span = f"in [{low}, {high}]" if high is not None else f">= {low}"
        raise ValueError(f"{name} must be an integer {span}.")
    return value


def _no_window(part, start, stop, seq_len, percent):
    if start < 0:
        return (
            f"The {part} part has no complete window: its look-back of seq_len={seq_len} rows would start "
            f"at row {start}, before the first row. Use a shorter seq_len or more rows."
        )
    hint = f" at percent={percent}; raise percent or" if part == "train" and percent < 100 else "; use"
    return (
        f"The {part} part rows [{start}, {stop}) hold no complete window{hint} a shorter seq_len "
        f"(a window needs seq_len={seq_len} look-back rows and at least one target row)."
    )


def split_borders(n_rows, split, seq_len=96, percent=100):
    """Row positions of the train, validation and test parts of a benchmark.

    The borders of the Time-Series-Library / CALF loaders:

    - ``"ett_hour"``: train ``[0, 8640)``, validation ``[8640 - seq_len, 11520)``,
      test ``[11520 - seq_len, 14400)`` (12/4/4 months of 30 days; later rows
      are unused).
    - ``"ett_minute"``: the same borders x 4 (34560, 46080, 57600).
    - ``"ratio"`` (every other data set): ``num_train = int(n_rows * 0.7)``,
      ``num_test = int(n_rows * 0.2)``, ``num_vali = n_rows - num_train -
      num_test``; train ``[0, num_train)``, validation ``[num_train - seq_len,
      num_train + num_vali)``, test ``[n_rows - num_test - seq_len, n_rows)``.

    Validation and test start ``seq_len`` rows before their border, so each of
    their windows has its full look-back and every target row belongs to the
    part. The few-shot ``percent`` shortens only the train part, to stop at
    ``(stop - seq_len) * percent // 100 + seq_len``.

    Parameters
    ----------
    n_rows : int
        Number of rows of the data set.
    split : {"ett_hour", "ett_minute", "ratio"}
        Split convention (the ``split`` field of :class:`DatasetInfo`).
    seq_len : int, default=96
        Look-back length.
    percent : int, default=100
        Percentage of the training windows kept, 1 to 100.

    Returns
    -------
    dict
        ``{"train": (start, stop), "validation": (start, stop), "test": (start, stop)}``.

    Raises
    ------
    ValueError
        If an argument is out of range, the file is too short for the ETT
        borders, or a part holds no complete window (the part is named).

    Examples
    --------
    >>> split_borders(17420, "ett_hour")
    {'train': (0, 8640), 'validation': (8544, 11520), 'test': (11424, 14400)}
    >>> split_borders(966, "ratio", seq_len=36)
    {'train': (0, 676), 'validation': (640, 773), 'test': (737, 966)}
    >>> split_borders(17420, "ett_hour", percent=10)["train"]
    (0, 950)
    """
    n_rows = _check_int(n_rows, "n_rows", 1)
    seq_len = _check_int(seq_len, "seq_len", 1)
    percent = _check_int(percent, "percent", 1, 100)
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}.")
    if split == "ratio":
        num_train = int(n_rows * 0.7)
        num_test = int(n_rows * 0.2)
        num_vali = n_rows - num_train - num_test
        starts = [0, num_train - seq_len, n_rows - num_test - seq_len]
        stops = [num_train, num_train + num_vali, n_rows]
    else:
        stops = [border * _ETT_SCALE[split] for border in _ETT_HOUR_STOPS]
        if n_rows < stops[-1]:
            raise ValueError(
                f"The {split!r} split needs at least {stops[-1]} rows (train [0, {stops[0]}), validation "
                f"up to {stops[1]}, test up to {stops[2]}), got {n_rows}."
            )
        starts = [0, stops[0] - seq_len, stops[1] - seq_len]
    for part, start, stop in zip(PARTS, starts, stops):
        if start < 0 or stop - start <= seq_len:
            raise ValueError(_no_window(part, start, stop, seq_len, 100))
    stops[0] = (stops[0] - seq_len) * percent // 100 + seq_len
    if stops[0] - starts[0] <= seq_len:
        raise ValueError(_no_window("train", starts[0], stops[0], seq_len, percent))
    return {part: (int(start), int(stop)) for part, start, stop in zip(PARTS, starts, stops)}


# --------------------------------------------------------------------------------------------------
# Benchmark parts
# --------------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, eq=False)
class BenchmarkData:
    """A benchmark data set cut into its parts, with the protocol's scaler.

    Returned by :func:`load_benchmark`. The parts are raw (unscaled) row
    slices of ``frame``; :meth:`scaled` gives them in scaled units.

    Attributes
    ----------
    name : str
        Data set name (the file stem for an unregistered CSV).
    frame : pandas.DataFrame
        The whole file, as :func:`load_dataset` reads it.
    train, validation, test : pandas.DataFrame
        Rows ``frame.iloc[start:stop]`` at ``borders``; validation and test
        begin with their ``seq_len`` look-back rows.
    borders : dict
        ``{"train": (start, stop), "validation": ..., "test": ...}`` row
        positions, see :func:`split_borders`.
    percent : int
        Few-shot percentage of the training windows (100: all).
    seq_len : int
        Look-back length the borders were cut for.
    scaler : sklearn.preprocessing.StandardScaler
        Fitted on the full training rows (``[0, 8640)`` for ETT-hour), also
        when ``percent`` < 100, as the protocol says.
    split : str
        Split convention used.

    Examples
    --------
    >>> import shutil, tempfile
    >>> from pathlib import Path
    >>> folder = Path(tempfile.mkdtemp())
    >>> make_synthetic_series(400, 2).to_csv(folder / "toy.csv", index_label="date")
    >>> data = load_benchmark("toy.csv", seq_len=24, data_home=folder)
    >>> data.borders
    {'train': (0, 280), 'validation': (256, 320), 'test': (296, 400)}
    >>> data.scaled("test").shape, data.scaled("test").dtype
    ((104, 2), dtype('float32'))
    >>> shutil.rmtree(folder)
    """

    name: str
    frame: pd.DataFrame
    train: pd.DataFrame
    validation: pd.DataFrame
    test: pd.DataFrame
    borders: dict
    percent: int
    seq_len: int
    scaler: object
    split: str = "ratio"

    def scaled(self, part):
        """One part in scaled units.

        Parameters
        ----------
        part : {"train", "validation", "test"}
            The part.

        Returns
        -------
        ndarray of shape (n_rows, n_series), float32
            ``scaler.transform`` of the part.

        Examples
        --------
        >>> import shutil, tempfile
        >>> from pathlib import Path
        >>> folder = Path(tempfile.mkdtemp())
        >>> make_synthetic_series(400, 2).to_csv(folder / "toy.csv", index_label="date")
        >>> train = load_benchmark("toy.csv", seq_len=24, data_home=folder).scaled("train")
        >>> bool(abs(train.mean()) < 1e-5), bool(abs(train.std() - 1) < 1e-5)
        (True, True)
        >>> shutil.rmtree(folder)
        """
        if part not in PARTS:
            raise ValueError(f"part must be one of {PARTS}, got {part!r}.")
        return self.scaler.transform(getattr(self, part)).astype(np.float32)

    def __repr__(self):
        rows = ", ".join(f"{part}={self.borders[part]}" for part in PARTS)
        return (
            f"BenchmarkData(name={self.name!r}, shape={self.frame.shape}, split={self.split!r}, "
            f"seq_len={self.seq_len}, percent={self.percent}, {rows})"
        )


def load_benchmark(name, *, seq_len=96, percent=100, data_home=None, download=True):
    """A benchmark data set cut into train / validation / test, with its scaler.

    Follows the long-term forecasting protocol (METHOD.md section 10): the
    borders of :func:`split_borders` for the data set's split convention
    (``"ratio"`` for any CSV not in :data:`DATASETS`), and a
    ``StandardScaler`` fitted on the full training rows, also when the
    few-shot ``percent`` keeps fewer of them for training.

    Parameters
    ----------
    name : str, path-like or DatasetInfo
        As in :func:`load_dataset`.
    seq_len : int, default=96
        Look-back length; validation and test start this many rows before
        their border.
    percent : int, default=100
        Few-shot percentage of the training windows, 1 to 100.
    data_home : str or path-like, default=None
        Data folder, see :func:`get_data_home`.
    download : bool, default=True
        Download a missing registered file, see :func:`load_dataset`.

    Returns
    -------
    BenchmarkData
        The raw frame, its parts, the borders and the fitted scaler.

    Raises
    ------
    ValueError, FileNotFoundError, ChecksumError
        As :func:`load_dataset` and :func:`split_borders`.

    Examples
    --------
    >>> import shutil, tempfile
    >>> import numpy as np
    >>> from pathlib import Path
    >>> folder = Path(tempfile.mkdtemp())
    >>> make_synthetic_series(400, 2).to_csv(folder / "toy.csv", index_label="date")
    >>> data = load_benchmark("toy.csv", seq_len=24, percent=50, data_home=folder)
    >>> data.name, data.split, data.borders["train"], len(data.validation)
    ('toy', 'ratio', (0, 152), 64)
    >>> bool(np.allclose(data.scaler.mean_, data.frame.iloc[:280].mean()))
    True
    >>> shutil.rmtree(folder)
    """
    from sklearn.preprocessing import StandardScaler

    seq_len = _check_int(seq_len, "seq_len", 1)
    percent = _check_int(percent, "percent", 1, 100)
    info, path = _resolve(name, data_home)
    split = info.split if info is not None else "ratio"
    frame = _load(info, path, download)
    borders = split_borders(len(frame), split, seq_len, percent)
    full_train = split_borders(len(frame), split, seq_len, 100)["train"]
    scaler = StandardScaler().fit(frame.iloc[full_train[0] : full_train[1]])
    parts = {part: frame.iloc[start:stop] for part, (start, stop) in borders.items()}
    return BenchmarkData(
        name=info.name if info is not None else path.stem,
        frame=frame,
        borders=borders,
        percent=percent,
        seq_len=seq_len,
        scaler=scaler,
        split=split,
        **parts,
    )
