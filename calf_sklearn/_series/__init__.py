"""The NumPy/pandas layer: series, panels and windows, with no torch and no estimator.

``windows`` (sliding, panel and recent-window sources of training windows), ``panel``
(taking panels apart and putting answers back together), ``time_index`` (continuing a
DatetimeIndex past its end), ``conformal`` (split-conformal calibration of intervals),
``rules`` (the M4 competition's seasonality test and rule forecasts) and ``measures``
(its accuracy measures: sMAPE, MASE, MSIS, OWA).
"""
