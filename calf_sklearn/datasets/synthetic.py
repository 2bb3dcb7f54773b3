"""A small seasonal multivariate series for examples and tests (NumPy, pandas)."""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["make_synthetic_series"]


def make_synthetic_series(n_steps=2000, n_series=4, *, freq="h", start="2024-01-01", random_state=0):
    """A seasonal multivariate series with trend, coupling and noise.

    Each series mixes a daily (24-step) and a weekly (168-step) cycle with its
    own phase and amplitude, a slow trend, and noise; the last series follows
    the first with a lag, so there is something to learn across series.

    Parameters
    ----------
    n_steps : int, default=2000
        Number of time steps.
    n_series : int, default=4
        Number of series (at least 1).
    freq : str, default="h"
        Frequency of the DatetimeIndex.
    start : str, default="2024-01-01"
        First timestamp.
    random_state : int, default=0
        Seed of the noise and the per-series settings.

    Returns
    -------
    pandas.DataFrame of shape (n_steps, n_series)
        Columns ``s0, s1, ...`` indexed by timestamps.

    Examples
    --------
    >>> frame = make_synthetic_series(500, 3)
    >>> frame.shape, list(frame.columns)
    ((500, 3), ['s0', 's1', 's2'])
    >>> frame.index.freqstr
    'h'
    """
    rng = np.random.default_rng(random_state)
    t = np.arange(n_steps)[:, None]
    phase = rng.uniform(0, 2 * np.pi, size=(2, n_series))
    amplitude = rng.uniform(0.5, 2.0, size=(2, n_series))
    values = (
        amplitude[0] * np.sin(2 * np.pi * t / 24 + phase[0])
        + amplitude[1] * np.sin(2 * np.pi * t / 168 + phase[1])
        + rng.uniform(-1, 1, size=n_series) * t / n_steps
        + 0.2 * rng.normal(size=(n_steps, n_series))
    )
    if n_series > 1:
        lag = 6
        values[lag:, -1] += 0.8 * values[:-lag, 0]
    index = pd.date_range(start, periods=n_steps, freq=freq)
    return pd.DataFrame(values, index=index, columns=[f"s{i}" for i in range(n_series)])
