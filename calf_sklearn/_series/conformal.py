"""Conformal prediction intervals, split and adaptive (NumPy only).

The public face of this module is :mod:`calf_sklearn.intervals`; its documentation is there.
"""

from __future__ import annotations

import math

import numpy as np

from .._utils import checks

__all__ = [
    "FLOOR_PERCENTILE",
    "GAMMAS",
    "METHODS",
    "ConformalCalibration",
    "adaptive_thresholds",
    "check_coverage",
    "look_back_spread",
]

#: The interval methods: two kinds of split-conformal score, and the adaptive
#: walk (AgACI) over "scaled" scores whose spreads are floored.
METHODS = ("absolute", "scaled", "adaptive")

#: Under "adaptive", a window's spread is at least this percentile of the
#: calibration windows' spreads (per series): a flat look-back would otherwise
#: give enormous scores that the walk's rolling reference then carries into
#: every window's interval.
FLOOR_PERCENTILE = 5.0

#: The step sizes of the ACI experts that AgACI aggregates: a log grid from
#: slow (a miss moves the miscoverage rate by 0.0005 x 0.9) to fast (0.1 x 0.9).
GAMMAS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1)

_TOLERANCE = 1e-9

# CALF's variance floor (network._EPS), so that "scaled" divides by the spread
# the network itself normalises with.
_VARIANCE_FLOOR = 1e-5


def check_coverage(coverage, name="coverage"):
    """A coverage level (or quantile level) as a float in (0, 1), or a clear error.

    Parameters
    ----------
    coverage : float
        The nominal probability that the interval holds the true value.
    name : str, default="coverage"
        The argument's name, for the message.

    Returns
    -------
    float

    Raises
    ------
    TypeError
        If ``coverage`` is not a real number.
    ValueError
        If it is not strictly between 0 and 1.

    Examples
    --------
    >>> check_coverage(0.9)
    0.9
    >>> check_coverage(90)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: coverage must be finite and in (0.0, 1.0), got 90. Pass a probability, e.g. 0.9 for 90%.
    """
    try:
        return checks.check_real(name, coverage, 0.0, 1.0, low_open=True, high_open=True)
    except ValueError as error:
        raise ValueError(f"{error} Pass a probability, e.g. 0.9 for 90%.") from None


def look_back_spread(windows):
    """Each window's spread per series: ``sqrt(var + 1e-5)`` over its look-back.

    Parameters
    ----------
    windows : ndarray of shape (n_windows, seq_len, n_series)
        Look-backs on the fitted scale; NaN rows (padding) are left out.

    Returns
    -------
    ndarray of shape (n_windows, n_series)

    Examples
    --------
    >>> import numpy as np
    >>> look_back_spread(np.array([[[1.0], [3.0]]])).round(4)  # sqrt(1 + 1e-5)
    array([[1.]])
    """
    with np.errstate(invalid="ignore"), _quiet_nan_warnings():
        variance = np.nanvar(np.asarray(windows, dtype=np.float64), axis=1)
    return np.sqrt(np.nan_to_num(variance, nan=0.0) + _VARIANCE_FLOOR)


class _quiet_nan_warnings:
    """Silence numpy's all-NaN-slice warning (a fully padded series has spread 0)."""

    def __enter__(self):
        import warnings

        self._context = warnings.catch_warnings()
        self._context.__enter__()
        warnings.simplefilter("ignore", RuntimeWarning)

    def __exit__(self, *exc):
        return self._context.__exit__(*exc)


class ConformalCalibration:
    """The sorted nonconformity scores of a forecaster's validation windows.

    Parameters
    ----------
    errors : ndarray of shape (n_windows, pred_len, n_series)
        Forecast minus truth over the calibration windows, on the fitted scale.
    method : {"absolute", "scaled", "adaptive"}
        Kind of score (see :mod:`calf_sklearn.intervals`).
    spread : ndarray of shape (n_windows, n_series), default=None
        Each calibration window's :func:`look_back_spread`; needed by
        ``"scaled"`` and ``"adaptive"``.

    Attributes
    ----------
    scores : ndarray of shape (n_windows, pred_len, n_series)
        The scores, sorted along the first axis (float32).
    method : str
        The kind of score.
    spread_floor : ndarray of shape (n_series,) or None
        ``"adaptive"``: the smallest spread a window is scored with, the
        :data:`FLOOR_PERCENTILE`-th percentile of the calibration windows'
        spreads; else ``None``.

    Examples
    --------
    >>> import numpy as np
    >>> errors = np.arange(1.0, 20.0).reshape(19, 1, 1)  # 19 windows, scores 1 .. 19
    >>> calibration = ConformalCalibration(errors, "absolute")
    >>> float(calibration.half_width(0.9)[0, 0])  # ceil(20 * 0.9) = the 18th smallest
    18.0
    >>> calibration.max_coverage
    0.95
    >>> errors = np.arange(1.0, 21.0).reshape(20, 1, 1)
    >>> errors[::2] = np.nan  # missing targets (NaN errors) are left out: 2, 4, ..., 20 remain
    >>> float(ConformalCalibration(errors, "absolute").half_width(0.8)[0, 0])  # ceil(11 * 0.8) = the 9th of 10
    18.0
    """

    def __init__(self, errors, method, spread=None):
        method = checks.check_choice("interval_method", method, METHODS)
        errors = np.asarray(errors, dtype=np.float64)
        if len(errors) == 0:
            raise ValueError("Conformal calibration needs at least one calibration window.")
        self.method, self.spread_floor = method, None
        if method != "absolute":
            if spread is None:
                raise ValueError(f"method={method!r} needs each calibration window's look-back spread.")
            spread = np.asarray(spread, dtype=np.float64)
            if method == "adaptive":
                self.spread_floor = np.percentile(spread, FLOOR_PERCENTILE, axis=0)
        self.scores = np.sort(self._score(errors, spread), axis=0).astype(np.float32)

    @classmethod
    def _from_sorted(cls, scores, method, spread_floor=None):
        """Rebuild from :attr:`scores` (and ``spread_floor``) as saved (already sorted, float32)."""
        calibration = cls.__new__(cls)
        calibration.scores = np.asarray(scores, dtype=np.float32)
        calibration.method = checks.check_choice("interval_method", method, METHODS)
        calibration.spread_floor = (
            None if spread_floor is None else np.asarray(spread_floor, dtype=np.float64)
        )
        return calibration

    def floored(self, spread):
        """The spreads a window is scored with: under ``"adaptive"`` at least ``spread_floor``.

        Parameters
        ----------
        spread : ndarray of shape (..., n_series)

        Returns
        -------
        ndarray of shape (..., n_series)

        Examples
        --------
        >>> spread = np.array([[0.1], [1.0], [2.0], [3.0], [4.0]])
        >>> ConformalCalibration(np.ones((5, 1, 1)), "adaptive", spread).floored(np.array([[0.01], [5.0]]))
        array([[0.28],
               [5.  ]])
        """
        spread = np.asarray(spread, dtype=np.float64)
        floor = getattr(self, "spread_floor", None)  # pickles of 0.1.0 have none
        return spread if floor is None else np.maximum(spread, floor)

    def _observed_counts(self):
        """Observed (not NaN) scores of each step and series, shape (pred_len, n_series)."""
        return np.sum(~np.isnan(self.scores), axis=0)

    @property
    def n_windows(self):
        """Number of calibration windows; where targets were missing, the fewest observed at any step and series.

        Examples
        --------
        >>> ConformalCalibration(np.zeros((4, 2, 1)), "absolute").n_windows
        4
        >>> errors = np.zeros((4, 2, 1))
        >>> errors[:2, 1, 0] = np.nan  # two windows miss the second step's target
        >>> ConformalCalibration(errors, "absolute").n_windows
        2
        """
        return int(self._observed_counts().min(initial=len(self.scores)))

    @property
    def max_coverage(self):
        """The highest coverage these windows can calibrate: ``n / (n + 1)``.

        Examples
        --------
        >>> ConformalCalibration(np.zeros((9, 1, 1)), "absolute").max_coverage
        0.9
        """
        return self.n_windows / (self.n_windows + 1)

    def half_width(self, coverage, spread=None):
        """Half-width of the central interval of ``coverage``, per step and series.

        Parameters
        ----------
        coverage : float
            Nominal coverage in (0, 1).
        spread : ndarray of shape (n_windows, n_series), default=None
            The look-back spread of the windows being forecast (``"scaled"``).

        Returns
        -------
        ndarray of shape (pred_len, n_series), or (n_windows, pred_len, n_series) with ``spread``
            On the fitted scale.

        Raises
        ------
        ValueError
            If ``coverage`` is above :attr:`max_coverage` (the message says how
            many calibration windows it would need), or ``"scaled"`` is
            missing ``spread``.

        Examples
        --------
        >>> calibration = ConformalCalibration(np.ones((9, 2, 1)), "scaled", spread=np.ones((9, 1)))
        >>> calibration.half_width(0.5, spread=np.array([[2.0], [3.0]]))[:, 0, 0]
        array([2., 3.])
        """
        return self._widen(self.threshold(coverage), spread)

    def _score(self, errors, spread):
        """Scores of ``errors`` (n, pred_len, n_series), their windows' spreads (n, n_series) given."""
        scores = np.abs(errors)
        if self.method == "absolute":
            return scores
        return scores / self.floored(spread)[:, None, :]

    def _widen(self, thresholds, spread=None):
        """Thresholds (score units; (..., pred_len, n_series)) as half-widths on the fitted scale.

        With ``spread`` (n, n_series), one per window: (n, pred_len, n_series).
        """
        if self.method == "absolute":
            if spread is None:
                return thresholds
            return np.broadcast_to(thresholds, (len(spread), *np.shape(thresholds)[-2:]))
        if spread is None:
            raise ValueError(
                f"Intervals from {self.method!r} scores need the look-back spread of each window."
            )
        return thresholds * self.floored(spread)[:, None, :]

    def threshold(self, coverage):
        """The split-conformal quantile of the scores, per step and series, in score units.

        Parameters
        ----------
        coverage : float
            Nominal coverage in (0, 1).

        Returns
        -------
        ndarray of shape (pred_len, n_series)
            The ``ceil((n + 1) coverage)``-th smallest of each step's and
            series' ``n`` observed scores.

        Raises
        ------
        ValueError
            If ``coverage`` is above :attr:`max_coverage`.

        Examples
        --------
        >>> calibration = ConformalCalibration(np.arange(1.0, 20.0).reshape(19, 1, 1), "absolute")
        >>> calibration.threshold(0.9)
        array([[18.]])
        """
        coverage = check_coverage(coverage)
        # The tolerance keeps float products such as 10 * 0.9 = 9.000000000000002
        # from costing a rank (or a window) that exact arithmetic would not.
        # Each step and series ranks its own observed scores (NaN: a missing target, sorted last).
        counts = self._observed_counts()
        ranks = np.ceil((counts + 1) * coverage - _TOLERANCE).astype(np.int64)
        if (ranks > counts).any():
            need = math.ceil(coverage / (1 - coverage) - _TOLERANCE)
            raise ValueError(
                f"coverage={coverage} needs at least {need} calibration windows, but only "
                f"{self.n_windows} were held out (the most they calibrate is "
                f"{self.max_coverage:.3f}). Hold out more rows for validation (validation_size) "
                "or ask for a lower coverage."
            )
        return np.take_along_axis(self.scores, np.maximum(ranks - 1, 0)[None], axis=0)[0].astype(np.float64)


def adaptive_thresholds(calibration, scores, times, coverage, gammas=GAMMAS):
    """Walk forward in time with aggregated adaptive conformal inference (AgACI).

    Each origin gets its own threshold per step and series, learned only from
    the scores of earlier forecasts whose targets were observed before it: the
    score of step ``h`` (0-based) of the forecast made at time ``times[s]``
    counts from the first origin later than ``times[s] + h``. Nothing from an
    origin's own future is used.

    One ACI expert per step size in ``gammas`` (Gibbs and Candes, 2021) keeps
    its own miscoverage rate, per step and series: after each revealed score
    it moves by ``gamma * (a - miss)``, where ``a = 1 - coverage`` and
    ``miss`` says whether the score exceeded the threshold that expert gave
    that forecast; its threshold is the quantile at that rate of the
    reference scores. The experts' thresholds are averaged with weights that
    Bernstein online aggregation learns from the pinball loss at level
    ``coverage`` (AgACI, Zaffran et al., 2022), so no step size has to be
    chosen.

    The reference scores roll, as the residuals of MAPIE's time-series
    intervals do: they start as the ``n`` calibration scores, and each
    revealed score displaces a calibration score (evenly across their ranks,
    so the rest keep the calibration's distribution) until only the ``n``
    latest revealed scores remain. A future wilder than any calibration
    window is thereby learnt from, not only corrected for. The reference is
    re-sorted every ``max(8, n // 25)`` origins. Before any score is
    revealed every expert, and so the walk, gives the split-conformal
    threshold.

    Parameters
    ----------
    calibration : ConformalCalibration
        The scores the thresholds are quantiles of.
    scores : ndarray of shape (n_origins, pred_len, n_series)
        Each origin's nonconformity scores in the calibration's units; NaN
        where the target is not observed (it teaches nothing).
    times : ndarray of int of shape (n_origins,)
        Strictly increasing: the time step of each origin's first forecast
        step (any origin, e.g. a window start, as long as steps count alike).
    coverage : float
        Nominal coverage in (0, 1).
    gammas : sequence of float, default=GAMMAS
        The experts' step sizes.

    Returns
    -------
    ndarray of shape (n_origins, pred_len, n_series)
        The threshold each origin's interval uses, in score units.

    Raises
    ------
    ValueError
        If ``coverage`` is above what the calibration supports, the shapes
        disagree or ``times`` is not strictly increasing.

    Notes
    -----
    Where an expert's rate falls so low that the reference cannot resolve it
    (ACI's infinite interval), its threshold is the largest reference score,
    so bounds stay finite; the expert still counts the misses of that finite
    interval. A rate at or above 1 gives an empty interval (threshold 0).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> calibration = ConformalCalibration(rng.normal(size=(500, 1, 1)), "absolute")
    >>> wilder = np.abs(rng.normal(scale=2.0, size=(3000, 1, 1)))  # the future is twice as wild
    >>> walked = adaptive_thresholds(calibration, wilder, np.arange(3000), 0.9)
    >>> bool(walked[0, 0, 0] == calibration.threshold(0.9)[0, 0])  # nothing revealed yet: split
    True
    >>> split = float(np.mean(wilder <= calibration.threshold(0.9)))
    >>> adaptive = float(np.mean(wilder <= walked))
    >>> round(split, 2), abs(adaptive - 0.9) < 0.02
    (0.55, True)
    """
    coverage = check_coverage(coverage)
    calibration.threshold(coverage)  # refuses a coverage the scores cannot support
    scores = np.asarray(scores)
    if scores.dtype != np.float32:  # float32 scores stay float32: a long walk's memory is theirs
        scores = scores.astype(np.float64)
    times = np.asarray(times, dtype=np.int64)
    steps, n_series = calibration.scores.shape[1:]
    if scores.ndim != 3 or scores.shape[1:] != (steps, n_series) or times.shape != scores.shape[:1]:
        raise ValueError(
            f"scores must have shape (n_origins, {steps}, {n_series}) and times (n_origins,), got "
            f"{scores.shape} and {times.shape}."
        )
    if np.any(np.diff(times) <= 0):
        raise ValueError("times must be strictly increasing: the walk goes forward in time.")
    walk = _AgACI(calibration, 1.0 - coverage, np.asarray(gammas, dtype=np.float64))
    thresholds = np.empty_like(scores)
    # Origins still waiting for some step's target: a ring that outlives the longest delay.
    ring = steps + 1
    issued = np.empty((ring, len(gammas), steps, n_series))
    issued_mixture = np.empty((ring, steps, n_series))
    revealed = np.zeros(steps, dtype=np.int64)  # per step, how many origins' scores have been used
    lags = np.arange(steps)
    for t in range(len(times)):
        # Step h of origin s is observed before origin t when times[s] + h < times[t].
        known = np.searchsorted(times, times[t] - lags, side="left")
        while (pending := np.flatnonzero(revealed < known)).size:
            origins = revealed[pending]
            slot = origins % ring
            walk.learn(
                pending,
                scores[origins, pending],
                issued[slot, :, pending],
                issued_mixture[slot, pending],
            )
            revealed[pending] += 1
        experts, mixture = walk.issue()
        thresholds[t] = mixture
        issued[t % ring], issued_mixture[t % ring] = experts, mixture
    return thresholds


class _AgACI:
    """The state of one AgACI walk: the rolling reference scores, each expert's miscoverage rate
    and the aggregation's weights.

    Every per-expert array is (n_experts, pred_len, n_series), each step and
    series learning on its own; the reference is (pred_len * n_series, n).
    """

    def __init__(self, calibration, miscoverage, gammas):
        n, steps, n_series = calibration.scores.shape
        shape = (len(gammas), steps, n_series)
        self.miscoverage = miscoverage
        self.gammas = gammas[:, None]
        self.rates = np.full(shape, miscoverage)
        # Bernstein online aggregation, with a learning rate per expert (Wintenberger, 2017).
        self.regret = np.zeros(shape)  # sum of r - eta r^2 of the linearised regrets r
        self.squares = np.zeros(shape)  # sum of r^2
        self.bound = np.full(shape[1:], 1e-12)  # largest |r| seen
        self.log_k = math.log(len(gammas))
        self.weights = np.full(shape, 1.0 / len(gammas))
        # The reference: the calibration scores, then a ring of the latest revealed ones. Held
        # (columns, n) and in float32, as the scores are: sorting contiguous rows is the walk's cost.
        self.calibration = np.ascontiguousarray(calibration.scores.reshape(n, -1).T)
        self.calibration_counts = calibration._observed_counts().reshape(-1)
        self.reference, self.counts = self.calibration, self.calibration_counts
        self.ring = np.full_like(self.calibration, np.nan)
        self.revealed = np.zeros(len(self.calibration), dtype=np.int64)  # stored so far, per column
        self.refresh, self.stale = max(8, n // 25), 0

    def issue(self):
        """Each expert's threshold and their weighted mean, (K, H, N) and (H, N)."""
        self.stale += 1
        if self.stale >= self.refresh and self.revealed.any():
            self._rebuild()
        counts = self.counts.reshape(self.rates.shape[1:])
        ranks = np.ceil((counts + 1) * (1.0 - self.rates) - _TOLERANCE).astype(np.int64)
        ranks = np.minimum(ranks, counts)
        columns = np.arange(len(self.reference))
        picked = self.reference[columns, np.maximum(ranks - 1, 0).reshape(len(ranks), -1)]
        experts = np.where(ranks > 0, picked.reshape(ranks.shape), 0.0)
        return experts, np.sum(self.weights * experts, axis=0)

    def _rebuild(self):
        """Sort the reference afresh: the latest revealed scores and as many calibration scores as fit."""
        n = self.calibration.shape[1]
        rows = np.arange(n)
        recent = np.minimum(self.revealed, n)[:, None]
        kept = np.minimum(self.calibration_counts[:, None], n - recent)
        # Calibration scores at evenly spaced ranks (still sorted), so the kept ones have their distribution.
        ranks = np.minimum(
            ((rows + 0.5) * self.calibration_counts[:, None] / np.maximum(kept, 1)).astype(np.int64), n - 1
        )
        calibration = np.where(rows < kept, np.take_along_axis(self.calibration, ranks, axis=1), np.nan)
        # The ring holds the latest min(revealed, n) scores, NaN in slots never filled; a sort
        # needs them in no particular order. NaN sorts last.
        self.reference = np.sort(np.concatenate([calibration, self.ring], axis=1), axis=1)[:, :n]
        self.counts = (kept + recent)[:, 0]
        self.stale = 0

    def learn(self, steps, scores, experts, mixture):
        """Learn from one revealed score per step in ``steps``: (S, N) scores, (S, K, N) and (S, N) thresholds."""
        experts = experts.transpose(1, 0, 2)  # (K, S, N)
        observed = ~np.isnan(scores)
        columns = (steps[:, None] * scores.shape[1] + np.arange(scores.shape[1]))[observed]
        self.ring[columns, self.revealed[columns] % self.ring.shape[1]] = scores[observed]
        self.revealed[columns] += 1
        scores = np.where(observed, scores, 0.0)
        missed = scores[None] > experts
        step = self.gammas[:, :, None] * (self.miscoverage - missed)
        self.rates[:, steps] += np.where(observed, step, 0.0)
        if len(self.weights) == 1:
            return  # one expert: nothing to aggregate
        # The pinball loss's slope at the mixture, and each expert's linearised regret against it.
        slope = np.where(scores <= mixture, self.miscoverage, self.miscoverage - 1.0)
        regret = np.where(observed, slope * (mixture - experts), 0.0)
        self.bound[steps] = np.maximum(self.bound[steps], np.abs(regret).max(axis=0))
        squares = self.squares[:, steps] + regret**2
        with np.errstate(divide="ignore"):
            eta = np.minimum(1.0 / (2.0 * self.bound[steps]), np.sqrt(self.log_k / squares))
        self.squares[:, steps] = squares
        self.regret[:, steps] += regret - eta * regret**2
        logits = np.log(eta) + eta * self.regret[:, steps]
        logits -= logits.max(axis=0)
        weights = np.exp(logits)
        self.weights[:, steps] = weights / weights.sum(axis=0)
