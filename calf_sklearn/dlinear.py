"""A DLinear-style linear forecaster and its training loop (torch only).

DLinear (Zeng et al., "Are Transformers Effective for Time Series
Forecasting?", AAAI 2023) splits each look-back into a moving-average trend
and the remainder, maps each part to the horizon with one linear layer shared
by all series, and adds the two. It is the usual yardstick for long-term
forecasters, so the benchmark trains it on the same windows as CALF.
"""

from ._torch.dlinear import DLinearNetwork, train_dlinear

__all__ = ["DLinearNetwork", "train_dlinear"]
