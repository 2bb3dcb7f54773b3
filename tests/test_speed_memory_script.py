"""benchmarks/speed_memory.py end to end on a tiny GPT-2: every path gets its rows and ratios.

The figures of such a run mean nothing (the model is tiny and the machine
busy); what is checked is that the script runs, measures every path it was
asked for and writes each row, ratio and condition of its report.
"""

import argparse
import re

import pytest
import torch
from conftest import benchmark_script

TINY_RUN = ["--shape", "tiny", "--cases", "3:4", "--repeats", "1", "--threads", "1"]


@pytest.fixture
def speed_memory(monkeypatch):
    """The script as a module, forgotten afterwards (see conftest.benchmark_script)."""
    with benchmark_script(monkeypatch, "speed_memory") as module:
        yield module


def _rows(report, *cells):
    """The report's table rows whose first cells are ``cells``, each split into its cells."""
    rows = [[cell.strip() for cell in line.strip("|").split("|")] for line in report.splitlines()]
    start = [str(cell) for cell in cells]
    return [row for row in rows if row[: len(start)] == start]


def _row(report, *cells):
    """The one measurement or reduced-precision row that starts with ``cells``."""
    rows = _rows(report, *cells)
    assert len(rows) == 1, f"expected one row starting {cells} in:\n{report}"
    return rows[0]


def _ratio_row(report, m, batch):
    """The row of (m, batch) in the ours-vs-faithful ratio table (it has no path column)."""
    rows = [row for row in _rows(report, m, batch) if re.match(r"^\d+\.\d\dx \(best ", row[2])]
    assert len(rows) == 1, report
    return rows[0]


def test_a_bfloat16_run_reports_every_path_with_its_ratios(speed_memory, tmp_path):
    """float32, bfloat16 and faithful each get speed and memory; bfloat16 its own ratio row."""
    out = tmp_path / "report.md"
    speed_memory.main([*TINY_RUN, "--precision", "float32", "bfloat16", "--out", str(out)])
    report = out.read_text()

    for path in ("ours", "ours-bfloat16", "faithful"):
        cells = _row(report, 3, 4, path)
        # train step, inference ms, windows/s, training and inference memory: all measured.
        assert all(re.match(r"^\d", cell) for cell in cells[3:]), cells
    assert "ours-compiled" not in report

    ratios = _ratio_row(report, 3, 4)
    assert re.match(r"^\d+\.\d\dx \(best \d+\.\d\dx\) (met|MISSED)$", ratios[2]), ratios

    reduced = _row(report, 3, 4, "bfloat16")
    for cell in reduced[3:6]:  # forecast and training speed-ups, training memory: with a verdict
        assert re.search(r"x.* (met|MISSED)$", cell), reduced
    artifact = float(reduced[7].rstrip("x"))
    assert 0.4 < artifact < 0.6  # bfloat16 weights: half the bytes
    assert float(reduced[8]) < 0.05  # bfloat16 forecasts stay close to float32's

    assert re.search(
        r"^- CPU flags: avx2 (yes|no), avx512f (yes|no), avx512_bf16 (yes|no), ", report, re.MULTILINE
    )
    assert re.search(r"amx_bf16 (yes|no), amx_tile (yes|no)$", report, re.MULTILINE)
    assert re.search(r"^- native bfloat16 on cpu \(has_native_bfloat16\): (yes|no)$", report, re.MULTILINE)
    assert re.search(r"^- ours-bfloat16 \(joblib .*, 0\.\d\dx ours float32$", report, re.MULTILINE)
    assert re.search(r"^All targets met: (yes|no)$", report, re.MULTILINE)
    assert re.search(r"^Reduced-precision and compiled targets met: (yes|no)$", report, re.MULTILINE)


def test_compiled_forecasting_gets_its_compile_time_and_speed_ups(speed_memory, tmp_path, monkeypatch):
    """--compile adds an inference-only path and the compiled table (memory workers skipped here).

    As in test_compiled.py, a stand-in replaces torch.compile: a real
    compilation takes 20 to 40 s on a small CI machine. (A real one is a
    manual check: ``--shape tiny --cases 3:4 --repeats 1 --compile``.)
    """
    record = {"baseline": 1, "peak_rss": 3, "rss_added": 2, "vm_hwm": 3}
    # The workers are covered above; ours-compiled has none.
    monkeypatch.setattr(speed_memory, "measure_memory", lambda spec: dict(record))
    compiled_modules = []

    def fake_compile(module, **options):
        compiled_modules.append(module)
        return module

    monkeypatch.setattr(torch, "compile", fake_compile)
    out = tmp_path / "report.md"
    speed_memory.main([*TINY_RUN, "--compile", "--out", str(out)])
    report = out.read_text()
    # Once, on the stripped float32 network: no training parts, float32 weights.
    [module] = compiled_modules
    assert not module.has_training_parts and module.head.weight.dtype == torch.float32

    cells = _row(report, 3, 4, "ours-compiled")
    assert cells[3] == "-" and cells[6:] == ["-", "-"]  # no training, memory not measured
    assert re.match(r"^\d", cells[4])
    compiled = [line for line in report.splitlines() if re.match(r"^\| 3 \| 4 \| \d+\.\d \| ", line)]
    assert len(compiled) == 1, report  # compile seconds, speed-ups over faithful and over ours eager
    assert compiled[0].count("x (best") == 2
    # No verdict at M = 3: the target applies at M = 7, batch 32.
    assert "met" not in compiled[0] and "MISSED" not in compiled[0]
    assert "Reduced-precision and compiled targets met: no target applies to these cases" in report
    assert "| bfloat16 |" not in report


def test_the_default_report_keeps_its_tables(speed_memory):
    """float32 alone: the ours-vs-faithful tables only, keyed by (M, batch)."""
    parser_args = argparse.Namespace(
        device="cpu", threads=2, repeats=1, shape="tiny", precision=["float32"], compile=False
    )
    cases = [(7, 32), (7, 256)]
    times = {"ours": [1.0], "faithful": [2.0]}
    speed = {case: {"train": times, "inference": times} for case in cases}
    record = {"baseline": 1, "peak_rss": 3, "rss_added": 2, "vm_hwm": 3}
    memory = {case: {p: {"train": record, "inference": record} for p in times} for case in cases}
    sizes = {"ours": 1e6, "faithful": 4e6, "faithful_total": 1e6, "faithful_trainable": 1e5}
    report = speed_memory.render(
        parser_args, cases, ["ours", "faithful"], speed, memory, sizes, {"loss": 0.0}
    )
    for batch in (32, 256):
        assert _row(report, 7, batch, "ours") and _row(report, 7, batch, "faithful")
        assert _ratio_row(report, 7, batch)[2] == "2.00x (best 2.00x) met"
    assert "## Reduced precision" not in report and "Reduced-precision" not in report
    assert "All targets met: no" in report  # memory ratio 1.00x > 0.7x


def test_cases_come_from_the_old_options_or_from_cases(speed_memory):
    """--series/--batch/--batch-321 give the old cases; --cases may repeat an M at two batches."""
    old = argparse.Namespace(cases=None, series=[7, 21, 321], batch=None, batch_321=None)
    assert speed_memory.cases_from(old) == [(7, 32), (21, 32), (321, 4)]
    assert speed_memory.cases_from(old, "cuda") == [(7, 32), (21, 32), (321, 32)]
    new = argparse.Namespace(cases=[(7, 32), (21, 32), (7, 256)], series=None, batch=None, batch_321=None)
    assert speed_memory.cases_from(new) == [(7, 32), (21, 32), (7, 256)]


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--cases", "7x32"], "is not M:B"),
        (["--cases", "7:32", "--series", "21"], "--cases replaces"),
        (["--precision", "float16"], "needs a CUDA device"),
    ],
)
def test_bad_options_stop_before_any_measurement(speed_memory, capsys, argv, message):
    with pytest.raises(SystemExit):
        speed_memory.main(argv)
    assert message in capsys.readouterr().err
