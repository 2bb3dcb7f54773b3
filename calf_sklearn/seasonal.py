"""The M4 competition's statistical benchmarks for one series: Naive1, seasonal naive, Naive2 (NumPy only).

Naive2 is the benchmark that the M4 competition's OWA is relative to: a
seasonality test at lag ``period`` with 90% confidence, a classical
multiplicative decomposition of the series where it passes, the naive
forecast of the seasonally adjusted series, reseasonalised with the last
cycle's indices (METHOD.md section 13). Written from that description;
``tests/test_seasonal.py`` checks it against the competition's published
sMAPE and MASE of these benchmarks.

Examples
--------
>>> import numpy as np
>>> y = 10 + np.tile([1.0, 3.0, 2.0, 6.0], 6)  # a strong cycle of 4
>>> naive1(y, 3)
array([16., 16., 16.])
>>> seasonal_naive(y, 6, period=4)
array([11., 13., 12., 16., 11., 13.])
>>> bool(is_seasonal(y, 4)), naive2(y, 4, period=4).round(2)
(True, array([11., 13., 12., 16.]))
"""

from ._series.rules import autocorrelation, is_seasonal, naive1, naive2, seasonal_indices, seasonal_naive

__all__ = ["autocorrelation", "is_seasonal", "naive1", "naive2", "seasonal_indices", "seasonal_naive"]
