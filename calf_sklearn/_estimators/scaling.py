"""Scaling every forecaster shares: per-series standardisation of one series or of each panel member.

A forecaster fitted on one series keeps a ``StandardScaler`` (``scaler_``);
one fitted on a panel keeps each member's mean and scale
(``member_mean_``, ``member_scale_``).
"""

from __future__ import annotations

import numpy as np
from sklearn.preprocessing import StandardScaler

# The networks compute in float32 and square deviations: beyond this a
# forecast would be inf or NaN rather than an error.
FLOAT32_LIMIT = 1e15


def member_statistics(members, chunk=4096):
    """Mean and standard deviation of every member's series, as StandardScaler computes them.

    A series that does not vary is scaled by 1, StandardScaler's rule. Members
    are taken ``chunk`` at a time, each chunk joined end to end in one array
    operation: 100,000 members cost 25 operations rather than 100,000 scaler
    fits, and the temporaries stay the size of a chunk, not of the panel.
    """
    means, scales = [], []
    for start in range(0, len(members), chunk):
        part = members[start : start + chunk]
        lengths = np.array([len(member) for member in part])
        offsets = np.r_[0, np.cumsum(lengths)[:-1]]
        joined = np.concatenate(part)
        # NaN marks a missing value: the statistics are those of the observed values, as
        # StandardScaler's; a series with none observed gets mean 0 and scale 1.
        observed = ~np.isnan(joined)
        counts = np.maximum(np.add.reduceat(observed, offsets, axis=0), 1)
        joined[~observed] = 0.0
        with np.errstate(over="ignore", invalid="ignore"):
            mean = np.add.reduceat(joined, offsets, axis=0) / counts
            joined -= np.repeat(mean, lengths, axis=0)  # the joined copy is ours: deviations in place
            joined[~observed] = 0.0
            variance = np.add.reduceat(joined * joined, offsets, axis=0) / counts
        if not (np.isfinite(mean).all() and np.isfinite(variance).all()):
            raise ValueError(
                "X's values are too large to standardise in float64 (their variance overflows); "
                "divide X by a constant first, e.g. X / 1e100."
            )
        scale = np.sqrt(variance)
        scale[scale < 10 * np.finfo(np.float64).eps * np.maximum(np.abs(mean), 1.0)] = 1.0
        means.append(mean)
        scales.append(scale)
    return np.concatenate(means), np.concatenate(scales)


def identity_scaler(n_series, n_samples):
    """A fitted StandardScaler that changes nothing (``scaling=None``)."""
    scaler = StandardScaler(with_mean=False, with_std=False)
    scaler.mean_, scaler.scale_, scaler.var_ = np.zeros(n_series), np.ones(n_series), None
    scaler.n_features_in_, scaler.n_samples_seen_ = n_series, n_samples
    return scaler


def fit_scaler(train_values):
    """A StandardScaler fitted on one series, or a ValueError if its variance overflows float64."""
    with np.errstate(over="ignore", invalid="ignore"):
        scaler = StandardScaler().fit(train_values)
    if not (np.isfinite(scaler.mean_).all() and np.isfinite(scaler.scale_).all()):
        raise ValueError(
            "X's values are too large to standardise in float64 (their variance overflows); "
            "divide X by a constant first, e.g. X / 1e100."
        )
    return scaler


class ScalingMixin:
    """How a forecaster scales the series it fits and forecasts."""

    def _standardises(self):
        """Whether the network sees standardised values; estimators with a ``scaling`` parameter override."""
        return True

    def _fit_scaling(self, train, single):
        """(mean, scale), each of shape (n_members, n_series), fitted on the training rows.

        For one series, also the ``StandardScaler`` that ``scaler_`` holds.
        """
        n_series = train[0].shape[1]
        if not self._standardises():
            scaler = identity_scaler(n_series, len(train[0])) if single else None
            return np.zeros((len(train), n_series)), np.ones((len(train), n_series)), scaler
        if single:
            scaler = fit_scaler(train[0])
            return scaler.mean_[None], scaler.scale_[None], scaler
        mean, scale = member_statistics(train)
        return mean, scale, None

    def _is_panel_fit(self):
        return hasattr(self, "member_ids_")

    def _scaling(self, data=None):
        """(mean, scale) per member of ``data`` (of the training data when ``None``).

        A forecaster fitted on one series scales everything as it scaled that
        series. One fitted on a panel scales a member of a known id as it
        scaled that member in fit, and any other series by its own rows.
        """
        if not self._is_panel_fit():
            mean, scale = self.scaler_.mean_, self.scaler_.scale_
            n_members = 1 if data is None else len(data.values)
            return np.repeat(mean[None], n_members, axis=0), np.repeat(scale[None], n_members, axis=0)
        if data is None:
            return self.member_mean_, self.member_scale_
        known = {}
        if data.layout is not None:
            positions = {member_id: i for i, member_id in enumerate(self.member_ids_)}
            known = {i: positions[m] for i, m in enumerate(data.layout.ids) if m in positions}
        unknown = [i for i in range(len(data.values)) if i not in known]
        mean = np.empty((len(data.values), self.n_features_in_))
        scale = np.empty_like(mean)
        for i, j in known.items():
            mean[i], scale[i] = self.member_mean_[j], self.member_scale_[j]
        if unknown:
            if self._standardises():
                own_mean, own_scale = member_statistics([data.values[i] for i in unknown])
            else:
                own_mean = np.zeros((len(unknown), self.n_features_in_))
                own_scale = np.ones_like(own_mean)
            mean[unknown], scale[unknown] = own_mean, own_scale
        return mean, scale

    def _scale(self, values, mean=None, scale=None):
        """Values on the fitted scale (per member: ``mean``/``scale`` broadcast against ``values``)."""
        if mean is None:
            mean, scale = self.scaler_.mean_, self.scaler_.scale_
        scaled = (values - mean) / scale
        largest = float(np.nanmax(np.abs(scaled), initial=0.0))
        if largest > FLOAT32_LIMIT:
            raise ValueError(
                f"X lies up to {largest:.3g} standard deviations from the training data's mean "
                f"(on the scale fitted in fit); forecasts are limited to {FLOAT32_LIMIT:.0e}. "
                "Check that X is in the units of the training data."
            )
        return scaled.astype(np.float32)

    def _unscale(self, values, mean=None, scale=None):
        if mean is None:
            mean, scale = self.scaler_.mean_, self.scaler_.scale_
        return values.astype(np.float64) * scale + mean
