"""A data-parallel training step: each process's share of a batch, and the forward that sums gradients (torch only).

With several processes each computes the loss of its share of a batch,
weighted by :func:`batch_share` so that the shares' gradients add up to the
whole batch's, through :func:`parallel_forward`, whose backward pass sums
the trained tensors' gradients over the processes (METHOD.md, section 15).
"""

from __future__ import annotations

import torch

__all__ = ["batch_share", "parallel_forward"]


def batch_share(group, x, y, mask, batch_windows, device):
    """This process's share of a batch, and its weights: its fractions of the windows and of the masked-in targets.

    A process whose share is empty (a batch of fewer windows than
    processes) computes a stand-in window of zeros with weight 0: every
    process must run the forward and backward pass that sum the gradients.

    Parameters
    ----------
    group : ProcessGroup
        The processes sharing the batch (the mask's total is summed over them).
    x, y : Tensor of shape (b, L, M) and (b, P, M)
        This process's share of the look-backs and targets (``b`` may be 0).
    mask : Tensor of shape (b, P, M) or None
        Its share of the mask (``None``: every target exists).
    batch_windows : int
        Windows in the whole batch.
    device : torch.device
        Where the reduction runs.

    Returns
    -------
    x, y, mask : Tensor
        The share (the stand-in window when it was empty).
    share : tuple of float
        ``(windows, elements)``, the weights :class:`~calf_sklearn.losses.CALFLoss` takes as ``share``.

    Examples
    --------
    >>> from calf_sklearn._torch.distributed import ProcessGroup
    >>> x, y = torch.ones(3, 8, 2), torch.ones(3, 4, 2)
    >>> batch_share(ProcessGroup(), x, y, None, 4, torch.device("cpu"))[3]
    (0.75, 0.75)
    >>> x, y, mask, share = batch_share(ProcessGroup(), x[:0], y[:0], None, 4, torch.device("cpu"))
    >>> tuple(x.shape), share
    ((1, 8, 2), (0.0, 0.0))
    """
    local = 0.0 if mask is None else float(mask.sum())
    total = group.sum_floats([local], device)[0] if mask is not None else 0.0
    if len(x) == 0:
        x, y = x.new_zeros((1, *x.shape[1:])), y.new_zeros((1, *y.shape[1:]))
        mask = None if mask is None else mask.new_zeros((1, *mask.shape[1:]))
        return x, y, mask, (0.0, 0.0)
    windows = len(x) / batch_windows
    if mask is None:
        return x, y, mask, (windows, windows)
    return x, y, mask, (windows, local / total if total > 0 else 0.0)


class _StepForward(torch.nn.Module):
    """The step's training forward as a module, for DistributedDataParallel to wrap."""

    def __init__(self, step):
        super().__init__()
        self.network = step.network  # a submodule: DDP finds the trained parameters here
        self.step_forward = step.forward

    def forward(self, x):
        return self.step_forward(x)


def parallel_forward(step, device):
    """``step.forward`` through DistributedDataParallel, on the default process group.

    Its backward pass
    averages the gradients of the trained (``requires_grad``) tensors over the
    processes, in buckets, while the pass goes on; the frozen backbone has
    none to send. Parameters that the step leaves unused (the textual
    branch's when the loss does not need it) are allowed: every step runs
    the same branches, which DDP learns from the first one.

    Parameters
    ----------
    step : step object
        Its ``network`` and ``forward`` (see :mod:`~calf_sklearn._torch.training.steps`).
    device : torch.device
        This process's device.

    Returns
    -------
    torch.nn.parallel.DistributedDataParallel
    """
    import inspect

    from torch.nn.parallel import DistributedDataParallel

    # The buffers (the principal words) never change: no broadcast before every
    # forward. torch 2.13 renamed the switch; earlier versions know the old name.
    parameters = inspect.signature(DistributedDataParallel).parameters
    options = (
        {"forward_sync_buffers": False}
        if "forward_sync_buffers" in parameters
        else {"broadcast_buffers": False}
    )
    if "init_sync" in parameters:
        # The loop sends rank 0's trained weights itself; the frozen backbone is
        # the same everywhere (the same files, or the same seed): not sent again.
        options["init_sync"] = False
    return DistributedDataParallel(
        _StepForward(step),
        device_ids=[device.index] if device.type == "cuda" else None,
        # Every step runs the same branches: DDP learns from the first which
        # trained tensors the loss leaves unused, without a graph search per step.
        static_graph=True,
        # The gradients are the buckets' memory: no second copy of them.
        gradient_as_bucket_view=True,
        **options,
    )
