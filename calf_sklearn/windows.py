"""Sliding windows over a multivariate series (NumPy only).

The training loop asks for batches of (look-back, future) windows by index;
nothing here knows about torch or scikit-learn.
"""

from __future__ import annotations

import numbers

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

__all__ = ["WindowedSeries", "temporal_split"]


def temporal_split(n_rows, validation_size, seq_len, pred_len):
    """Split row positions into a training part and a later validation part.

    The validation part is the last ``validation_size`` of the rows. Its
    windows start ``seq_len`` rows before the border, so every target value
    it scores lies after the training rows (the benchmark convention).

    Parameters
    ----------
    n_rows : int
        Number of time steps in the series.
    validation_size : float or int
        Fraction in ``[0, 1)`` of the rows, or a number of rows, to hold out.
        ``0`` holds out nothing.
    seq_len, pred_len : int
        Look-back and horizon of one window.

    Returns
    -------
    train_stop : int
        The training rows are ``[0, train_stop)``.
    validation_start : int or None
        The validation rows are ``[validation_start, n_rows)``; ``None`` when
        nothing is held out.

    Raises
    ------
    ValueError
        If either part is too short to hold one window.

    Examples
    --------
    >>> temporal_split(1000, 0.2, seq_len=96, pred_len=24)
    (800, 704)
    """
    if isinstance(validation_size, numbers.Integral):
        n_validation = int(validation_size)
    else:
        n_validation = round(float(validation_size) * n_rows)
    window = seq_len + pred_len
    train_stop = n_rows - n_validation
    if train_stop < window:
        raise ValueError(
            f"Too few rows to train: n_samples={n_rows} rows, minus {n_validation} held "
            f"out for validation, leaves {train_stop}, but one window needs "
            f"seq_len + pred_len = {window} rows. Pass a longer series, lower "
            f"seq_len/pred_len, or lower validation_size."
        )
    if n_validation == 0:
        return train_stop, None
    if n_validation < pred_len:
        raise ValueError(
            f"validation_size={validation_size!r} holds out {n_validation} rows, "
            f"fewer than pred_len={pred_len}, so no validation window fits. "
            f"Raise validation_size to at least {pred_len} rows "
            f"({pred_len / n_rows:.3f} of the series) or set it to 0 to train "
            f"without early stopping."
        )
    return train_stop, train_stop - seq_len


class WindowedSeries:
    """Every (look-back, future) window of a series, gathered on demand.

    Windows are views into ``values``; only the batches that are asked for are
    copied, so a long series costs no more memory than itself.

    Parameters
    ----------
    values : ndarray of shape (n_rows, n_series)
        The series, time along the first axis.
    seq_len : int
        Length of the look-back.
    pred_len : int
        Length of the future part (0 for look-back windows alone).
    stride : int, default=1
        Distance between the starts of consecutive windows.

    Attributes
    ----------
    starts : ndarray of int
        Row position at which each window starts.

    Examples
    --------
    >>> import numpy as np
    >>> series = WindowedSeries(np.arange(20.0).reshape(10, 2), seq_len=4, pred_len=2)
    >>> len(series)
    5
    >>> x, y = series.batch([0, 4])
    >>> x.shape, y.shape
    ((2, 4, 2), (2, 2, 2))
    >>> y[1, :, 0]
    array([16., 18.])
    """

    def __init__(self, values, seq_len, pred_len, stride=1):
        values = np.asarray(values)
        if values.ndim != 2:
            raise ValueError(f"values must be 2-D (time, series), got shape {values.shape}")
        self.values = values
        self.seq_len = int(seq_len)
        self.pred_len = int(pred_len)
        n_windows = values.shape[0] - self.seq_len - self.pred_len + 1
        self.starts = np.arange(0, max(n_windows, 0), int(stride))
        # Shape (n_windows, n_series, seq_len + pred_len): no copy is made.
        # Too short a series simply has no windows.
        span = min(self.seq_len + self.pred_len, values.shape[0])
        self._windows = sliding_window_view(values, span, axis=0)

    def __len__(self):
        return len(self.starts)

    def batch(self, indices):
        """Copy out the windows with the given indices.

        Parameters
        ----------
        indices : array-like of int
            Positions in ``range(len(self))``.

        Returns
        -------
        x : ndarray of shape (n, seq_len, n_series)
            Look-backs.
        y : ndarray of shape (n, pred_len, n_series)
            The values that follow each look-back.

        Examples
        --------
        >>> import numpy as np
        >>> series = WindowedSeries(np.arange(20.0).reshape(10, 2), seq_len=4, pred_len=2, stride=2)
        >>> len(series), series.starts
        (3, array([0, 2, 4]))
        >>> x, y = series.batch([1])  # the window that starts at row 2
        >>> x[0, :, 0], y[0, :, 0]
        (array([ 4.,  6.,  8., 10.]), array([12., 14.]))
        """
        windows = self._windows[self.starts[np.asarray(indices)]].transpose(0, 2, 1)
        return (
            np.ascontiguousarray(windows[:, : self.seq_len]),
            np.ascontiguousarray(windows[:, self.seq_len :]),
        )
