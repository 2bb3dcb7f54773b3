"""Compiled forecasting: ``torch.compile`` of an inference network, with a fallback (torch only).

The public face of this module is :mod:`calf_sklearn.compiled`; its documentation is there.
"""

from __future__ import annotations

import warnings

import torch

__all__ = ["CompileFallbackWarning", "CompiledForecast"]

# Freezing needs the weights to be constants: the network is inference-only
# (no gradients) and is called under torch.inference_mode().
_OPTIONS = {"freezing": True}


class CompileFallbackWarning(UserWarning):
    """``torch.compile`` failed; forecasting goes on with the plain network.

    Examples
    --------
    >>> issubclass(CompileFallbackWarning, UserWarning)
    True
    """


class CompiledForecast:
    """Forecast batches with a compiled copy of ``network``, or with ``network`` where that fails.

    Every batch is padded with zero windows to ``batch_size`` and the padding
    is dropped from the forecast, so the compiled code sees one shape and is
    built once (a short last batch would otherwise compile a second time).
    Zero windows are harmless: CALF's per-window normalisation maps them to
    zeros, never to NaN, and windows do not interact.

    The compiled code exists only in this process: the estimator never
    pickles it and builds it again on first use after loading.

    Parameters
    ----------
    network : torch.nn.Module
        An inference network mapping (B, L, M) to (B, P, M), with no trainable
        parameters.
    batch_size : int
        The batch size every call is padded to; longer batches are refused.

    Attributes
    ----------
    failure : str or None
        Why compilation failed (forecasts then come from ``network``).

    Examples
    --------
    >>> net = torch.nn.Linear(4, 2).requires_grad_(False)
    >>> forward = CompiledForecast(net, batch_size=8)
    >>> with torch.inference_mode():
    ...     out = forward(torch.randn(3, 4))  # compiled on this first call
    >>> out.shape, forward.failure is None or forward.failure
    (torch.Size([3, 2]), True)
    """

    def __init__(self, network, batch_size):
        self.network = network
        self.batch_size = batch_size
        self.failure = None
        self._compiled = None

    def _pad(self, batch):
        missing = self.batch_size - len(batch)
        if missing < 0:
            raise ValueError(f"a batch of {len(batch)} windows exceeds batch_size={self.batch_size}")
        if missing == 0:
            return batch
        return torch.cat([batch, batch.new_zeros((missing, *batch.shape[1:]))])

    def __call__(self, batch):
        """The forecast of ``batch`` (at most ``batch_size`` windows)."""
        if self.failure is not None:
            return self.network(batch)
        padded = self._pad(batch)
        if self._compiled is not None:
            # Compiled and run once already: an error now is the batch's, not the compiler's.
            return self._compiled(padded)[: len(batch)]
        try:
            compiled = torch.compile(self.network, dynamic=False, options=_OPTIONS)
            out = compiled(padded)  # compiles
        except torch.cuda.OutOfMemoryError:
            raise
        except Exception as error:  # noqa: BLE001 - any failure to compile means: run uncompiled
            self.failure = f"{type(error).__name__}: {str(error).strip().splitlines()[0][:300]}"
            warnings.warn(
                f"torch.compile failed here ({self.failure}); forecasting with the uncompiled network "
                "instead (the same forecasts up to float rounding, without the speed-up). Pass "
                "compile=False to skip the attempt.",
                CompileFallbackWarning,
                stacklevel=4,
            )
            return self.network(batch)
        self._compiled = compiled
        return out[: len(batch)]
