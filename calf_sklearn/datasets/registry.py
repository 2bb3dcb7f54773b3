"""The benchmark files this package knows: where each comes from, its checksums, its split."""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Mapping
from pathlib import Path

__all__ = ["DATASETS", "SPLITS", "DatasetInfo"]

SPLITS = ("ett_hour", "ett_minute", "ratio")
_HEX = frozenset("0123456789abcdef")


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
        raise KeyError(unknown_message(name))

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


def unknown_message(name):
    """Message for an unknown data set name, with the closest known name when there is one."""
    guess = DATASETS.suggestion(name) if isinstance(name, str) else None
    hint = f" Did you mean {guess!r}?" if guess else ""
    return (
        f"Unknown data set {name!r}.{hint} Known names: {', '.join(DATASETS)} (case-insensitive); "
        "or pass the file name of a CSV in the data folder, such as 'mydata.csv'."
    )
