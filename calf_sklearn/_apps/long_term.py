"""The paper's long-term forecasting protocol, with baselines, as one function.

The public face of this module is :mod:`calf_sklearn.benchmark`; its documentation is there.
"""

from __future__ import annotations

import dataclasses
import json
import math
import shutil
import time
import warnings
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from .. import datasets
from .._estimators.baselines import DLinearForecaster, NaiveForecaster
from .._estimators.calf import CALFForecaster
from .._series.conformal import check_coverage
from .._series.windows import WindowedSeries
from .._utils.hardware import cpu_description
from .._utils.memory import PeakMemory
from .._version import __version__

__all__ = [
    "GPT2_SHAPE",
    "MODELS",
    "PRESETS",
    "QUICK",
    "ZERO_SHOT",
    "BenchmarkInterrupted",
    "preset",
    "run_benchmark",
]

#: The published GPT-2 ("gpt2") shape, for a randomly initialised backbone.
GPT2_SHAPE = {"n_embd": 768, "n_layer": 12, "n_head": 12, "vocab_size": 50257, "n_positions": 1024}

#: Models the benchmark can train, in the order they run.
MODELS = ("naive", "dlinear", "calf")

#: What ``quick=True`` changes: a smoke test, labelled as such in every output.
QUICK = {"max_epochs": 2, "train_windows": 1024, "validation_windows": 256, "test_windows": 1000}


def _settings(batch_size, learning_rate, patience, loss, cosine_t_max=20, max_epochs=100):
    return {
        "batch_size": batch_size,
        "learning_rate": learning_rate,
        "patience": patience,
        "task_loss": loss,
        "output_loss": loss,
        "feature_loss": loss,
        "cosine_t_max": cosine_t_max,
        "max_epochs": max_epochs,
    }


#: CALFForecaster settings of the authors' scripts per data set (METHOD.md section 8).
#: Their epoch caps are 100 (ETT, Weather), 20 (ECL) and 10 (Traffic); past
#: ``cosine_t_max`` the cosine schedule keeps cycling, and early stopping
#: usually ends a run long before the cap.
PRESETS = {
    "ETTh1": _settings(256, 5e-4, 10, "l1"),
    "ETTh2": _settings(256, 5e-4, 5, "l1"),
    "ETTm1": _settings(256, 5e-4, 5, "l1"),
    "ETTm2": _settings(256, 1e-4, 5, "l1"),
    "Weather": _settings(64, 5e-4, 5, "smooth_l1"),
    "ECL": _settings(32, 5e-4, 5, "smooth_l1", cosine_t_max=10, max_epochs=20),
    "Traffic": _settings(8, 5e-4, 5, "smooth_l1", cosine_t_max=10, max_epochs=10),
}

#: What a zero-shot run (``target_dataset``) changes in the source's preset:
#: the authors' zero-shot script trains at lr 1e-3 for at most 5 epochs with
#: patience 1. ``params`` still override it.
ZERO_SHOT = {"learning_rate": 1e-3, "max_epochs": 5, "patience": 1}

# DLinear's own recipe (its ETTh1 script): MSE, Adam 5e-3 halved every epoch,
# batch 32, at most 10 epochs, patience 3; one setting for every data set.
_DLINEAR = {"learning_rate": 5e-3, "batch_size": 32, "max_epochs": 10, "patience": 3}


class BenchmarkInterrupted(KeyboardInterrupt):
    """Raised when a benchmark is stopped with Ctrl-C; the run's folder keeps its state.

    It is a ``KeyboardInterrupt``, so code that stops on Ctrl-C stops on it
    too; running the same benchmark again resumes from the folder.

    Examples
    --------
    >>> issubclass(BenchmarkInterrupted, KeyboardInterrupt)
    True
    """


def preset(name, zero_shot=False):
    """CALFForecaster settings for a data set: the authors' where known, else the defaults.

    Parameters
    ----------
    name : str
        Data set name (any case); unknown names get ``{}`` (or only the
        zero-shot changes).
    zero_shot : bool, default=False
        Settings for training on ``name`` to test on another data set: the
        preset with :data:`ZERO_SHOT` (lr 1e-3, at most 5 epochs, patience 1)
        applied over it, as the authors' zero-shot script does.

    Returns
    -------
    dict
        ``batch_size``, ``learning_rate``, ``patience``, the three losses,
        ``cosine_t_max`` and ``max_epochs``.

    Examples
    --------
    >>> preset("etth1")["batch_size"], preset("weather")["task_loss"], preset("my.csv")
    (256, 'smooth_l1', {})
    >>> preset("ETTh1")["max_epochs"], preset("Traffic")["max_epochs"]
    (100, 10)
    >>> settings = preset("ETTh1", zero_shot=True)
    >>> settings["learning_rate"], settings["max_epochs"], settings["patience"], settings["batch_size"]
    (0.001, 5, 1, 256)
    """
    by_key = {key.lower(): value for key, value in PRESETS.items()}
    settings = dict(by_key.get(str(name).lower(), {}))
    if zero_shot:
        settings.update(ZERO_SHOT)
    return settings


def _backbone_label(llm, pretrained, n_layers):
    if pretrained:
        return f"{llm} (pretrained)"
    config = dict(llm) if isinstance(llm, dict) else llm.to_dict()
    shape = "GPT-2 shape" if all(config.get(k) == v for k, v in GPT2_SHAPE.items()) else "custom"
    return (
        f"random init ({shape}: width {config.get('n_embd', 768)}, {n_layers} of "
        f"{config.get('n_layer', 12)} blocks)"
    )


def _precision_suffix(calf_params):
    """The folder-name suffix of a run in reduced precision ('' for float32), so runs do not overwrite."""
    from .._torch.precision import check_precision

    precision = check_precision(calf_params.get("precision", "float32"))
    return "" if precision == "float32" else f"_{precision}"


def _windows_count(n_rows, seq_len, pred_len):
    return max(n_rows - seq_len - pred_len + 1, 0)


def _stride_for(n_windows, at_most):
    return max(1, math.ceil(n_windows / at_most))


def _evaluate(model, values, seq_len, pred_len, stride, plot_starts, coverage=0.9, chunk=512):
    """MSE, MAE, interval coverage and width, and timing of ``model`` over every ``stride``-th window."""
    windows = WindowedSeries(values, seq_len, pred_len, stride=stride)
    squared = absolute = inside = width = 0.0
    calibration = getattr(model, "calibration_", None)
    calibrated = calibration is not None and calibration.max_coverage >= coverage
    started = time.perf_counter()
    for start in range(0, len(windows), chunk):
        x, y = windows.batch(np.arange(start, min(start + chunk, len(windows))))
        if calibrated:  # the point forecast and its interval from one forward pass
            _, forecast, ((lower, upper),) = model._interval_bounds(x, None, [coverage], "benchmark")
            inside += float(((y >= lower) & (y <= upper)).sum())
            width += float((upper - lower).sum())
        else:
            forecast = model.predict(x)
        error = forecast - y
        squared += float(np.square(error).sum())
        absolute += float(np.abs(error).sum())
    seconds = time.perf_counter() - started
    count = len(windows) * pred_len * values.shape[1]
    plot_windows = WindowedSeries(values, seq_len, pred_len)
    x, _ = plot_windows.batch(plot_starts)
    return {
        "mse": squared / count,
        "mae": absolute / count,
        "interval_coverage": inside / count if calibrated else float("nan"),
        "interval_width": width / count if calibrated else float("nan"),
        "test_windows": len(windows),
        "inference_s": seconds,
        "windows_per_s": len(windows) / seconds if seconds > 0 else float("nan"),
        "plot_forecasts": model.predict(x),
    }


def _hardware(device):
    if str(device).startswith("cuda"):
        import torch

        return torch.cuda.get_device_name(torch.device(device))
    import os

    import torch

    return f"{cpu_description()}, {os.cpu_count()} cores, {torch.get_num_threads()} threads"


_NOT_IN_KEY = ("verbose", "device", "max_epochs")


@dataclasses.dataclass
class _Run:
    """Everything that identifies one benchmark run, and its folder."""

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

    def key(self):
        return {
            "dataset": self.dataset,
            "target": self.target,
            "pred_len": self.pred_len,
            "seq_len": self.seq_len,
            "percent": self.percent,
            "quick": self.quick,
            "backbone": self.backbone,
            # How progress is shown or where it runs does not change the result, and
            # a changed epoch cap only re-runs CALF (its checkpoint extends or ends).
            "calf_params": {k: repr(v) for k, v in sorted(self.calf_params.items()) if k not in _NOT_IN_KEY},
            "version": __version__,
            "coverage": self.coverage,
        }


def _prepare_folder(run, resume):
    """Create the run's folder; start it afresh if it belongs to another configuration."""
    config = run.folder / "config.json"
    key = run.key()
    if run.folder.exists() and (not resume or not config.exists() or json.loads(config.read_text()) != key):
        shutil.rmtree(run.folder)
    run.folder.mkdir(parents=True, exist_ok=True)
    config.write_text(json.dumps(key, indent=1))


def _model(name, run, random_state, device, verbose):
    if name == "naive":
        return NaiveForecaster(pred_len=run.pred_len)
    if name == "dlinear":
        return DLinearForecaster(
            pred_len=run.pred_len,
            seq_len=run.seq_len,
            device=device,
            random_state=random_state,
            verbose=verbose,
            # The same training windows as CALF (quick mode subsamples them).
            window_stride=run.calf_params.get("window_stride", 1),
            **_DLINEAR,
        )
    return CALFForecaster(**run.calf_params)


def _fit(name, model, train, validation, run):
    """Fit one model, timing it and watching its memory."""
    device = getattr(model, "device", "cpu")
    if device == "auto":
        from .._utils.checks import resolve_device

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
    }


def run_benchmark(
    dataset,
    pred_len=None,
    *,
    seq_len=None,
    data_home=None,
    target_dataset=None,
    percent=100,
    llm="gpt2",
    pretrained=True,
    revision=None,
    local_files_only=False,
    quick=False,
    params=None,
    models=None,
    output_dir="benchmark-results",
    resume=True,
    plot=True,
    n_plot_windows=4,
    device="auto",
    random_state=0,
    verbose=1,
    coverage=None,
):
    """Train and score CALF and the baselines on a benchmark, the paper's way.

    Parameters
    ----------
    dataset : str or path-like
        A name of :data:`calf_sklearn.datasets.DATASETS`, the file name of
        a CSV in the data folder (split 70/10/20), or an M4 group
        (``"M4-Hourly"``, ...), which runs the short-term protocol of
        :func:`calf_sklearn.short_term.run_m4_benchmark`.
    pred_len : int, default=None
        Horizon; ``None`` means 96, or the group's horizon for M4 (which
        is the only one M4 accepts).
    seq_len : int, default=None
        Look-back length; ``None`` means 96, or ``2 * horizon`` for M4.
    data_home : str or path-like, default=None
        Data folder (see :func:`calf_sklearn.datasets.get_data_home`).
    target_dataset : str, default=None
        Zero-shot: test on this data set's test part (scaled with its own
        training rows) instead of ``dataset``'s. It must have as many series.
        CALF then trains with the zero-shot preset (see :func:`preset`),
        which ``params`` can override; the settings used are in the output.
    percent : int, default=100
        Few-shot: train on the first ``percent`` % of the training windows;
        the scaler is still fitted on all training rows.
    llm, pretrained, revision, local_files_only
        The backbone, as in :class:`~calf_sklearn.CALFForecaster`. With
        ``pretrained=False`` and ``llm`` a configuration, the backbone is
        randomly initialised, and every output says so.
    quick : bool, default=False
        Smoke test: at most ``QUICK`` training, validation and test windows
        (evenly strided) and 2 epochs. Labelled as quick in every output.
    params : dict, default=None
        CALFForecaster parameters that override the data set's preset (for
        example ``{"max_epochs": 3}``).
    models : sequence of str, default=None
        Models to run: of ``("naive", "dlinear", "calf")`` (all by
        default); for M4 of ``("naive", "snaive", "naive2", "dlinear",
        "calf")``.
    output_dir : str or path-like, default="benchmark-results"
        Where the run's folder goes.
    resume : bool, default=True
        Reuse the finished models and CALF's checkpoint in the run's folder;
        ``False`` starts over.
    plot : bool, default=True
        Write ``forecasts.png`` (needs matplotlib).
    n_plot_windows : int, default=4
        Test windows in the plot.
    device : str, default="auto"
        Device of CALF and DLinear.
    random_state : int, default=0
        Seed of every model.
    verbose : int, default=1
        0 silent; 1 a line per model and epoch progress bars; 2 also batch bars.
    coverage : float, default=None
        Nominal coverage of the prediction intervals scored on the test
        windows (every model is calibrated on the validation windows);
        ``None`` means 0.9, or 0.95 for M4 (the competition's level).

    Returns
    -------
    pandas.DataFrame
        One row per model: ``dataset``, ``target``, ``horizon``, ``model``,
        ``mse``, ``mae``, ``interval_level``, ``interval_coverage`` (the
        share of test values inside the intervals), ``interval_width`` (their
        mean width, on the scaled data), ``backbone``, ``pretrained``, ``epochs``,
        ``train_s``, ``inference_s``, ``windows_per_s``, ``peak_memory_mib``,
        ``memory_kind``, ``test_windows``, ``percent``, ``quick``, ``device``.
        The frame's ``attrs`` hold the run's folder and conditions.

    Raises
    ------
    BenchmarkInterrupted
        On Ctrl-C during CALF's training; running again resumes.

    Examples
    --------
    >>> import shutil, tempfile
    >>> from pathlib import Path
    >>> from calf_sklearn.datasets import make_synthetic_series
    >>> folder = Path(tempfile.mkdtemp())
    >>> make_synthetic_series(1200, 3).to_csv(folder / "toy.csv", index_label="date")
    >>> table = run_benchmark("toy.csv", pred_len=24, seq_len=48, data_home=folder,
    ...                       models=("naive", "dlinear"), output_dir=folder / "out",
    ...                       plot=False, verbose=0)
    >>> table[["model", "test_windows"]].values.tolist()
    [['naive (last value)', 217], ['DLinear', 217]]
    >>> bool(table.mse.iloc[1] < table.mse.iloc[0])
    True
    >>> shutil.rmtree(folder)
    """
    from .m4 import M4_MODELS, is_m4, run_m4_benchmark

    if is_m4(dataset):
        group = datasets.m4._group(dataset)
        if pred_len not in (None, group.horizon):
            raise ValueError(
                f"M4-{group.name}'s horizon is {group.horizon}, the one its test file holds; "
                f"leave pred_len out or pass {group.horizon}."
            )
        if target_dataset is not None or percent != 100:
            raise ValueError(
                "The M4 protocol has no zero-shot or few-shot variant here; drop target_dataset/percent."
            )
        if seq_len is not None:
            params = {"seq_len": seq_len, **(params or {})}
        return run_m4_benchmark(
            dataset,
            data_home=data_home,
            llm=llm,
            pretrained=pretrained,
            revision=revision,
            local_files_only=local_files_only,
            quick=quick,
            params=params,
            models=models if models is not None else M4_MODELS,
            output_dir=output_dir,
            resume=resume,
            plot=plot,
            device=device,
            random_state=random_state,
            verbose=verbose,
            coverage=0.95 if coverage is None else coverage,
        )
    coverage = check_coverage(0.9 if coverage is None else coverage)
    pred_len = 96 if pred_len is None else pred_len
    seq_len = 96 if seq_len is None else seq_len
    models = MODELS if models is None else models
    unknown = set(models) - set(MODELS)
    if unknown or not models:
        raise ValueError(f"models must be a non-empty selection of {MODELS}, got {list(models)}.")
    source = datasets.load_benchmark(dataset, seq_len=seq_len, percent=percent, data_home=data_home)
    target = source
    if target_dataset is not None:
        target = datasets.load_benchmark(target_dataset, seq_len=seq_len, data_home=data_home)
        if target.frame.shape[1] != source.frame.shape[1]:
            raise ValueError(
                f"Zero-shot needs the same number of series: {source.name} has "
                f"{source.frame.shape[1]}, {target.name} has {target.frame.shape[1]}."
            )
    train, validation, test = source.scaled("train"), source.scaled("validation"), target.scaled("test")
    n_train = _windows_count(len(train), seq_len, pred_len)
    n_test = _windows_count(len(test), seq_len, pred_len)
    test_stride = 1
    calf_params = {
        "pred_len": pred_len,
        "seq_len": seq_len,
        "llm": llm,
        "pretrained": pretrained,
        "revision": revision,
        "local_files_only": local_files_only,
        "device": device,
        "random_state": random_state,
        "verbose": verbose,
        **preset(source.name, zero_shot=target is not source),
    }
    if quick:
        calf_params["max_epochs"] = QUICK["max_epochs"]
        calf_params["window_stride"] = _stride_for(n_train, QUICK["train_windows"])
        validation = validation[: seq_len + pred_len + QUICK["validation_windows"] - 1]
        test_stride = _stride_for(n_test, QUICK["test_windows"])
    calf_params.update(params or {})
    if verbose and target is not source:
        shown = {key: calf_params[key] for key in ZERO_SHOT}
        print(f"[calf] zero-shot {source.name} -> {target.name}: the authors' zero-shot settings {shown}")
    backbone = _backbone_label(llm, pretrained, calf_params.get("n_layers", 6))
    suffix = _precision_suffix(calf_params)
    if suffix:  # CALF in reduced precision: the table says so
        backbone += f", {suffix[1:]}"
    name = f"{source.name}" + (f"_to_{target.name}" if target is not source else "")
    name += f"_sl{seq_len}_pl{pred_len}" + (f"_p{percent}" if percent < 100 else "")
    name += ("_pretrained" if pretrained else "_random") + ("_quick" if quick else "")
    name += suffix
    run = _Run(
        source.name,
        target.name,
        pred_len,
        seq_len,
        percent,
        quick,
        backbone,
        calf_params,
        Path(output_dir) / name,
        coverage,
    )
    _prepare_folder(run, resume)
    plot_starts = np.linspace(0, n_test - 1, num=min(n_plot_windows, n_test)).round().astype(int)

    epoch_cap = CALFForecaster(**calf_params).max_epochs
    rows = []
    for model_name in models:
        saved = run.folder / f"{model_name}.json"
        row = json.loads(saved.read_text()) if saved.exists() else None
        cap = epoch_cap if model_name == "calf" else None
        if row is not None and row.get("max_epochs") == cap:
            if verbose:
                print(f"[{model_name}] already done in {run.folder}; reusing its result")
            rows.append(row)
            continue
        if verbose:
            print(f"[{model_name}] training on {source.name} ({n_train} windows), horizon {pred_len}")
        model = _model(model_name, run, random_state, device, verbose)
        fitted = _fit(model_name, model, train, validation, run)
        scores = _evaluate(model, test, seq_len, pred_len, test_stride, plot_starts, coverage)
        np.save(run.folder / f"{model_name}_plot.npy", scores.pop("plot_forecasts"))
        row = {
            "dataset": source.name,
            "target": target.name,
            "horizon": pred_len,
            "model": {"naive": "naive (last value)", "dlinear": "DLinear", "calf": "CALF"}[model_name],
            "mse": scores["mse"],
            "mae": scores["mae"],
            "interval_level": coverage,
            "interval_coverage": scores["interval_coverage"],
            "interval_width": scores["interval_width"],
            "backbone": backbone if model_name == "calf" else "-",
            "pretrained": bool(pretrained) if model_name == "calf" else None,
            **fitted,
            "inference_s": scores["inference_s"],
            "windows_per_s": scores["windows_per_s"],
            "test_windows": scores["test_windows"],
            "percent": percent,
            "quick": quick,
            "device": str(getattr(model, "device_", "cpu")),
            "max_epochs": cap,
        }
        saved.write_text(json.dumps(row, indent=1))
        if model_name == "calf":
            (run.folder / "calf.ckpt").unlink(missing_ok=True)
        if verbose:
            print(f"[{model_name}] MSE {row['mse']:.4f}  MAE {row['mae']:.4f}  ({row['train_s']:.1f} s)")
        rows.append(row)

    table = pd.DataFrame(rows)
    conditions = {
        "date": date.today().isoformat(),
        "hardware": _hardware(table["device"].iloc[0]),
        "calf_sklearn": __version__,
        "settings": {k: v for k, v in calf_params.items() if k not in ("llm", "verbose")},
        "quick": quick,
        "test_stride": test_stride,
    }
    table.attrs = {"folder": str(run.folder), "conditions": conditions}
    table.to_csv(run.folder / "results.csv", index=False)
    (run.folder / "results.md").write_text(to_markdown(table))
    if plot:
        _plot(run, models, target, test, plot_starts, seq_len, pred_len)
    return table


def _m4_comparison(table):
    """One sentence on how CALF compares with the M4 benchmarks, by OWA."""
    by_model = dict(zip(table["model"], table["owa"]))
    if "CALF" not in by_model:
        return ""
    others = [f"{model} {value:.3f}" for model, value in by_model.items() if model != "CALF"]
    return f"CALF's OWA is {by_model['CALF']:.3f} (Naive2 = 1; lower is better); " + ", ".join(others) + "."


def _comparison(table):
    """One sentence on how CALF compares with the baselines, by MSE."""
    by_model = dict(zip(table["model"], table["mse"]))
    if "CALF" not in by_model:
        return ""
    parts = []
    for other in ("DLinear", "naive (last value)"):
        if other in by_model:
            change = (by_model["CALF"] / by_model[other] - 1) * 100
            parts.append(f"{abs(change):.1f}% {'lower' if change < 0 else 'higher'} than {other}'s")
    return f"CALF's test MSE is {' and '.join(parts)}." if parts else ""


def to_markdown(table):
    """The results table as Markdown, with its conditions and labels.

    Parameters
    ----------
    table : pandas.DataFrame
        As returned by :func:`run_benchmark`.

    Returns
    -------
    str
    """
    m4 = "smape" in table and table["smape"].notna().any()
    scores = (
        [("smape", "sMAPE", "{:.3f}"), ("mase", "MASE", "{:.3f}"), ("owa", "OWA", "{:.3f}")]
        if m4
        else [("mse", "MSE", "{:.4f}"), ("mae", "MAE", "{:.4f}")]
    )
    intervals = "interval_coverage" in table and table["interval_coverage"].notna().any()
    if intervals:
        level = float(table["interval_level"].iloc[0])
        scores += [
            ("interval_coverage", f"{level:.0%} PI coverage", "{:.3f}"),
            ("interval_width", "PI width", "{:.3f}"),
        ]
        if m4:
            scores.append(("msis", "MSIS (95%)", "{:.3f}"))
    columns = [
        ("dataset", "data set", "{}"),
        *([] if m4 else [("target", "tested on", "{}")]),
        ("horizon", "horizon", "{}"),
        ("model", "model", "{}"),
        *scores,
        ("backbone", "backbone", "{}"),
        ("epochs", "epochs", "{}"),
        ("train_s", "train s", "{:.1f}"),
        ("inference_s", "inference s", "{:.2f}"),
        ("peak_memory_mib", "peak MiB", "{:.0f}"),
    ]
    lines = [
        "| " + " | ".join(title for _, title, _ in columns) + " |",
        "|" + "---|" * len(columns),
    ]
    for _, row in table.iterrows():
        lines.append("| " + " | ".join(fmt.format(row[key]) for key, _, fmt in columns) + " |")
    conditions = table.attrs.get("conditions", {})
    notes = []
    if conditions.get("quick"):
        what = "shorter training; every series scored" if m4 else "subsampled windows, 2 epochs"
        notes.append(f"**QUICK MODE** (smoke test: {what}); not comparable with papers.")
    if "pretrained" in table and table["pretrained"].eq(False).any():
        notes.append("CALF's backbone is **randomly initialised**, not the paper's pre-trained GPT-2.")
    zero_shot = table[table["target"] != table["dataset"]]
    if len(zero_shot):
        notes.append(
            f"Zero-shot: trained on {zero_shot['dataset'].iloc[0]}, tested on {zero_shot['target'].iloc[0]}; "
            "CALF with the authors' zero-shot settings unless overridden (see the settings below)."
        )
    kinds = ", ".join(sorted(set(table["memory_kind"].dropna())))
    if intervals:
        unit = "in units of each series' MASE scale" if m4 else "on the scaled data"
        notes.append(
            f"Prediction intervals (PI): conformal, calibrated on the validation windows; coverage is the "
            f"share of test values inside the {level:.0%} intervals, width their mean width {unit}."
        )
    if m4:
        notes.append(_m4_comparison(table))
        group = conditions.get("m4", {})
        notes.append(
            f"sMAPE (%), MASE (in-sample seasonal naive scale at lag {group.get('period', '?')}) and OWA "
            f"(relative to Naive2) over all {int(table['test_windows'].iloc[0])} series of the test file, "
            f"every one of the {table['horizon'].iloc[0]} steps; peak memory: {kinds} during training."
        )
    else:
        notes.append(_comparison(table))
        notes.append(
            f"MSE/MAE on the scaled test part, every horizon step and series, "
            f"{int(table['test_windows'].iloc[0])} test windows (stride {conditions.get('test_stride', 1)}); "
            f"peak memory: {kinds} during training."
        )
    if conditions:
        notes.append(
            f"Run {conditions['date']} on {conditions['hardware']}, calf-sklearn {conditions['calf_sklearn']}; "
            f"CALF settings: {conditions['settings']}."
        )
    return "\n".join(lines) + "\n\n" + "\n".join(f"- {note}" for note in notes if note) + "\n"


def _plot(run, models, target, test, plot_starts, seq_len, pred_len):
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        warnings.warn("matplotlib is not installed; no forecasts.png (pip install matplotlib).", stacklevel=3)
        return
    names = {"naive": "naive", "dlinear": "DLinear", "calf": "CALF"}
    series = test.shape[1] - 1  # the last column: "OT", the usual target, in the standard files
    figure, axes = plt.subplots(len(plot_starts), 1, figsize=(9, 2.4 * len(plot_starts)), squeeze=False)
    for axis, index, start in zip(axes[:, 0], range(len(plot_starts)), plot_starts):
        past = np.arange(-seq_len, 0)
        future = np.arange(pred_len)
        axis.plot(past, test[start : start + seq_len, series], color="0.5", lw=1, label="look-back")
        axis.plot(
            future, test[start + seq_len : start + seq_len + pred_len, series], "k", lw=1.5, label="truth"
        )
        for model_name in models:
            forecasts = np.load(run.folder / f"{model_name}_plot.npy")
            axis.plot(future, forecasts[index, :, series], lw=1.2, label=names[model_name])
        axis.set_ylabel(f"window {start}")
    axes[0, 0].legend(loc="upper left", ncol=5, fontsize=8)
    label = " (QUICK)" if run.quick else ""
    figure.suptitle(
        f"{run.target} test, series '{target.frame.columns[series]}', horizon {pred_len}{label}\n"
        f"CALF backbone: {run.backbone}",
        fontsize=10,
    )
    figure.tight_layout()
    figure.savefig(run.folder / "forecasts.png", dpi=110)
    plt.close(figure)
