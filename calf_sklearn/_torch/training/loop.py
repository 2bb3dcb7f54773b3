"""The one training loop, with a step object per model plugged into it (torch only).

:class:`TrainingLoop` owns what every model's training shares: shuffling
(and resampling) the windows each epoch, moving batches to the device, the
forward pass under mixed precision, the backward pass through a gradient
scaler, the per-epoch schedule, early stopping on a validation score with
the best weights restored, checkpoints to resume from, and a clean stop on
KeyboardInterrupt. What differs between models (the loss of a batch, the
optimisers and the schedule, how validation is scored) is the step's: see
:mod:`calf_sklearn._torch.training.steps`.
"""

from __future__ import annotations

import math
import time
import warnings
from dataclasses import dataclass, field

import numpy as np
import torch
from tqdm.auto import tqdm

from ..distributed import ProcessGroup
from ..precision import Precision
from ..transfer import to_device
from .checkpoints import LoopCheckpoints
from .evaluation import unpack_batch, validation_record
from .sharing import batch_share, parallel_forward

__all__ = ["TrainingLoop", "TrainingResult"]


@dataclass
class TrainingResult:
    """What the ``fit`` of a :class:`~calf_sklearn.training.Trainer` reports.

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
    >>> from transformers import GPT2Model
    >>> from calf_sklearn.backbone import gpt2_config
    >>> from calf_sklearn.losses import CALFLoss
    >>> from calf_sklearn.network import CALFNetwork
    >>> from calf_sklearn.training import Trainer
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


class TrainingLoop(LoopCheckpoints):
    """Trains ``step.network`` in place: the loop every model's training runs.

    Each epoch resamples the training source if it has ``resample(rng)``
    (with a ``numpy.random.Generator`` seeded from ``generator``, so that a
    resumed fit redraws the same epochs), shuffles it with ``generator``,
    runs :meth:`train_step` on each batch, steps the step's schedule, and
    scores the network's forecasts of the validation windows
    (:meth:`validation_scores`). Early stopping watches the step's
    ``val_<validation_metric>``; the best weights are restored.

    Window sources may give masks (``batch`` returning ``(x, y, mask)``);
    the step's loss then gets them.

    Parameters
    ----------
    step : step object
        What is trained and how: :class:`~calf_sklearn._torch.training.steps.CALFStep`,
        :class:`~calf_sklearn._torch.training.steps.DLinearStep` (see
        :mod:`~calf_sklearn._torch.training.steps` for what a step has).
    batch_size, max_epochs, patience : int
        Loop settings.
    device : torch.device
        Where batches go (the network is already there).
    generator : torch.Generator or None
        Drives the shuffling and the resampling (seeded by the caller);
        ``None`` draws from torch's global generator (no checkpoints then).
    verbose : int, default=0
        0 silent; 1 a progress bar over epochs; 2 also one over batches.
    precision : Precision, default=None
        Mixed precision (:mod:`calf_sklearn.precision`): the forward passes
        of training and validation run under its autocast, the loss in
        float32, and for float16 the backward pass through a gradient
        scaler; the trained weights and the optimisers' state stay float32,
        and a network with ``hold_frozen_matrices_in`` holds its frozen
        matrices in the lower precision. ``None``: float32 on ``device``.
    process_group : ProcessGroup, default=None
        The processes that train the network together (see
        :mod:`calf_sklearn._torch.distributed`): every process runs this
        loop with the same settings and generator seed; each computes its
        share of every batch, the gradients of the trained parameters and
        the loss terms are summed over the processes before every step, and
        validation is split between them and its sums reduced, so that
        every process takes the same steps and stops at the same epoch as
        one process would (to float rounding). Rank 0 alone writes the
        checkpoints and shows progress. ``None``: this process alone.

    Examples
    --------
    >>> from calf_sklearn._torch.training.steps import DLinearStep
    >>> from calf_sklearn.dlinear import DLinearNetwork
    >>> from calf_sklearn.windows import WindowedSeries
    >>> t = np.arange(300, dtype=np.float32)[:, None]
    >>> data = WindowedSeries(np.sin(t / 5), seq_len=24, pred_len=8)
    >>> loop = TrainingLoop(DLinearStep(DLinearNetwork(24, 8), learning_rate=5e-3), batch_size=32,
    ...                     max_epochs=3, patience=3, device=torch.device("cpu"),
    ...                     generator=torch.Generator().manual_seed(0))
    >>> result = loop.fit(data, data)
    >>> len(result.history), result.history[-1]["val_mse"] < result.history[0]["val_mse"]
    (3, True)
    """

    def __init__(
        self,
        step,
        *,
        batch_size,
        max_epochs,
        patience,
        device,
        generator,
        verbose=0,
        precision=None,
        process_group=None,
    ):
        self.step = step
        self.network = step.network
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.patience = patience
        self.device = device
        self.generator = generator
        self.process_group = process_group if process_group is not None else ProcessGroup()
        # Progress bars on one process only: the others would print the same.
        self.verbose = verbose if self.process_group.is_main else 0
        self.precision = precision if precision is not None else Precision("float32", device.type)
        self.scaler = self.precision.grad_scaler()
        if self.precision.mixed and hasattr(self.network, "hold_frozen_matrices_in"):
            self.network.hold_frozen_matrices_in(self.precision.dtype)
        # Several processes: the step's forward through DDP, which sums the gradients in backward.
        self._parallel_forward = parallel_forward(step, device) if self.process_group.active else None

    def _to_device(self, array):
        return to_device(array, self.device)

    def train_step(self, x, y, mask=None, *, batch_windows=None):
        """One optimisation step on a batch (or on this process's share of it); returns the loss terms.

        Parameters
        ----------
        x : Tensor of shape (B, L, M)
            Look-back windows, on ``device``; the loss's ``context``.
        y : Tensor of shape (B, P, M)
            The values that follow them, on ``device``.
        mask : Tensor of shape (B, P, M), default=None
            1 where ``y`` exists, 0 past the end of a series (``None``: all).
        batch_windows : int, default=None
            With several processes: the windows of the whole batch, of which
            ``x`` is this process's share (possibly none). ``None``: ``x`` is
            the whole batch.

        Returns
        -------
        dict of str to float
            The step's loss terms (for CALF the unweighted terms of
            :class:`~calf_sklearn.losses.CALFLoss`) and ``train_loss``, the
            total that was minimised, of the whole batch.

        Examples
        --------
        >>> from transformers import GPT2Model
        >>> from calf_sklearn.backbone import gpt2_config
        >>> from calf_sklearn.losses import CALFLoss
        >>> from calf_sklearn.network import CALFNetwork
        >>> from calf_sklearn.training import Trainer
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
        group = self.process_group
        share, forward = None, self.step.forward
        if group.active:
            x, y, mask, share = batch_share(group, x, y, mask, batch_windows, self.device)
            forward = self._parallel_forward
        for optimizer in self.step.optimizers:
            optimizer.zero_grad(set_to_none=True)
        with group.explained_failures():
            with self.precision.autocast():
                outputs = forward(x)
            total, terms = self.step.batch_loss(outputs, x, y, mask, share)
            # DDP averages the gradients, which the shares' weights make sum to the batch's: undo
            # the division. A disabled scaler (every precision but float16) passes the loss through.
            self.scaler.scale(total * group.world_size if group.active else total).backward()
        terms["train_loss"] = float(total.detach())
        terms = group.sum_terms(terms, self.device)  # the batch's terms, from the shares'
        for optimizer in self.step.optimizers:
            self.scaler.step(optimizer)
        self.scaler.update()
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
        >>> from calf_sklearn._torch.training.steps import DLinearStep
        >>> from calf_sklearn.dlinear import DLinearNetwork
        >>> from calf_sklearn.windows import WindowedSeries
        >>> data = WindowedSeries(np.random.default_rng(0).normal(size=(60, 2)).astype("float32"), 8, 4)
        >>> loop = TrainingLoop(DLinearStep(DLinearNetwork(8, 4), learning_rate=5e-3), batch_size=16,
        ...                     max_epochs=2, patience=3, device=torch.device("cpu"),
        ...                     generator=torch.Generator().manual_seed(0))
        >>> means = loop.train_epoch(data, epoch=1)
        >>> sorted(means), loop.network.training
        (['train_loss'], True)
        """
        self.network.train()
        if hasattr(data, "resample"):
            # Seeded from the shuffling generator, which checkpoints save and
            # restore: a resumed fit draws the same windows as an unbroken one.
            seed = int(torch.randint(0, 2**62, (), generator=self.generator))
            data.resample(np.random.default_rng(seed))
        # Every process draws the same order (the same generator) and cuts
        # its share out of each batch: together they train the batches one
        # process would.
        order = torch.randperm(len(data), generator=self.generator).numpy()
        batches = range(0, len(order), self.batch_size)
        sums, seen = {}, 0
        progress = tqdm(batches, desc=f"epoch {epoch}", leave=False, disable=self.verbose < 2)
        for start in progress:
            batch = order[start : start + self.batch_size]
            x, y, mask = unpack_batch(data.batch(batch[self.process_group.share(len(batch))]))
            tensors = [self._to_device(x), self._to_device(y)]
            if mask is not None:  # (x, y) alone for sources without masks, as before
                tensors.append(self._to_device(mask))  # to_device makes it float32
            parallel = {"batch_windows": len(batch)} if self.process_group.active else {}
            terms = self.train_step(*tensors, **parallel)
            if not math.isfinite(terms["train_loss"]):
                raise FloatingPointError(
                    f"The training loss became {terms['train_loss']} at epoch {epoch}, batch "
                    f"{start // self.batch_size + 1}. Lower learning_rate, or check the input "
                    "for extreme values."
                )
            for key, value in terms.items():
                sums[key] = sums.get(key, 0.0) + value * len(batch)
            seen += len(batch)
            progress.set_postfix(loss=f"{sums['train_loss'] / seen:.4f}")
        return {key: value / seen for key, value in sums.items()}

    def validation_mse(self, data):
        """MSE of the network's forecast over every validation window, in eval mode.

        Parameters
        ----------
        data : window source
            Validation windows, with ``len()`` and ``batch(indices) -> (x, y)``
            or ``(x, y, mask)``.

        Returns
        -------
        float
            The mean over every window, step and series, masked-out elements
            left out (see :func:`~calf_sklearn.training.windows_mse`).

        Examples
        --------
        >>> from calf_sklearn._torch.training.steps import DLinearStep
        >>> from calf_sklearn.dlinear import DLinearNetwork
        >>> from calf_sklearn.windows import WindowedSeries
        >>> data = WindowedSeries(np.random.default_rng(0).normal(size=(60, 2)).astype("float32"), 8, 4)
        >>> loop = TrainingLoop(DLinearStep(DLinearNetwork(8, 4), learning_rate=5e-3), batch_size=16,
        ...                     max_epochs=2, patience=3, device=torch.device("cpu"),
        ...                     generator=torch.Generator().manual_seed(0))
        >>> from calf_sklearn.training import windows_mse
        >>> # DLinear's step validates 256 windows at a time, whatever batch_size.
        >>> loop.validation_mse(data) == windows_mse(loop.network, data, 256, torch.device("cpu"))
        True
        """
        return self._validate(data, "mse")["val_mse"]

    def validation_scores(self, data):
        """The validation record of an epoch: ``val_mse`` and, if it differs, ``val_<metric>``.

        With the step's ``validation_metric`` ``"mse"`` this is
        :meth:`validation_mse`; otherwise one pass over the windows gives
        both the MSE and the metric (see :func:`~calf_sklearn.training.windows_loss`).

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
        >>> from calf_sklearn.training import Trainer
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
        metric = self.step.validation_metric
        if metric == "mse":
            return {"val_mse": self.validation_mse(data)}
        return self._validate(data, metric)

    def _validate(self, data, metric):
        return validation_record(
            self.network,
            data,
            self.step.validation_batch_size or self.batch_size,
            self.device,
            self.precision,
            metric=metric,
            period=self.step.validation_period,
            group=self.process_group,
        )

    def fit(self, train, validation=None, *, checkpoint=None, resume=None, metadata=None):
        """Train until ``max_epochs`` or early stopping, then restore the best.

        A KeyboardInterrupt stops training cleanly where the step keeps its
        weights on interrupt (CALF's): the best weights so far are restored, a
        warning is issued and the result says so. Otherwise (DLinear's) it
        propagates.

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
            A state read by :func:`~calf_sklearn.training.read_checkpoint`
            from an earlier run of the same training: it goes on after the
            state's last epoch, exactly as the uninterrupted run would have.
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
        >>> from calf_sklearn.training import Trainer, read_checkpoint
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
        key = f"val_{self.step.validation_metric}"
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
        # The same start on every process, whatever each one's initialisation drew.
        self.process_group.broadcast(p for p in self.network.parameters() if p.requires_grad)
        last = first - 1 if finished else self.max_epochs
        epochs = tqdm(
            range(first, last + 1),
            desc=self.step.name,
            unit="epoch",
            initial=first - 1,
            total=self.max_epochs,
            disable=self.verbose < 1,
        )
        try:
            for epoch in epochs:
                started = time.perf_counter()
                # The rate the epoch trains at: the schedule steps after it.
                learning_rate = self.step.optimizers[0].param_groups[0]["lr"]
                record = {"epoch": epoch, **self.train_epoch(train, epoch)}
                self.step.scheduler.step()
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
                    self._write_checkpoint(
                        checkpoint, metadata, epoch, result, best_score, best_state, stale, finished
                    )
                if finished:
                    break
        except KeyboardInterrupt:
            # With several processes each would stop at its own batch: the job
            # stops instead, and a relaunch resumes from the last checkpoint.
            if not self.step.keeps_weights_on_interrupt or self.process_group.active:
                raise
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
