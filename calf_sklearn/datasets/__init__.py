"""Data for examples, tests and the forecasting benchmarks (NumPy, pandas, scikit-learn).

:func:`make_synthetic_series` makes a small seasonal series for examples. The rest of the package
reads the public benchmark CSVs of the long-term forecasting literature (ETT, Weather, ECL, Traffic,
Exchange, ILI) from a data folder, downloads a missing one when it knows where from, checks the
download against known checksums, and cuts the train / validation / test parts the way the published
Time-Series-Library / CALF loaders do (METHOD.md section 10).

Its modules, each with one job: ``registry`` (the known files, their sources, checksums and splits),
``files`` (the data folder and reading a CSV), ``download`` (fetching and verifying a file),
``long_term`` (the long-term protocol's parts) and ``synthetic``.

Examples
--------
>>> sorted(DATASETS)[:4]
['ECL', 'ETTh1', 'ETTh2', 'ETTm1']
>>> DATASETS["ettm1"].split, DATASETS["ili"].filename
('ett_minute', 'national_illness.csv')
"""

from .download import ChecksumError
from .files import DATA_ENV, get_data_home, load_dataset
from .long_term import PARTS, BenchmarkData, load_benchmark, split_borders
from .registry import DATASETS, SPLITS, DatasetInfo
from .synthetic import make_synthetic_series

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
