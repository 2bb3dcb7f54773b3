"""Applications built on the estimators: the benchmark protocols, the command line, the demo.

``experiment`` (a run's identity and folder, and the resumable per-model loop both
protocols share) and ``report`` (the results table as Markdown, the forecasts' figure);
``long_term`` (the paper's long-term protocol; it also dispatches M4 names) and ``m4``
(the M4 short-term protocol); ``cli`` (``calf-sklearn fit | predict | benchmark``) and
``demo``.
"""
