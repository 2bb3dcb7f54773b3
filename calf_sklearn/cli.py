"""The ``calf-sklearn`` command line.

``calf-sklearn fit data.csv -o model.joblib`` trains a :class:`~calf_sklearn.CALFForecaster`
on a CSV file, ``calf-sklearn predict model.joblib data.csv -o forecast.csv``
forecasts the steps after a CSV's last row, and ``calf-sklearn benchmark
--dataset ETTh1 --pred-len 96`` runs :func:`calf_sklearn.benchmark.run_benchmark`
and prints its table.
"""

from ._apps.cli import build_parser, main, main_exit

__all__ = ["build_parser", "main", "main_exit"]
