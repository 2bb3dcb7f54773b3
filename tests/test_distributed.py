"""Data-parallel training: the pieces in this process, then real 2-process launches on gloo.

The launches run tests/distributed_worker.py under torchrun (``python -m
torch.distributed.run --standalone``), two CPU processes of one thread each,
and compare what every rank ends with against the same fit made here by one
process.
"""

import functools
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import TINY_GPT2, make_series, tiny
from hypothesis import given
from hypothesis import strategies as st

from calf_sklearn import CALFForecaster, load_forecaster
from calf_sklearn._torch import calf_model
from calf_sklearn._torch.distributed import ProcessGroup, join_process_group, main_process
from calf_sklearn._torch.network import CALFOutputs
from calf_sklearn.losses import CALFLoss

WORKER = Path(__file__).with_name("distributed_worker.py")
# Nothing random after initialisation: one process's fit and two processes' must agree.
NO_DROPOUT = dict(TINY_GPT2, resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0)


# ------------------------------------------------------------------ in this process


@given(st.integers(0, 200), st.integers(1, 9))
def test_shares_cut_a_batch_into_near_equal_contiguous_parts(n_items, world_size):
    shares = [ProcessGroup(world_size, rank).share(n_items) for rank in range(world_size)]
    covered = np.concatenate([np.arange(n_items)[share] for share in shares])
    assert covered.tolist() == list(range(n_items))
    sizes = [share.stop - share.start for share in shares]
    assert max(sizes) - min(sizes) <= 1 and sizes == sorted(sizes, reverse=True)


@pytest.mark.parametrize(
    ("task", "output", "masked"),
    [("l1", "mse", True), ("smape", "l1", True), ("mase", "smooth_l1", False), ("l1", "l1", False)],
)
def test_share_weighted_losses_add_up_to_the_whole_batch(task, output, masked):
    """What the processes sum (loss and gradient) is what one process computes on the whole batch."""
    rng = torch.Generator().manual_seed(0)
    batch, steps, series = 7, 4, 3
    forecast = torch.randn(batch, steps, series, generator=rng, requires_grad=True)
    textual = torch.randn(batch, steps, series, generator=rng)
    features = [torch.randn(batch, series, 5, generator=rng, requires_grad=True) for _ in range(2)]
    textual_features = [torch.randn(batch, series, 5, generator=rng) for _ in range(2)]
    y = torch.randn(batch, steps, series, generator=rng)
    context = torch.randn(batch, 6, series, generator=rng)
    mask = (torch.rand(batch, steps, series, generator=rng) > 0.3).float() if masked else None
    loss = CALFLoss(task, output, "l1", 1.0, 0.7, 0.3)

    def outputs(rows):
        return CALFOutputs(
            forecast[rows], textual[rows], [f[rows] for f in features], [f[rows] for f in textual_features]
        )

    whole, whole_terms = loss(outputs(slice(None)), y, context=context, mask=mask)
    whole_grads = torch.autograd.grad(whole, [forecast, *features])
    total, summed, grads = 0.0, dict.fromkeys(whole_terms, 0.0), None
    for rows in (slice(0, 4), slice(4, 7)):
        part_mask = None if mask is None else mask[rows]
        elements = 1.0 if mask is None else float(part_mask.sum() / mask.sum())
        share = ((rows.stop - rows.start) / batch, elements)
        value, terms = loss(outputs(rows), y[rows], context=context[rows], mask=part_mask, share=share)
        total = total + value
        summed = {key: summed[key] + terms[key] for key in summed}
        part_grads = torch.autograd.grad(value, [forecast, *features])
        grads = part_grads if grads is None else [a + b for a, b in zip(grads, part_grads)]
    torch.testing.assert_close(total, whole)
    for key in whole_terms:
        assert summed[key] == pytest.approx(whole_terms[key], rel=1e-6)
    for got, expected in zip(grads, whole_grads):
        torch.testing.assert_close(got, expected)


def test_a_process_alone_trains_alone(monkeypatch):
    for name in ("WORLD_SIZE", "RANK", "LOCAL_RANK"):
        monkeypatch.delenv(name, raising=False)
    cpu = torch.device("cpu")
    assert not join_process_group("auto", cpu).active
    assert not join_process_group(False, cpu).active
    assert main_process()
    with pytest.raises(ValueError, match="launch the script with torchrun"):
        join_process_group(True, cpu)
    monkeypatch.setenv("WORLD_SIZE", "2")  # a launch, but not all of it: never a hang
    with pytest.raises(ValueError, match="MASTER_ADDR, MASTER_PORT are not set"):
        join_process_group("auto", cpu)
    assert not join_process_group(False, cpu).active  # off means off
    monkeypatch.setenv("WORLD_SIZE", "two")
    with pytest.raises(ValueError, match="WORLD_SIZE='two'"):
        join_process_group("auto", cpu)


def test_plain_fit_records_one_process_and_refuses_bad_data_parallel(series):
    model = CALFForecaster(**tiny(max_epochs=1)).fit(series)
    assert model.n_processes_ == 1
    with pytest.raises(ValueError, match="data_parallel='yes' is not one of 'auto'"):
        CALFForecaster(**tiny(data_parallel="yes")).fit(series)
    with pytest.raises(ValueError, match="torchrun"):
        CALFForecaster(**tiny(data_parallel=True)).fit(series)


# ------------------------------------------------------------------ 2-process launches


def _launch(settings, tmp_path, timeout=300):
    path = tmp_path / f"settings{time.monotonic_ns()}.json"
    path.write_text(json.dumps(settings))
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2"]
    return _run([*command, str(WORKER), str(path)], timeout)


def _run(command, timeout, env=None):
    # One thread per process: two processes fill the CI machine's two cores.
    env = {**os.environ, "OMP_NUM_THREADS": "1", **(env or {})}
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env, check=False)


def _save_members(path, members):
    np.savez(path, **{f"m{i:03d}": member for i, member in enumerate(members)})
    return str(path)


def _single_process_fit(monkeypatch, params, members, **fit):
    with monkeypatch.context() as patch:
        patch.setattr(calf_model, "CALFNetwork", functools.partial(calf_model.CALFNetwork, dropout=0.0))
        model = CALFForecaster(**params).fit(members[0] if len(members) == 1 else members, **fit)
    forecast = model.predict()
    return model, np.stack(forecast) if isinstance(forecast, list) else forecast


def _ranks(out, name):
    return [dict(np.load(out / f"{name}_rank{rank}.npz")) for rank in (0, 1)]


SERIES = make_series(240, 3)
# 161 training windows in batches of 16: the last batch has one window, so one process has none.
SERIES_PARAMS = tiny(llm=NO_DROPOUT, lora_dropout=0.0, max_epochs=3, device="cpu")
# The M4 sampler on a panel of unequal members: masked targets, so l1 weighs shares by elements.
PANEL = [make_series(n, 2, seed=n) + 3.0 for n in (50, 64, 80, 96, 120)]
PANEL_PARAMS = tiny(
    llm=NO_DROPOUT,
    lora_dropout=0.0,
    max_epochs=3,
    device="cpu",
    window_sampling="recent",
    padding=True,
    history_size=1.5,
    validation_size=8,
    batch_size=4,
)
M4_BF16_PARAMS = {**PANEL_PARAMS, "task_loss": "smape", "scaling": None, "precision": "bfloat16"}
# The task term alone: the textual branch and the projections take no part (DDP must allow that).
TASK_ONLY_PARAMS = {**SERIES_PARAMS, "output_weight": 0.0, "feature_weight": 0.0, "max_epochs": 2}


@pytest.fixture(scope="module")
def launched(tmp_path_factory, module_env):
    """One launch of 2 processes making four fits: a series, a panel, the M4 setting in bfloat16, the task term alone."""
    folder = tmp_path_factory.mktemp("ddp")
    fits = [
        {"name": "series", "data": _save_members(folder / "series.npz", [SERIES]), "params": SERIES_PARAMS,
         "checkpoint": str(folder / "series.ckpt")},
        {"name": "panel", "data": _save_members(folder / "panel.npz", PANEL), "params": PANEL_PARAMS},
        {"name": "m4", "data": _save_members(folder / "panel.npz", PANEL), "params": M4_BF16_PARAMS},
        {"name": "task_only", "data": _save_members(folder / "series.npz", [SERIES]), "params": TASK_ONLY_PARAMS},
    ]  # fmt: skip
    result = _launch({"fits": fits, "out": str(folder), "no_dropout": True}, folder)
    assert result.returncode == 0, result.stderr[-4000:]
    return folder


def test_two_processes_fit_the_single_process_model(launched, monkeypatch):
    reference, expected = _single_process_fit(monkeypatch, SERIES_PARAMS, [SERIES])
    for rank in _ranks(launched, "series"):
        assert int(rank["n_processes"]) == 2
        np.testing.assert_allclose(rank["forecast"], expected, rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(rank["val_mse"], [r["val_mse"] for r in reference.history_], rtol=1e-5)
        np.testing.assert_allclose(
            rank["train_loss"], [r["train_loss"] for r in reference.history_], rtol=1e-5
        )
    # Every rank ends with the same model, and it loads and predicts here.
    first, second = _ranks(launched, "series")
    np.testing.assert_array_equal(first["forecast"], second["forecast"])
    import joblib

    loaded = joblib.load(launched / "series_rank1.joblib")
    assert loaded.n_processes_ == 2
    np.testing.assert_allclose(loaded.predict(), first["forecast"], rtol=1e-6)
    # Rank 0 wrote the checkpoint, with each process's generators.
    state = torch.load(launched / "series.ckpt", weights_only=True)
    assert state["epoch"] == 3 and len(state["process_rng"]) == 2


def test_two_processes_fit_a_panel_with_masked_targets(launched, monkeypatch):
    _, expected = _single_process_fit(monkeypatch, PANEL_PARAMS, PANEL)
    for rank in _ranks(launched, "panel"):
        np.testing.assert_allclose(rank["forecast"], expected, rtol=1e-4, atol=1e-5)


def test_two_processes_fit_with_the_textual_branch_unused(launched, monkeypatch):
    _, expected = _single_process_fit(monkeypatch, TASK_ONLY_PARAMS, [SERIES])
    for rank in _ranks(launched, "task_only"):
        np.testing.assert_allclose(rank["forecast"], expected, rtol=1e-4, atol=1e-5)


@pytest.mark.filterwarnings("ignore::calf_sklearn.precision.ReducedPrecisionWarning")  # slow on AVX2, says so
def test_two_processes_train_the_m4_setting_in_bfloat16(launched, monkeypatch):
    reference, expected = _single_process_fit(monkeypatch, M4_BF16_PARAMS, PANEL)
    first, second = _ranks(launched, "m4")
    np.testing.assert_array_equal(first["forecast"], second["forecast"])
    assert len(first["val_mse"]) == len(reference.history_)
    # bfloat16 rounds differently when a batch is cut in two: close, not equal.
    np.testing.assert_allclose(first["forecast"], expected, rtol=0.05, atol=0.05 * np.abs(expected).mean())


def test_a_killed_job_launched_again_resumes_and_ends_as_the_uninterrupted_fit(tmp_path, monkeypatch):
    params = {**SERIES_PARAMS, "max_epochs": 4}
    fit = {"name": "resumed", "data": _save_members(tmp_path / "series.npz", [SERIES]), "params": params,
           "checkpoint": str(tmp_path / "fit.ckpt")}  # fmt: skip
    settings = {"fits": [fit], "out": str(tmp_path), "no_dropout": True}
    killed = _launch({**settings, "die_after_epoch": 2}, tmp_path)
    assert killed.returncode != 0
    assert torch.load(tmp_path / "fit.ckpt", weights_only=True)["epoch"] == 2
    again = _launch(settings, tmp_path)
    assert again.returncode == 0, again.stderr[-4000:]
    _, expected = _single_process_fit(monkeypatch, params, [SERIES])
    for rank in _ranks(tmp_path, "resumed"):
        assert int(rank["resumed_from"]) == 2
        np.testing.assert_allclose(rank["forecast"], expected, rtol=1e-4, atol=1e-5)


def _free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_a_process_that_dies_stops_the_others_with_a_clear_error(tmp_path):
    """Without torchrun's agent (which would kill the survivor): the survivor must stop on its own."""
    fit = {"name": "dies", "data": _save_members(tmp_path / "series.npz", [SERIES]),
           "params": {**SERIES_PARAMS, "max_epochs": 5}, "checkpoint": str(tmp_path / "fit.ckpt")}  # fmt: skip
    path = tmp_path / "settings.json"
    path.write_text(json.dumps({"fits": [fit], "out": str(tmp_path), "die_after_epoch": 1, "die_rank": 1}))
    port = str(_free_port())
    processes = []
    for rank in (0, 1):
        env = {**os.environ, "OMP_NUM_THREADS": "1", "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": port,
               "WORLD_SIZE": "2", "RANK": str(rank), "LOCAL_RANK": str(rank)}  # fmt: skip
        command = [sys.executable, str(WORKER), str(path)]
        processes.append(
            subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        )
    try:
        _, survivor_err = processes[0].communicate(timeout=240)
        processes[1].communicate(timeout=60)
    finally:
        for process in processes:
            process.kill()
    assert processes[1].returncode == 3
    assert processes[0].returncode != 0
    assert "Process 0 of 2 lost contact with the others" in survivor_err
    assert not (tmp_path / "dies_rank0.npz").exists()


def test_the_command_line_under_torchrun_writes_the_model_once(tmp_path):
    import pandas as pd

    frame = pd.DataFrame(SERIES, columns=["a", "b", "c"])
    frame.insert(0, "date", pd.date_range("2024-01-01", periods=len(frame), freq="h"))
    frame.to_csv(tmp_path / "data.csv", index=False)
    output = tmp_path / "model.safetensors"
    command = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
        "-m", "calf_sklearn", "fit", str(tmp_path / "data.csv"), "--backbone-config", json.dumps(TINY_GPT2),
        "--n-layers", "2", "--n-principal-words", "16", "--seq-len", "24", "--pred-len", "8",
        "--max-epochs", "2", "--batch-size", "16", "--random-state", "0", "--device", "cpu", "--quiet",
        "-o", str(output),
    ]  # fmt: skip
    result = _run(command, timeout=300)
    assert result.returncode == 0, result.stderr[-4000:]
    assert result.stdout.count("Model saved to") == 1
    assert "Trained 2 epoch(s) on 2 processes" in result.stdout
    model = load_forecaster(output)
    assert model.n_processes_ == 2
    assert model.predict().shape == (8, 3)


def test_the_command_line_option_reads_auto_and_yes_no_words():
    import argparse

    from calf_sklearn._apps.cli.options import add_estimator_options

    parser = argparse.ArgumentParser()
    add_estimator_options(parser)
    assert parser.parse_args(["--data-parallel", "off"]).data_parallel is False
    assert parser.parse_args(["--data-parallel", "True"]).data_parallel is True
    assert parser.parse_args(["--data-parallel", "auto"]).data_parallel == "auto"
    with pytest.raises(SystemExit):
        parser.parse_args(["--data-parallel", "maybe"])


def test_the_benchmark_command_under_torchrun_reports_and_writes_once(data_home, tmp_path):
    import pandas as pd

    command = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
        "-m", "calf_sklearn", "benchmark", "--dataset", "ETTh1", "--data-home", str(data_home),
        "--backbone-config", json.dumps(TINY_GPT2), "--quick", "--set", "n_layers=2",
        "--set", "n_principal_words=16", "--models", "naive", "calf", "--no-plot",
        "--output-dir", str(tmp_path), "--quiet",
    ]  # fmt: skip
    result = _run(command, timeout=300)
    assert result.returncode == 0, result.stderr[-4000:]
    assert result.stdout.count("Written to") == 1
    folder = tmp_path / "ETTh1_sl96_pl96_random_quick"
    table = pd.read_csv(folder / "results.csv")
    assert table.set_index("model").loc["CALF", "processes"] == 2
    assert "2 processes x 1 threads each" in (folder / "results.md").read_text()


def test_placing_a_fit_alone_leaves_the_cuda_device_as_asked(monkeypatch):
    """Alone, a fit neither needs a GPU index nor changes the current GPU (nothing CUDA is touched)."""
    cuda = torch.device("cuda")
    assert ProcessGroup().place(cuda) == cuda
    assert ProcessGroup().place(torch.device("cuda", 1)) == torch.device("cuda", 1)
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "2")
    with pytest.raises(ValueError, match="every process of this machine on the same GPU"):
        ProcessGroup(2, 1, 1).place(torch.device("cuda", 0))
