"""The paper's short-term protocol on the M4 competition's series, with its benchmarks.

The public face of this module is :mod:`calf_sklearn.short_term`; its documentation is there.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from .. import datasets
from .._estimators.baselines import (
    DLinearForecaster,
    Naive2Forecaster,
    NaiveForecaster,
    SeasonalNaiveForecaster,
)
from .._estimators.calf import CALFForecaster
from .._series.conformal import METHODS as INTERVAL_METHODS
from .._series.conformal import check_coverage
from .._series.measures import mase, msis, owa, smape
from .._utils import checks
from .experiment import (
    DLINEAR_SETTINGS,
    Experiment,
    Run,
    Scores,
    backbone_label,
    precision_suffix,
    stride_for,
)
from .report import open_figure, save_figure

__all__ = ["M4_MODELS", "M4_QUICK", "is_m4", "m4_preset", "run_m4_benchmark"]

#: Models the M4 benchmark can train, in the order they run.
M4_MODELS = ("naive", "snaive", "naive2", "dlinear", "calf")

#: What ``quick=True`` changes: shorter training, never the scoring (every
#: series of the group is still forecast and scored).
M4_QUICK = {"max_epochs": 2, "dlinear_windows": 20000}

_NAMES = {
    "naive": "Naive1",
    "snaive": "seasonal naive",
    "naive2": "Naive2",
    "dlinear": "DLinear",
    "calf": "CALF",
}


def is_m4(dataset):
    """Whether ``dataset`` names an M4 group (``"M4-Hourly"``, ``"m4_weekly"``, ...).

    Parameters
    ----------
    dataset : str or path-like
        A data set name as given to the benchmark.

    Returns
    -------
    bool

    Examples
    --------
    >>> is_m4("M4-Hourly"), is_m4("m4_weekly"), is_m4("ETTh1")
    (True, True, False)
    """
    return str(dataset).lower().startswith(("m4-", "m4_"))


def m4_preset(group):
    """CALFForecaster settings of the authors' short-term script for an M4 group.

    Look-back ``L = 2H``; one window per series per epoch, cut in its last
    ``history_size * H`` points, zero-padded at the front; raw values (each
    window is normalised by the network itself); task loss sMAPE, output
    loss MASE at the group's seasonal period, feature loss smooth L1, weights
    1 / 1 / 0.01; Adam at 1e-3 (projections 1e-4), batch 512, at most 200
    epochs, patience 20, cosine period 20. Early stopping watches sMAPE on
    the last ``H`` points of each training series (the authors validate on
    the test file: a documented deviation).

    Parameters
    ----------
    group : str or M4Group
        ``"Hourly"``, ``"M4-Weekly"``, ... or one of
        :data:`calf_sklearn.datasets.M4_GROUPS`.

    Returns
    -------
    dict
        CALFForecaster parameters.

    Examples
    --------
    >>> settings = m4_preset("M4-Hourly")
    >>> settings["pred_len"], settings["seq_len"], settings["seasonal_period"], settings["batch_size"]
    (48, 96, 24, 512)
    >>> settings["task_loss"], settings["output_loss"], settings["scaling"], settings["history_size"]
    ('smape', 'mase', None, 10.0)
    """
    if not isinstance(group, datasets.M4Group):
        group = datasets.m4.m4_group(group)
    return {
        "pred_len": group.horizon,
        "seq_len": group.seq_len,
        "window_sampling": "recent",
        "history_size": group.history_size,
        "padding": True,
        "scaling": None,
        "validation_size": group.horizon,
        "task_loss": "smape",
        "output_loss": "mase",
        "feature_loss": "smooth_l1",
        "task_weight": 1.0,
        "output_weight": 1.0,
        "feature_weight": 0.01,
        "seasonal_period": group.period,
        "learning_rate": 1e-3,
        "projection_learning_rate": 1e-4,
        "batch_size": 512,
        "max_epochs": 200,
        "patience": 20,
        "cosine_t_max": 20,
    }


def _scores(forecasts, data, naive2_scores):
    s, m = smape(data.test, forecasts), mase(data.test, forecasts, data.train, data.group.period)
    return {"smape": s, "mase": m, "owa": owa(s, m, *naive2_scores)}


def _forecast_with_intervals(model, coverage):
    """Each series' point forecast, its interval at ``coverage`` and at 95% (M4's MSIS), (n, H) each."""
    levels = sorted({coverage, 0.95})
    calibration = getattr(model, "calibration_", None)
    if calibration is None or calibration.max_coverage < levels[-1]:  # too few series to calibrate
        return np.stack(model.predict())[:, :, 0], None, None
    # X=None on a panel fit: one (H, 1) forecast and one {level: (lower, upper)} per series.
    point, members = model.predict_with_interval(coverage=levels)
    by_level = {
        level: tuple(np.stack([member[level][side] for member in members])[:, :, 0] for side in (0, 1))
        for level in levels
    }
    return np.stack(point)[:, :, 0], by_level[coverage], by_level[0.95]


def _interval_scores(data, coverage, interval, interval_95):
    if interval is None:
        return {
            "interval_level": coverage,
            "interval_coverage": np.nan,
            "interval_width": np.nan,
            "msis": np.nan,
        }
    lower, upper = interval
    return {
        "interval_level": coverage,
        "interval_coverage": float(((data.test >= lower) & (data.test <= upper)).mean()),
        # Raw widths of series of different scales do not pool: each in units of MASE's scale,
        # which is what MASE makes of the gap between the bounds.
        "interval_width": mase(upper, lower, data.train, data.group.period),
        "msis": msis(data.test, *interval_95, data.train, data.group.period, alpha=0.05),
    }


def run_m4_benchmark(
    group,
    *,
    data_home=None,
    download=True,
    llm="gpt2",
    pretrained=True,
    revision=None,
    local_files_only=False,
    quick=False,
    params=None,
    models=M4_MODELS,
    output_dir="benchmark-results",
    resume=True,
    plot=True,
    n_plot_series=4,
    device="auto",
    random_state=0,
    verbose=1,
    coverage=0.95,
    interval_method=None,
):
    """Train and score CALF and the M4 benchmarks on one M4 group, the paper's way.

    Every series of the group is one member of one panel: CALF, DLinear and
    the statistical benchmarks are fitted on the training file's series, and
    each forecasts the ``H`` steps after every series' end, which are scored
    against the test file: sMAPE, MASE (in-sample seasonal naive scale at the
    group's period) and OWA (relative to Naive2), over all series.

    Parameters
    ----------
    group : str
        ``"M4-Hourly"``, ``"Weekly"``, ... (any case, ``"M4-"`` optional).
    data_home : str or path-like, default=None
        Data folder holding ``m4/<Group>-train.csv`` and ``-test.csv``
        (plain or ``.gz``); see :func:`calf_sklearn.datasets.load_m4`.
    download : bool, default=True
        Download missing files from the competition's repository.
    llm, pretrained, revision, local_files_only
        The backbone, as in :class:`~calf_sklearn.CALFForecaster`.
    quick : bool, default=False
        Smoke test: CALF trains at most 2 epochs and DLinear on at most
        20,000 windows; every series is still forecast and scored. Labelled
        in every output.
    params : dict, default=None
        CALFForecaster parameters that override :func:`m4_preset`.
    models : sequence of {"naive", "snaive", "naive2", "dlinear", "calf"}, default=all
        Models to run. Naive2 is always computed, since OWA is relative to it.
    output_dir : str or path-like, default="benchmark-results"
        Where the run's folder goes.
    resume : bool, default=True
        Reuse finished models and CALF's checkpoint in the run's folder.
    plot : bool, default=True
        Write ``forecasts.png`` (needs matplotlib).
    n_plot_series : int, default=4
        Series in the plot.
    device : str, default="auto"
        Device of CALF and DLinear.
    random_state : int, default=0
        Seed of every model.
    verbose : int, default=1
        0 silent; 1 a line per model and epoch progress bars; 2 also batch bars.
    coverage : float, default=0.95
        Nominal coverage of the prediction intervals scored (every model is
        calibrated on the last H points of each training series); MSIS is
        always that of the 95% intervals, as the competition scored.
    interval_method : {"scaled", "absolute", "adaptive"}, default=None
        Every model's ``interval_method`` (``None``: each model's default,
        ``"scaled"``, and CALF's from ``params``). Each series is forecast once,
        right after the windows that calibrated it, so no error is observed
        between calibration and forecast and ``"adaptive"`` gives the
        split-conformal intervals of its scores (``"scaled"`` scores with
        floored spreads).

    Returns
    -------
    pandas.DataFrame
        One row per model with the long-term benchmark's columns (``mse`` and
        ``mae`` are empty: raw values of different scales have no pooled
        squared error worth reading) plus ``smape``, ``mase``, ``owa`` and
        ``msis``; ``interval_coverage`` is the share of test values inside
        the intervals and ``interval_width`` their mean width in units of
        each series' MASE scale; ``test_windows`` is the number of series.

    Examples
    --------
    >>> import gzip, shutil, tempfile
    >>> from pathlib import Path
    >>> folder = Path(tempfile.mkdtemp())
    >>> (folder / "m4").mkdir()
    >>> t = np.arange(80)
    >>> rows = [10 + (k + 1) * np.sin(2 * np.pi * t / 4) + 0.05 * t for k in range(3)]
    >>> def write(name, values):
    ...     header = ",".join(f'"V{i}"' for i in range(1, values.shape[1] + 1))
    ...     body = "".join(f'"W{k}",' + ",".join(map(str, row)) + "\\n" for k, row in enumerate(values))
    ...     (folder / "m4" / name).write_text(header + "\\n" + body)
    >>> write("Weekly-train.csv", np.stack(rows)[:, :67])
    >>> write("Weekly-test.csv", np.stack(rows)[:, 67:])
    >>> table = run_m4_benchmark("M4-Weekly", data_home=folder, models=("naive", "naive2"),
    ...                          output_dir=folder / "out", plot=False, verbose=0)
    >>> table[["model", "test_windows"]].values.tolist()
    [['Naive1', 3], ['Naive2', 3]]
    >>> float(table.owa.iloc[1])  # Naive2 against itself
    1.0
    >>> shutil.rmtree(folder)
    """
    unknown = set(models) - set(M4_MODELS)
    if unknown or not models:
        raise ValueError(f"models must be a non-empty selection of {M4_MODELS}, got {list(models)}.")
    data = datasets.load_m4(group, data_home=data_home, download=download)
    group = data.group
    name = f"M4-{group.name}"
    calf_params = {
        **m4_preset(group),
        "llm": llm,
        "pretrained": pretrained,
        "revision": revision,
        "local_files_only": local_files_only,
        "device": device,
        "random_state": random_state,
        "verbose": verbose,
    }
    if quick:
        calf_params["max_epochs"] = M4_QUICK["max_epochs"]
    calf_params.update(params or {})
    backbone = backbone_label(llm, pretrained, calf_params.get("n_layers", 6))
    suffix = precision_suffix(calf_params)
    if suffix:  # CALF in reduced precision: the table says so
        backbone += f", {suffix[1:]}"
    folder_name = f"{name}_{'pretrained' if pretrained else 'random'}" + ("_quick" if quick else "")
    folder_name += suffix + ("" if interval_method in (None, "scaled") else f"_{interval_method}")
    folder = Path(output_dir) / folder_name
    coverage = check_coverage(coverage)
    if interval_method is not None:
        interval_method = checks.check_choice("interval_method", interval_method, INTERVAL_METHODS)
    run = Run(
        name,
        name,
        group.horizon,
        group.seq_len,
        100,
        quick,
        backbone,
        calf_params,
        folder,
        coverage,
        interval_method,
    )
    run.prepare(resume)
    experiment = _M4(
        run,
        data,
        n_plot_series=n_plot_series,
        pretrained=pretrained,
        random_state=random_state,
        device=device,
        verbose=verbose,
    )
    return experiment.execute(models, plot=plot)


class _M4(Experiment):
    """The M4 protocol's models, scores and plot, for :func:`run_m4_benchmark`'s loop."""

    labels = _NAMES

    def __init__(self, run, data, *, n_plot_series, pretrained, random_state, device, verbose):
        super().__init__(run, pretrained=pretrained, verbose=verbose)
        self.data = data
        self.members = [series[:, None] for series in data.train]
        self.n_plot_series = n_plot_series
        self.random_state = random_state
        self.device = device
        group = data.group
        # Sliding windows of L + H rows in the training part (the last H rows validate).
        self.n_windows = sum(
            max(len(s) - group.horizon - group.seq_len - group.horizon + 1, 1) for s in data.train
        )
        # OWA is relative to Naive2, so it is scored whether or not it is one of the models run.
        naive2 = Naive2Forecaster(pred_len=group.horizon, period=group.period, validation_size=0)
        naive2_forecasts = np.stack(naive2.fit(self.members).predict())[:, :, 0]
        self.naive2_scores = (
            smape(data.test, naive2_forecasts),
            mase(data.test, naive2_forecasts, data.train, group.period),
        )

    def training_data(self):
        return self.members, None

    def build(self, name):
        group = self.data.group
        horizon, period = group.horizon, group.period
        # The rules train nothing: their last H points only calibrate the intervals.
        if name == "naive":
            return NaiveForecaster(pred_len=horizon, validation_size=horizon)
        if name == "snaive":
            return SeasonalNaiveForecaster(pred_len=horizon, period=period, validation_size=horizon)
        if name == "naive2":
            return Naive2Forecaster(pred_len=horizon, period=period, validation_size=horizon)
        if name == "dlinear":
            stride = stride_for(self.n_windows, M4_QUICK["dlinear_windows"]) if self.run.quick else 1
            return DLinearForecaster(
                pred_len=horizon,
                seq_len=group.seq_len,
                padding=True,
                validation_size=horizon,
                window_stride=stride,
                device=self.device,
                random_state=self.random_state,
                verbose=self.verbose,
                **DLINEAR_SETTINGS,
            )
        return CALFForecaster(**self.run.calf_params)

    def score(self, name, model):
        coverage = self.run.coverage
        started = time.perf_counter()
        forecasts, interval, interval_95 = _forecast_with_intervals(model, coverage)
        seconds = time.perf_counter() - started
        if self.writes:
            np.save(self.run.folder / f"{name}_forecasts.npy", forecasts)
        columns = {
            # Raw values of different scales have no pooled squared error worth reading.
            "mse": float("nan"),
            "mae": float("nan"),
            **_scores(forecasts, self.data, self.naive2_scores),
            "interval_method": model.interval_method,
            **_interval_scores(self.data, coverage, interval, interval_95),
        }
        return Scores(columns, self.data.n_series, seconds)

    def announce(self, name):
        return f"fitting on {self.data.n_series} {self.run.dataset} series, horizon {self.run.pred_len}"

    def summary(self, row):
        return (
            f"sMAPE {row['smape']:.3f}  MASE {row['mase']:.3f}  OWA {row['owa']:.3f}  "
            f"MSIS {row['msis']:.3f}  {self.run.coverage:.0%} interval coverage {row['interval_coverage']:.3f}  "
            f"({row['train_s']:.1f} s)"
        )

    def conditions(self):
        group = self.data.group
        return {
            "m4": {
                "group": group.name,
                "horizon": group.horizon,
                "period": group.period,
                "n_series": self.data.n_series,
                "naive2_smape": self.naive2_scores[0],
                "naive2_mase": self.naive2_scores[1],
            }
        }

    def plot(self, models):
        run, data = self.run, self.data
        group = data.group
        chosen = (
            np.linspace(0, data.n_series - 1, num=min(self.n_plot_series, data.n_series)).round().astype(int)
        )
        opened = open_figure(len(chosen), stacklevel=4)  # the warning points at run_m4_benchmark's caller
        if opened is None:
            return
        figure, axes = opened
        future = np.arange(group.horizon)
        for axis, index in zip(axes, chosen):
            history = data.train[index][-group.seq_len :]
            axis.plot(np.arange(-len(history), 0), history, color="0.5", lw=1, label="look-back")
            axis.plot(future, data.test[index], "k", lw=1.5, label="truth")
            for model_name in models:
                forecasts = np.load(run.folder / f"{model_name}_forecasts.npy")
                axis.plot(future, forecasts[index], lw=1.2, label=_NAMES[model_name])
            axis.set_ylabel(data.ids[index])
        axes[0].legend(loc="upper left", ncol=6, fontsize=8)
        label = " (QUICK)" if run.quick else ""
        save_figure(
            figure,
            f"{run.dataset} test, horizon {group.horizon}{label}\nCALF backbone: {run.backbone}",
            run.folder / "forecasts.png",
        )
