"""Applications built on the estimators: the benchmark protocols, the command line, the demo.

``long_term`` (the paper's long-term protocol), ``m4`` (the M4 short-term protocol),
``cli`` (``calf-sklearn fit | predict | benchmark``) and ``demo``.
"""
