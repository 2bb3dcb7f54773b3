"""A DLinear-style linear forecaster and its training loop (torch only).

The public face of this module is :mod:`calf_sklearn.dlinear`; its documentation is there.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from .branches import normalise
from .training.loop import TrainingLoop
from .training.steps import DLinearStep

__all__ = [
    "DLinearNetwork",
    "fill_missing",
    "train_dlinear",
]


class DLinearNetwork(nn.Module):
    """Trend/remainder decomposition followed by two linear maps over time.

    Parameters
    ----------
    seq_len : int
        Look-back length L.
    pred_len : int
        Horizon P.
    moving_average : int, default=25
        Window of the centred moving average that extracts the trend; the
        series is padded with its first and last values so that the trend
        has L points.

    Examples
    --------
    >>> net = DLinearNetwork(24, 8)
    >>> net(torch.randn(5, 24, 3)).shape
    torch.Size([5, 8, 3])
    >>> # Initialised to forecast the look-back's mean at every step.
    >>> x = torch.randn(1, 24, 2)
    >>> torch.allclose(net(x), x.mean(dim=1, keepdim=True).expand(1, 8, 2), atol=1e-5)
    True
    """

    def __init__(self, seq_len, pred_len, moving_average=25):
        super().__init__()
        if moving_average < 1:
            raise ValueError(f"moving_average must be >= 1, got {moving_average}")
        self.moving_average = moving_average
        self.seasonal = nn.Linear(seq_len, pred_len)
        self.trend = nn.Linear(seq_len, pred_len)
        # Start from "forecast the mean of the look-back", as DLinear does: a
        # sensible forecast before the first step, so training is stable at
        # DLinear's high learning rate.
        for layer in (self.seasonal, self.trend):
            nn.init.constant_(layer.weight, 1.0 / seq_len)
            nn.init.zeros_(layer.bias)

    @property
    def pred_len(self):
        """Horizon P: the number of steps each forward pass forecasts.

        Examples
        --------
        >>> DLinearNetwork(24, 8).pred_len
        8
        """
        return self.seasonal.out_features

    def decompose(self, x):
        """Split (B, L, M) windows into ``(remainder, trend)``, both (B, L, M).

        Parameters
        ----------
        x : Tensor of shape (B, L, M)
            Look-back windows.

        Returns
        -------
        remainder : Tensor of shape (B, L, M)
            ``x - trend``.
        trend : Tensor of shape (B, L, M)
            The centred moving average of ``x`` along time.

        Examples
        --------
        >>> net = DLinearNetwork(24, 8, moving_average=5)
        >>> x = torch.randn(2, 24, 3)
        >>> remainder, trend = net.decompose(x)
        >>> trend.shape, torch.allclose(remainder + trend, x)
        (torch.Size([2, 24, 3]), True)
        >>> line = torch.arange(24.0).reshape(1, 24, 1)  # a straight line is all trend,
        >>> net.decompose(line)[1][0, 2:-2, 0].equal(line[0, 2:-2, 0])  # away from the ends
        True
        """
        before = (self.moving_average - 1) // 2
        after = self.moving_average - 1 - before
        series = x.transpose(1, 2)  # (B, M, L): pool along time
        padded = F.pad(series, (before, after), mode="replicate")
        trend = F.avg_pool1d(padded, self.moving_average, stride=1).transpose(1, 2)
        return x - trend, trend

    def forward(self, x):
        """Forecast (B, P, M) from look-backs (B, L, M).

        Parameters
        ----------
        x : Tensor of shape (B, L, M)
            Look-back windows.

        Returns
        -------
        Tensor of shape (B, P, M)
            The sum of the forecasts of the remainder and of the trend.

        Examples
        --------
        >>> net = DLinearNetwork(24, 8)
        >>> net(torch.randn(5, 24, 3)).shape
        torch.Size([5, 8, 3])
        >>> # Freshly initialised, it forecasts each look-back's mean: a constant stays constant.
        >>> torch.allclose(net(torch.full((1, 24, 2), 3.0)), torch.full((1, 8, 2), 3.0))
        True
        >>> gappy = torch.full((1, 24, 2), 3.0)
        >>> gappy[0, 5:9] = float("nan")  # missing values: filled with the window's observed mean
        >>> torch.allclose(net(gappy), torch.full((1, 8, 2), 3.0))
        True
        """
        remainder, trend = self.decompose(fill_missing(x))
        out = self.seasonal(remainder.transpose(1, 2)) + self.trend(trend.transpose(1, 2))
        return out.transpose(1, 2)


def fill_missing(x):
    """``x`` with each missing (NaN) value replaced by its window's observed mean of that series.

    The linear layers need a number at every step; the observed mean is what
    CALF's normalisation gives a missing value (0 after standardising). A
    series with no observed value in a window becomes 0.

    Parameters
    ----------
    x : Tensor of shape (B, L, M)
        Look-back windows; NaN where a value is missing.

    Returns
    -------
    Tensor of shape (B, L, M)
        ``x`` itself when nothing is missing.

    Examples
    --------
    >>> x = torch.tensor([[[1.0], [float("nan")], [3.0]]])
    >>> fill_missing(x)[0, :, 0]
    tensor([1., 2., 3.])
    """
    missing = torch.isnan(x)
    if not missing.any():
        return x
    _, mean, _ = normalise(x)  # its mean is the observed one wherever a series has a gap
    return torch.where(missing, mean, x)


def train_dlinear(
    network,
    train,
    validation=None,
    *,
    learning_rate=5e-3,
    batch_size=32,
    max_epochs=10,
    patience=3,
    device=None,
    generator=None,
    verbose=0,
):
    """Train a :class:`DLinearNetwork` in place with MSE, as DLinear's recipe does.

    Adam, the learning rate halved after every epoch, early stopping on the
    validation MSE with the best weights restored. It runs the package's one
    training loop with DLinear's step, so a training loss that becomes
    infinite or NaN raises ``FloatingPointError``, as CALF's training does; a
    KeyboardInterrupt stops it (DLinear has no checkpoint to resume from).

    Parameters
    ----------
    network : DLinearNetwork
        The network, on ``device``.
    train, validation : window source
        Windows with ``len()`` and ``batch(indices) -> (x, y)``;
        ``validation=None`` trains for ``max_epochs``.
    learning_rate : float, default=5e-3
        Initial Adam learning rate.
    batch_size, max_epochs, patience : int, default=32, 10, 3
        Loop settings.
    device : torch.device, default=None
        Where batches go (the CPU when ``None``).
    generator : torch.Generator, default=None
        Drives the shuffling.
    verbose : int, default=0
        1 shows a progress bar over epochs; 2 also one over batches.

    Returns
    -------
    history : list of dict
        Per epoch: ``epoch``, ``train_loss``, ``val_mse``, ``learning_rate``, ``seconds``.

    Raises
    ------
    FloatingPointError
        If the training loss becomes infinite or NaN.

    Examples
    --------
    >>> import numpy as np
    >>> from calf_sklearn.windows import WindowedSeries
    >>> t = np.arange(400, dtype=np.float32)[:, None]
    >>> data = WindowedSeries(np.sin(t / 5), seq_len=24, pred_len=8)
    >>> net = DLinearNetwork(24, 8)
    >>> history = train_dlinear(net, data, data, max_epochs=3, generator=torch.Generator().manual_seed(0))
    >>> history[-1]["val_mse"] < history[0]["val_mse"]
    True
    """
    device = torch.device("cpu") if device is None else device
    loop = TrainingLoop(
        DLinearStep(network, learning_rate=learning_rate),
        batch_size=batch_size,
        max_epochs=max_epochs,
        patience=patience,
        device=device,
        generator=generator,
        verbose=verbose,
    )
    return loop.fit(train, validation).history
