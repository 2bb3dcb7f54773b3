"""Sliding windows over a multivariate series (NumPy only).

The training loop asks for batches of (look-back, future) windows by index;
nothing here knows about torch or scikit-learn.
"""

from ._series.windows import PanelWindows, RecentWindows, WindowedSeries, temporal_split

__all__ = ["PanelWindows", "RecentWindows", "WindowedSeries", "temporal_split"]
