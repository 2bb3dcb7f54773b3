"""The main job on an embedded default: ``python -m calf_sklearn.demo``.

Trains CALF on a built-in synthetic series with a small, randomly
initialised GPT-2 (nothing is downloaded), compares its forecasts with the
naive last-value forecast on held-out data, and saves a plot.
"""

from ._apps.demo import run

# Not in __all__ (undocumented), but importable here as they always were.
from ._apps.demo import DEMO_BACKBONE, main  # noqa: F401

__all__ = ["run"]

if __name__ == "__main__":
    main()
