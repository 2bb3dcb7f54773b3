"""Compiled forecasting: ``torch.compile`` of an inference network, with a fallback (torch only).

On a CPU most of a forecast is GPT-2's matrix products. Compiled with
inductor's *freezing* (the weights become constants of the compiled code),
those products use weights packed once for the CPU's kernels instead of on
every call, and the element-wise steps between them are fused; the plain
network packs its weights again for every batch. The compilation itself
takes tens of seconds, once per process and batch shape, which is why it is
an option (``CALFForecaster(compile=True)``) and not the default.
"""

from ._torch.compiled import CompiledForecast, CompileFallbackWarning

__all__ = ["CompileFallbackWarning", "CompiledForecast"]
