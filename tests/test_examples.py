"""The scripts in examples/ run end to end in their quick configuration."""

import os
import subprocess
import sys
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def test_quickstart_runs_and_reloads_identically(tmp_path):
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "CALF_SKLEARN_CACHE": str(tmp_path / "cache")}
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / "quickstart.py"), "--quick"],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "best loss weights:" in result.stdout
    assert "loaded model forecasts identically: True" in result.stdout
