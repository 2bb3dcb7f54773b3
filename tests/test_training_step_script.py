"""benchmarks/training_step.py end to end on a tiny GPT-2: processes in both orders, FLOPs, the split.

The figures of a tiny run mean nothing; what is checked is that the script
runs its processes in both orders, reports each with its ratios, counts
FLOPs that tell the paths apart and splits ours' time into shares.
"""

import argparse
import re

import pytest
import torch
from conftest import BENCHMARKS, benchmark_script


@pytest.fixture
def training_step(monkeypatch):
    """The script as a module, forgotten afterwards (see conftest.benchmark_script)."""
    with benchmark_script(monkeypatch, "training_step") as module:
        yield module


def _rows(report, first_cell):
    rows = [[cell.strip() for cell in line.strip("|").split("|")] for line in report.splitlines()]
    return [row for row in rows if row and row[0] == first_cell]


def test_a_tiny_run_reports_each_process_the_spread_the_flops_and_the_split(training_step, tmp_path):
    out = tmp_path / "report.md"
    training_step.main(
        ["--shape", "tiny", "--processes", "2", "--repeats", "1", "--threads", "1", "--out", str(out)]
    )
    report = out.read_text()

    # One row per process, the first path alternating: both orders were measured.
    first = [_rows(report, str(index))[0] for index in (1, 2)]
    assert [row[1] for row in first] == ["ours", "faithful"]
    for row in first:
        # Four medians in ms (training and forecasts, ours and faithful), two ratios.
        assert all(re.fullmatch(r"\d+", cell) for cell in row[2:6]), row
        assert all(re.fullmatch(r"\d+\.\d\dx", cell) for cell in row[6:8]), row

    by_phase = _rows(report, "train") + _rows(report, "inference")
    spread = {(row[0], row[1]): row for row in by_phase if len(row) == 6}
    for phase, path, target in (("train", "ours", ">= 2.2x"), ("inference", "ours", ">= 4.5x")):
        row = spread[(phase, path)]
        assert re.fullmatch(r"\d+\.\d\dx \(\d+\.\d\d-\d+\.\d\dx\)", row[2]), row
        assert row[4] == target
        assert row[5] in ("met in every process", "missed in every process", "within the spread")

    # FLOPs per call: faithful's forecast runs both branches, ours only the temporal one.
    flops = {(row[0], row[1]): float(row[2]) for row in by_phase if len(row) == 5}
    assert 0 < flops[("inference", "ours")] < flops[("inference", "faithful")]
    assert 0 < flops[("train", "ours")] <= flops[("train", "faithful")]

    for phase in ("train", "inference"):
        shares = re.search(
            rf"^- {phase}: matrix products (\d+)%, dropout masks (\d+)%, everything else (\d+)%$",
            report,
            re.MULTILINE,
        )
        assert shares, report
        assert int(shares[1]) > 0 and abs(sum(int(s) for s in shares.groups()) - 100) <= 2
    assert "native bfloat16 on cpu: " in report


@pytest.mark.parametrize(
    ("ratios", "verdict"),
    [
        ([2.3, 2.2, 2.5], "met in every process"),
        ([2.1, 2.3], "within the spread"),
        ([1.7, 2.19], "missed in every process"),
    ],
)
def test_the_verdict_is_met_only_when_every_process_meets_the_target(training_step, ratios, verdict):
    assert training_step.spread_verdict(ratios, 2.2) == verdict


def test_a_failing_worker_is_reported_with_its_error(training_step, monkeypatch):
    """A worker that crashes stops the run with its own message, not a JSON error."""
    monkeypatch.setattr(training_step, "__file__", str(BENCHMARKS / "no_such_script.py"))
    with pytest.raises(RuntimeError, match="worker 0 failed"):
        training_step.main(["--shape", "tiny", "--processes", "1", "--repeats", "1"])


def test_compiled_forecasts_are_timed_beside_the_others_and_reported(training_step, monkeypatch):
    """--compile adds an inference-only path, timed in the rounds after a separately timed compile.

    As in test_compiled.py, a stand-in replaces torch.compile (a real
    compilation takes 20 to 40 s on a small CI machine); the timing runs in
    this process instead of a worker so that the stand-in applies.
    """
    compiled = []
    monkeypatch.setattr(torch, "compile", lambda module, **options: compiled.append(module) or module)
    args = argparse.Namespace(
        device="cpu",
        threads=1,
        shape="tiny",
        precision=["float32"],
        series=3,
        batch=4,
        repeats=1,
        compile=True,
        processes=1,
    )
    timed = training_step.time_paths(training_step._spec(args, faithful_first=True))
    assert len(compiled) == 1
    assert timed["order"] == ["faithful", "ours"]  # the training order; compiled forecasts only
    assert set(timed["inference"]) == {"faithful", "ours", "ours-compiled"}
    assert timed["compile_seconds"] > 0 and timed["compile_failure"] is None

    report = training_step.render(args, [timed], training_step.count_paths(training_step._spec(args)))
    rows = {(row[0], row[1]): row for row in _rows(report, "inference") if len(row) == 6}
    assert rows[("inference", "ours-compiled")][4] == ">= 4.5x"  # its target: float32 forecasting's
    # Its FLOPs are ours' (the counter cannot see into compiled code), its rate from its own times.
    flops = {row[1]: row for row in _rows(report, "inference") if len(row) == 5}
    assert flops["ours-compiled"][2] == flops["ours"][2]
    # Its own column in the process table: forecast ms, then its speed-up after ours'.
    header = next(line for line in report.splitlines() if line.startswith("| process |"))
    columns = [cell.strip() for cell in header.strip("|").split("|")]
    process = _rows(report, "1")[0]
    assert re.fullmatch(r"\d+", process[columns.index("ours-compiled inference (ms)")])
    assert re.fullmatch(r"\d+\.\d\dx", process[columns.index("inference speed-up, ours-compiled")])
    assert re.search(r"^ours-compiled: .* compiling took \d+ s", report, re.MULTILINE)
