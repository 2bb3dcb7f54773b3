"""Reference forecasters with CALFForecaster's interface: naive, seasonal naive, Naive2 and DLinear.

The public face of this module is :mod:`calf_sklearn.baselines`; its documentation is there.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from sklearn.utils import check_random_state

from .._series import rules as seasonal
from .._series.windows import ExpandingWindows, temporal_split
from .._utils import checks
from .base import WindowForecaster
from .constraints import (
    INTERVAL_METHODS,
    MISSING,
    Boolean,
    Custom,
    Integer,
    Options,
    Real,
    check_target_columns,
    validation_size_constraint,
)
from .fitting import Prepared

__all__ = ["DLinearForecaster", "Naive2Forecaster", "NaiveForecaster", "SeasonalNaiveForecaster"]


class _StatisticalForecaster(WindowForecaster):
    """A forecaster with nothing to train: it applies a rule to each series' look-back.

    Look-backs may be shorter than ``seq_len`` (rows before a series' start
    are NaN and dropped), and any horizon is forecast directly.
    """

    _parameter_constraints: ClassVar[dict] = {
        "pred_len": Integer(1),
        "validation_size": validation_size_constraint,
        "interval_method": Options(INTERVAL_METHODS),
        "missing": Options(MISSING),
        "target_columns": Custom(check_target_columns),
    }

    def _pads(self):
        return True  # a rule forecasts from whatever look-back there is

    def _rule(self, history, horizon):  # pragma: no cover - every subclass overrides it
        raise NotImplementedError

    def _calibration_members(self, data, X_val):
        """The scaled series whose windows calibrate the intervals (nothing is trained on them).

        ``X_val`` (its first ``seq_len`` rows are look-back), else the last
        ``validation_size`` rows of every member, with ``seq_len`` rows before
        them; members too short for one window give none.
        """
        if X_val is not None:
            _, parts = self._split_input(data, X_val)
            return parts
        validation_size = checks.check_validation_size(self.validation_size)
        parts = []
        for values in data.values:
            try:
                _, start = temporal_split(len(values), validation_size, self.seq_len, self.pred_len, pad=True)
            except ValueError:
                start = None
            parts.append(values[start:] if start is not None else values[:0])
        return parts

    def _calibration_source(self, prepared):
        parts = self._calibration_members(prepared.data, prepared.X_val)
        if parts is None:
            return None
        mean, scale = prepared.mean, prepared.scale
        return self._validation_windows(
            [(part - m) / s for part, m, s in zip(parts, mean, scale)], mean, scale
        )

    def fit(self, X, y=None, *, X_val=None):
        """Remember the end of every series of ``X``; nothing is trained.

        Parameters
        ----------
        X : array-like of shape (n_steps, n_series), DataFrame, Series or panel
            The series, oldest row first, or a panel of them.
        y : None
            Ignored.
        X_val : array-like, default=None
            Series whose windows calibrate the intervals instead of the last
            ``validation_size`` rows (its first ``seq_len`` rows are look-back);
            nothing is trained on it.

        Returns
        -------
        self : estimator
            The fitted forecaster.

        Examples
        --------
        >>> import numpy as np
        >>> model = SeasonalNaiveForecaster(pred_len=2, period=3).fit([np.arange(7.0), np.arange(4.0)])
        >>> model.member_ids_, model.predict()[1][:, 0]
        ([0, 1], array([1., 2.]))
        """
        return self._fit_and_set(X, X_val)

    def _prepare_fit(self, X, X_val):
        # Nothing trains: the whole of X is scaled (for scoring) and looked back on.
        data = self._validate_input(X, reset=True)
        mean, scale, scaler = self._fit_scaling(data.values, single=data.layout is None)
        return Prepared(data, None, None, None, None, mean, scale, scaler, X_val)

    def _fit(self, prepared):
        pass  # a rule has nothing to learn

    def _forecast(self, windows, horizon, mean=None, scale=None):
        forecasts = np.empty((len(windows), horizon, windows.shape[2]))
        for n, window in enumerate(windows):
            for m in range(window.shape[1]):
                forecasts[n, :, m] = self._rule(self._history(window[:, m], n, m), horizon)
        return forecasts

    def _history(self, values, window, series):
        """The values a rule reads: NaN before a series' start dropped; under mask, gaps interpolated."""
        if not self._masks_missing():
            return values[~np.isnan(values)]  # NaN only marks rows before the start
        history = seasonal.observed_history(values)
        if history is None:
            names = getattr(self, "feature_names_in_", None)
            label = repr(names[series]) if names is not None else str(series)
            raise ValueError(
                f"The look-back of window {window} has no observed value of series {label}; forecast "
                "after a point where every series has been observed at least once in the look-back."
            )
        return history

    def _forecast_for_scoring(self, windows, mean, scale):
        # The rules work on the original values (Naive2's decomposition is
        # multiplicative), so unscale, forecast, and scale the forecasts.
        raw = windows * scale[:, None] + mean[:, None]
        return (self._forecast(raw, self.pred_len) - mean[:, None]) / scale[:, None]

    def _forecast_scaled(self, windows):  # pragma: no cover - scoring goes through _forecast_for_scoring
        raise NotImplementedError


class NaiveForecaster(_StatisticalForecaster):
    """Repeats each series' last observed value over the horizon.

    Parameters
    ----------
    pred_len : int, default=96
        Horizon forecast in one pass.
    validation_size : float or int, default=0.2
        Fraction (or number of rows, per member of a panel) of the last
        rows whose windows calibrate :meth:`predict_interval`; nothing is
        trained on them, and forecasts still start after the last row of
        ``X``. ``fit``'s ``X_val`` calibrates instead when given.
    interval_method : {"scaled", "absolute", "adaptive"}, default="scaled"
        Conformal scores of the intervals: errors divided by each window's
        look-back spread, or plain absolute errors; ``"adaptive"`` walks
        forward over successive windows (see :mod:`calf_sklearn.intervals`).
    missing : {"raise", "mask"}, default="raise"
        What a missing value (NaN) means: refused, or a gap the rule reads
        around. With ``"mask"`` each look-back starts at its first observed
        value and its later gaps are interpolated linearly (held at the last
        observed value at the end); the calibration and the scores count
        observed targets only (see :class:`~calf_sklearn.CALFForecaster`).
    target_columns : str, int or list, default=None
        The columns to forecast; ``None``: every column. The others are
        covariates, which this model ignores (each series is forecast from
        its own past): they are checked, then left out of the forecasts,
        intervals and scores.

    Attributes
    ----------
    n_features_in_ : int
        Number of series seen in ``fit``.
    scaler_ : sklearn.preprocessing.StandardScaler
        Per-series scaling fitted on all rows (``evaluate`` scores on it).
    last_window_ : ndarray of shape (1, n_series)
        The last row of the training data.
    calibration_ : ConformalCalibration or None
        The intervals' calibration scores.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.arange(20.0).reshape(10, 2)
    >>> NaiveForecaster(pred_len=3).fit(X).predict()
    array([[18., 19.],
           [18., 19.],
           [18., 19.]])
    """

    seq_len = 1

    def __init__(
        self,
        pred_len=96,
        *,
        validation_size=0.2,
        interval_method="scaled",
        missing="raise",
        target_columns=None,
    ):
        self.pred_len = pred_len
        self.validation_size = validation_size
        self.interval_method = interval_method
        self.missing = missing
        self.target_columns = target_columns

    def _rule(self, history, horizon):
        return seasonal.naive1(history, horizon)

    def _forecast(self, windows, horizon, mean=None, scale=None):
        if self._masks_missing():  # the last observed value, which may lie before the look-back's row
            return super()._forecast(windows, horizon)
        # Straight from the raw values, for every window at once.
        return np.repeat(windows[:, -1:].astype(np.float64), horizon, axis=1)

    def _last_windows(self, members, layout=None):
        if not self._masks_missing():
            return super()._last_windows(members, layout)
        # Under mask the look-back is each series' last observed value, wherever it is.
        last = np.empty((len(members), 1, members[0].shape[1]))
        for position, values in enumerate(members):
            for series in range(values.shape[1]):
                observed = values[~np.isnan(values[:, series]), series]
                last[position, 0, series] = observed[-1] if len(observed) else np.nan
        return last


class SeasonalNaiveForecaster(_StatisticalForecaster):
    """Repeats each series' last seasonal cycle (M4's sNaive); the last value for ``period=1``.

    Parameters
    ----------
    pred_len : int, default=96
        Horizon of ``predict`` and ``evaluate``.
    period : int, default=1
        Seasonal period ``m`` (observations per cycle, e.g. 24 for hourly
        data with a daily cycle). A series shorter than one cycle gets its
        last value.
    validation_size : float or int, default=0.2
        Fraction (or number of rows, per member of a panel) of the last
        rows whose windows calibrate :meth:`predict_interval`; nothing is
        trained on them, and forecasts still start after the last row of
        ``X``. ``fit``'s ``X_val`` calibrates instead when given.
    interval_method : {"scaled", "absolute", "adaptive"}, default="scaled"
        Conformal scores of the intervals: errors divided by each window's
        look-back spread, or plain absolute errors; ``"adaptive"`` walks
        forward over successive windows (see :mod:`calf_sklearn.intervals`).
    missing : {"raise", "mask"}, default="raise"
        What a missing value (NaN) means: refused, or a gap the rule reads
        around. With ``"mask"`` each look-back starts at its first observed
        value and its later gaps are interpolated linearly (held at the last
        observed value at the end); the calibration and the scores count
        observed targets only (see :class:`~calf_sklearn.CALFForecaster`).
    target_columns : str, int or list, default=None
        The columns to forecast; ``None``: every column. The others are
        covariates, which this model ignores (each series is forecast from
        its own past): they are checked, then left out of the forecasts,
        intervals and scores.

    Attributes
    ----------
    n_features_in_ : int
        Number of series seen in ``fit``.
    last_window_ : ndarray of shape (period, n_series) or (n_members, period, n_series)
        The last cycle of the training data (of every member, for a panel);
        NaN before the start of a member shorter than one cycle.

    See Also
    --------
    calf_sklearn.seasonal.seasonal_naive : The rule, for one series.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.tile([1.0, 5.0, 3.0], 4)[:, None]
    >>> SeasonalNaiveForecaster(pred_len=4, period=3).fit(X).predict()[:, 0]
    array([1., 5., 3., 1.])
    """

    def __init__(
        self,
        pred_len=96,
        period=1,
        *,
        validation_size=0.2,
        interval_method="scaled",
        missing="raise",
        target_columns=None,
    ):
        self.pred_len = pred_len
        self.period = period
        self.validation_size = validation_size
        self.interval_method = interval_method
        self.missing = missing
        self.target_columns = target_columns

    @property
    def seq_len(self):
        """The look-back: one cycle.

        Examples
        --------
        >>> SeasonalNaiveForecaster(period=24).seq_len
        24
        """
        return self.period

    _parameter_constraints: ClassVar[dict] = {
        **_StatisticalForecaster._parameter_constraints,
        "period": Integer(1),
    }

    def _rule(self, history, horizon):
        return seasonal.seasonal_naive(history, horizon, self.period)


class Naive2Forecaster(_StatisticalForecaster):
    """M4's Naive2: the naive forecast of the seasonally adjusted series, reseasonalised.

    Each series is tested for seasonality at lag ``period`` (90%
    confidence); where the test passes it is divided by its classical
    multiplicative seasonal indices, its last adjusted value is repeated and
    multiplied back by the indices of the cycles ahead; otherwise the
    forecast is the last value. The M4 competition's OWA measures every
    method relative to this one.

    Parameters
    ----------
    pred_len : int, default=96
        Horizon of ``predict`` and ``evaluate``.
    period : int, default=1
        Seasonal period ``m``.
    seq_len : int, default=None
        Rows of history each forecast looks at; ``None`` uses the whole of
        each series given (the M4 benchmark's setting), which ``evaluate``
        cannot do: it needs a fixed look-back.
    validation_size : float or int, default=0.2
        Fraction (or number of rows, per member of a panel) of the last
        rows whose windows calibrate :meth:`predict_interval`; nothing is
        trained on them, and forecasts still start after the last row of
        ``X``. ``fit``'s ``X_val`` calibrates instead when given.
    interval_method : {"scaled", "absolute", "adaptive"}, default="scaled"
        Conformal scores of the intervals: errors divided by each window's
        look-back spread, or plain absolute errors; ``"adaptive"`` walks
        forward over successive windows (see :mod:`calf_sklearn.intervals`).
    missing : {"raise", "mask"}, default="raise"
        What a missing value (NaN) means: refused, or a gap the rule reads
        around. With ``"mask"`` each look-back starts at its first observed
        value and its later gaps are interpolated linearly (held at the last
        observed value at the end); the calibration and the scores count
        observed targets only (see :class:`~calf_sklearn.CALFForecaster`).
    target_columns : str, int or list, default=None
        The columns to forecast; ``None``: every column. The others are
        covariates, which this model ignores (each series is forecast from
        its own past): they are checked, then left out of the forecasts,
        intervals and scores.

    Attributes
    ----------
    n_features_in_ : int
        Number of series seen in ``fit``.
    last_window_ : ndarray of shape (n_rows, n_series) or (n_members, n_rows, n_series)
        The training history (of every member, for a panel), NaN before the
        start of members shorter than the longest.

    See Also
    --------
    calf_sklearn.seasonal.naive2 : The rule, for one series.

    Examples
    --------
    >>> import numpy as np
    >>> X = (10 + np.tile([1.0, 5.0, 3.0], 8))[:, None]
    >>> Naive2Forecaster(pred_len=4, period=3).fit(X).predict()[:, 0].round(2)
    array([11., 15., 13., 11.])
    """

    def __init__(
        self,
        pred_len=96,
        period=1,
        seq_len=None,
        *,
        validation_size=0.2,
        interval_method="scaled",
        missing="raise",
        target_columns=None,
    ):
        self.pred_len = pred_len
        self.period = period
        self.seq_len = seq_len
        self.validation_size = validation_size
        self.interval_method = interval_method
        self.missing = missing
        self.target_columns = target_columns

    _parameter_constraints: ClassVar[dict] = {
        **_StatisticalForecaster._parameter_constraints,
        "period": Integer(1),
    }

    def _validate_params(self):
        super()._validate_params()
        if self.seq_len is not None:
            checks.check_int("seq_len", self.seq_len, 1)

    def _look_back_rows(self, windows):
        # With seq_len=None the calibration looked back over whole histories, and so must the intervals.
        return windows if self.seq_len is None else super()._look_back_rows(windows)

    def _rule(self, history, horizon):
        return seasonal.naive2(history, horizon, self.period)

    def _walk_windows(self, members):
        if self.seq_len is not None:
            return super()._walk_windows(members)
        # Whole histories: every origin after the first row where each series has been observed,
        # each forecast from all rows before it.
        firsts = [int(np.max(np.argmax(~np.isnan(member), axis=0))) + 1 for member in members]
        return ExpandingWindows(members, firsts, self.pred_len)

    def _calibration_source(self, prepared):
        if self.seq_len is not None:
            return super()._calibration_source(prepared)
        data, mean, scale = prepared.data, prepared.mean, prepared.scale
        if prepared.X_val is not None:
            raise ValueError(
                "Naive2Forecaster(seq_len=None) forecasts from whole histories, so it calibrates its "
                "intervals on the last validation_size rows of each series, not on X_val; set seq_len "
                "to use X_val."
            )
        validation_size = checks.check_validation_size(self.validation_size)
        firsts = []
        for values in data.values:
            held_out = (
                validation_size if isinstance(validation_size, int) else round(validation_size * len(values))
            )
            # Windows whose targets start in the held-out tail, each forecast from all rows before it.
            firsts.append(len(values) - held_out if held_out >= self.pred_len else len(values))
        scaled = [(values - m) / s for values, m, s in zip(data.values, mean, scale)]
        return ExpandingWindows(scaled, firsts, self.pred_len), mean, scale

    def _last_windows(self, members, layout=None):
        if self.seq_len is not None:
            return super()._last_windows(members, layout)
        longest = max(len(values) for values in members)
        windows = np.full((len(members), longest, members[0].shape[1]), np.nan)
        for position, values in enumerate(members):
            windows[position, longest - len(values) :] = values
        return windows


class DLinearForecaster(WindowForecaster):
    """DLinear: moving-average decomposition and one linear map per component.

    The baseline of Zeng et al. (AAAI 2023): each look-back is split into a
    trend (centred moving average) and a remainder, each part is mapped to
    the horizon by a linear layer shared by all series, and the two are
    added. Trained with MSE on standardised data, Adam with the learning rate
    halved every epoch, early stopping on the validation windows.

    Parameters
    ----------
    pred_len : int, default=96
        Horizon forecast in one pass.
    seq_len : int, default=96
        Look-back window length.
    moving_average : int, default=25
        Window of the trend's moving average.
    learning_rate : float, default=5e-3
        Initial Adam learning rate (DLinear's ETTh1 setting).
    batch_size : int, default=32
        Windows per step.
    max_epochs : int, default=10
        Upper bound on training epochs.
    patience : int, default=3
        Epochs without a better validation MSE before training stops.
    validation_size : float or int, default=0.2
        Fraction (or number) of the last rows held out for early stopping;
        ignored when ``fit`` gets ``X_val``.
    window_stride : int, default=1
        Distance between the starts of consecutive training windows.
    padding : bool, default=False
        Accept panel members shorter than a window by zero-padding them at
        the front on the scaled axis (see :class:`~calf_sklearn.CALFForecaster`).
    interval_method : {"scaled", "absolute", "adaptive"}, default="scaled"
        Conformal scores of :meth:`predict_interval`, calibrated on the
        validation windows; ``"adaptive"`` walks forward over successive
        windows (see :mod:`calf_sklearn.intervals`).
    missing : {"raise", "mask"}, default="raise"
        What a missing value (NaN) means: refused, or masked out as in
        :class:`~calf_sklearn.CALFForecaster` (a missing look-back value is
        filled with its window's observed mean of that series).
    min_observed : float, default=0.5
        With ``missing="mask"``: the smallest observed fraction of a
        window's look-back (see :class:`~calf_sklearn.CALFForecaster`).
    target_columns : str, int or list, default=None
        The columns to forecast; ``None``: every column. The others are
        covariates, which DLinear ignores (it forecasts each series from its
        own past, one linear map for all): they are checked, then left out of the forecasts,
        intervals and scores.
    device : str, default="auto"
        ``"auto"``, ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.
    random_state : int, RandomState or None, default=None
        Seeds the shuffling.
    verbose : int, default=0
        1 shows a progress bar over epochs.

    Attributes
    ----------
    n_features_in_ : int
        Number of series seen in ``fit``.
    module_ : DLinearNetwork
        The trained network.
    history_ : list of dict
        Per epoch: ``train_loss``, ``val_mse``, ``learning_rate``, ``seconds``.
    scaler_ : sklearn.preprocessing.StandardScaler
        Per-series scaling fitted on the training rows.
    last_window_ : ndarray of shape (seq_len, n_series)
        The last ``seq_len`` rows of the training data.
    device_ : torch.device
        Where the network lives.
    calibration_ : ConformalCalibration or None
        The intervals' calibration scores (``None`` without validation data).

    Examples
    --------
    >>> import numpy as np
    >>> t = np.arange(600)
    >>> X = np.column_stack([np.sin(t / 8), np.cos(t / 12)])
    >>> model = DLinearForecaster(pred_len=12, seq_len=48, max_epochs=3, random_state=0).fit(X)
    >>> model.predict().shape
    (12, 2)
    >>> naive = NaiveForecaster(pred_len=12).fit(X)
    >>> model.evaluate(X[-200:])["mse"] < naive.evaluate(X[-200:])["mse"]
    True
    """

    def __init__(
        self,
        pred_len=96,
        seq_len=96,
        *,
        moving_average=25,
        learning_rate=5e-3,
        batch_size=32,
        max_epochs=10,
        patience=3,
        validation_size=0.2,
        window_stride=1,
        padding=False,
        interval_method="scaled",
        missing="raise",
        min_observed=0.5,
        target_columns=None,
        device="auto",
        random_state=None,
        verbose=0,
    ):
        self.pred_len = pred_len
        self.seq_len = seq_len
        self.moving_average = moving_average
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.patience = patience
        self.validation_size = validation_size
        self.window_stride = window_stride
        self.padding = padding
        self.interval_method = interval_method
        self.missing = missing
        self.target_columns = target_columns
        self.min_observed = min_observed
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    _parameter_constraints: ClassVar[dict] = {
        **{name: Integer(1) for name in ("pred_len", "seq_len", "moving_average", "batch_size")},
        **{name: Integer(1) for name in ("max_epochs", "patience", "window_stride")},
        "learning_rate": Real(0.0, low_open=True),
        "validation_size": validation_size_constraint,
        "padding": Boolean(),
        "interval_method": Options(INTERVAL_METHODS),
        "missing": Options(MISSING),
        "target_columns": Custom(check_target_columns),
        "min_observed": Real(0.0, 1.0),
    }

    def _pads(self):
        return bool(self.padding)

    def _window_stride(self):
        return self.window_stride

    def _scoring_batch(self):
        return max(self.batch_size, 256)

    def fit(self, X, y=None, *, X_val=None):
        """Train on a multivariate series.

        Parameters
        ----------
        X : array-like of shape (n_steps, n_series), DataFrame or Series
            The series, oldest row first.
        y : None
            Ignored.
        X_val : array-like of shape (n_val_steps, n_series), default=None
            A separate validation series (its first ``seq_len`` rows are
            look-back only); with it all of ``X`` trains.

        Returns
        -------
        self : DLinearForecaster
            The fitted forecaster.

        Examples
        --------
        >>> import numpy as np
        >>> t = np.arange(600)
        >>> X = np.column_stack([np.sin(t / 8), np.cos(t / 12)])
        >>> model = DLinearForecaster(pred_len=12, seq_len=48, max_epochs=2, random_state=0)
        >>> model.fit(X[:480], X_val=X[432:]) is model  # validation: 48 look-back rows, then 120
        True
        >>> len(model.history_), model.last_window_.shape
        (2, (48, 2))
        >>> model.history_[-1]["val_mse"] < model.history_[0]["val_mse"]
        True
        """
        return self._fit_and_set(X, X_val)

    def _fit(self, prepared):

        from .._torch.devices import resolve_device
        from .._torch.dlinear import DLinearNetwork, train_dlinear
        from .._torch.seeding import seeded

        device = resolve_device(self.device)
        seed = int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))
        with seeded(seed, device) as generator:
            network = DLinearNetwork(self.seq_len, self.pred_len, self.moving_average).to(device)
            history = train_dlinear(
                network,
                prepared.train,
                prepared.validation,
                learning_rate=self.learning_rate,
                batch_size=self.batch_size,
                max_epochs=self.max_epochs,
                patience=self.patience,
                device=device,
                generator=generator,
                verbose=int(self.verbose),
            )
        self.module_ = network.eval()
        self.history_ = history
        self.device_ = device

    def _forecast_scaled(self, windows):
        from .._torch.inference import forecast_windows

        return forecast_windows(self.module_, windows, max(self.batch_size, 256), self.device_)
