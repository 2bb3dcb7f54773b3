"""What the training loop needs to know of each model: one step object per model (torch only).

A step says how a model is trained, and the loop
(:class:`~calf_sklearn._torch.training.loop.TrainingLoop`) does the rest:
shuffling, batches, mixed precision, early stopping, checkpoints. A step has

- ``network``, the module being trained, and ``name``, shown by the progress bar;
- ``optimizers``, stepped after every batch in that order, the first one's
  learning rate being the one the history records, and ``scheduler``,
  stepped after every epoch;
- ``forward(x)``, run under the loop's autocast, and ``batch_loss(outputs,
  x, y, mask, share)``, returning the total to minimise and a dict of its
  terms (named by ``loss_terms``), each weighted by ``share`` when a
  process computes one share of a data-parallel batch;
- ``validation_metric``, what early stopping minimises over the validation
  windows (its score is ``val_<validation_metric>`` in the epoch's record),
  ``validation_period``, the seasonal lag of ``"mase"``'s scale, and
  ``validation_batch_size``, the windows per forward pass of validation
  (``None``: the loop's batch size);
- ``state_dict()`` and ``load_state_dict(state)`` for the optimisers and
  the schedule, merged into the checkpoint;
- ``keeps_weights_on_interrupt``: whether Ctrl-C ends training early with the
  best weights so far (CALF, whose checkpoint resumes) or propagates (DLinear).
"""

from __future__ import annotations

import torch
from torch.nn import functional as F

from ..losses import choose_loss
from ..network import CALFOutputs

__all__ = ["CALFStep", "DLinearStep"]

_ETA_MIN = 1e-8
_BETAS = (0.9, 0.999)


def _adam(parameters, **options):
    """Adam, fused into one kernel per step where torch has one for the parameters' device.

    The fused step updates every parameter in one pass instead of one Python
    loop iteration (and several temporaries) per tensor: for CALF's 18 M
    trainable parameters at the paper's shape, 12 ms instead of 41 ms per
    step on a 2-core AMD EPYC (AVX2).
    """
    parameters = list(parameters)
    devices = {p.device.type for p in parameters}
    fused = bool(parameters) and devices <= {"cpu", "cuda"} and all(p.is_floating_point() for p in parameters)
    return torch.optim.Adam(parameters, fused=fused or None, **options)


def _load_adam(optimizer, state):
    """``optimizer.load_state_dict(state)``, keeping this optimiser's own choice of fused kernel.

    A state dict carries its groups' ``fused`` and ``foreach`` flags, which
    torch would restore: a checkpoint written before Adam was fused would
    resume unfused, and one written on a device with the kernel would ask
    for it on a device without.
    """
    kernels = [{key: group.get(key) for key in ("fused", "foreach")} for group in optimizer.param_groups]
    optimizer.load_state_dict(state)
    for group, chosen in zip(optimizer.param_groups, kernels):
        group.update(chosen)


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


class CALFStep:
    """CALF's step: the three-term loss, two Adams and a cosine schedule.

    Adam on every trainable parameter but the feature projections at
    ``learning_rate``, annealed by a cosine schedule stepped once per epoch;
    a second Adam at a constant ``projection_learning_rate`` for the
    projections (none when the loss has no feature term). Validation scores
    the temporal branch alone (the network's ``forward``), with the loss's
    ``period`` for ``"mase"``.

    Parameters
    ----------
    network : CALFNetwork
        The network, already on its device.
    loss : CALFLoss
        The loss.
    learning_rate, projection_learning_rate : float
        Learning rates of the two optimisers.
    cosine_t_max : int
        Period of the cosine schedule, in epochs.
    validation_metric : str, default="mse"
        ``"mse"`` or another name of :data:`~calf_sklearn.losses.LOSSES`
        (see :func:`~calf_sklearn.training.windows_loss`).

    Raises
    ------
    ValueError
        If ``validation_metric`` is not a name of :data:`~calf_sklearn.losses.LOSSES`.

    Examples
    --------
    >>> from transformers import GPT2Model
    >>> from calf_sklearn.backbone import gpt2_config
    >>> from calf_sklearn.losses import CALFLoss
    >>> from calf_sklearn.network import CALFNetwork
    >>> backbone = GPT2Model(gpt2_config({"n_embd": 16, "n_layer": 1, "n_head": 2, "vocab_size": 32}))
    >>> net = CALFNetwork(backbone, seq_len=8, pred_len=4, principal_words=torch.randn(5, 16))
    >>> step = CALFStep(net, CALFLoss("l1", "l1", "l1", 1, 1, 0.01), learning_rate=5e-4,
    ...                 projection_learning_rate=1e-4, cosine_t_max=20)
    >>> len(step.optimizers), step.validation_metric
    (2, 'mse')
    >>> x = torch.randn(3, 8, 2)
    >>> total, terms = step.batch_loss(step.forward(x), x, torch.randn(3, 4, 2))
    >>> sorted(terms)
    ['feature_loss', 'output_loss', 'task_loss']
    """

    name = "CALF"
    loss_terms = ("task_loss", "output_loss", "feature_loss")
    validation_batch_size = None
    # Ctrl-C ends CALF's training early: the best weights so far are kept (and the checkpoint resumes).
    keeps_weights_on_interrupt = True

    def __init__(
        self, network, loss, *, learning_rate, projection_learning_rate, cosine_t_max, validation_metric="mse"
    ):
        choose_loss("validation_metric", validation_metric)
        self.network = network
        self.loss = loss
        self.validation_metric = validation_metric
        self.validation_period = getattr(loss, "period", 1)
        self.optimizer = _adam(network.main_parameters(), lr=learning_rate, betas=_BETAS)
        projections = network.projection_parameters() if loss.needs_features else []
        self.projection_optimizer = (
            _adam(projections, lr=projection_learning_rate, betas=_BETAS) if projections else None
        )
        self.scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(
            self.optimizer, T_max=cosine_t_max, eta_min=_ETA_MIN
        )

    @property
    def optimizers(self):
        """The main optimiser, then the projections' if there is one.

        Examples
        --------
        >>> from transformers import GPT2Model
        >>> from calf_sklearn.backbone import gpt2_config
        >>> from calf_sklearn.losses import CALFLoss
        >>> from calf_sklearn.network import CALFNetwork
        >>> backbone = GPT2Model(gpt2_config({"n_embd": 16, "n_layer": 1, "n_head": 2, "vocab_size": 32}))
        >>> net = CALFNetwork(backbone, seq_len=8, pred_len=4, principal_words=torch.randn(5, 16))
        >>> step = CALFStep(net, CALFLoss("l1", "l1", "l1", 1, 1, 0.0), learning_rate=5e-4,
        ...                 projection_learning_rate=1e-4, cosine_t_max=20)
        >>> step.optimizers == [step.optimizer]  # no feature term: no projection optimiser
        True
        """
        if self.projection_optimizer is None:
            return [self.optimizer]
        return [self.optimizer, self.projection_optimizer]

    def forward(self, x):
        """Both branches, as far as the loss needs them (:meth:`~calf_sklearn.network.CALFNetwork.forward_train`).

        Parameters
        ----------
        x : Tensor of shape (B, L, M)
            Look-back windows.

        Returns
        -------
        CALFOutputs
            What the loss reads.

        """
        return self.network.forward_train(
            x, textual=self.loss.needs_textual, features=self.loss.needs_features
        )

    def batch_loss(self, outputs, x, y, mask=None, share=None):
        """The loss of a batch, computed in float32.

        Parameters
        ----------
        outputs : CALFOutputs
            What :meth:`forward` returned (possibly in a lower precision).
        x : Tensor of shape (B, L, M)
            The look-backs, the loss's ``context``.
        y : Tensor of shape (B, P, M)
            The targets.
        mask : Tensor of shape (B, P, M), default=None
            1 where ``y`` exists (``None``: everywhere).
        share : tuple of float, default=None
            For a data-parallel share of a batch: its fraction of the batch's
            windows and masked-in elements (see :class:`~calf_sklearn.losses.CALFLoss`).

        Returns
        -------
        total : Tensor
            The weighted total to minimise.
        terms : dict of str to float
            The unweighted terms of :class:`~calf_sklearn.losses.CALFLoss`.

        """
        return self.loss(_as_float32(outputs), y, context=x, mask=mask, share=share)

    def state_dict(self):
        """The optimisers' and the schedule's state, under the keys checkpoints have always used.

        Returns
        -------
        dict
            ``optimizer``, ``projection_optimizer`` (``None`` without one) and ``scheduler``.

        """
        return {
            "optimizer": self.optimizer.state_dict(),
            "projection_optimizer": (
                self.projection_optimizer.state_dict() if self.projection_optimizer is not None else None
            ),
            "scheduler": self.scheduler.state_dict(),
        }

    def load_state_dict(self, state):
        """Put back what :meth:`state_dict` saved (from a checkpoint).

        Parameters
        ----------
        state : dict
            A checkpoint, or the output of :meth:`state_dict`.

        Returns
        -------
        None

        """
        _load_adam(self.optimizer, state["optimizer"])
        if self.projection_optimizer is not None and state["projection_optimizer"] is not None:
            _load_adam(self.projection_optimizer, state["projection_optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])


class DLinearStep:
    """DLinear's step, as its recipe has it: MSE, Adam, the learning rate halved after every epoch.

    Validation is the MSE over every window, forecast 256 at a time.

    Parameters
    ----------
    network : DLinearNetwork
        The network, already on its device.
    learning_rate : float
        Initial Adam learning rate.

    Examples
    --------
    >>> from calf_sklearn.dlinear import DLinearNetwork
    >>> step = DLinearStep(DLinearNetwork(8, 4), learning_rate=5e-3)
    >>> x, y = torch.randn(3, 8, 2), torch.randn(3, 4, 2)
    >>> total, terms = step.batch_loss(step.forward(x), x, y)
    >>> float(total.detach()) > 0, terms
    (True, {})
    """

    name = "DLinear"
    loss_terms = ()
    validation_metric = "mse"
    validation_period = 1
    validation_batch_size = 256
    # DLinear trains in seconds and has no checkpoint: Ctrl-C stops the fit, as it always did.
    keeps_weights_on_interrupt = False

    def __init__(self, network, *, learning_rate):
        self.network = network
        self.optimizer = _adam(network.parameters(), lr=learning_rate)
        self.scheduler = torch.optim.lr_scheduler.ExponentialLR(self.optimizer, gamma=0.5)
        self.optimizers = [self.optimizer]

    def forward(self, x):
        """The network's forecast of ``x``.

        Parameters
        ----------
        x : Tensor of shape (B, L, M)
            Look-back windows.

        Returns
        -------
        Tensor of shape (B, P, M)

        """
        return self.network(x)

    def batch_loss(self, outputs, x, y, mask=None, share=None):
        """The MSE of a batch; the loss has no other term.

        Parameters
        ----------
        outputs : Tensor of shape (B, P, M)
            The forecast.
        x : Tensor of shape (B, L, M)
            The look-backs (unused: the MSE needs no context).
        y : Tensor of shape (B, P, M)
            The targets.
        mask : Tensor of shape (B, P, M), default=None
            1 where a target is observed: the MSE is then the mean over the
            observed targets (missing values, ``missing="mask"``).
        share : tuple of float, default=None
            For a data-parallel share of a batch: its fraction of the batch's
            windows (first) and of its observed targets (second); the MSE is
            weighted by the first, or by the second given a mask.

        Returns
        -------
        total : Tensor
            The MSE.
        terms : dict
            Empty.

        """
        if mask is None:
            loss = F.mse_loss(outputs, y)
            return (loss if share is None else loss * share[0]), {}
        loss = choose_loss("loss", "mse")(outputs, y, mask=mask)
        return (loss if share is None else loss * share[1]), {}

    def state_dict(self):
        """The optimiser's and the schedule's state.

        Returns
        -------
        dict
            ``optimizer`` and ``scheduler``.

        Examples
        --------
        >>> from calf_sklearn.dlinear import DLinearNetwork
        >>> sorted(DLinearStep(DLinearNetwork(8, 4), learning_rate=5e-3).state_dict())
        ['optimizer', 'scheduler']
        """
        return {"optimizer": self.optimizer.state_dict(), "scheduler": self.scheduler.state_dict()}

    def load_state_dict(self, state):
        """Put back what :meth:`state_dict` saved.

        Parameters
        ----------
        state : dict
            A checkpoint, or the output of :meth:`state_dict`.

        Returns
        -------
        None

        Examples
        --------
        >>> from calf_sklearn.dlinear import DLinearNetwork
        >>> step = DLinearStep(DLinearNetwork(8, 4), learning_rate=5e-3)
        >>> step.load_state_dict(step.state_dict())
        """
        _load_adam(self.optimizer, state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
