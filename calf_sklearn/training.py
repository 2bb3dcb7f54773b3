"""The training loop: optimisers, schedule, early stopping (torch only).

Data arrive as window sources with ``len()`` and ``batch(indices) -> (x, y)``
NumPy arrays (see :mod:`calf_sklearn.windows`).
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

from ._atomic import write_atomically
from .network import forecast_windows

__all__ = ["Trainer", "TrainingResult", "read_checkpoint", "windows_mse"]

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


def windows_mse(network, data, batch_size, device):
    """Mean squared error of ``network`` over every window of ``data``, in eval mode.

    Parameters
    ----------
    network : torch.nn.Module
        Maps look-backs (B, L, M) to forecasts (B, P, M) and has ``pred_len``.
    data : window source
        Windows with ``len()`` and ``batch(indices) -> (x, y)``.
    batch_size : int
        Windows per forward pass.
    device : torch.device
        Where the network lives.

    Returns
    -------
    float
        The mean over every window, step and series.

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
    total, count = 0.0, 0
    for start in range(0, len(data), batch_size):
        x, y = data.batch(np.arange(start, min(start + batch_size, len(data))))
        forecast = forecast_windows(network, x, batch_size, device)
        total += float(np.square(forecast.astype(np.float64) - y).sum())
        count += y.size
    return total / count


@dataclass
class TrainingResult:
    """What :meth:`Trainer.fit` reports.

    Attributes
    ----------
    history : list of dict
        One entry per finished epoch: ``epoch``, ``train_loss``, ``task_loss``,
        ``output_loss``, ``feature_loss``, ``val_mse`` (``None`` without
        validation), ``learning_rate`` and ``seconds``.
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
    projections. Early stopping on the temporal branch's validation MSE in
    eval mode over every validation window; the best weights are restored.

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
        Drives the shuffling (seeded by the caller).
    verbose : int, default=0
        0 silent; 1 a progress bar over epochs; 2 also one over batches.

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
    ):
        self.network = network
        self.loss = loss
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.patience = patience
        self.device = device
        self.generator = generator
        self.verbose = verbose
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
        return torch.from_numpy(array).to(self.device, non_blocking=True)

    def train_step(self, x, y):
        """One optimisation step on a batch; returns the loss terms.

        Parameters
        ----------
        x : Tensor of shape (B, L, M)
            Look-back windows, on ``device``.
        y : Tensor of shape (B, P, M)
            The values that follow them, on ``device``.

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
        outputs = self.network.forward_train(
            x, textual=self.loss.needs_textual, features=self.loss.needs_features
        )
        total, terms = self.loss(outputs, y)
        self.optimizer.zero_grad(set_to_none=True)
        if self.projection_optimizer is not None:
            self.projection_optimizer.zero_grad(set_to_none=True)
        total.backward()
        self.optimizer.step()
        if self.projection_optimizer is not None:
            self.projection_optimizer.step()
        terms["train_loss"] = float(total.detach())
        return terms

    def train_epoch(self, data, epoch):
        """One pass over shuffled training windows; returns mean loss terms.

        Parameters
        ----------
        data : window source
            Training windows, with ``len()`` and ``batch(indices) -> (x, y)``.
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
        order = torch.randperm(len(data), generator=self.generator).numpy()
        batches = range(0, len(order), self.batch_size)
        sums, seen = {}, 0
        progress = tqdm(batches, desc=f"epoch {epoch}", leave=False, disable=self.verbose < 2)
        for start in progress:
            x, y = data.batch(order[start : start + self.batch_size])
            terms = self.train_step(self._to_device(x), self._to_device(y))
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
            Validation windows, with ``len()`` and ``batch(indices) -> (x, y)``.

        Returns
        -------
        float
            The mean over every window, step and series (see :func:`windows_mse`).

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
        return windows_mse(self.network, data, self.batch_size, self.device)

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

    def _checkpoint_state(self, epoch, result, best_mse, best_state, stale, finished):
        return {
            "epoch": epoch,
            "finished": finished,
            "weights": self._snapshot(),
            "optimizer": self.optimizer.state_dict(),
            "projection_optimizer": (
                self.projection_optimizer.state_dict() if self.projection_optimizer is not None else None
            ),
            "scheduler": self.scheduler.state_dict(),
            "history": result.history,
            "best_epoch": result.best_epoch,
            "best_mse": best_mse,
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
        best_mse, best_state, stale, first, finished = math.inf, None, 0, 1, False
        if resume is not None:
            self._resume(resume)
            result.history = list(resume["history"])
            result.best_epoch = resume["best_epoch"]
            result.resumed_from = resume["epoch"]
            best_mse, best_state, stale = resume["best_mse"], resume["best_weights"], resume["stale"]
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
                record["val_mse"] = self.validation_mse(validation) if validation is not None else None
                record["learning_rate"] = learning_rate
                record["seconds"] = time.perf_counter() - started
                result.history.append(record)
                # Without validation every epoch is the best so far; the
                # snapshot lets an interrupt fall back to a finished epoch.
                if validation is None or record["val_mse"] < best_mse:
                    best_state, stale = self._snapshot(), 0
                    best_mse = record["val_mse"] if validation is not None else math.inf
                    result.best_epoch = epoch
                else:
                    stale += 1
                epochs.set_postfix(
                    loss=f"{record['train_loss']:.4f}",
                    val_mse="-" if record["val_mse"] is None else f"{record['val_mse']:.4f}",
                )
                finished = epoch == self.max_epochs or (validation is not None and stale >= self.patience)
                if checkpoint is not None:
                    state = {
                        **(metadata or {}),
                        **self._checkpoint_state(epoch, result, best_mse, best_state, stale, finished),
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
