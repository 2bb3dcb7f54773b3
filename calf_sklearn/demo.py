"""The main job on an embedded default: ``python -m calf_sklearn.demo``.

Trains CALF on a built-in synthetic series with a small, randomly
initialised GPT-2 (nothing is downloaded), compares its forecasts with the
naive last-value forecast on held-out data, and saves a plot.
"""

# DEMO_BACKBONE and main are not in __all__ (undocumented), but stay importable here.
from ._apps.demo import DEMO_BACKBONE, main, run  # noqa: F401

__all__ = ["run"]

if __name__ == "__main__":
    main()
