"""benchmarks/training_step.py end to end on a tiny GPT-2: processes in both orders, FLOPs, the split.

The figures of a tiny run mean nothing; what is checked is that the script
runs its processes in both orders, reports each with its ratios, counts
FLOPs that tell the paths apart and splits ours' time into shares.
"""

import importlib
import re
import sys
from pathlib import Path

import pytest
import torch

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.fixture
def training_step(monkeypatch):
    """The script as a module, forgotten afterwards (with the torch thread count it may set)."""
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    threads = torch.get_num_threads()
    try:
        yield importlib.import_module("training_step")
    finally:
        torch.set_num_threads(threads)
        for name in ("training_step", "speed_memory", "_faithful"):
            sys.modules.pop(name, None)


def _rows(report, first_cell):
    rows = [[cell.strip() for cell in line.strip("|").split("|")] for line in report.splitlines()]
    return [row for row in rows if row and row[0] == first_cell]


def test_a_tiny_run_reports_each_process_the_spread_the_flops_and_the_split(training_step, tmp_path):
    out = tmp_path / "report.md"
    training_step.main(
        [
            *("--shape", "tiny", "--processes", "2", "--repeats", "1", "--threads", "1"),
            *("--compile", "--out", str(out)),
        ]
    )
    report = out.read_text()

    # One row per process, the first path alternating: both orders were measured.
    first = [_rows(report, str(index))[0] for index in (1, 2)]
    assert [row[1] for row in first] == ["ours", "faithful"]
    for row in first:
        # Five medians in ms (training: ours, faithful; forecasts: ours, compiled, faithful), three ratios.
        assert all(re.fullmatch(r"\d+", cell) for cell in row[2:7]), row
        assert all(re.fullmatch(r"\d+\.\d\dx", cell) for cell in row[7:10]), row

    by_phase = _rows(report, "train") + _rows(report, "inference")
    spread = {(row[0], row[1]): row for row in by_phase if len(row) == 6}
    for phase, path, target in (
        ("train", "ours", ">= 2.2x"),
        ("inference", "ours", ">= 4.5x"),
        ("inference", "ours-compiled", ">= 4.5x"),
    ):
        row = spread[(phase, path)]
        assert re.fullmatch(r"\d+\.\d\dx \(\d+\.\d\d-\d+\.\d\dx\)", row[2]), row
        assert row[4] == target
        assert row[5] in ("met in every process", "missed in every process", "within the spread")

    # FLOPs per call: faithful's forecast runs both branches, ours only the temporal one.
    flops = {(row[0], row[1]): float(row[2]) for row in by_phase if len(row) == 5}
    assert 0 < flops[("inference", "ours")] < flops[("inference", "faithful")]
    assert 0 < flops[("train", "ours")] <= flops[("train", "faithful")]
    assert flops[("inference", "ours-compiled")] == flops[("inference", "ours")]  # the same arithmetic
    assert re.search(r"^ours-compiled: .* compiling took \d+ s", report, re.MULTILINE)

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
