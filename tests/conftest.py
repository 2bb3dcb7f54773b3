"""Shared fixtures: tiny randomly initialised GPT-2 backbones, never downloads."""

import contextlib
import importlib
import logging
import os
import re
import shutil
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pytest

# The project's real benchmark files live beside the checkout (never copied in).
STAGED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"

# A GPT-2 small enough to train in a second on a CPU. Token ids are set inside
# the vocabulary so transformers does not warn about them.
TINY_GPT2 = {
    "n_embd": 32,
    "n_layer": 2,
    "n_head": 4,
    "vocab_size": 128,
    "n_positions": 64,
    "bos_token_id": 0,
    "eos_token_id": 0,
}


def pytest_configure(config):
    """Keep the doctests in calf_sklearn/ away from the user's caches and the hub too.

    The autouse fixture below covers tests/ only; this runs once, before
    anything is collected, for the whole session.
    """
    folder = tempfile.mkdtemp(prefix="calf-sklearn-test-cache-")
    patch = pytest.MonkeyPatch()
    patch.setenv("CALF_SKLEARN_CACHE", folder)
    patch.setenv("HF_HUB_OFFLINE", "1")
    config.add_cleanup(lambda: shutil.rmtree(folder, ignore_errors=True))
    config.add_cleanup(patch.undo)
    # Registered here, the plugin sees every doctest, not only those under tests/.
    config.pluginmanager.register(ExamplesWarnOnlyWhereTheySaySo(), "calf-sklearn-quiet-examples")


class LoggedWarnings(logging.Handler):
    """Collects the warnings logged to the loggers it is added to."""

    def __init__(self):
        super().__init__(logging.WARNING)
        self.records = []

    def emit(self, record):
        self.records.append(record)


def forget_logged_once():
    """Let transformers' ``warning_once`` messages be logged again (it caches them per process)."""
    once = getattr(logging.Logger, "warning_once", None)  # added by transformers once imported
    if hasattr(once, "cache_clear"):
        once.cache_clear()


def offline_env(tmp_path):
    """Environment of a subprocess that runs user code: offline, its own cache, one torch thread."""
    return {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "CALF_SKLEARN_CACHE": str(tmp_path / "cache"),
        # On a small shared CI machine, two threads per process compete with the other
        # processes' threads and run many times slower. Respect an explicit setting.
        "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1"),
        "MPLBACKEND": "Agg",
    }


# The doctest example a warning points at: "<doctest calf_sklearn.x.Name[3]>".
_EXAMPLE = re.compile(r"^<doctest .*\[(\d+)\]>$")


class ExamplesWarnOnlyWhereTheySaySo:
    """Fail a docstring example that warns or logs a warning it does not announce.

    A user copying an example should see exactly what it shows. Every Python
    warning and every warning that transformers or peft log (they log, not
    warn, and only once per process, so that cache is cleared first) is
    collected while a doctest runs. A warning is accepted only from an
    example whose own source says "warning" (as in ``# recursive, with a
    warning``); anything else fails the doctest with the messages.
    """

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_call(self, item):
        if type(item).__name__ != "DoctestItem":
            return (yield)
        handler = LoggedWarnings()
        loggers = [logging.getLogger(name) for name in ("transformers", "peft", "torch", "")]
        forget_logged_once()
        for logger in loggers:
            logger.addHandler(handler)
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                result = yield
        finally:
            for logger in loggers:
                logger.removeHandler(handler)
        examples = item.dtest.examples
        unannounced = [
            f"{w.category.__name__}: {w.message}"
            for w in caught
            if not (
                (match := _EXAMPLE.match(str(w.filename)))
                and "warning" in examples[int(match[1])].source.lower()
            )
        ]
        unannounced += [f"logged by {r.name}: {r.getMessage()}" for r in handler.records]
        if unannounced:
            pytest.fail(f"{item.name} warns without saying so:\n" + "\n".join(unannounced), pytrace=False)
        return result


@pytest.fixture(autouse=True)
def _isolated_caches(tmp_path_factory, monkeypatch):
    """Keep every test away from the user's caches and from the hub."""
    monkeypatch.setenv("CALF_SKLEARN_CACHE", str(tmp_path_factory.getbasetemp() / "calf-cache"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


@contextlib.contextmanager
def benchmark_script(monkeypatch, name):
    """A script of ``benchmarks/`` imported as a module, forgotten afterwards.

    The torch thread count the script may set is restored, and the script is
    dropped from ``sys.modules`` with the helpers scripts import, so that the
    next test imports them afresh.
    """
    import torch

    monkeypatch.syspath_prepend(str(BENCHMARKS))
    threads = torch.get_num_threads()
    try:
        yield importlib.import_module(name)
    finally:
        torch.set_num_threads(threads)
        for module in (name, "speed_memory", "_faithful"):
            sys.modules.pop(module, None)


def tiny(**overrides):
    """Constructor parameters of a fast forecaster on a tiny random backbone."""
    params = {
        "pred_len": 8,
        "seq_len": 24,
        "llm": dict(TINY_GPT2),
        "pretrained": False,
        "n_layers": 2,
        "n_principal_words": 16,
        "max_epochs": 2,
        "batch_size": 16,
        "random_state": 0,
    }
    params.update(overrides)
    return params


def tiny_network(seed=0, seq_len=8, pred_len=4):
    """A CALFNetwork with both branches on a one-block GPT-2 of width 16, seeded."""
    import torch
    from transformers import GPT2Model

    from calf_sklearn.backbone import gpt2_config
    from calf_sklearn.network import CALFNetwork

    torch.manual_seed(seed)
    backbone = GPT2Model(gpt2_config({"n_embd": 16, "n_layer": 1, "n_head": 2, "vocab_size": 32}))
    return CALFNetwork(backbone, seq_len=seq_len, pred_len=pred_len, principal_words=torch.randn(5, 16))


@pytest.fixture
def tiny_params():
    return tiny()


@pytest.fixture(scope="module")
def module_env(tmp_path_factory):
    """The per-test isolation above, for fixtures that outlive one test."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CALF_SKLEARN_CACHE", str(tmp_path_factory.getbasetemp() / "calf-cache"))
        patch.setenv("HF_HUB_OFFLINE", "1")
        yield


def make_series(n_rows=240, n_series=3, seed=0):
    """Seasonal series with trend and noise, shape (n_rows, n_series)."""
    rng = np.random.default_rng(seed)
    t = np.arange(n_rows)[:, None]
    periods = np.arange(1, n_series + 1) * 7.0
    return np.sin(2 * np.pi * t / periods) + 0.01 * t + 0.1 * rng.normal(size=(n_rows, n_series))


@pytest.fixture
def series():
    return make_series()


@pytest.fixture(scope="session")
def data_home():
    """The benchmark data folder: $CALF_SKLEARN_DATA, else ../shared/data beside the checkout."""
    folder = Path(os.environ.get("CALF_SKLEARN_DATA") or STAGED_DATA)
    if not folder.is_dir():
        pytest.fail(
            f"Benchmark data folder {folder} is missing: stage the files of the data README there "
            "or set CALF_SKLEARN_DATA to the folder that holds them."
        )
    return folder
