"""The results table of a benchmark run as Markdown, and the figure of its forecasts.

Both protocols (:mod:`.long_term`, :mod:`.m4`) report through here, so that their
``results.md`` files read alike.
"""

from __future__ import annotations

import warnings

__all__ = ["open_figure", "save_figure", "to_markdown"]


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
        As returned by :func:`calf_sklearn.benchmark.run_benchmark` or
        :func:`calf_sklearn.short_term.run_m4_benchmark`.

    Returns
    -------
    str
        The table, then a list of notes: quick mode, random backbone,
        zero-shot, the intervals, how CALF compares, what the scores cover,
        and the run's conditions when the table's ``attrs`` hold them.

    Examples
    --------
    >>> import pandas as pd
    >>> table = pd.DataFrame({
    ...     "dataset": ["ETTh1"] * 2, "target": ["ETTh1"] * 2, "horizon": [96] * 2,
    ...     "model": ["DLinear", "CALF"], "mse": [0.40, 0.36], "mae": [0.41, 0.39],
    ...     "backbone": ["-", "gpt2 (pretrained)"], "pretrained": [None, True], "epochs": ["10", "12"],
    ...     "train_s": [5.0, 600.0], "inference_s": [0.1, 2.0], "peak_memory_mib": [10.0, 900.0],
    ...     "memory_kind": ["CPU RSS"] * 2, "test_windows": [2785] * 2})
    >>> print(to_markdown(table).splitlines()[2])
    | ETTh1 | ETTh1 | 96 | DLinear | 0.4000 | 0.4100 | - | 10 | 5.0 | 0.10 | 10 |
    >>> print(to_markdown(table).splitlines()[5])
    - CALF's test MSE is 10.0% lower than DLinear's.
    """
    m4 = "smape" in table and table["smape"].notna().any()
    scores = (
        [("smape", "sMAPE", "{:.3f}"), ("mase", "MASE", "{:.3f}"), ("owa", "OWA", "{:.3f}")]
        if m4
        else [("mse", "MSE", "{:.4f}"), ("mae", "MAE", "{:.4f}")]
    )
    intervals = "interval_coverage" in table and table["interval_coverage"].notna().any()
    # Labelled adaptive when every model walked; a CALF-only --set interval_method=adaptive is not.
    adaptive = intervals and "interval_method" in table and table["interval_method"].eq("adaptive").all()
    if intervals:
        level = float(table["interval_level"].iloc[0])
        label = "adaptive PI" if adaptive else "PI"
        scores += [
            ("interval_coverage", f"{level:.0%} {label} coverage", "{:.3f}"),
            ("interval_width", f"{label} width", "{:.3f}"),
        ]
        if adaptive and "split_interval_coverage" in table:
            scores += [
                ("split_interval_coverage", "split PI coverage", "{:.3f}"),
                ("split_interval_width", "split PI width", "{:.3f}"),
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
        if adaptive:
            notes.append(
                "Adaptive PI: AgACI, the test windows walked forward in time, each interval learning only "
                "from errors whose targets were observed before it"
                + (
                    "; split PI: the split-conformal intervals of the same forecasts."
                    if "split_interval_coverage" in table
                    else " (M4: each series is forecast once, right after its calibration windows, so "
                    "nothing is observed in between and the adaptive intervals are split conformal on "
                    "the adaptive scores)."
                )
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


def open_figure(n_rows, stacklevel=2):
    """A figure of ``n_rows`` stacked panels for ``forecasts.png``, or ``None`` without matplotlib.

    Parameters
    ----------
    n_rows : int
        Panels, one above the other.
    stacklevel : int, default=2
        Of the warning that matplotlib is missing: the benchmark's caller should see it as its own.

    Returns
    -------
    tuple or None
        ``(figure, axes)``, ``axes`` a 1-D array of ``n_rows`` axes; ``None``
        (after a warning) when matplotlib is not installed.

    Examples
    --------
    >>> import pytest; _ = pytest.importorskip("matplotlib")
    >>> figure, axes = open_figure(3)
    >>> len(axes)
    3
    >>> import matplotlib.pyplot as plt; plt.close(figure)
    """
    try:
        import matplotlib

        matplotlib.use("Agg")  # no display needed, and none is opened
        import matplotlib.pyplot as plt
    except ImportError:
        warnings.warn(
            "matplotlib is not installed; no forecasts.png (pip install matplotlib).",
            stacklevel=stacklevel + 1,
        )
        return None
    figure, axes = plt.subplots(n_rows, 1, figsize=(9, 2.4 * n_rows), squeeze=False)
    return figure, axes[:, 0]


def save_figure(figure, title, path):
    """Title ``figure``, write it to ``path`` and close it.

    Parameters
    ----------
    figure : matplotlib.figure.Figure
        As :func:`open_figure` made it.
    title : str
        Its title, one or two lines.
    path : path-like
        The PNG file.

    Examples
    --------
    >>> import tempfile, pytest; from pathlib import Path
    >>> _ = pytest.importorskip("matplotlib")
    >>> figure, axes = open_figure(1)
    >>> path = Path(tempfile.mkdtemp()) / "forecasts.png"
    >>> save_figure(figure, "a title", path)
    >>> path.exists()
    True
    """
    import matplotlib.pyplot as plt

    figure.suptitle(title, fontsize=10)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
