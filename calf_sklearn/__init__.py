"""CALF forecasting (cross-modal fine-tuning of GPT-2) as a scikit-learn estimator."""

from ._version import __version__
from .backbone import BackboneUnavailableError
from .forecaster import CALFForecaster
from .metrics import mae_scorer, mse_scorer
from .persistence import load_forecaster, save_forecaster
from .vocabulary import principal_word_embeddings

__all__ = [
    "BackboneUnavailableError",
    "CALFForecaster",
    "__version__",
    "load_forecaster",
    "mae_scorer",
    "mse_scorer",
    "principal_word_embeddings",
    "save_forecaster",
]
