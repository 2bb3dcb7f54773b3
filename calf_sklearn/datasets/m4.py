"""The M4 competition's series, group by group (METHOD.md section 13).

Each group (Yearly, Quarterly, Monthly, Weekly, Daily, Hourly) is a panel of
independent univariate series of different lengths. The files are those of
the competition's own repository, ``m4/<Group>-train.csv`` and
``m4/<Group>-test.csv`` (plain or gzipped) in the data folder: one row per
series, its id first, values padded with empty cells to the longest series.
A missing file is downloaded from that repository and checked against the
checksums known for it (those of the files this project holds); one with no
known checksum is kept with a warning that prints its digest, as for the
long-term benchmark files.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

from . import download as _download
from .files import get_data_home, missing_message
from .registry import DatasetInfo

__all__ = ["M4_GROUPS", "M4Data", "M4Group", "load_m4"]

_M4_BASE = "https://raw.githubusercontent.com/Mcompetitions/M4-methods/6c1067e5a57161249b17289a565178dc7a3fb3ca/Dataset/"
# (sha256, git blob sha1) of the plain CSVs that this project has checked (the data README).
_CHECKSUMS = {
    "Hourly-train.csv": (
        "ea59b7783573c49077a835ab6465c7d66f1474783360f310988a9a737fbca62f",
        "8c30294d79ac2b2f4c71b2769b74057d86143fbf",
    ),
    "Hourly-test.csv": (
        "71a57fccb15e534d973626ada4fb87febf789e9317715b7cc6dd3b5f90db6f42",
        "34fa4fbedbba8263e12d52f321a01235c23404d3",
    ),
    "Weekly-train.csv": (
        "d478d3f6ed673e6ed3c2cb0fbed5425f72eedd51318ebebeb0b5ecfcefc37714",
        "8760c8b31bba7da2d2e495ccb06909267a4b900a",
    ),
    "Weekly-test.csv": (
        "3b2bc4be8e636e802260dcd843ca3c5da40536a1fbe1ecb3229a97dae4f44688",
        "36cdf6284b397ecef9a054838630f51ffdf5cc1f",
    ),
    "Daily-test.csv": (
        "633b0815626ae266d36872c4d53e95eb93ee8d43e79587fceec519eba3e6b05e",
        "141594f92a932b99000c0566d94f0130ee3ec635",
    ),
}


@dataclasses.dataclass(frozen=True)
class M4Group:
    """One M4 frequency group and its protocol settings.

    Parameters
    ----------
    name : str
        ``"Yearly"``, ``"Quarterly"``, ``"Monthly"``, ``"Weekly"``,
        ``"Daily"`` or ``"Hourly"``.
    horizon : int
        Steps to forecast, H.
    period : int
        Seasonal period m of Naive2 and of MASE's scale.
    history_size : float
        Training windows end within the last ``history_size * horizon``
        points of each series.

    Examples
    --------
    >>> group = M4_GROUPS["Hourly"]
    >>> group.horizon, group.period, group.seq_len
    (48, 24, 96)
    """

    name: str
    horizon: int
    period: int
    history_size: float

    @property
    def seq_len(self):
        """Look-back of the protocol, 2 H.

        Examples
        --------
        >>> M4_GROUPS["Yearly"].seq_len
        12
        """
        return 2 * self.horizon


#: The six groups, by name.
M4_GROUPS = {
    group.name: group
    for group in (
        M4Group("Yearly", 6, 1, 1.5),
        M4Group("Quarterly", 8, 4, 1.5),
        M4Group("Monthly", 18, 12, 1.5),
        M4Group("Weekly", 13, 1, 10.0),
        M4Group("Daily", 14, 1, 10.0),
        M4Group("Hourly", 48, 24, 10.0),
    )
}


@dataclasses.dataclass
class M4Data:
    """The series of one M4 group.

    Attributes
    ----------
    group : M4Group
        The group and its settings.
    ids : list of str
        Series ids (``"H1"``, ...), in file order.
    train : list of ndarray
        Each series' history (float64, lengths differ).
    test : ndarray of shape (n_series, horizon)
        The next ``horizon`` values of each series.

    Examples
    --------
    >>> data = M4Data(M4_GROUPS["Weekly"], ["W1"], [np.arange(20.0)], np.ones((1, 13)))
    >>> data.n_series, data.test.shape
    (1, (1, 13))
    """

    group: M4Group
    ids: list
    train: list
    test: np.ndarray

    @property
    def n_series(self):
        """Number of series in the group.

        Examples
        --------
        >>> M4Data(M4_GROUPS["Daily"], ["D1", "D2"], [np.ones(30)] * 2, np.ones((2, 14))).n_series
        2
        """
        return len(self.ids)


def m4_group(name):
    """The M4 group that ``name`` names ("Hourly", "M4-Hourly", "m4_hourly"), or a ValueError listing them."""
    key = str(name).strip().lower().removeprefix("m4-").removeprefix("m4_")
    for group in M4_GROUPS.values():
        if group.name.lower() == key:
            return group
    raise ValueError(
        f"Unknown M4 group {name!r}; use one of {', '.join(M4_GROUPS)} (optionally as 'M4-Hourly')."
    )


def _info(filename):
    sha256, blob = _CHECKSUMS.get(filename, ((), None))
    part = "Train" if filename.endswith("-train.csv") else "Test"
    return DatasetInfo(
        f"M4 {filename}", filename, url=f"{_M4_BASE}{part}/{filename}", sha256=sha256, git_blob_sha1=blob
    )


def _path(filename, data_home, download):
    """The file in the data folder's ``m4/``, plain or gzipped, downloaded when missing."""
    folder = get_data_home(data_home) / "m4"
    for candidate in (folder / filename, folder / f"{filename}.gz"):
        if candidate.is_file():
            return candidate
    info, path = _info(filename), folder / filename
    if not download:
        raise FileNotFoundError(missing_message(path, info) + f" ({filename}.gz is read too.)")
    try:
        _download.fetch(info, path)
    except _download.DownloadFailed as error:
        raise FileNotFoundError(missing_message(path, info, reason=str(error))) from error
    return path


def _read(path):
    """Ids and the value rows of an M4 file, each row cut where its padding starts."""
    frame = pd.read_csv(path, index_col=0)
    values = frame.to_numpy(dtype=np.float64)
    rows = []
    for series_id, row in zip(frame.index, values):
        present = ~np.isnan(row)
        length = int(present.sum())
        if length == 0 or not present[:length].all():
            raise ValueError(
                f"{path.name}: series {series_id!r} has an empty cell before its last value (or no "
                "value at all); M4 rows are padded only at the end."
            )
        rows.append(row[:length])
    return [str(series_id) for series_id in frame.index], rows


def load_m4(group, *, data_home=None, download=True):
    """Read the training histories and test values of one M4 group.

    Parameters
    ----------
    group : str
        Group name, in any case, optionally prefixed ``"M4-"``:
        ``"Hourly"``, ``"m4-weekly"``, ...
    data_home : str or path-like, default=None
        Data folder that holds ``m4/`` (see
        :func:`~calf_sklearn.datasets.get_data_home`).
    download : bool, default=True
        Download a missing file from the competition's repository.

    Returns
    -------
    M4Data

    Raises
    ------
    ValueError
        If the group is unknown, or the two files do not hold the same
        series with ``horizon`` test values each.
    FileNotFoundError
        If a file is missing and cannot be downloaded; the message names it,
        the folder searched and where to get it.

    Examples
    --------
    >>> import shutil, tempfile
    >>> from pathlib import Path
    >>> folder = Path(tempfile.mkdtemp())
    >>> (folder / "m4").mkdir()
    >>> _ = (folder / "m4" / "Weekly-train.csv").write_text('"V1","V2","V3","V4"\\n"W1",1,2,3\\n"W2",5,6,\\n')
    >>> test = ",".join(f'"V{i}"' for i in range(1, 15)) + "\\n" + "".join(
    ...     f'"W{k}",' + ",".join(["7"] * 13) + "\\n" for k in (1, 2))
    >>> _ = (folder / "m4" / "Weekly-test.csv").write_text(test)
    >>> data = load_m4("M4-Weekly", data_home=folder)
    >>> data.ids, [len(series) for series in data.train], data.test.shape
    (['W1', 'W2'], [3, 2], (2, 13))
    >>> shutil.rmtree(folder)
    """
    group = m4_group(group)
    ids, train = _read(_path(f"{group.name}-train.csv", data_home, download))
    test_ids, test = _read(_path(f"{group.name}-test.csv", data_home, download))
    if test_ids != ids:
        raise ValueError(
            f"The {group.name} train and test files do not list the same series in the same order."
        )
    lengths = {len(row) for row in test}
    if lengths != {group.horizon}:
        raise ValueError(
            f"The {group.name} test file must hold {group.horizon} values per series, found {sorted(lengths)}."
        )
    return M4Data(group, ids, train, np.stack(test))
