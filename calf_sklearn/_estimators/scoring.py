"""Scores every forecaster shares: rolling forecasts over a series, compared on the fitted scale."""

from __future__ import annotations

import time

import numpy as np
from sklearn.utils.validation import check_is_fitted

from .._series.conformal import check_coverage
from .._series.windows import PanelWindows
from .._utils import checks
from .fitting import window_times


class ScoringMixin:
    """``evaluate`` (MSE, MAE, the number of windows, interval coverage) and ``score`` (negative MSE)."""

    def evaluate(self, X, stride=1, coverage=None):
        """Errors of rolling forecasts over a series, and how often their intervals held the truth.

        Every window of ``seq_len + pred_len`` rows of ``X`` (``stride`` apart)
        is forecast from its first ``seq_len`` rows and compared with its last
        ``pred_len``, on the scale fitted in ``fit`` (as in the paper's
        protocol, so every series counts alike).

        With ``coverage``, each forecast also gets its prediction interval. With
        ``interval_method="adaptive"`` the windows walk forward in time: each
        window's interval learns from the errors of earlier windows whose
        targets were observed before its first forecast step, never from its
        own future (see :func:`calf_sklearn.intervals.adaptive_thresholds`).
        The split-conformal methods give every window the calibration's
        interval.

        Parameters
        ----------
        X : array-like of shape (n_steps, n_series), DataFrame or panel
            At least ``seq_len + pred_len`` rows (of every member).
        stride : int, default=1
            Distance between window starts.
        coverage : float, default=None
            Nominal coverage of the intervals to score, in (0, 1); ``None``
            scores the point forecasts only.

        Returns
        -------
        dict
            ``mse``, ``mae`` and ``n_windows``; with ``coverage`` also
            ``interval_coverage`` (the share of observed targets inside their
            interval) and ``interval_width`` (the intervals' mean width, on the
            fitted scale).

        Raises
        ------
        ValueError
            If ``X`` is too short, has no observed target, or ``coverage`` is
            above what the calibration supports (or the model has none).

        Examples
        --------
        >>> import numpy as np
        >>> from calf_sklearn import CALFForecaster
        >>> t = np.arange(300)
        >>> X = np.column_stack([np.sin(t / 8), np.cos(t / 12)])
        >>> tiny = {"n_embd": 16, "n_layer": 1, "n_head": 2, "vocab_size": 32}
        >>> model = CALFForecaster(pred_len=12, seq_len=36, llm=tiny, pretrained=False,
        ...                        n_layers=1, n_principal_words=8, max_epochs=1,
        ...                        random_state=0).fit(X[:240])
        >>> scores = model.evaluate(X[180:], stride=12)  # 120 rows: 73 windows, every 12th
        >>> scores["n_windows"], bool(scores["mae"] ** 2 <= scores["mse"])
        (7, True)
        >>> scores = model.evaluate(X[180:], coverage=0.8)  # every window, with its 80% interval
        >>> sorted(scores), 0.0 <= scores["interval_coverage"] <= 1.0
        (['interval_coverage', 'interval_width', 'mae', 'mse', 'n_windows'], True)
        """
        check_is_fitted(self)
        stride = checks.check_int("stride", stride, 1)
        if coverage is not None:
            coverage = check_coverage(coverage)
            self._interval_calibration()
        windows, mean, scale = self._rolling_windows(X, stride)
        scores = self._score_windows(windows, mean, scale, coverage)
        keys = ("mse", "mae", "n_windows") + (
            () if coverage is None else ("interval_coverage", "interval_width")
        )
        return {key: scores[key] for key in keys}

    def _rolling_windows(self, X, stride, seq_len=None):
        """Every ``stride``-th window of ``X`` on the fitted scale, with its members' scaling (N, M) each.

        ``seq_len`` (default: the model's) is the windows' look-back; the
        forecasts read their own last rows of it, as ``predict`` does.
        """
        seq_len = self.seq_len if seq_len is None else seq_len
        if seq_len is None:
            raise ValueError(
                f"{type(self).__name__}(seq_len=None) forecasts from each series' whole history, which "
                "rolling windows do not have; set seq_len (e.g. seq_len=10 * period) to evaluate."
            )
        data = self._validate_input(X, reset=False, labels=False)
        need = seq_len + self.pred_len
        for position, values in enumerate(data.values):
            if len(values) < (self.pred_len + 1 if self._pads() else need):
                where = "X" if data.layout is None else f"X's {data.layout.describe(position)}"
                raise ValueError(
                    f"{where} has {len(values)} rows; scoring needs at least seq_len + pred_len = "
                    f"{seq_len} + {self.pred_len} = {need} rows."
                )
        mean, scale = self._scaling(data)
        scaled = [self._scale(values, m, s) for values, m, s in zip(data.values, mean, scale)]
        # NaN marks padding, so that a model of raw values can tell it from data.
        windows = PanelWindows(
            scaled,
            seq_len,
            self.pred_len,
            stride=stride,
            pad=self._pads(),
            fill=np.nan,
            missing=self._masks_missing(),
            targets=self._target_mask(),
        )
        if self._masks_missing():
            windows.keep_observed(0.0)  # scored: windows with every series observed and a target
        return windows, mean, scale

    def _score_windows(self, windows, mean, scale, coverage=None, units=None):
        """MSE, MAE and, with ``coverage``, interval coverage and width of every window, in one pass.

        ``units`` (n_members, n_targets) converts the fitted scale to the
        units scored in (``None``: the fitted scale). Only what the adaptive
        walk needs is kept, as float32 scores; everything else is summed per
        chunk. Under ``"adaptive"`` the split-conformal figures of the same
        scores come too, as ``split_interval_coverage``/``split_interval_width``,
        and the walk's time, ``walk_s``.
        """
        calibration = None if coverage is None else self.calibration_
        fixed = None if calibration is None else calibration.threshold(coverage)
        adaptive = calibration is not None and calibration.method == "adaptive"
        done = 0
        total = dict.fromkeys(("squared", "absolute", "count", "inside", "width"), 0.0)
        kept, spreads = [], []
        for error, x, observed in self._window_errors(windows, mean, scale):
            members = windows.member[done : done + len(error)]
            done += len(error)
            unit = 1.0 if units is None else units[members][:, None, :]
            observed = (
                np.ones(error.shape, dtype=bool) if observed is None else observed
            )  # missing: scores nothing
            scored = (error * unit)[observed]
            total["squared"] += float(np.square(scored).sum())
            total["absolute"] += float(np.abs(scored).sum())
            total["count"] += int(observed.sum())
            if calibration is None:
                continue
            spread = self._target_spread(x)
            scores = calibration._score(error, spread)
            total["inside"] += float((scores <= fixed)[observed].sum())
            total["width"] += float((2 * calibration._widen(fixed, spread) * unit)[observed].sum())
            if adaptive:
                kept.append(np.where(observed, scores, np.nan).astype(np.float32))
                spreads.append(spread)
        count = total["count"]
        if not count:
            raise ValueError("X has no window with an observed target to score.")
        result = {
            "mse": total["squared"] / count,
            "mae": total["absolute"] / count,
            "n_windows": len(windows),
        }
        if calibration is None:
            return result
        result["interval_coverage"], result["interval_width"] = (
            total["inside"] / count,
            total["width"] / count,
        )
        if adaptive:
            result["split_interval_coverage"] = result["interval_coverage"]
            result["split_interval_width"] = result["interval_width"]
            started = time.perf_counter()
            scores, spread = np.concatenate(kept), np.concatenate(spreads)
            del kept, spreads  # the pieces would double the walk's memory
            result["interval_coverage"], result["interval_width"] = self._walked_scores(
                scores, spread, windows, coverage, units
            )
            result["walk_s"] = time.perf_counter() - started
        return result

    def _walked_scores(self, scores, spread, windows, coverage, units):
        """Coverage and mean width of the adaptive walk over ``scores`` (NaN: not observed)."""
        thresholds, _ = self._walk(scores, windows.member, window_times(windows), coverage)
        observed = ~np.isnan(scores)
        inside = width = 0.0
        for start in range(0, len(scores), 4096):  # the widths of a block at a time
            rows = slice(start, start + 4096)
            unit = 1.0 if units is None else units[windows.member[rows]][:, None, :]
            half = self.calibration_._widen(thresholds[rows], spread[rows]) * unit
            inside += float((scores[rows] <= thresholds[rows])[observed[rows]].sum())
            width += float((2 * half)[observed[rows]].sum())
        return inside / observed.sum(), width / observed.sum()

    def score(self, X, y=None):
        """Negative mean squared error of rolling forecasts over ``X``.

        Greater is better, so ``GridSearchCV`` with ``TimeSeriesSplit`` can
        use it as its default scoring. See :meth:`evaluate`.

        Parameters
        ----------
        X : array-like of shape (n_steps, n_series) or DataFrame
            At least ``seq_len + pred_len`` rows.
        y : None
            Ignored.

        Returns
        -------
        float
            ``-mse`` on the fitted scale.

        Examples
        --------
        >>> import numpy as np
        >>> from calf_sklearn import CALFForecaster
        >>> t = np.arange(300)
        >>> X = np.column_stack([np.sin(t / 8), np.cos(t / 12)])
        >>> tiny = {"n_embd": 16, "n_layer": 1, "n_head": 2, "vocab_size": 32}
        >>> model = CALFForecaster(pred_len=12, seq_len=36, llm=tiny, pretrained=False,
        ...                        n_layers=1, n_principal_words=8, max_epochs=1,
        ...                        random_state=0).fit(X[:240])
        >>> model.score(X[180:]) == -model.evaluate(X[180:])["mse"]
        True
        """
        return -self.evaluate(X)["mse"]
