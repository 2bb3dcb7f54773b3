"""Grid search wall time: one process against two joblib workers, and what threads per worker cost.

GridSearchCV over CALF's loss weights (4 candidates x 2 time-series folds =
8 fits, then the refit) on a small-but-not-tiny randomly initialised GPT-2,
timed four ways:

* ``n_jobs=1``: one process; torch uses its default intra-op threads.
* ``n_jobs=2`` (loky): joblib's default, which caps each worker's thread
  pools at ``cpu_count // n_jobs`` threads (``inner_max_num_threads``).
* ``n_jobs=2`` (loky, ``inner_max_num_threads=<cores>``): every worker's
  torch uses all cores, as a worker would without joblib's cap (e.g. under
  other backends): the oversubscribed case.
* ``n_jobs=2`` (loky, ``inner_max_num_threads=1``): one thread per worker,
  set explicitly.

Scores are printed too: they must not depend on the way the search ran
(to float32 rounding between thread counts).

Run: ``.venv/bin/python benchmarks/grid_search_threads.py [--quick]``.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import tempfile
import time

import joblib
import numpy as np
import torch
from sklearn.model_selection import GridSearchCV, TimeSeriesSplit

from calf_sklearn import CALFForecaster

GRID = {"feature_weight": [0.01, 0.1], "output_weight": [0.5, 1.0]}


def cpu_model():
    """The CPU's model name as lscpu reports it (or the platform's guess)."""
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        for line in out.splitlines():
            if line.startswith("Model name"):
                return line.split(":", 1)[1].strip()
    except (OSError, subprocess.CalledProcessError):
        pass
    return platform.processor() or "unknown"


def series(n_rows, n_series, seed=0):
    """Noisy sines of different periods: time steps x series."""
    t = np.arange(n_rows)[:, None]
    periods = np.linspace(12, 60, n_series)[None]
    return np.sin(2 * np.pi * t / periods) + 0.2 * np.random.default_rng(seed).normal(size=(n_rows, n_series))


def search(model, X, n_jobs, **backend):
    """Wall seconds and mean test scores of one GridSearchCV."""
    start = time.perf_counter()
    with joblib.parallel_backend("loky", **backend):
        result = GridSearchCV(model, GRID, cv=TimeSeriesSplit(2), n_jobs=n_jobs).fit(X)
    return time.perf_counter() - start, result.cv_results_["mean_test_score"]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="a smaller model and series (seconds, not minutes)"
    )
    parser.add_argument("--width", type=int, help="GPT-2 width (default: 64; 32 with --quick)")
    parser.add_argument("--epochs", type=int, help="epochs per fit (default: 1)")
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    width, rows, epochs = (32, 600, 1) if args.quick else (64, 1200, 1)
    # Bigger fits show the steady state; small ones are dominated by starting the workers.
    width, epochs = args.width or width, args.epochs or epochs
    cache = tempfile.mkdtemp(prefix="calf-threads-")
    model = CALFForecaster(
        pred_len=24,
        seq_len=96,
        llm={"n_embd": width, "n_layer": 2, "n_head": 4, "vocab_size": max(512, width)},
        pretrained=False,
        n_layers=2,
        n_principal_words=min(64, width),
        max_epochs=epochs,
        window_stride=2,
        cache_dir=cache,
        random_state=0,
    )
    X = series(rows, 4)
    cores = os.cpu_count()
    # Warm the principal-word cache, so that no run pays for building it.
    model.set_params(max_epochs=1).fit(X[:300])
    model.set_params(max_epochs=epochs)
    print(
        f"CPU: {cpu_model()}, {cores} logical cores; torch {torch.__version__}, default threads "
        f"{torch.get_num_threads()}; OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}"
    )
    print(
        f"GPT-2 width {width}, 2 blocks, random; {rows} steps x 4 series, seq_len 96, pred_len 24, "
        f"{epochs} epoch(s), window_stride 2; 4 candidates x 2 folds + refit\n"
    )
    runs = [
        ("n_jobs=1", 1, {}),
        ("n_jobs=2, loky default", 2, {}),
        (f"n_jobs=2, inner_max_num_threads={cores}", 2, {"inner_max_num_threads": cores}),
        ("n_jobs=2, inner_max_num_threads=1", 2, {"inner_max_num_threads": 1}),
    ]
    print(f"{'run':40s} {'seconds':>8s}  mean test scores")
    for name, n_jobs, backend in runs:
        seconds, scores = search(model, X, n_jobs, **backend)
        print(f"{name:40s} {seconds:8.1f}  {np.array2string(scores, precision=6)}")


if __name__ == "__main__":
    main()
