"""What a data-parallel training step exchanges: each share's weight, and the sums over processes (torch only).

With several processes each computes the loss of its share of a batch,
weighted by :func:`batch_share`, so that the shares' gradients add up to the
whole batch's; :func:`sum_over_processes` then adds them (and the loss terms)
up over the processes before the optimisers step (METHOD.md, section 15).
"""

from __future__ import annotations

import torch

__all__ = ["batch_share", "sum_over_processes"]


def batch_share(group, x, mask, batch_windows, device):
    """This process's fractions of a batch: of its windows, and of its masked-in target values.

    Parameters
    ----------
    group : ProcessGroup
        The processes sharing the batch (the mask's total is summed over them).
    x : Tensor of shape (b, L, M)
        This process's share of the look-backs (``b`` may be 0).
    mask : Tensor of shape (b, P, M) or None
        Its share of the mask (``None``: every target exists).
    batch_windows : int
        Windows in the whole batch.
    device : torch.device
        Where the reduction runs.

    Returns
    -------
    tuple of float
        ``(windows, elements)``, the weights :class:`~calf_sklearn.losses.CALFLoss` takes as ``share``.

    Examples
    --------
    >>> from calf_sklearn._torch.distributed import ProcessGroup
    >>> batch_share(ProcessGroup(), torch.zeros(3, 8, 2), None, 4, torch.device("cpu"))
    (0.75, 0.75)
    """
    windows = len(x) / batch_windows
    if mask is None:
        return windows, windows
    local = float(mask.sum())
    total = group.sum_floats([local], device)[0]
    return windows, (local / total if total > 0 else 0.0)


def sum_over_processes(group, optimizers, terms, device):
    """Sum the trained parameters' gradients (in place) and the loss terms over the processes.

    One all-reduce of exactly the tensors the optimisers train, flattened
    (the frozen backbone has no gradient to send), with one flag per tensor:
    a parameter to which no process gave a gradient keeps none, so that the
    optimiser skips it as a single process's would.

    Parameters
    ----------
    group : ProcessGroup
    optimizers : list of torch.optim.Optimizer
        Their parameters' ``grad`` are replaced by the sums.
    terms : dict of str to float
        This process's weighted loss terms.
    device : torch.device
        Where the gradients are.

    Returns
    -------
    dict of str to float
        The terms summed over the processes (rank 0's bits on every one).

    Examples
    --------
    >>> from calf_sklearn._torch.distributed import ProcessGroup
    >>> weight = torch.nn.Parameter(torch.ones(2))
    >>> weight.grad = torch.full((2,), 0.5)
    >>> sum_over_processes(ProcessGroup(), [torch.optim.SGD([weight])], {"loss": 1.0}, torch.device("cpu"))
    {'loss': 1.0}
    """
    parameters = [p for optimizer in optimizers for g in optimizer.param_groups for p in g["params"]]
    flat = torch.cat(
        [(p.grad if p.grad is not None else torch.zeros_like(p)).reshape(-1).float() for p in parameters]
        + [torch.tensor([p.grad is not None for p in parameters], dtype=torch.float32, device=device)]
    )
    group.sum(flat)
    offset, used = 0, flat[-len(parameters) :] > 0
    for parameter, has_gradient in zip(parameters, used.tolist()):
        size = parameter.numel()
        chunk = flat[offset : offset + size].view_as(parameter).to(parameter.dtype)
        parameter.grad = chunk if has_gradient else None
        offset += size
    names = sorted(terms)
    return dict(zip(names, group.sum_floats([terms[name] for name in names], device)))
