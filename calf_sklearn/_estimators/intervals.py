"""Prediction intervals and quantiles every forecaster shares, from its conformal calibration.

Point forecasts and bounds come from one forward pass
(:meth:`IntervalMixin.predict_with_interval`); the half-widths are the
calibration's finite-sample conformal quantiles (see
:mod:`calf_sklearn.intervals`), scaled back to each series' units.
"""

from __future__ import annotations

import numbers

import numpy as np
import pandas as pd
from sklearn.utils.validation import check_is_fitted

from .._series.conformal import adaptive_thresholds, check_coverage
from .._series.time_index import future_index
from .._series.windows import PanelWindows
from .fitting import window_times


def series_names(meta):
    """The names of a frame's or Series' series, as the first column level of interval answers."""
    if meta["kind"] == "series":
        return [meta["name"] if meta["name"] is not None else 0]
    return list(meta["columns"])


def levelled_frame(blocks, columns, spec):
    """A DataFrame of per-step columns under a column MultiIndex, indexed by the forecast's steps."""
    index = future_index(spec, len(blocks[0]))
    return pd.DataFrame(np.column_stack(blocks), index=index, columns=pd.MultiIndex.from_tuples(columns))


class IntervalMixin:
    """``predict_interval``, ``predict_quantiles`` and ``predict_with_interval``."""

    def _look_back_rows(self, windows):
        """The rows of raw windows that the calibration's look-back spreads were measured on."""
        return windows[:, -self.seq_len :]

    def _interval_calibration(self):
        """The fitted calibration, or an error that says how to fit one."""
        check_is_fitted(self)
        calibration = getattr(self, "calibration_", None)
        if calibration is None:
            raise ValueError(
                f"{type(self).__name__} has no calibration for intervals: it was fitted without "
                "validation windows (validation_size=0 and no X_val, or series too short to hold "
                "one out). Fit with validation_size > 0 (e.g. 0.2, or pred_len rows of every member "
                "of a panel) or pass X_val to fit; its windows calibrate the intervals."
            )
        return calibration

    def _bounds(self, X, horizon, coverages, caller):
        """Point forecasts and, per coverage, the lower and upper bounds, with the request."""
        calibration = self._interval_calibration()
        request = self._request(X, horizon, caller=caller)
        if request.horizon > self.pred_len:
            raise ValueError(
                f"{caller}: horizon={request.horizon} exceeds pred_len={self.pred_len}. Intervals are "
                f"calibrated for the {self.pred_len} steps the model forecasts directly; a recursive "
                "forecast's errors compound in ways no calibration window measured. Fit with "
                f"pred_len >= {request.horizon} for intervals that far ahead."
            )
        targets = self._targets()  # covariates have no interval: they are not forecast
        point = self._forecast(request.windows, request.horizon, request.mean, request.scale)[..., targets]
        spread = None
        if calibration.method != "absolute":
            spread = self._target_spread(
                self._scale(request.windows, request.mean[:, None], request.scale[:, None])
            )
        walked = None
        if calibration.method == "adaptive" and request.history is not None:
            walked = self._walked_to_end(request, coverages)
        bounds = []
        for coverage in coverages:
            if walked is None:
                half = np.asarray(calibration.half_width(coverage, spread))
            else:
                half = calibration._widen(walked[coverage], spread)
            half = (
                half[..., : request.horizon, :] * request.scale[:, None, targets]
            )  # back to each series' units
            bounds.append((point - half, point + half))
        return request, point, bounds

    def _walked_to_end(self, request, coverages):
        """Per coverage, the adaptive threshold at the end of each member's history, (N, pred_len, n_targets).

        The walk forecasts every origin of the history (stride 1); an origin
        near the end, whose targets run past the last row, is scored on the
        steps the history holds.
        """
        tail = np.full((self.pred_len - 1, self.n_features_in_), np.nan)
        members = [
            np.concatenate([self._scale(values, m, s), tail])
            for values, m, s in zip(request.history, request.mean, request.scale)
        ]
        windows = self._walk_windows(members)
        times = window_times(windows)
        # Each member's final origin is one step after its last window's, whose first target is
        # the member's last row.
        ends = np.full(len(members), -1)
        np.maximum.at(ends, windows.member, times)
        if hasattr(windows, "keep_observed"):
            windows.keep_observed(0.0)  # what cannot be forecast, or has no observed target, teaches nothing
        rolled = self._roll(windows, request.mean, request.scale)
        # float32, as evaluate walks them
        scores = self.calibration_._score(rolled.errors, rolled.spread).astype(np.float32)
        levels = sorted(set(coverages))
        walked = np.stack(
            [self._walk(scores, rolled.member, rolled.times, level, until=ends + 1)[1] for level in levels]
        )
        # Each level walks on its own, so a lower level could end wider than a higher one; sorting
        # the thresholds across levels (a rearrangement) keeps the intervals nested.
        return dict(zip(levels, np.sort(walked, axis=0)))

    def _walk_windows(self, members):
        """Every window of the (scaled, NaN-extended) ``members``, stride 1, for the adaptive walk.

        Only full look-backs: under ``padding`` a padded origin's targets are
        the first rows given, which are the rows a caller is most likely to
        have fitted on.
        """
        return PanelWindows(members, self.seq_len, self.pred_len, missing=True, targets=self._target_mask())

    def _walk(self, scores, member, times, coverage, until=None):
        """Each member's windows walked forward in time (:func:`adaptive_thresholds`), in score units.

        ``scores`` (n_windows, pred_len, n_targets), NaN where not observed;
        ``member`` and ``times`` of each window. Returns the threshold of every
        window and, with ``until`` (each member's final time), the one each
        member reaches at that time, (n_members, pred_len, n_targets); else ``None``.
        """
        final = None if until is None else np.empty((len(until), *scores.shape[1:]))
        # Windows come grouped by member, in time order: each member's rows are one slice, walked
        # without a copy; a lone member's walk is the answer itself.
        if np.any(np.diff(member) < 0):
            raise ValueError("the windows of a walk must be grouped by member")  # pragma: no cover
        members, firsts = np.unique(member, return_index=True)
        bounds = dict(zip(members.tolist(), zip(firsts.tolist(), [*firsts[1:].tolist(), len(member)])))
        positions = range(len(until)) if until is not None else bounds
        thresholds = None if len(positions) == 1 and until is None else np.empty_like(scores)
        for position in positions:
            rows = slice(*bounds.get(position, (0, 0)))
            member_scores, member_times = scores[rows], times[rows]
            if until is not None:  # the final origin: nothing of it is observed
                member_scores = np.concatenate(
                    [member_scores, np.full((1, *scores.shape[1:]), np.nan, scores.dtype)]
                )
                member_times = np.append(member_times, until[position])
            walked = adaptive_thresholds(self.calibration_, member_scores, member_times, coverage)
            if until is not None:
                final[position], walked = walked[-1], walked[:-1]
            if thresholds is None:
                return walked, final
            thresholds[rows] = walked
        return thresholds, final

    @staticmethod
    def _levels(values, name, check):
        """One float or a sequence of them, as a list, and whether a single float was given."""
        if isinstance(values, (str, bytes)):
            raise TypeError(f"{name} must be a float or a sequence of floats, got the string {values!r}.")
        single = isinstance(values, numbers.Real)
        levels = [values] if single else list(values)
        if not levels:
            raise ValueError(f"{name} is empty; pass a float or a sequence of floats.")
        return [check(level) for level in levels], single

    def predict_with_interval(self, X=None, horizon=None, coverage=0.9):
        """Point forecasts and their prediction intervals from one forward pass.

        The same answers as ``predict(X, horizon)`` and
        ``predict_interval(X, horizon, coverage)``, for half the work: the
        intervals are centred on the point forecast, which is computed once.

        Parameters
        ----------
        X : None, int, array-like, DataFrame, Series, 3-D array or panel, default=None
            What to forecast after, as in :meth:`predict`.
        horizon : int, default=None
            Steps; ``None`` means ``pred_len``, which is the most intervals
            are calibrated for.
        coverage : float or sequence of float, default=0.9
            Nominal coverage of each interval, in (0, 1).

        Returns
        -------
        forecast : ndarray, DataFrame, Series or panel
            What :meth:`predict` returns.
        interval : tuple, dict, DataFrame or panel
            What :meth:`predict_interval` returns.

        Raises
        ------
        ValueError
            As :meth:`predict_interval`.

        Examples
        --------
        >>> import numpy as np
        >>> from calf_sklearn.baselines import NaiveForecaster
        >>> X = np.cumsum(np.random.default_rng(0).normal(size=(300, 2)), axis=0)
        >>> model = NaiveForecaster(pred_len=5).fit(X)
        >>> forecast, (lower, upper) = model.predict_with_interval(coverage=0.8)
        >>> bool((forecast == model.predict()).all()), bool((lower <= forecast).all())
        (True, True)
        >>> batch = np.stack([X[:50], X[100:150]])  # a batch of windows, two coverages
        >>> forecast, bands = model.predict_with_interval(batch, coverage=[0.5, 0.9])
        >>> forecast.shape, sorted(bands), bands[0.9][0].shape
        ((2, 5, 2), [0.5, 0.9], (2, 5, 2))
        """
        coverages, single = self._levels(coverage, "coverage", check_coverage)
        request, point, bounds = self._bounds(X, horizon, coverages, "predict_with_interval")
        forecast = self._answer(request, [point], self._wrap)
        return forecast, self._interval_answer(request, coverages, single, bounds)

    def predict_interval(self, X=None, horizon=None, coverage=0.9):
        """Prediction intervals: conformal, calibrated on the validation windows of ``fit``.

        At the end of ``fit`` the model forecast every validation window (the
        held-out tail of every series, or ``X_val``) and kept its absolute
        errors per horizon step and series (``interval_method="scaled"``:
        divided by each window's look-back spread). An interval of coverage
        ``c`` is the forecast plus or minus the finite-sample conformal
        quantile of those errors: the ``ceil((n + 1) c)``-th smallest of
        ``n``. Future windows like the calibration windows fall inside with
        probability at least ``c``.

        With ``interval_method="adaptive"`` and a history ``X`` (not a 3-D
        batch), the model first walks forward over every origin of ``X``,
        forecasting each and learning from the errors its rows reveal
        (:func:`calf_sklearn.intervals.adaptive_thresholds`), and answers
        with the interval reached at its end. Pass the rows observed since
        the validation period, after ``seq_len`` rows of look-back: rows the
        model was trained on would teach the walk in-sample errors. Several
        coverages walk separately and are then sorted, so that they nest; a
        level's interval can differ slightly from the one it gets alone.

        Parameters
        ----------
        X : None, int, array-like, DataFrame, Series, 3-D array or panel, default=None
            What to forecast after, as in :meth:`predict`.
        horizon : int, default=None
            Steps; ``None`` means ``pred_len``, which is the most intervals
            are calibrated for.
        coverage : float or sequence of float, default=0.9
            Nominal coverage of each interval, in (0, 1).

        Returns
        -------
        tuple, dict, DataFrame or panel
            Arrays in, one float ``coverage``: ``(lower, upper)``, each shaped
            like :meth:`predict`'s output; several coverages: a dict
            ``{coverage: (lower, upper)}``. DataFrame or Series in: a
            DataFrame with the forecast's index and three column levels
            ``(series, coverage, "lower"/"upper")`` (sktime's layout). A
            panel: the same container, one such answer per member.

        Raises
        ------
        ValueError
            If the forecaster has no calibration (fitted without validation
            data), ``coverage`` is outside (0, 1) or above what the
            calibration windows can support, or ``horizon`` exceeds
            ``pred_len``.

        Examples
        --------
        >>> import numpy as np
        >>> from calf_sklearn.baselines import NaiveForecaster
        >>> X = np.cumsum(np.random.default_rng(0).normal(size=(300, 2)), axis=0)
        >>> model = NaiveForecaster(pred_len=5).fit(X)
        >>> lower, upper = model.predict_interval(coverage=0.8)
        >>> lower.shape, bool((lower <= model.predict()).all() and (model.predict() <= upper).all())
        ((5, 2), True)
        >>> wide = model.predict_interval(coverage=[0.5, 0.95])  # several: a dict
        >>> bool((wide[0.95][1] >= wide[0.5][1]).all())
        True
        """
        coverages, single = self._levels(coverage, "coverage", check_coverage)
        request, _, bounds = self._bounds(X, horizon, coverages, "predict_interval")
        return self._interval_answer(request, coverages, single, bounds)

    def _interval_answer(self, request, coverages, single, bounds):
        """Bounds per coverage in the container of the request (see :meth:`predict_interval`)."""

        def wrap(arrays, meta, spec):
            pairs = list(zip(arrays[0::2], arrays[1::2]))
            if meta["kind"] == "array":
                return pairs[0] if single else dict(zip(coverages, pairs))
            columns, blocks = [], []
            for series, name in enumerate(series_names(meta)):
                for level, (lower, upper) in zip(coverages, pairs):
                    columns += [(name, level, "lower"), (name, level, "upper")]
                    blocks += [lower[:, series], upper[:, series]]
            return levelled_frame(blocks, columns, spec)

        return self._answer(request, [array for pair in bounds for array in pair], wrap)

    def predict_quantiles(self, X=None, horizon=None, alpha=(0.05, 0.95)):
        """Forecast quantiles from the conformal intervals of :meth:`predict_interval`.

        The quantile at ``alpha < 0.5`` is the lower bound of the central
        interval of coverage ``1 - 2 alpha``, at ``alpha > 0.5`` the upper
        bound of coverage ``2 alpha - 1``, and at 0.5 the point forecast.

        Parameters
        ----------
        X : None, int, array-like, DataFrame, Series, 3-D array or panel, default=None
            What to forecast after, as in :meth:`predict`.
        horizon : int, default=None
            Steps; at most ``pred_len``.
        alpha : float or sequence of float, default=(0.05, 0.95)
            Quantile levels in (0, 1).

        Returns
        -------
        ndarray, DataFrame or panel
            Arrays in: an array of shape ``(len(alpha), *predict_shape)``
            (just ``predict``'s shape for one float). DataFrame or Series in:
            a DataFrame with column levels ``(series, alpha)`` (sktime's
            layout). A panel: the same container, one answer per member.

        Raises
        ------
        ValueError
            As :meth:`predict_interval`, for ``alpha`` outside (0, 1) or too
            far in the tails for the calibration windows.

        Examples
        --------
        >>> import numpy as np
        >>> from calf_sklearn.baselines import NaiveForecaster
        >>> X = np.cumsum(np.random.default_rng(0).normal(size=(300, 2)), axis=0)
        >>> model = NaiveForecaster(pred_len=5).fit(X)
        >>> low, middle, high = model.predict_quantiles(alpha=[0.1, 0.5, 0.9])
        >>> bool((middle == model.predict()).all()), bool((low < middle).all() and (middle < high).all())
        (True, True)
        """
        levels, single = self._levels(alpha, "alpha", lambda a: check_coverage(a, "alpha"))
        # Rounded: 2 * 0.9975 - 1 is 0.9950000000000001, which would cost a rank.
        coverage_of = {a: round(abs(2 * a - 1), 12) for a in levels}
        coverages = sorted({coverage_of[a] for a in levels if a != 0.5})
        request, point, bounds = self._bounds(X, horizon, coverages, "predict_quantiles")
        by_coverage = dict(zip(coverages, bounds))
        quantiles = [point if a == 0.5 else by_coverage[coverage_of[a]][0 if a < 0.5 else 1] for a in levels]

        def wrap(arrays, meta, spec):
            if meta["kind"] == "array":
                return arrays[0] if single else np.stack(arrays)
            names = series_names(meta)
            columns = [(name, level) for name in names for level in levels]
            blocks = [array[:, series] for series in range(len(names)) for array in arrays]
            return levelled_frame(blocks, columns, spec)

        return self._answer(request, quantiles, wrap)
