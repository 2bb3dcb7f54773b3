"""benchmarks/backbone_families.py end to end on tiny backbones of five families: one row each.

The figures of such a run mean nothing (the models are tiny and the machine
busy); what is checked is that the script builds, trains and forecasts with
every family it is given, each in its own process, and writes each row,
ratio and condition of its report.
"""

import re

import pytest
from conftest import benchmark_script

FAMILIES = {
    "gpt2": "gpt2",
    "HuggingFaceTB/SmolLM-135M": "llama",
    "Qwen/Qwen2.5-0.5B": "qwen2",
    "EleutherAI/pythia-160m": "gpt_neox",
    "microsoft/phi-1_5": "phi",
}
NUMBER = r"^\d+(\.\d+)?( M|x)?$"


@pytest.fixture
def backbone_families(monkeypatch):
    """The script as a module, forgotten afterwards (see conftest.benchmark_script)."""
    with benchmark_script(monkeypatch, "backbone_families") as module:
        yield module


def _table(report):
    """The rows of the report's table, each split into its cells, keyed by the backbone."""
    rows = [[cell.strip() for cell in line.strip("|").split("|")] for line in report.splitlines()]
    return {row[0]: row for row in rows if len(row) == 15 and row[0] != "backbone" and row[1] != "---"}


def _float(cell):
    return float(cell.removesuffix(" M").removesuffix("x"))


def test_a_tiny_run_reports_one_row_per_family(backbone_families, tmp_path, capsys):
    out = tmp_path / "report.md"
    names = ["gpt2", "SmolLM-135M", "Qwen2.5-0.5B", "pythia-160m", "phi-1_5"]
    backbone_families.main(["--tiny", "--backbone", *names, "--repeats", "1", "--out", str(out)])
    report = out.read_text()
    assert report in capsys.readouterr().out

    table = _table(report)
    assert list(table) == list(FAMILIES), report
    for label, cells in table.items():
        family, width, vocabulary, layers = cells[1:5]
        assert (family, width, vocabulary, layers) == (FAMILIES[label], "32", "256", "2 / 2")
        numbers = cells[5:]
        assert all(re.match(NUMBER, cell) for cell in numbers), cells
        # Parameters, times, speeds and memory: all measured.
        assert all(_float(cell) > 0 for cell in numbers[:2] + numbers[3:]), cells
        trainable, total = _float(cells[5]), _float(cells[6])
        assert trainable < total  # the frozen backbone, counted once
    assert table["gpt2"][-2:] == ["1.00x", "1.00x"]  # the first backbone is the reference

    assert "TINY" in report.splitlines()[0]
    assert re.search(r"^- CPU: .+, \d+ logical cores, 2 torch threads$", report, re.MULTILINE)
    assert re.search(r"^- CPU flags: avx2 (yes|no), avx512f (yes|no), ", report, re.MULTILINE)
    assert re.search(r"^- torch .+, transformers .+, peft .+, Python ", report, re.MULTILINE)
    assert "L = 24, P = 24, K = 8 principal words" in report
    assert "batch B = 32 windows of M = 7 series" in report
    assert "median of 1 after 2 warm-up" in report


def test_a_tiny_shape_keeps_the_family_settings(backbone_families):
    """Rotary settings stay; width, heads, key-value heads and vocabulary shrink; head_dim goes."""
    from calf_sklearn._apps.shapes import published_shape

    llama = backbone_families.tiny_shape(published_shape("Llama-3.2-1B"))
    assert llama["rope_parameters"] == published_shape("Llama-3.2-1B")["rope_parameters"]
    assert (llama["hidden_size"], llama["num_attention_heads"], llama["num_key_value_heads"]) == (32, 4, 2)
    assert "head_dim" not in llama and llama["vocab_size"] == 256
    pythia = backbone_families.tiny_shape(published_shape("pythia-160m"))
    assert pythia["use_parallel_residual"] and "num_key_value_heads" not in pythia
    assert backbone_families.tiny_shape(published_shape("gpt2"))["n_inner"] == 64


@pytest.mark.parametrize(
    "argv, messages",
    [
        (
            ["--backbone", "gpt2", "no-such-model"],
            [
                "unknown backbone 'no-such-model'",
                "known: gpt2, HuggingFaceTB/SmolLM-135M",
                "microsoft/phi-1_5",
            ],
        ),
        (["--backbone", "gpt2", "--n-layers", "13"], ["--n-layers 13: gpt2 has 12 layers"]),
    ],
)
def test_bad_options_stop_before_any_measurement(backbone_families, capsys, argv, messages):
    with pytest.raises(SystemExit) as stopped:
        backbone_families.main(argv)
    assert stopped.value.code == 2
    error = capsys.readouterr().err
    assert all(message in error for message in messages), error
