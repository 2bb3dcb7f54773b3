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
    """A sphinx-gallery script: a titled docstring that says how to run it, cells, argparse ``--quick``."""
    source = (EXAMPLES / script).read_text()
    tree = ast.parse(source)
    doc = ast.get_docstring(tree)
    assert doc, f"{script} has no module docstring"
    # sphinx-gallery takes the page title from the docstring's first line, underlined with "=".
    title, underline = (doc.splitlines() + ["", ""])[:2]
    assert title.strip() and not title.endswith("."), title
    assert underline == "=" * len(title), f"line 2 must be {len(title)} '=' under the title {title!r}"
    assert source.startswith(f'"""{title}\n'), 'start the docstring as """Title on the first line'
    assert f"python examples/{script}" in doc and "--quick" in doc
    assert "randomly initialised" in doc and "gpt2" in doc
    # At least two cells after the docstring, each opened by a "# %%" line.
    assert sum(line.strip() == "# %%" for line in source.splitlines()) >= 2
    # The options are parsed at top level with argparse, and --quick is one of them.
    calls = [node for node in ast.walk(tree) if isinstance(node, ast.Call)]
    assert any(
        isinstance(call.func, ast.Attribute)
        and call.func.attr == "ArgumentParser"
        and isinstance(call.func.value, ast.Name)
        and call.func.value.id == "argparse"
        for call in calls
    ), f"{script} does not use argparse.ArgumentParser"
    assert any(
        isinstance(call.func, ast.Attribute)
        and call.func.attr == "add_argument"
        and call.args
        and isinstance(call.args[0], ast.Constant)
        and call.args[0].value == "--quick"
        for call in calls
    ), f"{script} defines no --quick option"
    # No main(): the body runs at top level, cell by cell. sphinx-gallery sets __doc__ to "".
    assert not any(isinstance(node, ast.FunctionDef) and node.name == "main" for node in ast.walk(tree))
    assert "__doc__" not in source


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


def test_panel_intervals_forecasts_every_member_with_nested_bands(tmp_path):
    stdout = run_example("panel_intervals.py", tmp_path)
    assert "Panel: 12 members, " in stdout and "Fitted on 12 members in 2 epochs" in stdout
    assert "NOT the paper's pre-trained model" in stdout
    rows = re.findall(rf"^\s+(0\.50|0\.90)\s+({NUMBER})\s+({NUMBER})\s+(\d+)$", stdout, re.MULTILINE)
    assert [level for level, *_ in rows] == ["0.50", "0.90"], stdout
    (_, covered_50, width_50, windows), (_, covered_90, width_90, _) = rows
    # 12 members x 7 origins (every 24th of the held-out week); the wider level covers more, wider.
    assert int(windows) == 12 * 7
    assert 0 <= float(covered_50) <= float(covered_90) <= 1 and 0 < float(width_50) < float(width_90)
    # The interval table of the first member has both levels, each lower below upper.
    head = re.findall(
        rf"^2024-\S+ \S+\s+({NUMBER})\s+({NUMBER})\s+({NUMBER})\s+({NUMBER})$", stdout, re.MULTILINE
    )
    assert len(head) == 3, stdout
    for lower_50, upper_50, lower_90, upper_90 in head:
        assert float(lower_90) <= float(lower_50) <= float(upper_50) <= float(upper_90)


def test_compare_baselines_scores_four_models_on_the_same_etth1_windows(tmp_path, data_home):
    stdout = run_example("compare_baselines.py", tmp_path, "--data-home", data_home)
    assert "train (8640, 7), validation (2976, 7), test (2976, 7)" in stdout
    assert "ETTh1, horizon 96: 117 test windows (every 24th)" in stdout
    for label in ("CALF", "DLinear", "seasonal naive (24 h)", "naive (last value)"):
        mse, mae = metric_row(stdout, label)
        assert 0 < mae < mse**0.5 + 1e-9 < 10  # MAE <= RMSE for any errors
    assert "QUICK MODE" in stdout and "NOT the paper's pre-trained model" in stdout


def test_precision_compares_float32_and_bfloat16_from_the_same_start(tmp_path):
    stdout = run_example("precision.py", tmp_path)
    native = re.search(r"^native bfloat16 on this CPU: (True|False)$", stdout, re.MULTILINE)
    assert native and re.search(r"^CPU: .+, \d+ torch threads, \S+$", stdout, re.MULTILINE), stdout
    # Without native bfloat16 the fit says so; with it, nothing to warn about.
    assert ("bfloat16: ReducedPrecisionWarning" in stdout) == (native[1] == "False"), stdout
    rows = {
        match[1]: [float(value) for value in match.groups()[1:]]
        for match in re.finditer(
            rf"^(float32|bfloat16)\s+({NUMBER})\s+({NUMBER})\s+({NUMBER})\s+({NUMBER})\s+({NUMBER})$",
            stdout,
            re.MULTILINE,
        )
    }
    assert set(rows) == {"float32", "bfloat16"}, stdout
    # bfloat16 weights: the saved model is about half the size of the float32 one.
    assert 0.4 < rows["bfloat16"][4] / rows["float32"][4] < 0.6
    # Same start, same data: the test errors stay close, and the forecasts differ but not wildly.
    assert abs(rows["bfloat16"][3] - rows["float32"][3]) < 0.25 * rows["float32"][3]
    gap = float(re.search(rf"forecasts: ({NUMBER})$", stdout, re.MULTILINE)[1])
    assert 0 < gap < 1
