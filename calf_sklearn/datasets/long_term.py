"""The long-term forecasting protocol's parts: train / validation / test borders, scaler, few-shot."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

from .._utils import checks
from .files import load_file, resolve
from .registry import SPLITS

__all__ = ["PARTS", "BenchmarkData", "load_benchmark", "split_borders"]

PARTS = ("train", "validation", "test")

# Train / validation / test stops of the ETT-hour split: 12/4/4 months of 30 days (x 4 for minutes).
_ETT_HOUR_STOPS = (8640, 11520, 14400)
_ETT_SCALE = {"ett_hour": 1, "ett_minute": 4}


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
    n_rows = checks.check_int("n_rows", n_rows, 1)
    seq_len = checks.check_int("seq_len", seq_len, 1)
    percent = checks.check_int("percent", percent, 1, 100)
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
    >>> from calf_sklearn.datasets import make_synthetic_series
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
        >>> from calf_sklearn.datasets import make_synthetic_series
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
    >>> from calf_sklearn.datasets import make_synthetic_series
    >>> make_synthetic_series(400, 2).to_csv(folder / "toy.csv", index_label="date")
    >>> data = load_benchmark("toy.csv", seq_len=24, percent=50, data_home=folder)
    >>> data.name, data.split, data.borders["train"], len(data.validation)
    ('toy', 'ratio', (0, 152), 64)
    >>> bool(np.allclose(data.scaler.mean_, data.frame.iloc[:280].mean()))
    True
    >>> shutil.rmtree(folder)
    """
    from sklearn.preprocessing import StandardScaler

    seq_len = checks.check_int("seq_len", seq_len, 1)
    percent = checks.check_int("percent", percent, 1, 100)
    info, path = resolve(name, data_home)
    split = info.split if info is not None else "ratio"
    frame = load_file(info, path, download)
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
