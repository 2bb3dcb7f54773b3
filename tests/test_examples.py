"""The scripts in examples/ run end to end in their quick configuration.

Each test runs one script with ``--quick`` in a fresh Python process, offline
(``HF_HUB_OFFLINE=1``) and with its own principal-word cache, and checks the
lines and files it produces.
"""

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import offline_env

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
SCRIPTS = sorted(path.name for path in EXAMPLES.glob("*.py"))
NUMBER = r"-?\d+\.\d+"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def run_example(script, tmp_path, *args, timeout=300):
    """Run ``examples/<script> --quick *args`` in ``tmp_path``; return its stdout."""
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / script), "--quick", *map(str, args)],
        capture_output=True,
        text=True,
        env=offline_env(tmp_path),
        cwd=tmp_path,
        timeout=timeout,
        check=False,
    )
    assert result.returncode == 0, f"{script} failed:\n{result.stdout[-2000:]}\n{result.stderr[-3000:]}"
    return result.stdout


def metric_row(stdout, label):
    """The two numbers after ``label`` at the start of a table row, as floats."""
    match = re.search(rf"^{re.escape(label)}\s+({NUMBER})\s+({NUMBER})", stdout, re.MULTILINE)
    assert match, f"no metrics row {label!r} in:\n{stdout}"
    return float(match[1]), float(match[2])


@pytest.mark.parametrize("script", SCRIPTS)
def test_every_example_is_documented_and_importable(script):
    """A module docstring that says how to run it, a main(quick=False), an argparse entry point."""
    source = (EXAMPLES / script).read_text()
    tree = ast.parse(source)
    doc = ast.get_docstring(tree)
    assert doc and f"python examples/{script}" in doc and "--quick" in doc
    assert "randomly initialised" in doc and "gpt2" in doc
    main = next(node for node in tree.body if isinstance(node, ast.FunctionDef) and node.name == "main")
    defaults = dict(zip([a.arg for a in main.args.args][-len(main.args.defaults) :], main.args.defaults))
    assert isinstance(defaults.get("quick"), ast.Constant) and defaults["quick"].value is False
    assert 'if __name__ == "__main__":' in source and "argparse" in source


def test_quickstart_runs_and_reloads_identically(tmp_path):
    stdout = run_example("quickstart.py", tmp_path)
    assert "best loss weights:" in stdout
    assert "loaded model forecasts identically: True" in stdout


def test_quickstart_csv_scores_against_naive_and_saves_a_png(tmp_path):
    plot = tmp_path / "out" / "forecast.png"
    plot.parent.mkdir()
    stdout = run_example("quickstart_csv.py", tmp_path, "--plot", plot)
    assert "Read " in stdout and ": 700 rows x 3 series (north, south, east)" in stdout
    assert "randomly initialised GPT-2" in stdout and "NOT the paper's pre-trained model" in stdout
    # The forecast table has timestamps after the training data.
    assert re.search(r"^2024-01-26 04:00:00\s", stdout, re.MULTILINE), stdout
    assert "Held-out tail: last 96 rows, 4 windows of 24 steps" in stdout
    calf, naive = metric_row(stdout, "CALF"), metric_row(stdout, "naive last value")
    assert all(0 <= value < 10 for value in calf + naive)
    assert plot.is_file() and plot.read_bytes()[:8] == PNG_SIGNATURE
    assert f"Plot saved to {plot.resolve()}" in stdout


def test_grid_search_prints_every_grid_point(tmp_path):
    stdout = run_example("grid_search.py", tmp_path)
    assert "Grid search: 4 grid points x 2 TimeSeriesSplit folds + 1 refit" in stdout
    rows = re.findall(
        rf"^\s*({NUMBER})\s+({NUMBER})\s+({NUMBER})\s+{NUMBER}\s+{NUMBER}\s+([1-4])\s+{NUMBER}$",
        stdout,
        re.MULTILINE,
    )
    grid = {(float(output), float(feature)) for output, feature, _, _ in rows}
    assert len(rows) == 4 and grid == {(0.0, 0.0), (1.0, 0.0), (0.0, 0.01), (1.0, 0.01)}, stdout
    assert min(int(rank) for *_, rank in rows) == 1
    best = re.search(
        r"^best params: \{'feature_weight': (\S+), 'output_weight': (\S+)\}$", stdout, re.MULTILINE
    )
    assert best, stdout
    # The best grid point is the rank-1 row of the table.
    rank_one = next((float(o), float(f)) for o, f, _, rank in rows if rank == "1")
    assert (float(best[2]), float(best[1])) == rank_one
    assert re.search(rf"best model on the held-out test part \(\d+ windows\): MSE {NUMBER}", stdout)


def test_pipeline_forecasts_on_the_transformed_scale(tmp_path):
    stdout = run_example("pipeline.py", tmp_path)
    assert "pipe.predict(train) equals pipe[-1].predict(): True" in stdout
    score = re.search(rf"pipe\.score\(test\) = -({NUMBER})", stdout)
    scorer = re.search(rf"mse_scorer\(pipe, test\) = -({NUMBER})", stdout)
    assert score and scorer and score[1] == scorer[1], stdout
    for label in ("CALF on log1p (Pipeline)", "CALF on raw values"):
        mse, mae = metric_row(stdout, label)
        assert 0 < mse < 10 and 0 < mae < 10


def test_save_load_reloads_identically_in_a_fresh_process(tmp_path):
    out = tmp_path / "models"
    stdout = run_example("save_load.py", tmp_path, "--out", out)
    assert "loaded back in this process: CALFForecaster, same forecast: True" in stdout
    assert re.search(r"^joblib\s+forecasts identical: True; .*: [1-9]\d*$", stdout, re.MULTILINE), stdout
    # The safe file is loaded without the unpickler looking up a single object.
    assert re.search(r"^safetensors\s+forecasts identical: True; .*: 0$", stdout, re.MULTILINE), stdout
    assert "only load them from sources you trust" in stdout
    assert (out / "calf.joblib").is_file()
    header = (out / "calf.safetensors").read_bytes()
    # safetensors layout: an 8-byte little-endian header length, then a JSON header.
    length = int.from_bytes(header[:8], "little")
    assert header[8:9] == b"{" and b"calf_sklearn" in header[8 : 8 + length]


def test_few_shot_compares_with_baselines_on_etth1(tmp_path, data_home):
    stdout = run_example("few_shot.py", tmp_path, "--data-home", data_home)
    assert "percent=10, train=(0, 950)" in stdout
    assert "training on 190 windows (10% of the training rows, every 4th window), 117 test windows" in stdout
    for label in ("CALF (10%)", "DLinear (10%)", "naive last value"):
        mse, mae = metric_row(stdout, label)
        assert 0 < mse < 10 and 0 < mae < 10
    assert "QUICK MODE" in stdout and "mean nothing" in stdout
    assert "NOT the paper's pre-trained model" in stdout


def test_long_table_forecasts_every_id_in_groups(tmp_path):
    stdout = run_example("long_table.py", tmp_path)
    assert "Long table: 10000 rows, 20 ids" in stdout
    assert "Wide table: 500 time steps x 20 ids" in stdout
    assert "ValueError: X has 20 series but the backbone has only 8 positions" in stdout
    assert "Forecasting in 3 groups of at most 8 ids:" in stdout
    assert "group 2: meter_16 .. meter_19 (4 ids)" in stdout
    assert "Long forecast table: 480 rows = 20 ids x 24 steps" in stdout
    head = re.findall(rf"^meter_00 2024-03-2[12] \d\d:00:00\s+{NUMBER}$", stdout, re.MULTILINE)
    assert len(head) == 8, stdout
