"""Pickling a forecaster whose network is a CALFNetwork: its export, never torch's module pickle."""

from __future__ import annotations

from .._version import ARTIFACT_FORMAT, __version__

__all__ = ["NetworkPicklingMixin"]


class NetworkPicklingMixin:
    """``__getstate__``/``__setstate__`` that store ``module_`` as its export (tensors and a config).

    The export loads on any machine (a CUDA network comes back on the CPU where
    there is no GPU), carries the artifact format that reads it, and keeps
    pickles free of transformers' and peft's module classes. Compiled code is
    tied to its process and is never pickled.
    """

    def __getstate__(self):
        # A copy: BaseEstimator may hand back the live __dict__.
        state = dict(super().__getstate__())
        state.pop("_compiled_forecast", None)
        state["_calf_sklearn_version"] = __version__
        if "module_" in state:
            state["module_"] = {
                "artifact_format": ARTIFACT_FORMAT,
                "calf_sklearn_version": __version__,
                **self.module_.export(),
            }
            state["device_"] = str(self.device_)
        return state

    def __setstate__(self, state):
        payload = state.get("module_")
        if isinstance(payload, dict):
            from .._torch.devices import saved_device
            from .._torch.network import CALFNetwork
            from .._torch.precision import place_network

            saved_format = payload.get("artifact_format")
            if saved_format != ARTIFACT_FORMAT:
                raise ValueError(
                    f"This forecaster was saved by calf-sklearn "
                    f"{payload.get('calf_sklearn_version', 'unknown')} (artifact format "
                    f"{saved_format}); calf-sklearn {__version__} reads format {ARTIFACT_FORMAT}. "
                    "Load it with the version that saved it, or fit it again."
                )
            device = saved_device(state.get("device_", "cpu"))
            state = dict(state)
            state.setdefault("n_processes_", 1)  # pickled before data-parallel fits existed
            state["module_"] = place_network(CALFNetwork.from_export(payload), device)
            state["device_"] = device
        # Parameters added since the pickle was written take their defaults.
        state = {**self._new_parameter_defaults(state), **state}
        super().__setstate__(state)

    @classmethod
    def _new_parameter_defaults(cls, state):
        import inspect

        return {
            name: parameter.default
            for name, parameter in inspect.signature(cls.__init__).parameters.items()
            if name != "self" and parameter.kind is parameter.KEYWORD_ONLY and name not in state
        }
