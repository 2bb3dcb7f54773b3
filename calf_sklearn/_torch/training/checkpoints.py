"""Training checkpoints: the state a fit saves after every epoch, and reading it back (torch only).

The public face of :func:`read_checkpoint` is :mod:`calf_sklearn.training`; its documentation is there.
"""

from __future__ import annotations

import functools
from pathlib import Path

import torch

from ..._utils.atomic import write_atomically

__all__ = ["LoopCheckpoints", "read_checkpoint", "restore_rng_states", "rng_states", "write_checkpoint"]


def read_checkpoint(path):
    """Load a checkpoint written by ``Trainer.fit``, or ``None`` if there is none.

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
    >>> import numpy as np
    >>> from transformers import GPT2Model
    >>> from calf_sklearn.backbone import gpt2_config
    >>> from calf_sklearn.losses import CALFLoss
    >>> from calf_sklearn.training import Trainer
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


def write_checkpoint(path, state):
    """Write ``state`` to ``path`` atomically: a reader finds the previous checkpoint or this one, whole.

    Parameters
    ----------
    path : str or path-like
        The checkpoint file.
    state : dict
        Tensors and plain containers (what :func:`read_checkpoint` loads with
        ``weights_only``).

    Returns
    -------
    None

    Examples
    --------
    >>> import tempfile
    >>> path = tempfile.mkdtemp() + "/fit.ckpt"
    >>> write_checkpoint(path, {"epoch": 3})
    >>> read_checkpoint(path)["epoch"]
    3
    """
    write_atomically(path, functools.partial(torch.save, state))


def rng_states(generator, device):
    """The states of the random generators a fit draws from, for a checkpoint.

    Parameters
    ----------
    generator : torch.Generator
        The fit's shuffling generator.
    device : torch.device
        The fit's device; on a GPU its generator is saved too (dropout draws from it).

    Returns
    -------
    dict
        ``shuffle_rng``, ``torch_rng`` and, on a GPU, ``cuda_rng``.

    Examples
    --------
    >>> generator = torch.Generator().manual_seed(0)
    >>> states = rng_states(generator, torch.device("cpu"))
    >>> first = torch.rand(2, generator=generator)
    >>> restore_rng_states(generator, torch.device("cpu"), states)
    >>> torch.equal(torch.rand(2, generator=generator), first)
    True
    """
    states = {"shuffle_rng": generator.get_state(), "torch_rng": torch.get_rng_state()}
    if device.type == "cuda":
        states["cuda_rng"] = torch.cuda.get_rng_state(device)
    return states


def restore_rng_states(generator, device, state):
    """Put back the generator states that :func:`rng_states` saved.

    Parameters
    ----------
    generator : torch.Generator
        The fit's shuffling generator.
    device : torch.device
        The fit's device.
    state : dict
        A checkpoint (or the output of :func:`rng_states`).

    Returns
    -------
    None

    Examples
    --------
    >>> generator = torch.Generator().manual_seed(0)
    >>> states = rng_states(generator, torch.device("cpu"))
    >>> _ = torch.rand(2, generator=generator)
    >>> restore_rng_states(generator, torch.device("cpu"), states)
    >>> torch.equal(generator.get_state(), torch.Generator().manual_seed(0).get_state())
    True
    """
    generator.set_state(state["shuffle_rng"])
    torch.set_rng_state(state["torch_rng"])
    if device.type == "cuda" and "cuda_rng" in state:
        torch.cuda.set_rng_state(state["cuda_rng"], device)


class LoopCheckpoints:
    """The training loop's checkpoints: what it saves after an epoch and puts back to resume.

    A mixin of :class:`~calf_sklearn._torch.training.loop.TrainingLoop`, whose
    ``network``, ``step``, ``scaler``, ``generator``, ``device`` and
    ``process_group`` it reads. With several processes rank 0 writes, and the
    file holds every process's generators, so that a relaunched job goes on
    with each process's own dropout draws.
    """

    def _snapshot(self):
        return {name: p.detach().clone() for name, p in self.network.named_parameters() if p.requires_grad}

    def _restore(self, snapshot):
        parameters = dict(self.network.named_parameters())
        with torch.no_grad():
            for name, value in snapshot.items():
                parameters[name].copy_(value)

    def _checkpoint_state(self, epoch, result, best_score, best_state, stale, finished):
        return {
            "epoch": epoch,
            "finished": finished,
            "weights": self._snapshot(),
            **self.step.state_dict(),
            "grad_scaler": self.scaler.state_dict(),
            "history": result.history,
            "best_epoch": result.best_epoch,
            # The best validation score (of validation_metric; the key keeps
            # its old name so that earlier checkpoints still resume).
            "best_mse": best_score,
            "best_weights": best_state,
            "stale": stale,
            **rng_states(self.generator, self.device),
        }

    def _write_checkpoint(self, path, metadata, *progress):
        """Rank 0 writes the checkpoint, with each process's generators (dropout draws differ between them)."""
        group = self.process_group
        per_process = group.gather_object(rng_states(self.generator, self.device)) if group.active else None

        def write():
            state = {**(metadata or {}), **self._checkpoint_state(*progress)}
            if per_process is not None:
                state["process_rng"] = per_process
            write_checkpoint(path, state)

        # A failed write (a full disk) stops every process, not rank 0 alone.
        group.on_main(write)

    def _resume(self, state):
        self._restore(state["weights"])
        self.step.load_state_dict(state)
        if state.get("grad_scaler"):  # empty for a disabled scaler, absent in older checkpoints
            self.scaler.load_state_dict(state["grad_scaler"])
        restore_rng_states(self.generator, self.device, state)
        group, per_process = self.process_group, state.get("process_rng")
        if group.active and per_process and len(per_process) == group.world_size:
            # The same processes as the interrupted run: each goes on with its own draws.
            restore_rng_states(self.generator, self.device, per_process[group.rank])
        elif group.rank:  # another number of processes: own dropout draws, not exactly the old ones
            torch.manual_seed(int(torch.randint(0, 2**62, ())) + group.rank)
