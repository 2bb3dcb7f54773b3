"""Scores every forecaster shares: rolling forecasts over a series, compared on the fitted scale."""

from __future__ import annotations

import numpy as np
from sklearn.utils.validation import check_is_fitted

from .._series.windows import PanelWindows
from .._utils import checks


class ScoringMixin:
    """``evaluate`` (MSE, MAE and the number of windows) and ``score`` (negative MSE)."""

    def evaluate(self, X, stride=1):
        """Errors of rolling forecasts over a series.

        Every window of ``seq_len + pred_len`` rows of ``X`` (``stride`` apart)
        is forecast from its first ``seq_len`` rows and compared with its last
        ``pred_len``, on the scale fitted in ``fit`` (as in the paper's
        protocol, so every series counts alike).

        Parameters
        ----------
        X : array-like of shape (n_steps, n_series) or DataFrame
            At least ``seq_len + pred_len`` rows.
        stride : int, default=1
            Distance between window starts.

        Returns
        -------
        dict
            ``mse``, ``mae`` and ``n_windows``.

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
        """
        check_is_fitted(self)
        stride = checks.check_int("stride", stride, 1)
        data = self._validate_input(X, reset=False, labels=False)
        need = self.seq_len + self.pred_len
        for position, values in enumerate(data.values):
            if len(values) < (self.pred_len + 1 if self._pads() else need):
                where = "X" if data.layout is None else f"X's {data.layout.describe(position)}"
                raise ValueError(
                    f"{where} has {len(values)} rows; scoring needs at least seq_len + pred_len = "
                    f"{self.seq_len} + {self.pred_len} = {need} rows."
                )
        mean, scale = self._scaling(data)
        scaled = [self._scale(values, m, s) for values, m, s in zip(data.values, mean, scale)]
        # NaN marks padding, so that a model of raw values can tell it from data.
        windows = PanelWindows(
            scaled,
            self.seq_len,
            self.pred_len,
            stride=stride,
            pad=self._pads(),
            fill=np.nan,
            missing=self._masks_missing(),
            targets=self._target_mask(),
        )
        if self._masks_missing():
            windows.keep_observed(0.0)  # scored: windows with every series observed and a target
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
