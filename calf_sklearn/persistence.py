"""Saving a fitted CALFForecaster without pickle: one safetensors file.

``pickle`` and ``joblib`` rebuild objects by running code named in the file,
so loading one from an untrusted source can run anything. The format here
holds only tensors and a JSON header (the ``safetensors`` layout); loading
it parses JSON, reads raw numbers and rebuilds the network from its
backbone's configuration (of a supported family: GPT-2, Llama, ...), and
never imports or calls anything the file names.
"""

from ._estimators.persistence import load_forecaster, save_forecaster

__all__ = ["load_forecaster", "save_forecaster"]
