"""The training loop: optimisers, schedule, early stopping (torch only).

The public face of this module is :mod:`calf_sklearn.training`; its documentation is there.
"""

from __future__ import annotations

import functools
import math
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from .._utils.atomic import write_atomically
from .losses import LOSSES, _choose
from .network import CALFOutputs, forecast_windows
from .precision import Precision
from .transfer import to_device

__all__ = ["Trainer", "TrainingResult", "read_checkpoint", "windows_loss", "windows_mse"]

_ETA_MIN = 1e-8
_BETAS = (0.9, 0.999)


def read_checkpoint(path):
    """Load a checkpoint written by :meth:`Trainer.fit`, or ``None`` if there is none.

    Parameters
    ----------
    path : str or path-like
        The checkpoint file.

    Returns
    -------
    dict or None
        The saved training state plus whatever ``metadata`` the writer added.

    Raises
    ------
    ValueError
        If the file exists but cannot be read as a checkpoint.

    Examples
    --------
    >>> import tempfile
    >>> from transformers import GPT2Model
    >>> from calf_sklearn.backbone import gpt2_config
    >>> from calf_sklearn.losses import CALFLoss
    >>> from calf_sklearn.network import CALFNetwork
    >>> from calf_sklearn.windows import WindowedSeries
    >>> _ = torch.manual_seed(0)
    >>> backbone = GPT2Model(gpt2_config({"n_embd": 16, "n_layer": 1, "n_head": 2, "vocab_size": 32}))
    >>> net = CALFNetwork(backbone, seq_len=8, pred_len=4, principal_words=torch.randn(5, 16))
    >>> data = WindowedSeries(np.random.default_rng(0).normal(size=(60, 2)).astype("float32"), 8, 4)
    >>> trainer = Trainer(net, CALFLoss("l1", "l1", "l1", 1, 1, 0.01), learning_rate=5e-4,
    ...                   projection_learning_rate=1e-4, batch_size=16, max_epochs=2, patience=5,
    ...                   cosine_t_max=20, device=torch.device("cpu"),
    ...                   generator=torch.Generator().manual_seed(0))
    >>> path = tempfile.mkdtemp() + "/fit.ckpt"
    >>> read_checkpoint(path) is None
    True
    >>> _ = trainer.fit(data, data, checkpoint=path)
    >>> read_checkpoint(path)["epoch"]
    2
    """
    path = Path(path)
    if not path.exists():
        return None
    try:
        # weights_only: tensors and plain containers only, no code runs on load.
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise ValueError(
            f"The checkpoint {path} cannot be read ({exc}). Delete it to train from the start."
        ) from exc
    if not isinstance(state, dict) or "epoch" not in state:
        raise ValueError(f"{path} is not a calf-sklearn training checkpoint. Delete it or pass another path.")
    return state


def _unpack(batch):
    """``(x, y, mask)`` from a source's batch; ``mask`` is ``None`` for ``(x, y)``."""
    if len(batch) == 2:
        return batch[0], batch[1], None
    if len(batch) == 3:
        return batch
    raise ValueError(
        f"A window source's batch() must return (x, y) or (x, y, mask); it returned {len(batch)} arrays."
    )


def _forecast_batches(network, data, batch_size, device, precision=None):
    """Yield ``(x, y, mask, forecast)`` for consecutive batches of every window of ``data``."""
    for start in range(0, len(data), batch_size):
        x, y, mask = _unpack(data.batch(np.arange(start, min(start + batch_size, len(data)))))
        yield x, y, mask, forecast_windows(network, x, batch_size, device, precision=precision)


def _as_float32(outputs):
    """The network's outputs with every tensor float32, so that the loss is computed in float32."""

    def up(tensor):
        return None if tensor is None else tensor.float()  # float32 tensors come back as they are

    def up_all(tensors):
        return None if tensors is None else [up(t) for t in tensors]

    return CALFOutputs(
        up(outputs.forecast),
        up(outputs.textual_forecast),
        up_all(outputs.features),
        up_all(outputs.textual_features),
    )


class _SquaredError:
    """Accumulates the (masked) mean squared error over batches."""

    def __init__(self):
        self.total, self.count = 0.0, 0

    def add(self, forecast, y, mask):
        error = forecast.astype(np.float64) - y
        if mask is None:
            self.total += float(np.square(error).sum())
            self.count += y.size
        else:
            # Masked-out targets may hold anything (zeros, NaN): they count 0.
            error = np.where(mask > 0, error, 0.0)
            self.total += float((np.square(error) * mask).sum())
            self.count += float(mask.sum())

    def mean(self):
        if self.count == 0:
            raise ValueError("The validation windows have no target values to score (empty, or all masked).")
        return self.total / self.count


# Losses that average over the masked-in elements only: with masks, their
# batches weigh by those elements (the others weigh by windows).
_MASKED_MEANS = ("l1", "smooth_l1", "mse")


class _WindowLoss:
    """Accumulates a loss of :data:`~calf_sklearn.losses.LOSSES` so that batch sizes do not matter."""

    def __init__(self, loss_name, period):
        self.loss, self.period = _choose("loss_name", loss_name, tuple(LOSSES)), period
        self.masked_mean = loss_name in _MASKED_MEANS
        self.total, self.weight = 0.0, 0.0

    def add(self, forecast, y, mask, x):
        def tensor(array):
            return None if array is None else torch.from_numpy(np.asarray(array, dtype=np.float64))

        value = self.loss(
            tensor(forecast), tensor(y), context=tensor(x), mask=tensor(mask), period=self.period
        )
        weight = float(np.sum(mask)) if self.masked_mean and mask is not None else len(x)
        self.total += float(value) * weight
        self.weight += weight

    def mean(self):
        if self.weight == 0:
            raise ValueError("The validation windows have no target values to score (empty, or all masked).")
        return self.total / self.weight


def windows_loss(network, data, batch_size, device, loss_name, period=1, precision=None):
    """A loss of :data:`~calf_sklearn.losses.LOSSES` over every window of ``data``, in eval mode.

    Each batch's loss (with the batch's look-backs as ``context`` and its
    mask, if the source gives one) is weighted by its number of windows, so
    the result is the mean over windows whatever the batch size. With masks,
    ``l1``, ``smooth_l1`` and ``mse`` (means over the masked-in elements)
    weigh each batch by its masked-in elements instead: the mean over every
    target value that exists.

    Parameters
    ----------
    network : torch.nn.Module
        Maps look-backs (B, L, M) to forecasts (B, P, M) and has ``pred_len``.
    data : window source
        Windows with ``len()`` and ``batch(indices) -> (x, y)`` or ``(x, y, mask)``.
    batch_size : int
        Windows per forward pass.
    device : torch.device
        Where the network lives.
    loss_name : str
        A name of :data:`~calf_sklearn.losses.LOSSES`, e.g. ``"smape"`` or ``"mase"``.
    period : int, default=1
        Seasonal lag of ``"mase"``'s scale.
    precision : Precision, default=None
        Forecast under its autocast (see :func:`~calf_sklearn.network.forecast_windows`).

    Returns
    -------
    float
        The loss, averaged over the windows (computed in float64).

    Raises
    ------
    ValueError
        If ``loss_name`` is unknown or ``data`` holds no target value.

    Examples
    --------
    >>> from transformers import GPT2Model
    >>> from calf_sklearn.backbone import gpt2_config
    >>> from calf_sklearn.network import CALFNetwork
    >>> from calf_sklearn.windows import WindowedSeries
    >>> backbone = GPT2Model(gpt2_config({"n_embd": 16, "n_layer": 1, "n_head": 2, "vocab_size": 32}))
    >>> net = CALFNetwork(backbone, seq_len=8, pred_len=4, principal_words=torch.randn(5, 16))
    >>> data = WindowedSeries(np.random.default_rng(0).normal(size=(60, 2)).astype("float32") + 5, 8, 4)
    >>> smape = windows_loss(net, data, batch_size=16, device=torch.device("cpu"), loss_name="smape")
    >>> bool(0 < smape < 200)
    True
    >>> mse = windows_loss(net, data, 16, torch.device("cpu"), "mse")  # no masks, equal batches:
    >>> bool(np.isclose(mse, windows_mse(net, data, 16, torch.device("cpu"))))  # the plain MSE
    True
    """
    score = _WindowLoss(loss_name, period)
    for x, y, mask, forecast in _forecast_batches(network, data, batch_size, device, precision):
        score.add(forecast, y, mask, x)
    return score.mean()


def windows_mse(network, data, batch_size, device, precision=None):
    """Mean squared error of ``network`` over every window of ``data``, in eval mode.

    Parameters
    ----------
    network : torch.nn.Module
        Maps look-backs (B, L, M) to forecasts (B, P, M) and has ``pred_len``.
    data : window source
        Windows with ``len()`` and ``batch(indices) -> (x, y)`` or ``(x, y, mask)``.
    batch_size : int
        Windows per forward pass.
    device : torch.device
        Where the network lives.
    precision : Precision, default=None
        Forecast under its autocast (see :func:`~calf_sklearn.network.forecast_windows`).

    Returns
    -------
    float
        The mean over every window, step and series; with masks, over the
        elements whose mask is 1 only.

    Raises
    ------
    ValueError
        If there is no target value to score.

    Examples
    --------
    >>> from transformers import GPT2Model
    >>> from calf_sklearn.backbone import gpt2_config
    >>> from calf_sklearn.network import CALFNetwork
    >>> from calf_sklearn.windows import WindowedSeries
    >>> backbone = GPT2Model(gpt2_config({"n_embd": 16, "n_layer": 1, "n_head": 2, "vocab_size": 32}))
    >>> net = CALFNetwork(backbone, seq_len=8, pred_len=4, principal_words=torch.randn(5, 16))
    >>> data = WindowedSeries(np.random.default_rng(0).normal(size=(60, 2)).astype("float32"), 8, 4)
    >>> error = windows_mse(net, data, batch_size=16, device=torch.device("cpu"))
    >>> bool(error > 0)
    True
    """
    error = _SquaredError()
    for _, y, mask, forecast in _forecast_batches(network, data, batch_size, device, precision):
        error.add(forecast, y, mask)
    return error.mean()


@dataclass
class TrainingResult:
    """What :meth:`Trainer.fit` reports.

    Attributes
    ----------
    history : list of dict
        One entry per finished epoch: ``epoch``, ``train_loss``, ``task_loss``,
        ``output_loss``, ``feature_loss``, ``val_mse`` (``None`` without
        validation), with a ``validation_metric`` other than ``"mse"`` also
        ``val_<metric>`` (e.g. ``val_smape``), ``learning_rate`` and ``seconds``.
    best_epoch : int or None
        The epoch (1-based) whose weights the network holds at the end;
        ``None`` if no epoch finished.
    interrupted : bool
        Whether training stopped on KeyboardInterrupt.
    resumed_from : int or None
        The last epoch read from a checkpoint (training went on after it).

    Examples
    --------
    >>> import tempfile
    >>> from transformers import GPT2Model
    >>> from calf_sklearn.backbone import gpt2_config
    >>> from calf_sklearn.losses import CALFLoss
    >>> from calf_sklearn.network import CALFNetwork
    >>> from calf_sklearn.windows import WindowedSeries
    >>> _ = torch.manual_seed(0)
    >>> backbone = GPT2Model(gpt2_config({"n_embd": 16, "n_layer": 1, "n_head": 2, "vocab_size": 32}))
    >>> net = CALFNetwork(backbone, seq_len=8, pred_len=4, principal_words=torch.randn(5, 16))
    >>> data = WindowedSeries(np.random.default_rng(0).normal(size=(60, 2)).astype("float32"), 8, 4)
    >>> trainer = Trainer(net, CALFLoss("l1", "l1", "l1", 1, 1, 0.01), learning_rate=5e-4,
    ...                   projection_learning_rate=1e-4, batch_size=16, max_epochs=2, patience=5,
    ...                   cosine_t_max=20, device=torch.device("cpu"),
    ...                   generator=torch.Generator().manual_seed(0))
    >>> result = trainer.fit(data, data)
    >>> [record["epoch"] for record in result.history], result.interrupted, result.resumed_from
    ([1, 2], False, None)
    """

    history: list = field(default_factory=list)
    best_epoch: int | None = None
    interrupted: bool = False
    resumed_from: int | None = None


class Trainer:
    """Trains a :class:`~calf_sklearn.network.CALFNetwork` in place.

    Adam on every trainable parameter but the feature projections at
    ``learning_rate``, annealed by a cosine schedule stepped once per epoch;
    a second Adam at a constant ``projection_learning_rate`` for the
    projections. Early stopping on the temporal branch's validation score
    (``validation_metric``, MSE by default) in eval mode over every
    validation window; the best weights are restored.

    Window sources may give masks (``batch`` returning ``(x, y, mask)``);
    the loss then gets them, with the look-backs as ``context``. A training
    source with a ``resample(rng)`` method is resampled at the start of every
    epoch, before shuffling, with a ``numpy.random.Generator`` seeded
    from ``generator``, so a resumed fit redraws the same epochs.

    Parameters
    ----------
    network : CALFNetwork
        The network, already on ``device``.
    loss : CALFLoss
        The loss.
    learning_rate, projection_learning_rate : float
        Learning rates of the two optimisers.
    batch_size, max_epochs, patience, cosine_t_max : int
        Loop settings.
    device : torch.device
        Where batches go.
    generator : torch.Generator
        Drives the shuffling and the resampling (seeded by the caller).
    verbose : int, default=0
        0 silent; 1 a progress bar over epochs; 2 also one over batches.
    validation_metric : str, default="mse"
        What early stopping minimises: ``"mse"``, or another name of
        :data:`~calf_sklearn.losses.LOSSES` (e.g. ``"smape"``, ``"mase"``,
        with the loss's ``period``), averaged over the validation windows
        (see :func:`windows_loss`).
    precision : Precision, default=None
        Mixed precision (:mod:`calf_sklearn.precision`): the forward passes
        of training and validation run under its autocast, the loss in
        float32, and for float16 the backward pass through a gradient
        scaler; the trained weights and the optimisers' state stay float32,
        the frozen backbone matrices are held in the lower precision
        (:meth:`~calf_sklearn.network.CALFNetwork.hold_frozen_matrices_in`).
        ``None``: float32 on ``device``.

    Raises
    ------
    ValueError
        If ``validation_metric`` is not a name of
        :data:`~calf_sklearn.losses.LOSSES`.

    Examples
    --------
    >>> import numpy as np, torch
    >>> from transformers import GPT2Model
    >>> from calf_sklearn.backbone import gpt2_config
    >>> from calf_sklearn.network import CALFNetwork
    >>> from calf_sklearn.losses import CALFLoss
    >>> from calf_sklearn.windows import WindowedSeries
    >>> _ = torch.manual_seed(0)
    >>> backbone = GPT2Model(gpt2_config({"n_embd": 16, "n_layer": 1, "n_head": 2, "vocab_size": 32}))
    >>> net = CALFNetwork(backbone, seq_len=8, pred_len=4, principal_words=torch.randn(5, 16))
    >>> data = WindowedSeries(np.random.default_rng(0).normal(size=(60, 2)).astype("float32"), 8, 4)
    >>> trainer = Trainer(net, CALFLoss("l1", "l1", "l1", 1, 1, 0.01), learning_rate=5e-4,
    ...                   projection_learning_rate=1e-4, batch_size=16, max_epochs=2, patience=5,
    ...                   cosine_t_max=20, device=torch.device("cpu"),
    ...                   generator=torch.Generator().manual_seed(0))
    >>> result = trainer.fit(data, data)
    >>> len(result.history), result.best_epoch in (1, 2)
    (2, True)
    """

    def __init__(
        self,
        network,
        loss,
        *,
        learning_rate,
        projection_learning_rate,
        batch_size,
        max_epochs,
        patience,
        cosine_t_max,
        device,
        generator,
        verbose=0,
        validation_metric="mse",
        precision=None,
    ):
        _choose("validation_metric", validation_metric, tuple(LOSSES))
        self.network = network
        self.loss = loss
        self.validation_metric = validation_metric
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.patience = patience
        self.device = device
        self.generator = generator
        self.verbose = verbose
        self.precision = precision if precision is not None else Precision("float32", device.type)
        self.scaler = self.precision.grad_scaler()
        if self.precision.mixed and hasattr(network, "hold_frozen_matrices_in"):
            network.hold_frozen_matrices_in(self.precision.dtype)
        self.optimizer = torch.optim.Adam(network.main_parameters(), lr=learning_rate, betas=_BETAS)
        projections = network.projection_parameters() if loss.needs_features else []
        self.projection_optimizer = (
            torch.optim.Adam(projections, lr=projection_learning_rate, betas=_BETAS) if projections else None
        )
        self.scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(
            self.optimizer, T_max=cosine_t_max, eta_min=_ETA_MIN
        )

    def _snapshot(self):
        return {name: p.detach().clone() for name, p in self.network.named_parameters() if p.requires_grad}

    def _restore(self, snapshot):
        parameters = dict(self.network.named_parameters())
        with torch.no_grad():
            for name, value in snapshot.items():
                parameters[name].copy_(value)

    def _to_device(self, array):
        return to_device(array, self.device)

    def train_step(self, x, y, mask=None):
        """One optimisation step on a batch; returns the loss terms.

        Parameters
        ----------
        x : Tensor of shape (B, L, M)
            Look-back windows, on ``device``; the loss's ``context``.
        y : Tensor of shape (B, P, M)
            The values that follow them, on ``device``.
        mask : Tensor of shape (B, P, M), default=None
            1 where ``y`` exists, 0 past the end of a series (``None``: all).

        Returns
        -------
        dict of str to float
            The unweighted terms of :class:`~calf_sklearn.losses.CALFLoss`
            and ``train_loss``, the weighted total that was minimised.

        Examples
        --------
        >>> from transformers import GPT2Model
        >>> from calf_sklearn.backbone import gpt2_config
        >>> from calf_sklearn.losses import CALFLoss
        >>> from calf_sklearn.network import CALFNetwork
        >>> from calf_sklearn.windows import WindowedSeries
        >>> _ = torch.manual_seed(0)
        >>> backbone = GPT2Model(gpt2_config({"n_embd": 16, "n_layer": 1, "n_head": 2, "vocab_size": 32}))
        >>> net = CALFNetwork(backbone, seq_len=8, pred_len=4, principal_words=torch.randn(5, 16))
        >>> data = WindowedSeries(np.random.default_rng(0).normal(size=(60, 2)).astype("float32"), 8, 4)
        >>> trainer = Trainer(net, CALFLoss("l1", "l1", "l1", 1, 1, 0.01), learning_rate=5e-4,
        ...                   projection_learning_rate=1e-4, batch_size=16, max_epochs=2, patience=5,
        ...                   cosine_t_max=20, device=torch.device("cpu"),
        ...                   generator=torch.Generator().manual_seed(0))
        >>> x, y = data.batch([0, 1, 2])
        >>> before = net.head.weight.detach().clone()
        >>> terms = trainer.train_step(torch.from_numpy(x), torch.from_numpy(y))
        >>> sorted(terms)
        ['feature_loss', 'output_loss', 'task_loss', 'train_loss']
        >>> torch.equal(net.head.weight, before)  # the step moved the weights
        False
        """
        with self.precision.autocast():
            outputs = self.network.forward_train(
                x, textual=self.loss.needs_textual, features=self.loss.needs_features
            )
        total, terms = self.loss(_as_float32(outputs), y, context=x, mask=mask)
        self.optimizer.zero_grad(set_to_none=True)
        if self.projection_optimizer is not None:
            self.projection_optimizer.zero_grad(set_to_none=True)
        # A disabled scaler (every precision but float16) passes these through.
        self.scaler.scale(total).backward()
        self.scaler.step(self.optimizer)
        if self.projection_optimizer is not None:
            self.scaler.step(self.projection_optimizer)
        self.scaler.update()
        terms["train_loss"] = float(total.detach())
        return terms

    def train_epoch(self, data, epoch):
        """One pass over shuffled training windows; returns mean loss terms.

        Parameters
        ----------
        data : window source
            Training windows, with ``len()`` and ``batch(indices) -> (x, y)``
            or ``(x, y, mask)``; if it has ``resample(rng)``, that is called
            first.
        epoch : int
            Number of the epoch, shown in the progress bar and in errors.

        Returns
        -------
        dict of str to float
            The terms of :meth:`train_step`, averaged over the windows.

        Raises
        ------
        FloatingPointError
            If the training loss becomes infinite or NaN.

        Examples
        --------
        >>> from transformers import GPT2Model
        >>> from calf_sklearn.backbone import gpt2_config
        >>> from calf_sklearn.losses import CALFLoss
        >>> from calf_sklearn.network import CALFNetwork
        >>> from calf_sklearn.windows import WindowedSeries
        >>> _ = torch.manual_seed(0)
        >>> backbone = GPT2Model(gpt2_config({"n_embd": 16, "n_layer": 1, "n_head": 2, "vocab_size": 32}))
        >>> net = CALFNetwork(backbone, seq_len=8, pred_len=4, principal_words=torch.randn(5, 16))
        >>> data = WindowedSeries(np.random.default_rng(0).normal(size=(60, 2)).astype("float32"), 8, 4)
        >>> trainer = Trainer(net, CALFLoss("l1", "l1", "l1", 1, 1, 0.01), learning_rate=5e-4,
        ...                   projection_learning_rate=1e-4, batch_size=16, max_epochs=2, patience=5,
        ...                   cosine_t_max=20, device=torch.device("cpu"),
        ...                   generator=torch.Generator().manual_seed(0))
        >>> means = trainer.train_epoch(data, epoch=1)
        >>> sorted(means), net.training
        (['feature_loss', 'output_loss', 'task_loss', 'train_loss'], True)
        """
        self.network.train()
        if hasattr(data, "resample"):
            # Seeded from the shuffling generator, which checkpoints save and
            # restore: a resumed fit draws the same windows as an unbroken one.
            seed = int(torch.randint(0, 2**62, (), generator=self.generator))
            data.resample(np.random.default_rng(seed))
        order = torch.randperm(len(data), generator=self.generator).numpy()
        batches = range(0, len(order), self.batch_size)
        sums, seen = {}, 0
        progress = tqdm(batches, desc=f"epoch {epoch}", leave=False, disable=self.verbose < 2)
        for start in progress:
            x, y, mask = _unpack(data.batch(order[start : start + self.batch_size]))
            tensors = [self._to_device(x), self._to_device(y)]
            if mask is not None:  # (x, y) alone for sources without masks, as before
                tensors.append(self._to_device(mask))  # to_device makes it float32
            terms = self.train_step(*tensors)
            if not math.isfinite(terms["train_loss"]):
                raise FloatingPointError(
                    f"The training loss became {terms['train_loss']} at epoch {epoch}, batch "
                    f"{start // self.batch_size + 1}. Lower learning_rate, or check the input "
                    "for extreme values."
                )
            for key, value in terms.items():
                sums[key] = sums.get(key, 0.0) + value * len(x)
            seen += len(x)
            progress.set_postfix(loss=f"{sums['train_loss'] / seen:.4f}")
        return {key: value / seen for key, value in sums.items()}

    def validation_mse(self, data):
        """Temporal-branch MSE over every validation window, in eval mode.

        Parameters
        ----------
        data : window source
            Validation windows, with ``len()`` and ``batch(indices) -> (x, y)``
            or ``(x, y, mask)``.

        Returns
        -------
        float
            The mean over every window, step and series, masked-out elements
            left out (see :func:`windows_mse`).

        Examples
        --------
        >>> from transformers import GPT2Model
        >>> from calf_sklearn.backbone import gpt2_config
        >>> from calf_sklearn.losses import CALFLoss
        >>> from calf_sklearn.network import CALFNetwork
        >>> from calf_sklearn.windows import WindowedSeries
        >>> _ = torch.manual_seed(0)
        >>> backbone = GPT2Model(gpt2_config({"n_embd": 16, "n_layer": 1, "n_head": 2, "vocab_size": 32}))
        >>> net = CALFNetwork(backbone, seq_len=8, pred_len=4, principal_words=torch.randn(5, 16))
        >>> data = WindowedSeries(np.random.default_rng(0).normal(size=(60, 2)).astype("float32"), 8, 4)
        >>> trainer = Trainer(net, CALFLoss("l1", "l1", "l1", 1, 1, 0.01), learning_rate=5e-4,
        ...                   projection_learning_rate=1e-4, batch_size=16, max_epochs=2, patience=5,
        ...                   cosine_t_max=20, device=torch.device("cpu"),
        ...                   generator=torch.Generator().manual_seed(0))
        >>> trainer.validation_mse(data) == windows_mse(net, data, 16, torch.device("cpu"))
        True
        """
        return windows_mse(self.network, data, self.batch_size, self.device, self.precision)

    def validation_scores(self, data):
        """The validation record of an epoch: ``val_mse`` and, if it differs, ``val_<metric>``.

        With ``validation_metric="mse"`` this is :meth:`validation_mse`;
        otherwise one pass over the windows gives both the MSE and the metric
        (see :func:`windows_loss`).

        Parameters
        ----------
        data : window source
            Validation windows, with ``len()`` and ``batch(indices) -> (x, y)``
            or ``(x, y, mask)``.

        Returns
        -------
        dict of str to float
            ``val_mse``, and ``val_<validation_metric>`` unless that is MSE.

        Examples
        --------
        >>> from transformers import GPT2Model
        >>> from calf_sklearn.backbone import gpt2_config
        >>> from calf_sklearn.losses import CALFLoss
        >>> from calf_sklearn.network import CALFNetwork
        >>> from calf_sklearn.windows import WindowedSeries
        >>> _ = torch.manual_seed(0)
        >>> backbone = GPT2Model(gpt2_config({"n_embd": 16, "n_layer": 1, "n_head": 2, "vocab_size": 32}))
        >>> net = CALFNetwork(backbone, seq_len=8, pred_len=4, principal_words=torch.randn(5, 16))
        >>> data = WindowedSeries(np.random.default_rng(0).normal(size=(60, 2)).astype("float32"), 8, 4)
        >>> trainer = Trainer(net, CALFLoss("smape", "mase", "l1", 1, 1, 0.01), learning_rate=5e-4,
        ...                   projection_learning_rate=1e-4, batch_size=16, max_epochs=2, patience=5,
        ...                   cosine_t_max=20, device=torch.device("cpu"),
        ...                   generator=torch.Generator().manual_seed(0), validation_metric="smape")
        >>> scores = trainer.validation_scores(data)
        >>> sorted(scores), scores["val_mse"] == trainer.validation_mse(data)
        (['val_mse', 'val_smape'], True)
        """
        metric = self.validation_metric
        if metric == "mse":
            return {"val_mse": self.validation_mse(data)}
        error, score = _SquaredError(), _WindowLoss(metric, getattr(self.loss, "period", 1))
        batches = _forecast_batches(self.network, data, self.batch_size, self.device, self.precision)
        for x, y, mask, forecast in batches:
            error.add(forecast, y, mask)
            score.add(forecast, y, mask, x)
        return {"val_mse": error.mean(), f"val_{metric}": score.mean()}

    def _rng_states(self):
        states = {"shuffle_rng": self.generator.get_state(), "torch_rng": torch.get_rng_state()}
        if self.device.type == "cuda":
            states["cuda_rng"] = torch.cuda.get_rng_state(self.device)
        return states

    def _set_rng_states(self, state):
        self.generator.set_state(state["shuffle_rng"])
        torch.set_rng_state(state["torch_rng"])
        if self.device.type == "cuda" and "cuda_rng" in state:
            torch.cuda.set_rng_state(state["cuda_rng"], self.device)

    def _checkpoint_state(self, epoch, result, best_score, best_state, stale, finished):
        return {
            "epoch": epoch,
            "finished": finished,
            "weights": self._snapshot(),
            "optimizer": self.optimizer.state_dict(),
            "projection_optimizer": (
                self.projection_optimizer.state_dict() if self.projection_optimizer is not None else None
            ),
            "scheduler": self.scheduler.state_dict(),
            "grad_scaler": self.scaler.state_dict(),
            "history": result.history,
            "best_epoch": result.best_epoch,
            # The best validation score (of validation_metric; the key keeps
            # its old name so that earlier checkpoints still resume).
            "best_mse": best_score,
            "best_weights": best_state,
            "stale": stale,
            **self._rng_states(),
        }

    def _resume(self, state):
        self._restore(state["weights"])
        self.optimizer.load_state_dict(state["optimizer"])
        if self.projection_optimizer is not None and state["projection_optimizer"] is not None:
            self.projection_optimizer.load_state_dict(state["projection_optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        if state.get("grad_scaler"):  # empty for a disabled scaler, absent in older checkpoints
            self.scaler.load_state_dict(state["grad_scaler"])
        self._set_rng_states(state)

    def fit(self, train, validation=None, *, checkpoint=None, resume=None, metadata=None):
        """Train until ``max_epochs`` or early stopping, then restore the best.

        A KeyboardInterrupt stops training cleanly: the best weights so far
        are restored, a warning is issued and the result says so.

        Parameters
        ----------
        train : window source
            Training windows.
        validation : window source, default=None
            Validation windows; ``None`` trains for ``max_epochs`` and keeps
            the last weights.
        checkpoint : str or path-like, default=None
            File to which the whole training state (trainable weights,
            optimisers, schedule, early-stopping state, random generators)
            is written atomically after every epoch.
        resume : dict, default=None
            A state read by :func:`read_checkpoint` from an earlier run of the
            same training: it goes on after the state's last epoch, exactly as
            the uninterrupted run would have.
        metadata : dict, default=None
            Saved with every checkpoint (for the caller to recognise it).

        Returns
        -------
        TrainingResult
            The history of the epochs run (with those read from ``resume``),
            the best epoch, and whether training was interrupted or resumed.

        Examples
        --------
        >>> import tempfile
        >>> from transformers import GPT2Model
        >>> from calf_sklearn.backbone import gpt2_config
        >>> from calf_sklearn.losses import CALFLoss
        >>> from calf_sklearn.network import CALFNetwork
        >>> from calf_sklearn.windows import WindowedSeries
        >>> _ = torch.manual_seed(0)
        >>> backbone = GPT2Model(gpt2_config({"n_embd": 16, "n_layer": 1, "n_head": 2, "vocab_size": 32}))
        >>> net = CALFNetwork(backbone, seq_len=8, pred_len=4, principal_words=torch.randn(5, 16))
        >>> data = WindowedSeries(np.random.default_rng(0).normal(size=(60, 2)).astype("float32"), 8, 4)
        >>> trainer = Trainer(net, CALFLoss("l1", "l1", "l1", 1, 1, 0.01), learning_rate=5e-4,
        ...                   projection_learning_rate=1e-4, batch_size=16, max_epochs=2, patience=5,
        ...                   cosine_t_max=20, device=torch.device("cpu"),
        ...                   generator=torch.Generator().manual_seed(0))
        >>> folder = tempfile.TemporaryDirectory()
        >>> path = folder.name + "/fit.ckpt"
        >>> [record["epoch"] for record in trainer.fit(data, data, checkpoint=path).history]
        [1, 2]
        >>> trainer.max_epochs = 3  # one more epoch, going on from the checkpoint
        >>> result = trainer.fit(data, data, resume=read_checkpoint(path))
        >>> result.resumed_from, [record["epoch"] for record in result.history]
        (2, [1, 2, 3])
        >>> folder.cleanup()
        """
        result = TrainingResult()
        key = f"val_{self.validation_metric}"
        best_score, best_state, stale, first, finished = math.inf, None, 0, 1, False
        if resume is not None:
            self._resume(resume)
            result.history = list(resume["history"])
            result.best_epoch = resume["best_epoch"]
            result.resumed_from = resume["epoch"]
            best_score, best_state, stale = resume["best_mse"], resume["best_weights"], resume["stale"]
            first = resume["epoch"] + 1
            # Recomputed, not read: a larger max_epochs extends a finished run.
            finished = resume["epoch"] >= self.max_epochs or (
                validation is not None and stale >= self.patience
            )
        last = first - 1 if finished else self.max_epochs
        epochs = tqdm(
            range(first, last + 1),
            desc="CALF",
            unit="epoch",
            initial=first - 1,
            total=self.max_epochs,
            disable=self.verbose < 1,
        )
        try:
            for epoch in epochs:
                started = time.perf_counter()
                learning_rate = self.optimizer.param_groups[0]["lr"]
                record = {"epoch": epoch, **self.train_epoch(train, epoch)}
                self.scheduler.step()
                scores = self.validation_scores(validation) if validation is not None else {"val_mse": None}
                record.update(scores)
                record["learning_rate"] = learning_rate
                record["seconds"] = time.perf_counter() - started
                result.history.append(record)
                # Without validation every epoch is the best so far; the
                # snapshot lets an interrupt fall back to a finished epoch.
                if validation is None or record[key] < best_score:
                    best_state, stale = self._snapshot(), 0
                    best_score = record[key] if validation is not None else math.inf
                    result.best_epoch = epoch
                else:
                    stale += 1
                epochs.set_postfix(
                    loss=f"{record['train_loss']:.4f}",
                    **{key: "-" if validation is None else f"{record[key]:.4f}"},
                )
                finished = epoch == self.max_epochs or (validation is not None and stale >= self.patience)
                if checkpoint is not None:
                    state = {
                        **(metadata or {}),
                        **self._checkpoint_state(epoch, result, best_score, best_state, stale, finished),
                    }
                    write_atomically(checkpoint, functools.partial(torch.save, state))
                if finished:
                    break
        except KeyboardInterrupt:
            result.interrupted = True
            kept = (
                f"the weights of epoch {result.best_epoch}"
                if best_state is not None
                else "the weights as they were when interrupted (no epoch had finished)"
            )
            saved = f"; {checkpoint} holds the last finished epoch to resume from" if checkpoint else ""
            warnings.warn(f"Training interrupted; keeping {kept}{saved}.", UserWarning, stacklevel=2)
        finally:
            epochs.close()
        if best_state is not None:
            self._restore(best_state)
        return result
