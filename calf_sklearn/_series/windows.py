"""Sliding windows over a multivariate series (NumPy only).

The public face of this module is :mod:`calf_sklearn.windows`; its documentation is there.
"""

from __future__ import annotations

import numbers

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

__all__ = ["PanelWindows", "RecentWindows", "WindowedSeries", "temporal_split"]


def temporal_split(n_rows, validation_size, seq_len, pred_len, pad=False):
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
    pad : bool, default=False
        Whether windows may be zero-padded at the front (see
        :class:`PanelWindows`): then the training part needs only
        ``pred_len + 1`` rows, and the validation look-back starts no earlier
        than the first row.

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
    >>> temporal_split(30, 12, seq_len=24, pred_len=12, pad=True)  # a short member of a panel
    (18, 0)
    """
    if isinstance(validation_size, numbers.Integral):
        n_validation = int(validation_size)
    else:
        n_validation = round(float(validation_size) * n_rows)
    window = seq_len + pred_len
    train_stop = n_rows - n_validation
    if pad and train_stop < pred_len + 1:
        raise ValueError(
            f"Too few rows to train: n_samples={n_rows} rows, minus {n_validation} held out for "
            f"validation, leaves {train_stop}, but even a padded window needs pred_len + 1 = "
            f"{pred_len + 1} rows (one of look-back). Pass a longer series or lower validation_size."
        )
    if not pad and train_stop < window:
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
    return train_stop, max(train_stop - seq_len, 0) if pad else train_stop - seq_len


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
    missing : bool, default=False
        Whether NaN marks missing values: then :meth:`batch` also returns a
        mask of the observed targets, with the missing targets set to 0, and
        leaves NaN in the look-backs (the network standardises around them).
    targets : array-like of bool of shape (n_series,), default=None
        Which series are targets; the others are covariates, which
        :meth:`batch` masks out of the targets (so a mask is returned).

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

    def __init__(self, values, seq_len, pred_len, stride=1, missing=False, targets=None):
        values = np.asarray(values)
        self.missing = bool(missing)
        self.targets = None if targets is None else np.asarray(targets, dtype=bool)
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
            Look-backs (NaN where missing, with ``missing=True``).
        y : ndarray of shape (n, pred_len, n_series)
            The values that follow each look-back (0 where missing).
        mask : ndarray of shape (n, pred_len, n_series)
            Only with ``missing=True``: 1 where ``y`` is observed, else 0.

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
        x = np.ascontiguousarray(windows[:, : self.seq_len])
        y = np.ascontiguousarray(windows[:, self.seq_len :])
        if not self.missing and self.targets is None:
            return x, y
        observed = ~np.isnan(y) if self.missing else np.ones(y.shape, dtype=bool)
        if self.targets is not None:  # covariates: inputs, never targets
            observed &= self.targets
        return x, np.where(np.isnan(y), 0, y).astype(y.dtype), observed.astype(y.dtype)

    def keep_observed(self, min_observed):
        """Keep only the windows a masked fit can learn from; return how many were left out.

        A window is kept when at least ``min_observed`` of its look-back
        values are observed, every series has an observed look-back value
        (a series with none cannot be standardised) and at least one target is
        observed.

        Parameters
        ----------
        min_observed : float
            Smallest observed fraction of a look-back, in ``[0, 1]``.

        Returns
        -------
        int
            The number of windows left out.

        Examples
        --------
        >>> import numpy as np
        >>> values = np.arange(20.0).reshape(10, 2)
        >>> values[1:4, 0] = np.nan  # series 0 misses rows 1 to 3
        >>> series = WindowedSeries(values, seq_len=3, pred_len=1, missing=True)
        >>> series.keep_observed(0.5), series.starts.tolist()  # the window of rows 1-3 lacks series 0
        (1, [0, 2, 3, 4, 5, 6])
        >>> WindowedSeries(values, seq_len=3, pred_len=1, missing=True).keep_observed(0.7)  # 2 of 6: too few
        3
        >>> x, y, mask = series.batch([0])
        >>> x[0, :, 0].tolist(), mask[0, :, 0].tolist()  # its target row 3 is missing
        ([0.0, nan, nan], [0.0])
        """
        observed = np.concatenate([np.zeros((1, self.values.shape[1])), np.cumsum(~np.isnan(self.values), 0)])
        starts, window = self.starts, self.seq_len + self.pred_len
        look_back = observed[starts + self.seq_len] - observed[starts]
        targets = observed[starts + window] - observed[starts + self.seq_len]
        targets = (targets if self.targets is None else targets[:, self.targets]).sum(axis=1)
        # The tolerance keeps a window exactly at the threshold (0.14 * 100 = 14.000000000000002).
        keep = look_back.sum(axis=1) >= min_observed * self.seq_len * self.values.shape[1] - 1e-9
        keep &= (look_back.min(axis=1, initial=np.inf) > 0) & (targets > 0)
        self.starts = starts[keep]
        if hasattr(self, "member"):
            self.member = self.member[keep]
        return int((~keep).sum())


def _front_padded(members, length, fill=0.0):
    """Members shorter than ``length`` rows, padded at the front to it with ``fill``; the others as they are."""
    padded = []
    for member in members:
        short = length - len(member)
        if short > 0:
            member = np.concatenate([np.full((short, member.shape[1]), fill, dtype=member.dtype), member])
        padded.append(member)
    return padded


def _concatenated(members):
    """One (total rows, M) array of the members and the row where each one starts."""
    lengths = np.array([len(member) for member in members], dtype=np.int64)
    offsets = np.r_[0, np.cumsum(lengths)[:-1]].astype(np.int64)
    return np.concatenate(members), offsets, lengths


class PanelWindows(WindowedSeries):
    """Every window of every member of a panel; no window crosses two members.

    The members are held once, end to end, in one array; a window is a view
    into it, found by its start row, so a panel costs about the memory of its
    values however many windows it has.

    Parameters
    ----------
    members : sequence of ndarray of shape (n_rows_i, n_series)
        The members, each with the same series.
    seq_len : int
        Length of the look-back.
    pred_len : int
        Length of the future part.
    stride : int, default=1
        Distance between the starts of consecutive windows of a member.
    pad : bool, default=False
        Zero-pad members shorter than ``seq_len + pred_len`` at the front to
        that length, so each gives one window (the M4 protocol's padding).
        Without it, such members give no window.
    fill : float, default=0.0
        The value of the padding rows (NaN lets a caller tell them apart).
    missing : bool, default=False
        Whether NaN marks missing values (see :class:`WindowedSeries`).
    targets : array-like of bool of shape (n_series,), default=None
        Which series are targets (see :class:`WindowedSeries`).

    Attributes
    ----------
    starts : ndarray of int
        Row of the joined array at which each window starts.
    member : ndarray of int
        The member each window belongs to.

    Examples
    --------
    >>> import numpy as np
    >>> a, b = np.arange(6.0)[:, None], 100 + np.arange(4.0)[:, None]
    >>> windows = PanelWindows([a, b], seq_len=2, pred_len=1)
    >>> len(windows), windows.member.tolist()
    (6, [0, 0, 0, 0, 1, 1])
    >>> x, y = windows.batch([3, 4])
    >>> x[:, :, 0], y[:, :, 0]
    (array([[  3.,   4.],
           [100., 101.]]), array([[  5.],
           [102.]]))
    >>> x, y = PanelWindows([np.ones((2, 1))], seq_len=3, pred_len=1, pad=True).batch([0])
    >>> x[0, :, 0], y[0, :, 0]
    (array([0., 0., 1.]), array([1.]))
    """

    def __init__(
        self, members, seq_len, pred_len, stride=1, pad=False, fill=0.0, missing=False, targets=None
    ):
        window = int(seq_len) + int(pred_len)
        members = [np.asarray(member) for member in members]
        if pad:
            members = _front_padded(members, window, fill)
        values, offsets, lengths = _concatenated(members)
        super().__init__(values, seq_len, pred_len, stride=1, missing=missing, targets=targets)
        counts = np.maximum(lengths - window + 1, 0)
        counts = -(-counts // int(stride))  # windows per member at this stride (ceil)
        self.member = np.repeat(np.arange(len(members)), counts)
        first = np.repeat(np.cumsum(counts) - counts, counts)
        self.starts = np.repeat(offsets, counts) + (np.arange(counts.sum()) - first) * int(stride)


class RecentWindows:
    """One window per member, cut at a random recent point each epoch (the M4 protocol).

    Each call of :meth:`resample` draws, for every member of ``n`` rows, a
    cut point ``c`` uniformly in ``[max(1, n - history), n - 1]`` with
    ``history = int(history_size * pred_len)``. Its window is the
    ``seq_len`` rows before ``c`` (zero-padded at the front where the member
    starts later) and the ``pred_len`` rows from ``c`` (zero-padded at the
    end, with a mask of 0 there, where the member ends sooner).

    Parameters
    ----------
    members : sequence of ndarray of shape (n_rows_i, n_series)
        The members' training rows.
    seq_len, pred_len : int
        Look-back and horizon.
    history_size : float
        How far back, in multiples of ``pred_len``, cut points may lie.
    targets : array-like of bool of shape (n_series,), default=None
        Which series are targets; the others (covariates) are masked out.

    Attributes
    ----------
    cuts : ndarray of int
        Each member's current cut point (the row its targets start at).

    Examples
    --------
    >>> import numpy as np
    >>> windows = RecentWindows([np.arange(1.0, 11.0)[:, None]], seq_len=4, pred_len=3, history_size=1)
    >>> windows.resample(np.random.default_rng(0))
    >>> int(windows.cuts[0]) in range(7, 10)
    True
    >>> windows.cuts[:] = 9  # the last possible cut: one target row left
    >>> x, y, mask = windows.batch([0])
    >>> x[0, :, 0], y[0, :, 0], mask[0, :, 0]
    (array([6., 7., 8., 9.]), array([10.,  0.,  0.]), array([1., 0., 0.]))
    """

    def __init__(self, members, seq_len, pred_len, history_size, targets=None):
        members = [np.asarray(member) for member in members]
        self.targets = None if targets is None else np.asarray(targets, dtype=bool)
        self.values, self.offsets, self.lengths = _concatenated(members)
        self.seq_len = int(seq_len)
        self.pred_len = int(pred_len)
        # At least one row of history, so the latest cut still leaves one target.
        history = max(int(float(history_size) * self.pred_len), 1)
        self.low = np.maximum(1, self.lengths - history)
        # A one-row member has no cut point with a target; it still gives a
        # look-back, whose targets are all masked out.
        self.high = np.maximum(self.lengths, self.low + 1)
        self.cuts = self.high - 1

    def __len__(self):
        return len(self.lengths)

    def resample(self, rng):
        """Draw a new cut point for every member.

        Parameters
        ----------
        rng : numpy.random.Generator
            Source of the draws.

        Returns
        -------
        None
            The new cut points are in ``cuts``.

        Examples
        --------
        >>> import numpy as np
        >>> windows = RecentWindows([np.ones((50, 1))] * 3, seq_len=4, pred_len=2, history_size=2)
        >>> windows.resample(np.random.default_rng(1))
        >>> bool(((windows.cuts >= 46) & (windows.cuts <= 49)).all())
        True
        """
        self.cuts = rng.integers(self.low, self.high)

    def batch(self, indices):
        """Copy out the current windows of the given members.

        Parameters
        ----------
        indices : array-like of int
            Member positions.

        Returns
        -------
        x : ndarray of shape (n, seq_len, n_series)
            Look-backs, zero before a member's start.
        y : ndarray of shape (n, pred_len, n_series)
            The rows from the cut point, zero after a member's end.
        mask : ndarray of shape (n, pred_len, n_series)
            1 where ``y`` holds a row of the member, 0 where it is padding.

        Examples
        --------
        >>> import numpy as np
        >>> windows = RecentWindows([np.ones((3, 2))], seq_len=4, pred_len=2, history_size=1)
        >>> x, y, mask = windows.batch([0])  # cut at row 2: two rows before, one after
        >>> x[0, :, 0], mask[0, :, 0]
        (array([0., 0., 1., 1.]), array([1., 0.]))
        """
        indices = np.asarray(indices)
        lengths = self.lengths[indices, None]
        rows = self.cuts[indices, None] + np.arange(-self.seq_len, self.pred_len)
        inside = (rows >= 0) & (rows < lengths)
        gathered = self.values[self.offsets[indices, None] + np.clip(rows, 0, lengths - 1)]
        gathered = np.where(inside[..., None], gathered, 0).astype(self.values.dtype, copy=False)
        mask = np.broadcast_to(inside[:, self.seq_len :, None], gathered[:, self.seq_len :].shape)
        if self.targets is not None:  # covariates: inputs, never targets
            mask = mask & self.targets
        return (
            np.ascontiguousarray(gathered[:, : self.seq_len]),
            np.ascontiguousarray(gathered[:, self.seq_len :]),
            mask.astype(self.values.dtype),
        )


class ExpandingWindows:
    """Windows whose look-back is everything before them (a forecaster of whole histories).

    Member ``i`` gives one window per target start ``t`` in
    ``[first_targets[i], n_i - pred_len]``; its look-back is rows ``[0, t)``,
    right-aligned in a batch and NaN before the member's start.
    """

    def __init__(self, members, first_targets, pred_len):
        self.values, self.offsets, self.lengths = _concatenated([np.asarray(m) for m in members])
        self.pred_len = int(pred_len)
        first = np.maximum(np.asarray(first_targets, dtype=np.int64), 1)
        counts = np.maximum(self.lengths - self.pred_len - first + 1, 0)
        self.member = np.repeat(np.arange(len(counts)), counts)
        self.cuts = (
            first[self.member] + np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
        )

    def __len__(self):
        return len(self.cuts)

    def batch(self, indices):
        indices = np.asarray(indices)
        cuts, offsets = self.cuts[indices], self.offsets[self.member[indices]]
        x = np.full((len(indices), int(cuts.max(initial=1)), self.values.shape[1]), np.nan)
        for row, (cut, offset) in enumerate(zip(cuts, offsets)):
            x[row, x.shape[1] - cut :] = self.values[offset : offset + cut]
        y = np.stack([self.values[o + c : o + c + self.pred_len] for c, o in zip(cuts, offsets)])
        return x, y
