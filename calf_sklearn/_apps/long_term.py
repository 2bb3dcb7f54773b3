"""The paper's long-term forecasting protocol, with baselines, as one function.

The public face of this module is :mod:`calf_sklearn.benchmark`; its documentation is there.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from .. import datasets
from .._estimators.baselines import DLinearForecaster, NaiveForecaster
from .._estimators.calf import CALFForecaster
from .._series.conformal import METHODS as INTERVAL_METHODS
from .._series.conformal import check_coverage
from .._series.windows import WindowedSeries
from .._utils import checks
from .experiment import (
    DLINEAR_SETTINGS,
    GPT2_SHAPE,
    BenchmarkInterrupted,
    Experiment,
    Run,
    Scores,
    backbone_label,
    precision_suffix,
    stride_for,
)
from .m4 import M4_MODELS, is_m4, run_m4_benchmark
from .report import open_figure, save_figure

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

# Each model's name in the table, and the shorter one of the plot's legend.
_LABELS = {"naive": "naive (last value)", "dlinear": "DLinear", "calf": "CALF"}
_LEGEND = {"naive": "naive", "dlinear": "DLinear", "calf": "CALF"}


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


def _windows_count(n_rows, seq_len, pred_len):
    return max(n_rows - seq_len - pred_len + 1, 0)


def _evaluate(model, values, seq_len, pred_len, stride, plot_starts, coverage=0.9):
    """MSE, MAE, interval coverage and width, and timing of ``model`` over every ``stride``-th window.

    The windows are forecast in time order, so that adaptive intervals walk
    forward over them; beside an adaptive model's figures come the
    split-conformal ones of the same forecasts (``split_interval_*``).
    """
    calibration = getattr(model, "calibration_", None)
    calibrated = calibration is not None and calibration.max_coverage >= coverage
    started = time.perf_counter()
    windows, mean, scale = model._rolling_windows(values, stride, seq_len)
    # Units: the model's fitted scale back to the protocol's (already scaled) data, per target series.
    scores = model._score_windows(
        windows, mean, scale, coverage if calibrated else None, units=scale[:, model._targets()]
    )
    # The forecasts' time; an adaptive walk's own time is a column of its own (interval_walk_s).
    seconds = time.perf_counter() - started - scores.get("walk_s", 0.0)
    x, _ = WindowedSeries(values, seq_len, pred_len).batch(plot_starts)
    if "walk_s" in scores:
        scores["interval_walk_s"] = scores.pop("walk_s")
    return {
        "interval_coverage": float("nan"),
        "interval_width": float("nan"),
        **{key: value for key, value in scores.items() if key != "n_windows"},
        "test_windows": len(windows),
        "inference_s": seconds,
        "windows_per_s": len(windows) / seconds if seconds > 0 else float("nan"),
        "plot_forecasts": model.predict(x),
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
    interval_method=None,
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
    interval_method : {"scaled", "absolute", "adaptive"}, default=None
        Every model's ``interval_method`` (``None``: each model's default,
        ``"scaled"``, and CALF's from ``params``). With ``"adaptive"`` the test
        windows are scored in time order, each interval learning from the
        errors observed before it, and the rows also hold the split-conformal
        figures of the same forecasts (``split_interval_coverage``,
        ``split_interval_width``) and the walk's seconds
        (``interval_walk_s``, not in ``inference_s``). Runs of another method keep their own
        result folders.

    Returns
    -------
    pandas.DataFrame
        One row per model: ``dataset``, ``target``, ``horizon``, ``model``,
        ``mse``, ``mae``, ``interval_level``, ``interval_method``, ``interval_coverage`` (the
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
    if is_m4(dataset):
        group = datasets.m4.m4_group(dataset)
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
            interval_method=interval_method,
        )
    coverage = check_coverage(0.9 if coverage is None else coverage)
    if interval_method is not None:
        interval_method = checks.check_choice("interval_method", interval_method, INTERVAL_METHODS)
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
        calf_params["window_stride"] = stride_for(n_train, QUICK["train_windows"])
        validation = validation[: seq_len + pred_len + QUICK["validation_windows"] - 1]
        test_stride = stride_for(n_test, QUICK["test_windows"])
    calf_params.update(params or {})
    if verbose and target is not source:
        shown = {key: calf_params[key] for key in ZERO_SHOT}
        print(f"[calf] zero-shot {source.name} -> {target.name}: the authors' zero-shot settings {shown}")
    backbone = backbone_label(llm, pretrained, calf_params.get("n_layers", 6))
    suffix = precision_suffix(calf_params)
    if suffix:  # CALF in reduced precision: the table says so
        backbone += f", {suffix[1:]}"
    name = f"{source.name}" + (f"_to_{target.name}" if target is not source else "")
    name += f"_sl{seq_len}_pl{pred_len}" + (f"_p{percent}" if percent < 100 else "")
    name += ("_pretrained" if pretrained else "_random") + ("_quick" if quick else "")
    name += suffix + ("" if interval_method in (None, "scaled") else f"_{interval_method}")
    run = Run(
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
        interval_method,
    )
    run.prepare(resume)
    experiment = _LongTerm(
        run,
        target,
        (train, validation, test),
        n_train=n_train,
        test_stride=test_stride,
        plot_starts=np.linspace(0, n_test - 1, num=min(n_plot_windows, n_test)).round().astype(int),
        pretrained=pretrained,
        random_state=random_state,
        device=device,
        verbose=verbose,
    )
    return experiment.execute(models, plot=plot)


class _LongTerm(Experiment):
    """The long-term protocol's models, scores and plot, for :func:`run_benchmark`'s loop."""

    labels = _LABELS

    def __init__(
        self,
        run,
        target,
        parts,
        *,
        n_train,
        test_stride,
        plot_starts,
        pretrained,
        random_state,
        device,
        verbose,
    ):
        super().__init__(run, pretrained=pretrained, verbose=verbose)
        self.target = target
        self.train, self.validation, self.test = parts
        self.n_train = n_train
        self.test_stride = test_stride
        self.plot_starts = plot_starts
        self.random_state = random_state
        self.device = device

    def training_data(self):
        return self.train, self.validation

    def build(self, name):
        run = self.run
        if name == "naive":
            return NaiveForecaster(pred_len=run.pred_len)
        if name == "dlinear":
            return DLinearForecaster(
                pred_len=run.pred_len,
                seq_len=run.seq_len,
                device=self.device,
                random_state=self.random_state,
                verbose=self.verbose,
                # The same training windows as CALF (quick mode subsamples them).
                window_stride=run.calf_params.get("window_stride", 1),
                **DLINEAR_SETTINGS,
            )
        return CALFForecaster(**run.calf_params)

    def score(self, name, model):
        run = self.run
        scores = _evaluate(
            model, self.test, run.seq_len, run.pred_len, self.test_stride, self.plot_starts, run.coverage
        )
        if self.writes:
            np.save(run.folder / f"{name}_plot.npy", scores["plot_forecasts"])
        columns = {
            "mse": scores["mse"],
            "mae": scores["mae"],
            "interval_level": run.coverage,
            "interval_method": model.interval_method,
            **{key: value for key, value in scores.items() if "interval_" in key},
        }
        return Scores(columns, scores["test_windows"], scores["inference_s"])

    def announce(self, name):
        return f"training on {self.run.dataset} ({self.n_train} windows), horizon {self.run.pred_len}"

    def summary(self, row):
        return f"MSE {row['mse']:.4f}  MAE {row['mae']:.4f}  ({row['train_s']:.1f} s)"

    def conditions(self):
        return {"test_stride": self.test_stride}

    def plot(self, models):
        run, test, plot_starts = self.run, self.test, self.plot_starts
        opened = open_figure(len(plot_starts), stacklevel=4)  # the warning points at run_benchmark's caller
        if opened is None:
            return
        figure, axes = opened
        seq_len, pred_len = run.seq_len, run.pred_len
        series = test.shape[1] - 1  # the last column: "OT", the usual target, in the standard files
        past, future = np.arange(-seq_len, 0), np.arange(pred_len)
        for axis, index, start in zip(axes, range(len(plot_starts)), plot_starts):
            axis.plot(past, test[start : start + seq_len, series], color="0.5", lw=1, label="look-back")
            axis.plot(
                future, test[start + seq_len : start + seq_len + pred_len, series], "k", lw=1.5, label="truth"
            )
            for model_name in models:
                forecasts = np.load(run.folder / f"{model_name}_plot.npy")
                axis.plot(future, forecasts[index, :, series], lw=1.2, label=_LEGEND[model_name])
            axis.set_ylabel(f"window {start}")
        axes[0].legend(loc="upper left", ncol=5, fontsize=8)
        label = " (QUICK)" if run.quick else ""
        title = (
            f"{run.target} test, series '{self.target.frame.columns[series]}', horizon {pred_len}{label}\n"
            f"CALF backbone: {run.backbone}"
        )
        save_figure(figure, title, run.folder / "forecasts.png")
