"""What both benchmark protocols share: a run's identity and folder, and the resumable per-model loop.

A protocol (:mod:`.long_term`, :mod:`.m4`) loads its data, builds its
:class:`Run` and subclasses :class:`Experiment` with what differs: the
models, the data they fit on, how they are scored and plotted. The loop,
the result rows, the resume rule, the hardware line and the files
(``results.csv``, ``results.md``) are written once, here.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import shutil
import time
from datetime import date
from pathlib import Path
from typing import ClassVar, NamedTuple

import pandas as pd

from .._estimators.calf import CALFForecaster
from .._utils.hardware import cpu_description
from .._utils.memory import PeakMemory
from .._version import __version__
from .report import to_markdown
from .shapes import PUBLISHED_SHAPES, published_shape

__all__ = [
    "DLINEAR_SETTINGS",
    "GPT2_SHAPE",
    "PUBLISHED_SHAPES",
    "BenchmarkInterrupted",
    "Experiment",
    "Run",
    "Scores",
    "backbone_label",
    "fit_model",
    "hardware",
    "precision_suffix",
    "published_shape",
    "stride_for",
]

#: The published GPT-2 ("gpt2") shape, for a randomly initialised backbone.
GPT2_SHAPE = {"n_embd": 768, "n_layer": 12, "n_head": 12, "vocab_size": 50257, "n_positions": 1024}

#: DLinear's own recipe (its ETTh1 script): MSE, Adam 5e-3 halved every epoch,
#: batch 32, at most 10 epochs, patience 3; one setting for every data set and both protocols.
DLINEAR_SETTINGS = {"learning_rate": 5e-3, "batch_size": 32, "max_epochs": 10, "patience": 3}

# How progress is shown or where it runs does not change a result, and a changed
# epoch cap only re-runs CALF (its checkpoint extends or ends): none is in a run's key.
_NOT_IN_KEY = ("verbose", "device", "max_epochs")


class BenchmarkInterrupted(KeyboardInterrupt):
    """Raised when a benchmark is stopped with Ctrl-C; the run's folder keeps its state.

    It is a ``KeyboardInterrupt``, so code that stops on Ctrl-C stops on it
    too; running the same benchmark again resumes from the folder.

    Examples
    --------
    >>> issubclass(BenchmarkInterrupted, KeyboardInterrupt)
    True
    """


def backbone_label(llm, pretrained, n_layers):
    """How the results table names CALF's backbone.

    Parameters
    ----------
    llm : str, dict or transformers.PretrainedConfig
        The backbone, as given to :class:`~calf_sklearn.CALFForecaster`.
    pretrained : bool
        Whether its weights are pre-trained; if not, ``llm`` is a configuration.
    n_layers : int
        Blocks of the backbone CALF keeps.

    Returns
    -------
    str

    Examples
    --------
    >>> backbone_label("gpt2", True, 6)
    'gpt2 (pretrained)'
    >>> backbone_label({"n_embd": 64, "n_layer": 2}, False, 2)
    'random init (custom: width 64, 2 of 2 blocks)'
    >>> backbone_label(published_shape("Qwen2.5-0.5B"), False, 6)
    'random init (Qwen/Qwen2.5-0.5B shape, Qwen2: width 896, 6 of 24 blocks)'
    """
    if pretrained:
        return f"{llm} (pretrained)"
    from .._torch.backbone import backbone_config
    from .._torch.families import backbone_family

    config = backbone_config(llm)
    family = backbone_family(config)
    fields = dict(llm) if isinstance(llm, dict) else llm.to_dict()
    fields.setdefault("model_type", "gpt2")
    if all(fields.get(k) == v for k, v in GPT2_SHAPE.items()) and fields["model_type"] == "gpt2":
        shape = "GPT-2 shape"
    else:
        known = [
            name
            for name, shape in PUBLISHED_SHAPES.items()
            if all(fields.get(k) == v for k, v in shape.items())
        ]
        name = f"custom {family.name}" if family.model_type != "gpt2" else "custom"
        shape = f"{known[0]} shape, {family.name}" if known else name
    return (
        f"random init ({shape}: width {config.hidden_size}, {n_layers} of {config.num_hidden_layers} blocks)"
    )


def precision_suffix(calf_params):
    """The folder-name suffix of a run in reduced precision, so that runs do not overwrite each other.

    Parameters
    ----------
    calf_params : dict
        CALFForecaster parameters of the run.

    Returns
    -------
    str
        ``""`` for float32, else ``"_bfloat16"`` or ``"_float16"``.

    Examples
    --------
    >>> precision_suffix({}), precision_suffix({"precision": "bfloat16"})
    ('', '_bfloat16')
    """
    from .._torch.precision import check_precision

    precision = check_precision(calf_params.get("precision", "float32"))
    return "" if precision == "float32" else f"_{precision}"


def stride_for(n_windows, at_most):
    """The smallest stride that keeps at most ``at_most`` of ``n_windows`` evenly spaced windows.

    Parameters
    ----------
    n_windows : int
        Windows available.
    at_most : int
        Windows wanted at most (quick mode's caps).

    Returns
    -------
    int
        At least 1.

    Examples
    --------
    >>> stride_for(8000, 1024), stride_for(500, 1024)
    (8, 1)
    """
    return max(1, math.ceil(n_windows / at_most))


def hardware(device):
    """The hardware line of a results table: the GPU's name, or the CPU with its cores and threads.

    Parameters
    ----------
    device : str
        The device the models ran on (``"cpu"``, ``"cuda:0"``, ...).

    Returns
    -------
    str

    Examples
    --------
    >>> "cores" in hardware("cpu")
    True
    """
    import torch

    from .._torch.distributed import current_process_group

    processes = current_process_group().world_size
    if str(device).startswith("cuda"):
        name = torch.cuda.get_device_name(torch.device(device))
        return name if processes == 1 else f"{processes} processes, each on one {name}"
    threads = f"{torch.get_num_threads()} threads"
    if processes > 1:  # under torchrun: the processes share the cores
        threads = f"{processes} processes x {threads} each"
    return f"{cpu_description()}, {os.cpu_count()} cores, {threads}"


@dataclasses.dataclass
class Run:
    """Everything that identifies one benchmark run, and its folder.

    Parameters
    ----------
    dataset, target : str
        The data set trained on and the one tested on (the same but for zero-shot).
    pred_len, seq_len : int
        Horizon and look-back.
    percent : int
        Share of the training windows used (few-shot below 100).
    quick : bool
        Smoke-test settings.
    backbone : str
        CALF's backbone as the table names it (:func:`backbone_label`).
    calf_params : dict
        CALFForecaster parameters.
    folder : pathlib.Path
        Where the run keeps its state and results.
    coverage : float, default=0.9
        Nominal coverage of the prediction intervals scored.
    interval_method : {"scaled", "absolute", "adaptive"}, default=None
        Every model's ``interval_method``; ``None`` leaves each model's own
        (CALF's from ``calf_params``).

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> run = Run("ETTh1", "ETTh1", 96, 96, 100, True, "-", {"max_epochs": 2}, Path(tempfile.mkdtemp()) / "r")
    >>> run.prepare(resume=True)
    >>> sorted(p.name for p in run.folder.iterdir())
    ['config.json']
    >>> run.key()["calf_params"]  # the epoch cap is not part of the run's identity
    {}
    """

    dataset: str
    target: str
    pred_len: int
    seq_len: int
    percent: int
    quick: bool
    backbone: str
    calf_params: dict
    folder: Path
    coverage: float = 0.9
    interval_method: str | None = None

    def key(self):
        """What a resumed run must share with the folder's: written to ``config.json``.

        Returns
        -------
        dict

        Examples
        --------
        >>> run = Run("ETTh1", "ETTh1", 96, 96, 100, False, "-", {"batch_size": 8}, Path("r"))
        >>> run.key()["calf_params"], run.key()["coverage"]
        ({'batch_size': '8'}, 0.9)
        """
        return {
            "dataset": self.dataset,
            "target": self.target,
            "pred_len": self.pred_len,
            "seq_len": self.seq_len,
            "percent": self.percent,
            "quick": self.quick,
            "backbone": self.backbone,
            "calf_params": {k: repr(v) for k, v in sorted(self.calf_params.items()) if k not in _NOT_IN_KEY},
            "version": __version__,
            "coverage": self.coverage,
            # "scaled" is every model's default: such runs share the folders of runs without it.
            **({} if self.interval_method in (None, "scaled") else {"interval_method": self.interval_method}),
        }

    def prepare(self, resume):
        """Create the run's folder; start it afresh if it belongs to another configuration.

        Parameters
        ----------
        resume : bool
            Keep what a run of the same key left in the folder; ``False``
            always starts afresh.

        Examples
        --------
        >>> import tempfile
        >>> run = Run("a", "a", 4, 8, 100, False, "-", {}, Path(tempfile.mkdtemp()) / "run")
        >>> run.prepare(resume=True)
        >>> (run.folder / "naive.json").write_text("{}")
        2
        >>> run.prepare(resume=True); (run.folder / "naive.json").exists()
        True
        >>> run.prepare(resume=False); (run.folder / "naive.json").exists()
        False
        """
        from .._torch.devices import resolve_device
        from .._torch.distributed import join_process_group

        # Under torchrun every process runs the protocol (CALF trains data-parallel);
        # the first one alone keeps the folder, the others wait for it.
        device = resolve_device(self.calf_params.get("device", "auto"))
        group = join_process_group("auto", device)
        group.place(device)  # NCCL's barrier below needs this process's GPU
        if group.is_main:
            config = self.folder / "config.json"
            key = self.key()
            if self.folder.exists() and (
                not resume or not config.exists() or json.loads(config.read_text()) != key
            ):
                shutil.rmtree(self.folder)
            self.folder.mkdir(parents=True, exist_ok=True)
            config.write_text(json.dumps(key, indent=1))
        group.barrier()


def fit_model(name, model, train, validation, run):
    """Fit one model of a run, timing it and watching its memory.

    Parameters
    ----------
    name : str
        The model's name in the protocol (``"calf"`` keeps a checkpoint in
        the run's folder, so that an interrupted fit resumes).
    model : estimator
        An unfitted forecaster.
    train, validation
        What its ``fit`` takes as ``X`` and ``X_val``.
    run : Run
        The run it belongs to.

    Returns
    -------
    dict
        The result-row columns of the fit: ``epochs``, ``train_s``,
        ``peak_memory_mib``, ``memory_kind``, ``resumed_from_epoch``, ``processes``
        (how many processes trained it: more than 1 under ``torchrun``).

    Raises
    ------
    BenchmarkInterrupted
        When CALF's training was interrupted (its checkpoint holds the last finished epoch).

    Examples
    --------
    >>> import numpy as np
    >>> from calf_sklearn.baselines import NaiveForecaster
    >>> run = Run("a", "a", 4, 8, 100, False, "-", {}, Path("unused"))
    >>> fitted = fit_model("naive", NaiveForecaster(pred_len=4), np.ones((50, 2)), None, run)
    >>> fitted["epochs"], fitted["resumed_from_epoch"]
    ('-', None)
    """
    device = getattr(model, "device", "cpu")
    if device == "auto":
        from .._torch.devices import resolve_device

        device = resolve_device("auto")
    checkpoint = run.folder / "calf.ckpt" if name == "calf" else None
    kwargs = {"checkpoint": checkpoint} if name == "calf" else {}
    with PeakMemory(device) as memory:
        started = time.perf_counter()
        model.fit(train, X_val=validation, **kwargs)
        seconds = time.perf_counter() - started
    if getattr(model, "training_interrupted_", False):
        raise BenchmarkInterrupted(
            f"CALF training was interrupted; {checkpoint} holds the last finished epoch. "
            "Run the same command again to resume."
        )
    history = getattr(model, "history_", [])
    resumed = getattr(model, "resumed_from_epoch_", None) or 0
    # A resumed fit's earlier epochs ran in an earlier process: count them too.
    seconds += sum(record["seconds"] for record in history[:resumed])
    epochs = "-"
    if history:
        best = getattr(model, "best_epoch_", None)
        epochs = f"{len(history)}" + (f" (best {best})" if best is not None else "")
    return {
        "epochs": epochs,
        "train_s": seconds,
        "peak_memory_mib": memory.peak_bytes / 2**20,
        "memory_kind": memory.kind,
        "resumed_from_epoch": resumed or None,
        # A data-parallel fit's time and memory are one process's of that many.
        "processes": getattr(model, "n_processes_", 1),
    }


class Scores(NamedTuple):
    """How a protocol scored one fitted model.

    Parameters
    ----------
    columns : dict
        The protocol's score columns, in the table's order (``mse``, ``mae``,
        the interval columns, ...).
    count : int
        Test windows (or series) forecast.
    seconds : float
        Time spent forecasting them.

    Examples
    --------
    >>> Scores({"mse": 0.5}, 10, 2.0).count
    10
    """

    columns: dict
    count: int
    seconds: float


class Experiment:
    """One benchmark run: every model fitted, scored and reported, resumably.

    Each model's result row is kept in the run's folder as ``<model>.json``;
    a model whose row is there (with CALF's current epoch cap) is not run
    again, and CALF's training keeps a checkpoint, so running the same
    benchmark again after an interruption goes on where it stopped. At the
    end the rows become ``results.csv`` and ``results.md``.

    A protocol subclasses it and supplies what differs: :attr:`labels`,
    :meth:`training_data`, :meth:`build`, :meth:`score`, :meth:`announce`,
    :meth:`summary`, :meth:`conditions` and :meth:`plot`.

    Parameters
    ----------
    run : Run
        The run; its folder must be prepared (:meth:`Run.prepare`).
    pretrained : bool
        Whether CALF's backbone is pre-trained (a column of the table).
    verbose : int
        0 silent; otherwise a line per model.

    Examples
    --------
    >>> import shutil, tempfile
    >>> import numpy as np
    >>> from calf_sklearn.baselines import NaiveForecaster
    >>> class LastValue(Experiment):
    ...     labels = {"naive": "naive"}
    ...     def training_data(self):
    ...         return np.arange(40.0)[:, None], None
    ...     def build(self, name):
    ...         return NaiveForecaster(pred_len=self.run.pred_len)
    ...     def score(self, name, model):
    ...         error = model.predict() - 40.0
    ...         return Scores({"mse": float(np.square(error).mean()), "mae": float(np.abs(error).mean())}, 1, 0.0)
    >>> run = Run("toy", "toy", 2, 4, 100, False, "-", {}, Path(tempfile.mkdtemp()) / "toy")
    >>> run.prepare(resume=True)
    >>> table = LastValue(run, pretrained=False, verbose=0).execute(["naive"], plot=False)
    >>> table[["model", "mae", "test_windows"]].values.tolist()
    [['naive', 1.0, 1]]
    >>> sorted(p.name for p in run.folder.iterdir())
    ['config.json', 'naive.json', 'results.csv', 'results.md']
    >>> shutil.rmtree(run.folder.parent)
    """

    #: Each model's name in the table.
    labels: ClassVar[dict] = {}

    def __init__(self, run, *, pretrained, verbose):
        from .._torch.distributed import current_process_group

        self.run = run
        self.pretrained = pretrained
        # Under torchrun, the first process writes the files and reports; the others train with it.
        self.group = current_process_group()
        self.writes = self.group.is_main
        self.verbose = verbose if self.writes else 0

    # --------------------------------------------------------- the protocol's hooks

    def training_data(self):
        """``(X, X_val)`` every model fits on.

        Returns
        -------
        tuple
        """
        raise NotImplementedError

    def build(self, name):
        """The unfitted model called ``name``.

        Parameters
        ----------
        name : str

        Returns
        -------
        estimator
        """
        raise NotImplementedError

    def score(self, name, model):
        """Score a fitted model on the test data, keeping what its plot needs in the run's folder.

        Parameters
        ----------
        name : str
        model : estimator

        Returns
        -------
        Scores
        """
        raise NotImplementedError

    def announce(self, name):
        """What the progress line says before ``name`` is fitted.

        Parameters
        ----------
        name : str

        Returns
        -------
        str
        """
        return f"fitting, horizon {self.run.pred_len}"

    def summary(self, row):
        """What the progress line says of a finished model's row.

        Parameters
        ----------
        row : dict

        Returns
        -------
        str
        """
        return f"{row['train_s']:.1f} s"

    def conditions(self):
        """The protocol's own conditions of the run, added to the table's ``attrs``.

        Returns
        -------
        dict
        """
        return {}

    def plot(self, models):
        """Write ``forecasts.png`` in the run's folder from what :meth:`score` kept.

        Parameters
        ----------
        models : sequence of str
        """

    # ------------------------------------------------------------------ the loop

    def execute(self, models, plot=True):
        """Run every model not finished yet, then write the table and report.

        Parameters
        ----------
        models : sequence of str
            Models to run, in order.
        plot : bool, default=True
            Call :meth:`plot` at the end.

        Returns
        -------
        pandas.DataFrame
            One row per model; ``attrs`` hold the run's folder and conditions.
        """
        epoch_cap = CALFForecaster(**self.run.calf_params).max_epochs
        rows = []
        for name in models:
            cap = epoch_cap if name == "calf" else None
            row = self._finished_row(name, cap)
            if row is None:
                row = self._run_model(name, cap)
            rows.append(row)
        table = self._table(rows)
        if self.writes:
            table.to_csv(self.run.folder / "results.csv", index=False)
            (self.run.folder / "results.md").write_text(to_markdown(table))
            if plot:
                self.plot(models)
        return table

    def _finished_row(self, name, cap):
        """The row ``name`` left in the folder, if it ran with the same epoch cap, else ``None``."""
        saved = self.run.folder / f"{name}.json"
        # Read by the process that writes the rows, and sent to the others: the same decision on all.
        row = self.group.on_main(lambda: json.loads(saved.read_text()) if saved.exists() else None)
        if row is None or row.get("max_epochs") != cap:
            return None
        if self.verbose:
            print(f"[{name}] already done in {self.run.folder}; reusing its result")
        return row

    def _run_model(self, name, cap):
        """Fit and score ``name``, keep its row in the folder and drop CALF's finished checkpoint."""
        if self.verbose:
            print(f"[{name}] {self.announce(name)}")
        model = self.build(name)
        if self.run.interval_method is not None and "interval_method" in model.get_params():
            model.set_params(interval_method=self.run.interval_method)
        fitted = fit_model(name, model, *self.training_data(), self.run)
        scores = self.score(name, model)
        row = self._row(name, model, fitted, scores, cap)
        if self.writes:
            (self.run.folder / f"{name}.json").write_text(json.dumps(row, indent=1))
            if name == "calf":
                (self.run.folder / "calf.ckpt").unlink(missing_ok=True)
        if self.verbose:
            print(f"[{name}] {self.summary(row)}")
        return row

    def _row(self, name, model, fitted, scores, cap):
        run = self.run
        seconds = scores.seconds
        return {
            "dataset": run.dataset,
            "target": run.target,
            "horizon": run.pred_len,
            "model": self.labels[name],
            **scores.columns,
            "backbone": run.backbone if name == "calf" else "-",
            "pretrained": bool(self.pretrained) if name == "calf" else None,
            **fitted,
            "inference_s": seconds,
            "windows_per_s": scores.count / seconds if seconds > 0 else float("nan"),
            "test_windows": scores.count,
            "percent": run.percent,
            "quick": run.quick,
            "device": str(getattr(model, "device_", "cpu")),
            # Which epoch cap a kept row was trained under: a new cap re-runs CALF.
            "max_epochs": cap,
        }

    def _table(self, rows):
        table = pd.DataFrame(rows)
        conditions = {
            "date": date.today().isoformat(),
            "hardware": hardware(table["device"].iloc[0]),
            "calf_sklearn": __version__,
            "settings": {k: v for k, v in self.run.calf_params.items() if k not in ("llm", "verbose")},
            "quick": self.run.quick,
            **self.conditions(),
        }
        table.attrs = {"folder": str(self.run.folder), "conditions": conditions}
        return table
