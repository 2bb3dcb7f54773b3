"""The paper's short-term protocol on the M4 competition's series, with its benchmarks.

:func:`run_m4_benchmark` reads one M4 group (METHOD.md section 13), trains
CALF on all of its series as one panel with the authors' short-term settings
(:func:`m4_preset`), fits the M4 statistical benchmarks (Naive1, seasonal
naive, Naive2) and DLinear on the same series, forecasts the ``H`` steps after
each series' end and scores them against the competition's test file with
sMAPE, MASE and OWA over every series of the group. ``calf-sklearn benchmark
--dataset M4-Hourly`` runs it; it shares the long-term benchmark's folder,
resume and output conventions (:mod:`calf_sklearn.benchmark`).
"""

from ._apps.m4 import M4_MODELS, M4_QUICK, is_m4, m4_preset, run_m4_benchmark

__all__ = ["M4_MODELS", "M4_QUICK", "is_m4", "m4_preset", "run_m4_benchmark"]
