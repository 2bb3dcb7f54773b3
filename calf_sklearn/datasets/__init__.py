"""Data for examples, tests and the forecasting benchmarks (NumPy, pandas, scikit-learn).

:func:`make_synthetic_series` makes a small seasonal series for examples. The rest of the package
reads the public benchmark CSVs of the long-term forecasting literature (ETT, Weather, ECL, Traffic,
Exchange, ILI) and the M4 competition's series (:func:`load_m4`) from a data folder, downloads a missing one when it knows where from, checks the
download against known checksums, and cuts the train / validation / test parts the way the published
Time-Series-Library / CALF loaders do (METHOD.md section 10).

Its modules, each with one job: ``registry`` (the known files, their sources, checksums and splits),
``files`` (the data folder and reading a CSV), ``download`` (fetching and verifying a file),
``long_term`` (the long-term protocol's parts), ``m4`` (the M4 competition's groups of series) and
``synthetic``.

Examples
--------
>>> sorted(DATASETS)[:4]
['ECL', 'ETTh1', 'ETTh2', 'ETTm1']
>>> DATASETS["ettm1"].split, DATASETS["ili"].filename
('ett_minute', 'national_illness.csv')
"""

from .download import ChecksumError
from .files import DATA_ENV, get_data_home, load_dataset
from .long_term import BenchmarkData, load_benchmark, split_borders
from .m4 import M4_GROUPS, M4Data, M4Group, load_m4
from .registry import DATASETS, DatasetInfo
from .synthetic import make_synthetic_series

__all__ = [
    "DATASETS",
    "DATA_ENV",
    "M4_GROUPS",
    "BenchmarkData",
    "ChecksumError",
    "DatasetInfo",
    "M4Data",
    "M4Group",
    "get_data_home",
    "load_benchmark",
    "load_dataset",
    "load_m4",
    "make_synthetic_series",
    "split_borders",
]
