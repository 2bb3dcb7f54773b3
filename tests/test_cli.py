"""The ``calf-sklearn fit`` and ``predict`` commands, run in process on a tiny random backbone."""

import contextlib
import inspect
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest
from conftest import TINY_GPT2, make_series

from calf_sklearn import CALFForecaster
from calf_sklearn.cli import build_parser, main

SEQ, PRED = 24, 8
# Options that make a fit take about a second; the "fitted" fixture adds some of its own.
TINY = [
    "--backbone-random",
    "--backbone-config",
    json.dumps(TINY_GPT2),
    "--n-layers",
    "2",
    "--n-principal-words",
    "16",
    "--max-epochs",
    "1",
    "--seq-len",
    str(SEQ),
    "--pred-len",
    str(PRED),
    "--random-state",
    "0",
    "--quiet",
]
SHORT = ["--seq-len", str(SEQ), "--pred-len", str(PRED)]
# Options beyond TINY, and the parameters they must set.
EXTRA = ["--lora-alpha", "16", "--task-loss", "mse", "--validation-size", "0.25", "--batch-size", "16"]
EXTRA_PARAMS = {"lora_alpha": 16, "task_loss": "mse", "validation_size": 0.25, "batch_size": 16}


@pytest.fixture(scope="module", autouse=True)
def _one_torch_thread():
    """One torch thread: fastest for tiny networks, and on a shared 2-core machine two threads
    waiting for each other made a one-second fit take thirty."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def write_csv(path, n_rows=160, columns=("a", "b", "c"), dates=True, **extra):
    """A CSV of ``make_series``, with an hourly ``date`` column and extra constant columns."""
    index = pd.date_range("2024-01-01", periods=n_rows, freq="h", name="date") if dates else None
    frame = pd.DataFrame(make_series(n_rows, len(columns)), columns=list(columns), index=index)
    for name, value in extra.items():
        frame[name] = value
    frame.to_csv(path, index=dates)
    return frame


def run(argv):
    """``main(argv)``'s exit status, stdout and stderr."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main([str(arg) for arg in argv])
    return status, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def fitted(module_env, tmp_path_factory):
    """A model fitted by the command on a CSV with a text column, picked around with --columns."""
    folder = tmp_path_factory.mktemp("cli")
    data = folder / "data.csv"
    frame = write_csv(data, note="x")
    model_path = folder / "model.joblib"
    status, out, err = run(["fit", data, "--columns", "a,b,c", "-o", model_path, *TINY, *EXTRA])
    assert status == 0, err
    return {"folder": folder, "data": data, "frame": frame[["a", "b", "c"]], "path": model_path, "out": out}


def test_fit_saves_a_model_with_the_options_given(fitted):
    model = joblib.load(fitted["path"])
    expected = {
        **EXTRA_PARAMS,
        "llm": TINY_GPT2,
        "pretrained": False,
        "n_layers": 2,
        "n_principal_words": 16,
        "max_epochs": 1,
        "seq_len": SEQ,
        "pred_len": PRED,
        "random_state": 0,
        "verbose": 0,
    }
    params = model.get_params()
    assert {name: params[name] for name in expected} == expected
    # Options left out keep the estimator's defaults.
    defaults = CALFForecaster().get_params()
    assert all(params[name] == defaults[name] for name in defaults if name not in expected)
    assert list(model.feature_names_in_) == ["a", "b", "c"]
    out = fitted["out"]
    assert "randomly initialised GPT-2 (width 32, first 2 of 2 blocks)" in out
    assert f"Trained 1 epoch(s), best epoch {model.best_epoch_}, last validation MSE" in out
    assert f"{model.history_[-1]['val_mse']:.4g}" in out
    assert f"Model saved to {fitted['path']}" in out


def test_fit_trains_another_family_from_its_configuration(tmp_path):
    """--backbone-config with model_type trains that family, and the command says which."""
    data = tmp_path / "data.csv"
    write_csv(data)
    llama = {
        "model_type": "llama",
        "hidden_size": 32,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "intermediate_size": 64,
        "vocab_size": 128,
    }
    tiny = [*TINY]
    tiny[tiny.index("--backbone-config") + 1] = json.dumps(llama)
    status, out, err = run(["fit", data, "-o", tmp_path / "m.joblib", *tiny])
    assert status == 0, err
    assert "randomly initialised Llama (width 32, first 2 of 2 blocks)" in out
    model = joblib.load(tmp_path / "m.joblib")
    assert model.llm == llama and type(model.module_.temporal).__name__ == "LlamaModel"


def test_predict_writes_the_models_forecast(fitted, tmp_path):
    output = tmp_path / "forecast.csv"
    status, out, _ = run(["predict", fitted["path"], fitted["data"], "-o", output])
    assert status == 0
    assert f"written to {output}" in out
    written = pd.read_csv(output)
    assert list(written.columns) == ["date", "a", "b", "c"] and len(written) == PRED
    last = fitted["frame"].index[-1]
    expected_dates = pd.date_range(last, periods=PRED + 1, freq="h")[1:]
    pd.testing.assert_index_equal(
        pd.DatetimeIndex(written["date"]), expected_dates, check_names=False, check_freq=False
    )
    model = joblib.load(fitted["path"])
    np.testing.assert_allclose(written[["a", "b", "c"]], model.predict(fitted["frame"]), rtol=1e-12)


def test_predict_horizon_and_plot(fitted, tmp_path):
    output, picture = tmp_path / "forecast.csv", tmp_path / "forecast.png"
    status, out, _ = run(
        ["predict", fitted["path"], fitted["data"], "-o", output, "--horizon", 5, "--plot", picture]
    )
    assert status == 0 and f"Plot written to {picture}" in out
    assert len(pd.read_csv(output)) == 5
    assert picture.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_predict_takes_the_models_columns_by_name(fitted, tmp_path):
    """Other columns are ignored, order does not matter, and a file without dates gets none."""
    data = tmp_path / "shuffled.csv"
    frame = fitted["frame"].iloc[-SEQ:]
    frame[["c", "a", "b"]].assign(extra=1.0).to_csv(data, index=False)
    output = tmp_path / "forecast.csv"
    assert run(["predict", fitted["path"], data, "-o", output])[0] == 0
    written = pd.read_csv(output)
    assert list(written.columns) == ["a", "b", "c"]
    model = joblib.load(fitted["path"])
    np.testing.assert_allclose(written, model.predict(frame).to_numpy(), rtol=1e-12)


def test_a_first_column_of_dates_is_found_by_its_values(fitted, tmp_path):
    data = tmp_path / "when.csv"
    fitted["frame"].rename_axis("when").to_csv(data)
    output = tmp_path / "forecast.csv"
    assert run(["predict", fitted["path"], data, "-o", output])[0] == 0
    written = pd.read_csv(output, index_col="when", parse_dates=True)
    assert written.index[0] == fitted["frame"].index[-1] + pd.Timedelta(hours=1)


def test_a_first_column_without_header_is_the_index(fitted, tmp_path):
    """pandas writes an unnamed index under a blank header; its numbers are continued."""
    data = tmp_path / "numbered.csv"
    fitted["frame"].reset_index(drop=True).to_csv(data)
    output = tmp_path / "forecast.csv"
    assert run(["predict", fitted["path"], data, "-o", output])[0] == 0
    assert output.read_text().startswith(",a,b,c\n")
    written = pd.read_csv(output, index_col=0)
    n_rows = len(fitted["frame"])
    assert list(written.index) == list(range(n_rows, n_rows + PRED))


def test_fit_resumes_from_its_checkpoint(fitted, tmp_path):
    checkpoint, model = tmp_path / "run.ckpt", tmp_path / "model.joblib"
    argv = ["fit", fitted["data"], "--columns", "a,b,c", "-o", model, "--checkpoint", checkpoint, *TINY]
    assert run(argv)[0] == 0 and checkpoint.exists()
    status, out, _ = run([*argv, "--max-epochs", "2"])
    assert status == 0
    assert f"Resumed from {checkpoint} after epoch 1." in out and "Trained 2 epoch(s)" in out


def test_fit_validates_on_a_separate_file_as_fit_x_val_does(fitted, tmp_path):
    """--validation-file: all of DATA.csv trains, early stopping scores every window of VAL.csv."""
    val_path, model_path = tmp_path / "val.csv", tmp_path / "model.joblib"
    validation = write_csv(
        val_path, n_rows=60, columns=("c", "b", "a", "extra")
    )  # other order, a spare column
    argv = [
        "fit",
        fitted["data"],
        "--columns",
        "a,b,c",
        "--validation-file",
        val_path,
        "-o",
        model_path,
        *TINY,
    ]
    status, out, err = run(argv)
    assert status == 0, err
    assert f"Validated on every window of {val_path} (60 rows)." in out
    model = joblib.load(model_path)
    expected = CALFForecaster(**model.get_params()).fit(fitted["frame"], X_val=validation[["a", "b", "c"]])
    assert model.history_[0]["val_mse"] == pytest.approx(expected.history_[0]["val_mse"], rel=1e-6)
    np.testing.assert_allclose(model.predict(fitted["frame"]), expected.predict(fitted["frame"]), rtol=1e-6)
    # Without it, the last validation_size of DATA.csv is held out instead: another validation score.
    held_out = CALFForecaster(**model.get_params()).fit(fitted["frame"])
    assert held_out.history_[0]["val_mse"] != pytest.approx(model.history_[0]["val_mse"], rel=1e-6)


def test_help_of_fit_explains_every_estimator_option(monkeypatch, capsys):
    monkeypatch.setenv("COLUMNS", "250")  # no wrapping inside "(default: ...)"
    with pytest.raises(SystemExit) as stop:
        main(["fit", "--help"])
    assert stop.value.code == 0
    text = capsys.readouterr().out
    assert "examples:" in text
    parameters = inspect.signature(CALFForecaster).parameters
    for name, parameter in parameters.items():
        if name not in ("pretrained", "verbose"):
            assert f"--{name.replace('_', '-')} " in text
            assert f"(default: {parameter.default})" in text
    assert "Look-back window length." in text  # help text comes from the class docstring
    subcommands = build_parser()._subparsers._group_actions[0].choices
    for command in ("fit", "predict"):
        for action in subcommands[command]._actions:
            if action.dest != "help":
                assert (
                    action.help and "default" in action.help or action.required or not action.option_strings
                )


def test_help_of_predict(capsys):
    with pytest.raises(SystemExit):
        main(["predict", "--help"])
    text = capsys.readouterr().out
    for option in ("--horizon", "--plot", "--output", "--date-column", "--columns", "examples:"):
        assert option in text


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["fit", "{dir}/nope.csv", "-o", "{dir}/m.joblib"], "nope.csv: no such file"),
        (["fit", "{data}", "-o", "{dir}/m.joblib"], "column 'note' of"),
        (["fit", "{data}", "--columns", "a,zz", "-o", "{dir}/m.joblib"], "has no column 'zz'"),
        (["fit", "{data}", "--date-column", "note", "-o", "{dir}/m.joblib"], "does not parse as dates"),
        (["fit", "{bad}", "-o", "{dir}/m.joblib"], "cannot read"),
        (["fit", "{data}", "--columns", "a", "-o", "{dir}/no/m.joblib"], "does not exist"),
        (["fit", "{data}", "--columns", "a", "--validation-size", "1.5", "-o", "{dir}/m.joblib"], "1.5"),
        # --backbone-random takes a well-known model's shape from --llm, and fails before any weights.
        (
            [
                "fit",
                "{data}",
                "--columns",
                "a",
                "--backbone-random",
                "--llm",
                "HuggingFaceTB/SmolLM-135M",
                *SHORT,
                "--n-layers",
                "31",
                "-o",
                "{dir}/m",
            ],
            "exceeds the backbone's 30 blocks",
        ),
        # A name with no known shape and no local configuration: the message lists the known shapes.
        (
            ["fit", "{data}", "--columns", "a", "--llm", "x", "--backbone-random", "-o", "{dir}/m"],
            "Qwen2.5-0.5B",
        ),
        (
            [
                "fit",
                "{data}",
                "--columns",
                "a",
                "--llm",
                "gpt2",
                "--backbone-config",
                "{{}}",
                "-o",
                "{dir}/m",
            ],
            "give one of the two",
        ),
        # The GPT-2 small shape (12 blocks) is the default random backbone; this fails before any weights.
        (
            [
                "fit",
                "{data}",
                "--columns",
                "a",
                "--backbone-random",
                *SHORT,
                "--n-layers",
                "13",
                "-o",
                "{dir}/m",
            ],
            "exceeds the backbone's 12 blocks",
        ),
        (
            ["fit", "{data}", "--columns", "a", "--validation-file", "{dir}/nope.csv", "-o", "{dir}/m"],
            "nope.csv: no",
        ),
        (
            ["fit", "{data}", "--columns", "a,b,c", "--validation-file", "{val}", "-o", "{dir}/m"],
            "has no column 'c'",
        ),
        (
            ["fit", "{data}", "--columns", "a", "--validation-file", "{val}", *SHORT, "-o", "{dir}/m"],
            "X_val has 20 rows",
        ),
        (
            [
                "fit",
                "{data}",
                "--columns",
                "a",
                "--validation-file",
                "{val}",
                "--validation-size",
                "0.1",
                "-o",
                "{dir}/m",
            ],
            "give one of the two",
        ),
        (["predict", "{dir}/none.joblib", "{data}", "-o", "{dir}/f.csv"], "none.joblib: no such file"),
        (["predict", "{data}", "{data}", "-o", "{dir}/f.csv"], "cannot load a model"),
        (["predict", "{model}", "{data}", "--horizon", "0", "-o", "{dir}/f.csv"], "horizon"),
    ],
)
def test_user_errors_exit_2_with_one_line(fitted, tmp_path, argv, message):
    places = {
        "dir": tmp_path,
        "data": fitted["data"],
        "model": fitted["path"],
        "bad": tmp_path / "bad.csv",
        "val": tmp_path / "val.csv",
    }
    (tmp_path / "bad.csv").write_text("a,b\n1,2\n3,4,5,6\n")
    write_csv(tmp_path / "val.csv", n_rows=20, columns=("a", "b"))
    status, _, err = run([part.format(**places) for part in argv])
    assert status == 2
    # Warnings may come first; the error is one line, and the last.
    last = err.splitlines()[-1]
    assert last.startswith("calf-sklearn: error: ") and message in last


def test_the_missing_series_is_named(fitted, tmp_path):
    data = tmp_path / "other.csv"
    write_csv(data, columns=("a", "b", "d"))
    status, _, err = run(["predict", fitted["path"], data, "-o", tmp_path / "f.csv"])
    assert status == 2
    assert "has no column 'c'" in err and "the model was fitted on 'a', 'b', 'c'" in err


def test_a_bad_option_value_exits_2(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["fit", "data.csv", "-o", "m.joblib", "--pred-len", "soon"])
    assert stop.value.code == 2
    assert "--pred-len: invalid int value: 'soon'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["fit", "data.csv", "-o", "m.joblib", "--task-loss", "l3"])
    assert "invalid choice: 'l3'" in capsys.readouterr().err


def test_safetensors_round_trip(fitted, tmp_path):
    pytest.importorskip("calf_sklearn.persistence")
    from calf_sklearn.persistence import load_forecaster

    path = tmp_path / "model.safetensors"
    status, _, err = run(["fit", fitted["data"], "--columns", "a,b,c", "-o", path, *TINY, *EXTRA])
    assert status == 0, err
    assert path.read_bytes()[8:9] == b"{"  # a safetensors header, not a pickle
    output = tmp_path / "forecast.csv"
    assert run(["predict", path, fitted["data"], "-o", output])[0] == 0
    written = pd.read_csv(output, index_col="date", parse_dates=True)
    model = load_forecaster(path)
    np.testing.assert_allclose(written, model.predict(fitted["frame"]), rtol=1e-12)
    # Same options, same data, same seed: the same forecasts as the joblib model.
    np.testing.assert_allclose(written, joblib.load(fitted["path"]).predict(fitted["frame"]), rtol=1e-6)


def test_the_command_fits_offline_with_no_cached_backbone(tmp_path):
    data, output = tmp_path / "data.csv", tmp_path / "model.joblib"
    write_csv(data)
    empty = tmp_path / "hf-home"
    empty.mkdir()
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "HF_HOME": str(empty),
        "CALF_SKLEARN_CACHE": str(tmp_path / "calf-cache"),
        "OMP_NUM_THREADS": "1",  # see _one_torch_thread
    }
    script = Path(sys.executable).with_name("calf-sklearn")  # the installed console script
    command = [str(script)] if script.exists() else [sys.executable, "-m", "calf_sklearn"]
    options = [arg for arg in TINY if arg != "--quiet"]  # and see the progress bar
    done = subprocess.run(
        [*command, "fit", str(data), "-o", str(output), *options],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "randomly initialised" in done.stdout and output.exists()
    assert "epoch" in done.stderr  # verbose=1 unless --quiet
    assert not any(empty.iterdir())  # nothing was downloaded or cached
