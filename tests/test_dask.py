"""A grid search on a Dask cluster scores exactly as the sequential one."""

import numpy as np
import pytest

pytest.importorskip("distributed", reason="the dask extra: pip install 'calf-sklearn[dask]'")

import os
import time

import joblib
import torch
from conftest import TINY_GPT2
from distributed import Client, LocalCluster
from sklearn.model_selection import GridSearchCV, TimeSeriesSplit

from calf_sklearn import CALFForecaster

GRID = {"feature_weight": [0.01, 0.1], "output_weight": [0.5, 1.0]}


@pytest.fixture
def environment_restored():
    """Give the process its environment back afterwards.

    Starting a LocalCluster with worker processes writes OMP_NUM_THREADS=1 (and MKL, OpenBLAS,
    malloc and hash-seed settings) into this process's os.environ, and leaves them there; later
    tests' subprocesses would inherit one thread and round differently from this process.
    """
    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)


def test_grid_search_on_a_local_cluster_matches_the_sequential_search(tmp_path, environment_restored):
    t = np.arange(240)
    X = np.column_stack([np.sin(t / 6), np.cos(t / 10)]) + 0.1 * np.random.default_rng(0).normal(
        size=(240, 2)
    )
    # Every worker loads the backbone and the principal words itself: the cache folder is shared
    # (here a local one; on a cluster, a network folder or one prepared on every machine).
    model = CALFForecaster(
        pred_len=8,
        seq_len=24,
        llm=TINY_GPT2,
        pretrained=False,
        n_layers=1,
        n_principal_words=16,
        max_epochs=1,
        cache_dir=tmp_path / "cache",
        random_state=0,
    )
    # A worker process runs torch on one thread (threads_per_worker=1; Dask's nanny also sets
    # OMP_NUM_THREADS=1), so the sequential reference does too: float32 sums split over two
    # threads round differently (scores then differ in the 9th digit), over one they match exactly.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        start = time.perf_counter()
        sequential = GridSearchCV(model, GRID, cv=TimeSeriesSplit(2)).fit(X)
        print(f"sequential search: {time.perf_counter() - start:.1f} s")
    finally:
        torch.set_num_threads(threads)
    start = time.perf_counter()
    # One thread per worker process, so two workers fit two candidates at once on two cores.
    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
    with cluster, Client(cluster), joblib.parallel_backend("dask"):
        distributed = GridSearchCV(model, GRID, cv=TimeSeriesSplit(2), n_jobs=-1).fit(X)
        workers = len(cluster.workers)
    print(f"search on the cluster, start-up included: {time.perf_counter() - start:.1f} s")
    assert workers == 2
    # Same seeds, same data, same float operations in a fresh process: identical scores.
    np.testing.assert_array_equal(
        distributed.cv_results_["mean_test_score"], sequential.cv_results_["mean_test_score"]
    )
    assert distributed.best_params_ == sequential.best_params_
