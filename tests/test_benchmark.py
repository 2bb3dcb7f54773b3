"""The benchmark protocol on the real files: metrics, quick runs end to end, resume, CLI."""

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from conftest import TINY_GPT2

from calf_sklearn._apps import long_term as benchmark
from calf_sklearn.baselines import DLinearForecaster, NaiveForecaster
from calf_sklearn.benchmark import BenchmarkInterrupted, preset, run_benchmark, to_markdown
from calf_sklearn.cli import main
from calf_sklearn.training import Trainer

TINY = dict(TINY_GPT2)
# A small, fast CALF for end-to-end runs: the protocol, not the accuracy, is under test.
FAST = {"n_layers": 2, "n_principal_words": 16}


def hand_naive_errors(data_home, seq_len, pred_len):
    """The naive forecast's MSE/MAE on ETTh1's test part, computed from the raw file."""
    raw = pd.read_csv(data_home / "ETTh1.csv").drop(columns="date").to_numpy()
    train = raw[:8640]
    scaled = (raw - train.mean(axis=0)) / train.std(axis=0)
    test = scaled[11520 - seq_len : 14400]
    errors = []
    for start in range(len(test) - seq_len - pred_len + 1):
        last = test[start + seq_len - 1]
        errors.append(test[start + seq_len : start + seq_len + pred_len] - last)
    errors = np.stack(errors)
    return np.mean(errors**2), np.mean(np.abs(errors)), len(errors)


def test_naive_metrics_equal_a_hand_computation(data_home, tmp_path):
    table = run_benchmark(
        "ETTh1", 96, data_home=data_home, models=("naive",), output_dir=tmp_path, plot=False, verbose=0
    )
    mse, mae, n_windows = hand_naive_errors(data_home, 96, 96)
    row = table.iloc[0]
    assert row.test_windows == n_windows == 14400 - 11520 - 96 + 1
    assert row.mse == pytest.approx(mse, rel=1e-5)
    assert row.mae == pytest.approx(mae, rel=1e-5)


def test_metrics_are_the_mean_over_windows_steps_and_series(data_home, tmp_path):
    """A model whose forecast is a known constant gives the hand-computed errors."""

    class Zero(NaiveForecaster):
        def _forecast(self, windows, horizon, mean=None, scale=None):
            return np.zeros((len(windows), horizon, windows.shape[2]))

    test = np.arange(40, dtype=np.float32).reshape(20, 2)
    model = Zero(pred_len=3).fit(test)
    scores = benchmark._evaluate(model, test, seq_len=4, pred_len=3, stride=1, plot_starts=[0])
    targets = np.stack([test[s + 4 : s + 7] for s in range(20 - 7 + 1)])
    assert scores["test_windows"] == 14
    assert scores["mse"] == pytest.approx(np.mean(targets**2))
    assert scores["mae"] == pytest.approx(np.mean(np.abs(targets)))
    strided = benchmark._evaluate(model, test, seq_len=4, pred_len=3, stride=5, plot_starts=[0])
    assert strided["test_windows"] == 3
    assert strided["mse"] == pytest.approx(np.mean(targets[::5] ** 2))


@pytest.fixture(scope="module")
def quick_run(data_home, tmp_path_factory, module_env):
    """The CLI's quick mode on ETTh1 with a tiny random backbone."""
    folder = tmp_path_factory.mktemp("quick")
    status = main(
        [
            "benchmark",
            "--dataset",
            "ETTh1",
            "--data-home",
            str(data_home),
            "--backbone-config",
            json.dumps(TINY),
            "--quick",
            "--set",
            "n_layers=2",
            "--set",
            "n_principal_words=16",
            "--output-dir",
            str(folder),
            "--quiet",
        ]
    )
    return status, folder / "ETTh1_sl96_pl96_random_quick"


def test_quick_mode_writes_the_tables_and_the_plot(quick_run):
    status, folder = quick_run
    assert status == 0
    table = pd.read_csv(folder / "results.csv")
    assert table.model.tolist() == ["naive (last value)", "DLinear", "CALF"]
    assert (table.dataset == "ETTh1").all() and (table.horizon == 96).all()
    assert np.isfinite(table[["mse", "mae", "train_s", "inference_s", "peak_memory_mib"]].to_numpy()).all()
    # Quick mode: every 3rd of the 2785 test windows, two epochs at most.
    assert (table.test_windows == len(range(0, 2785, 3))).all()
    assert table.epochs.iloc[2].split()[0] in ("1", "2")
    assert table.backbone.iloc[2].startswith("random init (custom")
    markdown = (folder / "results.md").read_text()
    assert "QUICK MODE" in markdown and "randomly initialised" in markdown
    assert "CALF's test MSE is" in markdown and "DLinear" in markdown
    assert (folder / "forecasts.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not (folder / "calf.ckpt").exists()


def test_dlinear_beats_naive_on_etth1(quick_run):
    table = pd.read_csv(quick_run[1] / "results.csv").set_index("model")
    assert table.loc["DLinear", "mse"] < table.loc["naive (last value)", "mse"]


def test_quick_calf_uses_the_preset_and_the_quick_caps(quick_run):
    config = json.loads((quick_run[1] / "config.json").read_text())
    settings = config["calf_params"]
    assert settings["batch_size"] == "256" and settings["patience"] == "10"
    assert json.loads((quick_run[1] / "calf.json").read_text())["max_epochs"] == 2
    assert settings["window_stride"] == str(int(np.ceil(8449 / 1024)))


def quick(data_home, folder, params=None, **kwargs):
    """A quick ETTh1 run with the tiny backbone; ``params`` add to the CALF settings."""
    return run_benchmark(
        "ETTh1",
        96,
        data_home=data_home,
        llm=TINY,
        pretrained=False,
        quick=True,
        params={**FAST, "max_epochs": 3, **(params or {})},
        output_dir=folder,
        plot=False,
        verbose=0,
        **kwargs,
    )


def test_an_interrupted_run_resumes_where_it_stopped(data_home, tmp_path, monkeypatch):
    original = Trainer.train_epoch

    def interrupted(self, data, epoch):
        if epoch == 2:
            raise KeyboardInterrupt
        return original(self, data, epoch)

    monkeypatch.setattr(Trainer, "train_epoch", interrupted)
    with pytest.warns(UserWarning, match="interrupted"), pytest.raises(BenchmarkInterrupted, match="resume"):
        quick(data_home, tmp_path)
    folder = tmp_path / "ETTh1_sl96_pl96_random_quick"
    assert (folder / "naive.json").exists() and (folder / "dlinear.json").exists()
    assert (folder / "calf.ckpt").exists() and not (folder / "calf.json").exists()

    monkeypatch.setattr(Trainer, "train_epoch", original)
    # The baselines finished: a second run must not train them again.
    monkeypatch.setattr(DLinearForecaster, "fit", lambda *a, **k: pytest.fail("DLinear retrained"))
    table = quick(data_home, tmp_path)
    calf = table.set_index("model").loc["CALF"]
    assert calf.resumed_from_epoch == 1
    assert calf.epochs.startswith("3")
    assert not (folder / "calf.ckpt").exists()


def test_changed_settings_start_the_run_over(data_home, tmp_path):
    quick(data_home, tmp_path, models=("naive",))
    folder = tmp_path / "ETTh1_sl96_pl96_random_quick"
    (folder / "naive.json").write_text(json.dumps({"model": "stale"}))
    table = quick(data_home, tmp_path, params={"learning_rate": 1e-3}, models=("naive",))
    assert table.model.iloc[0] == "naive (last value)"


def test_a_run_in_another_precision_keeps_its_own_folder_and_says_so(data_home, tmp_path, capsys):
    import torch

    from calf_sklearn.precision import has_native_bfloat16

    quick(data_home, tmp_path, models=("naive",))
    argv = ["benchmark", "--dataset", "ETTh1", "--data-home", str(data_home), "--backbone-config"]
    argv += [json.dumps(TINY), "--quick", "--max-epochs", "1", "--set", "n_layers=2", "--set"]
    argv += ["n_principal_words=16", "--models", "calf", "--precision", "bfloat16", "--no-plot", "-q"]
    assert main([*argv, "--output-dir", str(tmp_path)]) == 0
    assert (tmp_path / "ETTh1_sl96_pl96_random_quick" / "naive.json").exists()  # untouched
    table = pd.read_csv(tmp_path / "ETTh1_sl96_pl96_random_quick_bfloat16" / "results.csv")
    assert table.backbone.iloc[0].endswith(", bfloat16")
    out, err = capsys.readouterr()
    assert "'precision': 'bfloat16'" in out
    # Where bfloat16 is emulated the user is told it is slower, once.
    assert err.count("without AVX512-BF16 or AMX") == (0 if has_native_bfloat16(torch.device("cpu")) else 1)


def test_a_new_epoch_cap_reruns_calf_alone(data_home, tmp_path, monkeypatch):
    quick(data_home, tmp_path, models=("naive", "calf"))
    monkeypatch.setattr(NaiveForecaster, "fit", lambda *a, **k: pytest.fail("naive refitted"))
    table = quick(data_home, tmp_path, params={"max_epochs": 1}, models=("naive", "calf"))
    assert table.set_index("model").loc["CALF", "epochs"].startswith("1")


def test_few_shot_trains_on_fewer_windows_but_scales_with_all(data_home, tmp_path, monkeypatch):
    seen = {}
    original = NaiveForecaster.fit

    def fit(self, X, y=None, *, X_val=None):
        seen["train"], seen["validation"] = X, X_val
        return original(self, X, X_val=X_val)

    monkeypatch.setattr(NaiveForecaster, "fit", fit)
    run_benchmark(
        "ETTh1",
        96,
        data_home=data_home,
        percent=10,
        models=("naive",),
        output_dir=tmp_path,
        plot=False,
        verbose=0,
    )
    assert len(seen["train"]) == (8640 - 96) * 10 // 100 + 96
    assert len(seen["validation"]) == 11520 - (8640 - 96)
    raw = pd.read_csv(data_home / "ETTh1.csv").drop(columns="date").to_numpy()[:8640]
    scaled_head = (raw[: len(seen["train"])] - raw.mean(axis=0)) / raw.std(axis=0)
    np.testing.assert_allclose(seen["train"], scaled_head, atol=1e-5)


def test_zero_shot_tests_on_the_target_data_set(data_home, tmp_path):
    table = run_benchmark(
        "ETTh1",
        96,
        data_home=data_home,
        target_dataset="ETTh2",
        models=("naive",),
        output_dir=tmp_path,
        plot=False,
        verbose=0,
    )
    assert table.dataset.iloc[0] == "ETTh1" and table.target.iloc[0] == "ETTh2"
    assert table.attrs["folder"].endswith("ETTh1_to_ETTh2_sl96_pl96_pretrained")
    with pytest.raises(ValueError, match="same number of series"):
        run_benchmark("ETTh1", 96, data_home=data_home, target_dataset="weather", output_dir=tmp_path)


def test_zero_shot_trains_with_the_authors_zero_shot_settings(data_home, tmp_path, capsys):
    """lr 1e-3, at most 5 epochs, patience 1 over the source's preset; params override; both shown."""
    kwargs = {"data_home": data_home, "target_dataset": "ETTh2", "models": ("naive",), "plot": False}
    table = run_benchmark("ETTh1", 96, output_dir=tmp_path / "a", verbose=1, **kwargs)
    settings = table.attrs["conditions"]["settings"]
    assert (settings["learning_rate"], settings["max_epochs"], settings["patience"]) == (1e-3, 5, 1)
    assert settings["batch_size"] == 256 and settings["task_loss"] == "l1"  # the rest: ETTh1's preset
    assert "zero-shot ETTh1 -> ETTh2" in capsys.readouterr().out
    markdown = to_markdown(table)
    assert "Zero-shot: trained on ETTh1, tested on ETTh2" in markdown and "'max_epochs': 5" in markdown
    table = run_benchmark(
        "ETTh1", 96, output_dir=tmp_path / "b", verbose=0, params={"patience": 3, "max_epochs": 2}, **kwargs
    )
    settings = table.attrs["conditions"]["settings"]
    assert (settings["learning_rate"], settings["max_epochs"], settings["patience"]) == (1e-3, 2, 3)
    # Without a target data set, the long-term preset.
    table = run_benchmark(
        "ETTh1", 96, output_dir=tmp_path / "c", verbose=0, **{**kwargs, "target_dataset": None}
    )
    settings = table.attrs["conditions"]["settings"]
    assert (settings["learning_rate"], settings["max_epochs"], settings["patience"]) == (5e-4, 100, 10)
    assert "Zero-shot" not in to_markdown(table)


def test_presets_follow_the_authors_scripts():
    assert preset("ETTh1") == preset("etth1")
    assert preset("ETTm2")["learning_rate"] == 1e-4
    assert preset("Traffic")["batch_size"] == 8 and preset("Traffic")["max_epochs"] == 10
    assert preset("ECL")["cosine_t_max"] == 10 and preset("ECL")["max_epochs"] == 20
    assert {preset("Weather")[k] for k in ("task_loss", "output_loss", "feature_loss")} == {"smooth_l1"}
    # The authors' epoch caps: 100 for the ETT sets and Weather.
    assert {preset(name)["max_epochs"] for name in ("ETTh1", "ETTh2", "ETTm1", "ETTm2", "Weather")} == {100}
    assert {preset(name)["cosine_t_max"] for name in ("ETTh1", "ETTm2", "Weather")} == {20}


def test_markdown_labels_a_random_backbone_and_compares():
    table = pd.DataFrame(
        {
            "dataset": ["D"] * 3,
            "target": ["D"] * 3,
            "horizon": [96] * 3,
            "model": ["naive (last value)", "DLinear", "CALF"],
            "mse": [1.0, 0.5, 0.4],
            "mae": [0.8, 0.5, 0.45],
            "backbone": ["-", "-", "random init (x)"],
            "pretrained": [None, None, False],
            "epochs": ["-", "3", "2 (best 2)"],
            "train_s": [0.0, 1.0, 2.0],
            "inference_s": [0.1, 0.1, 0.2],
            "peak_memory_mib": [1, 2, 3],
            "memory_kind": ["process RSS"] * 3,
            "test_windows": [10] * 3,
        }
    )
    text = to_markdown(table)
    assert "randomly initialised" in text
    assert "20.0% lower than DLinear's and 60.0% lower than naive (last value)'s" in text
    assert "QUICK" not in text


def test_cli_errors_are_clear(data_home, tmp_path, capsys):
    assert main(["benchmark", "--dataset", "nope.csv", "--data-home", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "nope.csv" in err and str(tmp_path) in err
    with pytest.raises(SystemExit):
        main(["benchmark", "--dataset", "ETTh1", "--backbone-config", "{not json"])
    assert "JSON" in capsys.readouterr().err
    assert (
        main(
            [
                "benchmark",
                "--dataset",
                "ETTh1",
                "--data-home",
                str(data_home),
                "--models",
                "naive",
                "--percent",
                "0",
                "--output-dir",
                str(tmp_path),
            ]
        )
        == 2
    )
    assert "percent" in capsys.readouterr().err


def test_the_command_runs_as_a_module():
    out = subprocess.run(
        [sys.executable, "-m", "calf_sklearn", "benchmark", "--help"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    for option in (
        "--dataset",
        "--pred-len",
        "--percent",
        "--target-dataset",
        "--backbone-random",
        "--quick",
    ):
        assert option in out
