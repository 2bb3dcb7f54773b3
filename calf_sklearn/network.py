"""The CALF dual-branch network (torch only).

Shapes: B windows, L look-back steps, M series, d model width, P horizon,
K principal words, n kept transformer blocks. Each series' whole look-back is
one token, so a window is M tokens of width d.
"""

from ._torch.inference import forecast_windows
from ._torch.network import CALFNetwork, CALFOutputs, PrincipalWordAttention

__all__ = ["CALFNetwork", "CALFOutputs", "PrincipalWordAttention", "forecast_windows"]
