"""Data-parallel training: which processes a fit trains on, and what they exchange (torch only).

A fit launched by ``torchrun`` (or inside a process group the caller set up)
trains on every process of the group: each process computes its share of
every batch (DistributedDataParallel sums the gradients, see
:mod:`calf_sklearn._torch.training.sharing`), and :class:`ProcessGroup` sums
the rest of what the shares give (loss terms, validation sums), so that every
process takes the same step and makes the same early-stopping decision
(METHOD.md, section 15). One process alone is a group of one, whose
operations do nothing.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import pickle

import torch
from torch import distributed as dist

__all__ = ["ProcessGroup", "current_process_group", "join_process_group", "main_process"]

# What torchrun (and torch.distributed's env:// rendezvous) sets for each process.
_LAUNCH_VARIABLES = ("RANK", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")


class ProcessGroup:
    """The processes one fit trains on: rank, size, and the collectives the training loop needs.

    Parameters
    ----------
    world_size : int, default=1
        Number of processes.
    rank : int, default=0
        This process's place among them.
    local_rank : int, default=0
        Its place among the processes of its machine (which GPU it takes).

    Attributes
    ----------
    active : bool
        Whether there is more than one process (every operation is a no-op otherwise).
    is_main : bool
        Whether this is rank 0, the process that writes files.

    Examples
    --------
    >>> group = ProcessGroup()  # one process: shares are everything, sums are the values
    >>> group.share(10), group.is_main, group.active
    (slice(0, 10, None), True, False)
    >>> [ProcessGroup(3, rank).share(10) for rank in range(3)]
    [slice(0, 4, None), slice(4, 7, None), slice(7, 10, None)]
    """

    def __init__(self, world_size=1, rank=0, local_rank=0):
        self.world_size = int(world_size)
        self.rank = int(rank)
        self.local_rank = int(local_rank)

    @property
    def active(self):
        return self.world_size > 1

    @property
    def is_main(self):
        return self.rank == 0

    def share(self, n_items):
        """This rank's contiguous share of ``n_items`` items, as equal as possible (earlier ranks get the rest).

        Parameters
        ----------
        n_items : int
            Number of items to cut into ``world_size`` shares.

        Returns
        -------
        slice
            The items of this rank (empty when there are fewer items than ranks).
        """
        base, rest = divmod(n_items, self.world_size)
        start = self.rank * base + min(self.rank, rest)
        return slice(start, start + base + (self.rank < rest))

    def place(self, device):
        """The device this rank trains on: ``cuda:LOCAL_RANK`` for a CUDA device given without an index.

        Parameters
        ----------
        device : torch.device
            The device the fit asked for.

        Returns
        -------
        torch.device
        """
        if not self.active or device.type != "cuda":
            return device  # alone, a fit leaves the caller's current GPU as it is
        if device.index is None:
            device = torch.device("cuda", self.local_rank % torch.cuda.device_count())
        elif int(os.environ.get("LOCAL_WORLD_SIZE", "1")) > 1:
            raise ValueError(
                f"device={str(device)!r} puts every process of this machine on the same GPU; pass "
                "device='cuda' (or 'auto') so that each process takes cuda:LOCAL_RANK."
            )
        # Collectives and CUDA's generator of this process use this GPU.
        torch.cuda.set_device(device)
        return device

    # --------------------------------------------------------------- collectives

    def _collective(self, operation, *args, **kwargs):
        with self.explained_failures(RuntimeError):
            return operation(*args, **kwargs)

    @contextlib.contextmanager
    def explained_failures(self, kinds=None):
        """Turn a failed exchange with the other processes into an error that says what to do.

        Parameters
        ----------
        kinds : exception class or tuple, default=None
            What counts as a failed exchange; ``None``, for blocks that also
            run other code (a forward and backward pass through
            DistributedDataParallel): torch.distributed's own errors
            (``DistError``), and the RuntimeErrors its backends raise (which
            name gloo, NCCL or the connection).

        Raises
        ------
        RuntimeError
            Saying which process lost contact, why it probably did, and how
            to go on.
        """
        caught = kinds if kinds is not None else RuntimeError
        if not self.active:  # alone, an error is the block's own
            yield
            return
        try:
            yield
        except caught as error:
            if kinds is None and not (isinstance(error, dist.DistError) or _names_a_backend(error)):
                raise  # an error of the block's own code
            first = str(error).splitlines()[0] if str(error) else ""
            raise RuntimeError(
                f"Process {self.rank} of {self.world_size} lost contact with the others while training "
                f"({type(error).__name__}: {first}). Another process has most likely died or stalled: "
                "look for the first error in the other processes' output. The fit stopped instead of "
                "waiting; relaunch the job (with fit's checkpoint= it resumes after the last finished "
                "epoch)."
            ) from error

    def sum_floats(self, values, device):
        """Sum a list of Python floats over every rank, in float64; every rank gets rank 0's bits.

        What decisions are made of (the loss check, early stopping) must be
        the same on every rank, whatever order a rank's reduction summed in.

        Parameters
        ----------
        values : list of float
        device : torch.device
            Where the tensor goes (the backend's device).

        Returns
        -------
        list of float
        """
        if not self.active:
            return [float(value) for value in values]
        total = torch.tensor(values, dtype=torch.float64, device=device)
        self._collective(dist.all_reduce, total)
        self._collective(dist.broadcast, total, src=0)
        return total.tolist()

    def sum_terms(self, terms, device):
        """A dict of floats summed key by key over every rank (see :meth:`sum_floats`); itself alone.

        Parameters
        ----------
        terms : dict of str to float
        device : torch.device

        Returns
        -------
        dict of str to float

        Examples
        --------
        >>> ProcessGroup().sum_terms({"loss": 0.5}, torch.device("cpu"))
        {'loss': 0.5}
        """
        if not self.active:
            return terms
        names = sorted(terms)
        return dict(zip(names, self.sum_floats([terms[name] for name in names], device)))

    def broadcast(self, tensors):
        """Overwrite ``tensors`` on every rank with rank 0's values (in place).

        Parameters
        ----------
        tensors : iterable of Tensor

        Returns
        -------
        None
        """
        if self.active:
            with torch.no_grad():
                for tensor in tensors:
                    self._collective(dist.broadcast, tensor.data, src=0)

    def broadcast_object(self, value):
        """Rank 0's ``value`` (any picklable object), on every rank.

        Parameters
        ----------
        value : object

        Returns
        -------
        object
        """
        if not self.active:
            return value
        box = [value]
        self._collective(dist.broadcast_object_list, box, src=0)
        return box[0]

    def on_main(self, function):
        """``function()`` computed by rank 0 alone, its result (or the exception it raised) on every rank.

        For file work that must be one process's, with one outcome for all:
        reading the checkpoint to resume from (which then needs to exist on
        rank 0's machine only), writing it, and the benchmark's finished rows.

        Parameters
        ----------
        function : callable
            Takes no argument; its result must be picklable.

        Returns
        -------
        object
            What ``function`` returned on rank 0.

        Examples
        --------
        >>> ProcessGroup().on_main(lambda: 42)
        42
        """
        if not self.active:
            return function()
        outcome = None
        if self.is_main:
            try:
                outcome = (True, function())
            except Exception as error:  # noqa: BLE001 - re-raised below, on every rank
                outcome = (False, _picklable(error))
        succeeded, value = self.broadcast_object(outcome)
        if not succeeded:
            raise value
        return value

    def gather_object(self, value):
        """Every rank's ``value``, in rank order, on every rank (a list of one alone).

        Parameters
        ----------
        value : object
            Picklable.

        Returns
        -------
        list
        """
        if not self.active:
            return [value]
        values = [None] * self.world_size
        self._collective(dist.all_gather_object, values, value)
        return values

    def barrier(self):
        """Wait until every rank gets here."""
        if self.active:
            self._collective(dist.barrier)

    @contextlib.contextmanager
    def main_first(self):
        """Rank 0 runs the block first, then the first process of every other machine, then the rest.

        For work that fills a cache (a download, the principal words): no two
        processes fill one at the same time. On a shared file system all
        find rank 0's; otherwise each machine's first process fills its
        machine's cache and the others there read it. Every rank passes two
        barriers.
        """
        stage = 0 if self.is_main else 1 if self.local_rank == 0 else 2
        for _ in range(stage):
            self.barrier()
        try:
            yield
        finally:
            for _ in range(2 - stage):
                self.barrier()

    def __repr__(self):
        return f"ProcessGroup(world_size={self.world_size}, rank={self.rank}, local_rank={self.local_rank})"


def _picklable(error):
    """``error``, or a RuntimeError with its message when it cannot be sent to the other processes."""
    try:
        pickle.dumps(error)
    except Exception:  # noqa: BLE001 - any failure to pickle means: send its message instead
        return RuntimeError(f"{type(error).__name__}: {error}")
    return error


def _names_a_backend(error):
    text = str(error)
    return any(word in text for word in ("gloo", "NCCL", "Connection", "c10d", "ProcessGroup"))


def _local_rank(rank):
    if "LOCAL_RANK" in os.environ:
        return int(os.environ["LOCAL_RANK"])
    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    return rank % count if count else 0


def _launched_world_size():
    value = os.environ.get("WORLD_SIZE")
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        raise ValueError(
            f"WORLD_SIZE={value!r} is not a number of processes; unset it or launch with torchrun."
        )


def join_process_group(mode, device):
    """The processes this fit trains on: the group already initialised, the one torchrun launched, or this one alone.

    Parameters
    ----------
    mode : {"auto", True, False}
        ``"auto"``: train data-parallel when torch.distributed's default group
        is initialised, or when the environment says ``torchrun`` launched
        several processes (``WORLD_SIZE`` > 1); alone otherwise. ``True``: the
        same, but refuse to train alone outside a launch. ``False``: alone,
        whatever the environment.
    device : torch.device
        The fit's device: the backend of a group initialised here is NCCL for
        CUDA, gloo for the CPU.

    Returns
    -------
    ProcessGroup

    Raises
    ------
    ValueError
        If ``mode`` is ``True`` outside any launch, or the launch's variables
        are incomplete.

    Examples
    --------
    >>> join_process_group(False, torch.device("cpu"))
    ProcessGroup(world_size=1, rank=0, local_rank=0)
    """
    if mode is False or not dist.is_available():
        if mode is True:
            raise ValueError("data_parallel=True needs torch.distributed, which this build of torch lacks.")
        return ProcessGroup()
    if dist.is_initialized():  # the caller's group (Ray Train, Lightning, their own): used as it is
        return current_process_group()
    world_size = _launched_world_size()
    if world_size is None or world_size < 1:
        if mode is True:
            raise ValueError(
                "data_parallel=True, but no process group is initialised and WORLD_SIZE is not set: "
                "launch the script with torchrun (torchrun --nproc-per-node N script.py), or pass "
                "data_parallel='auto' to train in this process alone."
            )
        return ProcessGroup()
    if world_size == 1:
        return ProcessGroup()
    missing = [name for name in _LAUNCH_VARIABLES if name not in os.environ]
    if missing:
        raise ValueError(
            f"WORLD_SIZE={world_size} says this process is one of a data-parallel launch, but "
            f"{', '.join(missing)} {'is' if len(missing) == 1 else 'are'} not set. Launch with torchrun, "
            "which sets them all, or unset WORLD_SIZE (or pass data_parallel=False) to train alone."
        )
    backend = "nccl" if device.type == "cuda" and dist.is_nccl_available() else "gloo"
    dist.init_process_group(backend)
    atexit.register(_leave_process_group)
    rank = dist.get_rank()
    return ProcessGroup(world_size, rank, _local_rank(rank))


def current_process_group():
    """The process group torch.distributed has initialised, or this process alone (nothing is initialised here).

    Returns
    -------
    ProcessGroup

    Examples
    --------
    >>> current_process_group().is_main
    True
    """
    if dist.is_available() and dist.is_initialized():
        rank = dist.get_rank()
        return ProcessGroup(dist.get_world_size(), rank, _local_rank(rank))
    return ProcessGroup()


def main_process():
    """Whether this process is the one that writes files and reports: rank 0 of a launch, or a process alone.

    Before any process group is initialised it reads torchrun's ``RANK``.

    Returns
    -------
    bool

    Examples
    --------
    >>> main_process()
    True
    """
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank() == 0
    return os.environ.get("RANK", "0") in ("", "0")


def _leave_process_group():
    # Only the group this module initialised; quiet if the script destroyed it already.
    if dist.is_initialized():
        with contextlib.suppress(Exception):
            dist.destroy_process_group()
