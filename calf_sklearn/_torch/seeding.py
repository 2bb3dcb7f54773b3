"""Seeding a fit: torch's generators set for the fit, and the caller's given back after it (torch only)."""

from __future__ import annotations

import contextlib

import torch

__all__ = ["seed_process_draws", "seeded"]


@contextlib.contextmanager
def seeded(seed, device):
    """Seed torch's global generators for a block, and restore the caller's states after it.

    The CPU generator is always forked; on a GPU, that device's generator
    too (dropout and initialisation on the GPU draw from it), so a fit
    neither depends on nor disturbs what the caller drew before or draws
    after. The block also gets its own shuffling generator, seeded alike.

    Parameters
    ----------
    seed : int
        The fit's seed.
    device : torch.device
        The fit's device.

    Yields
    ------
    torch.Generator
        A CPU generator seeded with ``seed``, for the training loop's
        shuffling (``generator``).

    Examples
    --------
    >>> _ = torch.manual_seed(7)
    >>> with seeded(0, torch.device("cpu")) as generator:
    ...     inside = torch.rand(2)
    >>> torch.equal(inside, torch.rand(2, generator=torch.Generator().manual_seed(0)))
    True
    >>> after = torch.rand(2)  # the caller's generator goes on as if nothing had drawn
    >>> _ = torch.manual_seed(7)
    >>> torch.equal(after, torch.rand(2))
    True
    """
    devices = [device.index or 0] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield torch.Generator().manual_seed(seed)


def seed_process_draws(seed, rank):
    """Give each process of a data-parallel fit its own dropout draws; rank 0 keeps the fit's.

    Call it inside :func:`seeded`, after the network is initialised (which
    every process does alike). Processes sharing one stream would draw the
    same masks for shares of the same shape.

    Parameters
    ----------
    seed : int
        The fit's seed.
    rank : int
        The process's rank (0 alone: nothing changes).

    Examples
    --------
    >>> with seeded(0, torch.device("cpu")):
    ...     seed_process_draws(0, rank=1)
    ...     other = torch.rand(2)
    >>> bool(torch.equal(other, torch.rand(2, generator=torch.Generator().manual_seed(0))))
    False
    """
    if rank:
        torch.manual_seed(seed + rank)
