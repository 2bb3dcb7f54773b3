"""Scores every forecaster shares: rolling forecasts over a series, compared on the fitted scale."""

from __future__ import annotations

import numpy as np
from sklearn.utils.validation import check_is_fitted

from .._series.conformal import check_coverage
from .._series.windows import PanelWindows
from .._utils import checks


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
        if coverage is not None:
            return self._evaluate_intervals(windows, mean, scale, coverage)
        squared = absolute = count = 0.0
        for error, _, observed in self._window_errors(windows, mean, scale):
            if observed is not None:  # a missing target scores nothing
                error = error[observed]
            squared += float(np.square(error).sum())
            absolute += float(np.abs(error).sum())
            count += error.size
        if not count:
            raise ValueError("X has no window with an observed target to score.")
        return {"mse": squared / count, "mae": absolute / count, "n_windows": len(windows)}

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

    def _evaluate_intervals(self, windows, mean, scale, coverage):
        """:meth:`evaluate` with intervals: every error is kept, for the adaptive walk."""
        rolled = self._roll(windows, mean, scale)
        observed = ~np.isnan(rolled.errors)
        if not observed.any():
            raise ValueError("X has no window with an observed target to score.")
        error = rolled.errors[observed]
        thresholds, _ = self._walk(rolled, coverage)
        inside = self._scores(rolled)[observed] <= thresholds[observed]
        half = self._half_widths(rolled, thresholds)
        return {
            "mse": float(np.mean(np.square(error))),
            "mae": float(np.mean(np.abs(error))),
            "n_windows": len(windows),
            "interval_coverage": float(inside.mean()),
            "interval_width": float(2 * half[observed].mean()),
        }

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
