"""Reference forecasters with CALFForecaster's interface: naive last value and DLinear.

They take the same input, forecast through the same ``predict``,
``evaluate`` and ``score``, and accept ``X_val`` in ``fit``, so a comparison
with CALF uses the same windows and the same metric code.
"""

from __future__ import annotations

import numpy as np
from sklearn.utils import check_random_state

from . import _params
from ._base import _WindowForecaster

__all__ = ["DLinearForecaster", "NaiveForecaster"]


class NaiveForecaster(_WindowForecaster):
    """Repeats each series' last observed value over the horizon.

    Parameters
    ----------
    pred_len : int, default=96
        Horizon forecast in one pass.

    Attributes
    ----------
    n_features_in_ : int
        Number of series seen in ``fit``.
    scaler_ : sklearn.preprocessing.StandardScaler
        Per-series scaling fitted on the training rows (used by ``evaluate``).
    last_window_ : ndarray of shape (1, n_series)
        The last row of the training data.

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
    batch_size = 256

    def __init__(self, pred_len=96):
        self.pred_len = pred_len

    def fit(self, X, y=None, *, X_val=None):
        """Remember the last row of ``X``.

        Parameters
        ----------
        X : array-like of shape (n_steps, n_series), DataFrame or Series
            The series, oldest row first.
        y : None
            Ignored.
        X_val : array-like, default=None
            Ignored; accepted so that every forecaster of the package is
            called the same way.

        Returns
        -------
        self : NaiveForecaster
            The fitted forecaster.

        Examples
        --------
        >>> import numpy as np
        >>> X = np.arange(20.0).reshape(10, 2)
        >>> model = NaiveForecaster(pred_len=3).fit(X)
        >>> model.n_features_in_, model.last_window_
        (2, array([[18., 19.]]))
        """
        _params.check_int("pred_len", self.pred_len, 1)
        data = self._validate_input(X, reset=True)
        # All rows count: nothing is held out, and evaluate scores on this scale.
        mean, scale, scaler = self._fit_scaling(data.values, single=data.layout is None)
        self._remember(data, mean, scale, scaler)
        return self

    def _forecast_scaled(self, windows):
        return np.repeat(windows[:, -1:], self.pred_len, axis=1)

    def _forecast(self, windows, horizon, mean=None, scale=None):
        # Straight from the raw values: a round trip through the float32
        # scaled space would blur the repeated value in its last digits.
        return np.repeat(windows[:, -1:].astype(np.float64), horizon, axis=1)


class DLinearForecaster(_WindowForecaster):
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
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    def _check_params(self):
        for name in ("pred_len", "seq_len", "moving_average", "batch_size", "max_epochs", "patience"):
            _params.check_int(name, getattr(self, name), 1)
        _params.check_int("window_stride", self.window_stride, 1)
        _params.check_real("learning_rate", self.learning_rate, 0.0, low_open=True)
        _params.check_validation_size(self.validation_size)
        _params.check_bool("padding", self.padding)

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
        import torch

        from .dlinear import DLinearNetwork, train_dlinear

        self._check_params()
        device = _params.resolve_device(self.device)
        prepared = self._prepare_fit(X, X_val, self.window_stride)
        seed = int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
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
                generator=torch.Generator().manual_seed(seed),
                verbose=int(self.verbose),
            )
        self.module_ = network.eval()
        self.history_ = history
        self.device_ = device
        prepared.remember()
        return self

    def _forecast_scaled(self, windows):
        from .network import forecast_windows

        return forecast_windows(self.module_, windows, max(self.batch_size, 256), self.device_)
