"""The main job on an embedded default: ``python -m calf_sklearn.demo``.

Trains CALF on a built-in synthetic series with a small, randomly
initialised GPT-2 (nothing is downloaded), compares its forecasts with the
naive last-value forecast on held-out data, and saves a plot.
"""

# Like the module it replaces, this one has no __all__: run is documented, main runs it
# from the command line and DEMO_BACKBONE is the backbone it trains.
from ._apps.demo import DEMO_BACKBONE, main, run  # noqa: F401

if __name__ == "__main__":
    main()
