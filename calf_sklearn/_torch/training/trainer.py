"""CALF's trainer: the training loop with CALF's step (torch only).

The public face of this module is :mod:`calf_sklearn.training`; its documentation is there.
"""

from __future__ import annotations

from .loop import TrainingLoop
from .steps import CALFStep

__all__ = ["Trainer"]


class Trainer(TrainingLoop):
    """Trains a :class:`~calf_sklearn.network.CALFNetwork` in place: the training loop with CALF's step.

    Adam on every trainable parameter but the feature projections at
    ``learning_rate``, annealed by a cosine schedule stepped once per epoch;
    a second Adam at a constant ``projection_learning_rate`` for the
    projections. Early stopping on the temporal branch's validation score
    (``validation_metric``, MSE by default) in eval mode over every
    validation window; the best weights are restored. The loop (``fit``,
    ``train_epoch``, ``train_step``, ``validation_mse``,
    ``validation_scores``) is the one every model of the package trains
    with; this class plugs CALF's loss, optimisers and schedule into it.

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
    process_group : ProcessGroup, default=None
        The processes that train the network together, data-parallel (see
        ``calf_sklearn._torch.training.loop.TrainingLoop``); ``None``:
        this process alone.

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
        process_group=None,
    ):
        step = CALFStep(
            network,
            loss,
            learning_rate=learning_rate,
            projection_learning_rate=projection_learning_rate,
            cosine_t_max=cosine_t_max,
            validation_metric=validation_metric,
        )
        super().__init__(
            step,
            batch_size=batch_size,
            max_epochs=max_epochs,
            patience=patience,
            device=device,
            generator=generator,
            verbose=verbose,
            precision=precision,
            process_group=process_group,
        )
        # The step's parts under the names the trainer has always had.
        self.loss = loss
        self.validation_metric = validation_metric
        self.optimizer = step.optimizer
        self.projection_optimizer = step.projection_optimizer
        self.scheduler = step.scheduler
