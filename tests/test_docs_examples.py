"""The offline examples of the README and of the getting-started page run as shown.

Each runs in a fresh Python process, offline, with all warnings shown: what
a user copying it sees on stderr is exactly what the page shows (nothing, or
the one warning it announces).
"""

import re
import subprocess
import sys
from pathlib import Path

from conftest import offline_env

ROOT = Path(__file__).resolve().parents[1]


def python_blocks(page):
    return re.findall(r"^```python\n(.*?)^```", (ROOT / page).read_text(), re.MULTILINE | re.DOTALL)


def run(code, tmp_path):
    result = subprocess.run(
        [sys.executable, "-W", "always", "-c", code],
        capture_output=True,
        text=True,
        env=offline_env(tmp_path),
        cwd=tmp_path,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def test_the_readme_offline_example_prints_what_it_says_and_nothing_else(tmp_path):
    blocks = [block for block in python_blocks("README.md") if "pretrained=False" in block]
    assert len(blocks) == 1 and '"vocab_size": 300' in blocks[0]
    result = run(blocks[0], tmp_path)
    assert result.stdout.strip() == re.search(r"# (\(\d+, \d+\))\s*$", blocks[0])[1]
    assert result.stderr == ""  # no token-id warnings from transformers, no other warning


def test_the_getting_started_page_warns_only_where_it_says(tmp_path):
    result = run("\n".join(python_blocks("docs/getting-started.md")), tmp_path)
    assert "(24, 4)" in result.stdout and "(48, 4)" in result.stdout
    warnings = [line for line in result.stderr.splitlines() if "Warning" in line]
    assert warnings, result.stderr
    assert all("UserWarning: horizon=48 exceeds pred_len=24" in line for line in warnings), result.stderr
    assert "transformers" not in result.stderr
