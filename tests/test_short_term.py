"""The M4 short-term protocol end to end: the benchmark on the real M4-Weekly files, quick."""

import json

import numpy as np
import pandas as pd
import pytest
from conftest import TINY_GPT2

from calf_sklearn import CALFForecaster
from calf_sklearn.benchmark import run_benchmark, to_markdown
from calf_sklearn.cli import main
from calf_sklearn.datasets import M4_GROUPS, load_m4
from calf_sklearn.metrics import mase, owa, smape
from calf_sklearn.short_term import M4_MODELS, is_m4, m4_preset, run_m4_benchmark

TINY = {"n_layers": 1, "n_principal_words": 8}


@pytest.fixture(scope="module")
def weekly(data_home):
    return load_m4("Weekly", data_home=data_home)


def _quick_weekly_run(group, data_home, folder, verbose):
    """The quick protocol on the Weekly files with a tiny random backbone, into ``folder``."""
    return run_m4_benchmark(
        group,
        data_home=data_home,
        download=False,
        llm=dict(TINY_GPT2),
        pretrained=False,
        quick=True,
        params=TINY,
        output_dir=folder,
        verbose=verbose,
    )


@pytest.fixture(scope="module")
def quick_weekly(data_home, tmp_path_factory, module_env):
    """Every model of the protocol on all 359 Weekly series, quick, with a tiny random backbone."""
    folder = tmp_path_factory.mktemp("m4")
    return _quick_weekly_run("M4-Weekly", data_home, folder, verbose=0), folder


def test_every_model_is_scored_on_every_series(quick_weekly, weekly):
    table, _ = quick_weekly
    assert table["model"].tolist() == ["Naive1", "seasonal naive", "Naive2", "DLinear", "CALF"]
    assert weekly.n_series == 359 and (table["test_windows"] == 359).all()
    assert table[["smape", "mase", "owa"]].notna().all().all()
    assert table["mse"].isna().all()  # raw values of different scales: no pooled MSE
    # Every model's 95% intervals, calibrated on the last H points of each training series.
    assert (table["interval_level"] == 0.95).all()
    assert table["interval_coverage"].between(0, 1).all() and (table["interval_width"] > 0).all()
    assert (table["msis"] > 0).all()
    by_model = table.set_index("model")
    # Naive2 is the yardstick of OWA; on Weekly (period 1) every benchmark is Naive1.
    assert by_model.loc["Naive2", "owa"] == 1.0
    for model in ("Naive1", "seasonal naive", "Naive2"):
        assert round(by_model.loc[model, "smape"], 3) == 9.161
        assert round(by_model.loc[model, "mase"], 3) == 2.777


def test_the_scores_are_those_of_the_saved_forecasts(quick_weekly, weekly):
    """sMAPE, MASE and OWA recomputed from the forecasts the run saved."""
    table, folder = quick_weekly
    run_folder = folder / "M4-Weekly_random_quick"
    naive2 = np.load(run_folder / "naive2_forecasts.npy")
    calf = np.load(run_folder / "calf_forecasts.npy")
    assert calf.shape == (359, 13) and np.isfinite(calf).all()
    reference = (smape(weekly.test, naive2), mase(weekly.test, naive2, weekly.train, 1))
    row = table.set_index("model").loc["CALF"]
    assert row["msis"] == pytest.approx(_calf_msis(weekly, run_folder))
    assert row["smape"] == pytest.approx(smape(weekly.test, calf))
    assert row["mase"] == pytest.approx(mase(weekly.test, calf, weekly.train, 1))
    assert row["owa"] == pytest.approx(owa(row["smape"], row["mase"], *reference))


def _calf_msis(weekly, run_folder):
    """MSIS of the CALF row, from the model refitted as the run fitted it (same seed, same settings)."""
    from calf_sklearn.metrics import msis

    settings = {**m4_preset("Weekly"), "llm": dict(TINY_GPT2), "pretrained": False, **TINY}
    settings.update(
        max_epochs=2, random_state=0, device="auto", verbose=0, revision=None, local_files_only=False
    )
    model = CALFForecaster(**settings).fit([series[:, None] for series in weekly.train])
    bounds = model.predict_interval(coverage=0.95)
    lower = np.stack([pair[0][:, 0] for pair in bounds])
    upper = np.stack([pair[1][:, 0] for pair in bounds])
    return msis(weekly.test, lower, upper, weekly.train, 1)


def test_calf_forecasts_each_series_from_its_own_end(quick_weekly, weekly, module_env):
    """The CALF row is the forecast after each series' last training point (L = 2H look-back)."""
    _table, folder = quick_weekly
    settings = {**m4_preset("Weekly"), "llm": dict(TINY_GPT2), "pretrained": False, **TINY}
    settings.update(max_epochs=2, random_state=0, device="auto", verbose=0)
    settings.update(revision=None, local_files_only=False)
    model = CALFForecaster(**settings).fit([series[:, None] for series in weekly.train])
    expected = np.stack(model.predict())[:, :, 0]
    np.testing.assert_allclose(np.load(folder / "M4-Weekly_random_quick" / "calf_forecasts.npy"), expected)
    # Early stopping watched sMAPE on the last H points of each training series.
    assert {"val_smape", "val_mse"} <= set(model.history_[0])


def test_results_files_and_markdown(quick_weekly):
    table, folder = quick_weekly
    run_folder = folder / "M4-Weekly_random_quick"
    written = pd.read_csv(run_folder / "results.csv")
    for column in ("model", "smape", "mase", "owa", "train_s", "peak_memory_mib"):
        assert column in written
    markdown = (run_folder / "results.md").read_text()
    assert "| sMAPE | MASE | OWA |" in markdown
    assert "QUICK MODE" in markdown and "randomly initialised" in markdown
    assert "all 359 series" in markdown
    assert json.loads((run_folder / "calf.json").read_text())["model"] == "CALF"
    assert to_markdown(table) == markdown


def test_a_second_run_reuses_the_finished_models(quick_weekly, data_home, capsys, module_env):
    table, folder = quick_weekly
    again = _quick_weekly_run("m4-weekly", data_home, folder, verbose=1)  # any spelling of the group
    assert capsys.readouterr().out.count("reusing its result") == len(M4_MODELS)
    pd.testing.assert_frame_equal(again[["model", "smape", "mase"]], table[["model", "smape", "mase"]])


def test_run_benchmark_dispatches_m4_and_checks_the_horizon(data_home, tmp_path):
    with pytest.raises(ValueError, match="horizon is 13"):
        run_benchmark("M4-Weekly", 96, data_home=data_home, output_dir=tmp_path)
    with pytest.raises(ValueError, match="zero-shot"):
        run_benchmark("M4-Weekly", data_home=data_home, target_dataset="ETTh1", output_dir=tmp_path)
    table = run_benchmark(
        "M4-Weekly", data_home=data_home, models=("naive2",), output_dir=tmp_path, plot=False, verbose=0
    )
    assert table["model"].tolist() == ["Naive2"] and table["owa"].iloc[0] == 1.0


def test_the_command_line_runs_an_m4_group(data_home, tmp_path, capsys):
    code = main(
        ["benchmark", "--dataset", "M4-Hourly", "--data-home", str(data_home), "--models", "snaive",
         "naive2", "--output-dir", str(tmp_path), "--no-plot", "--quiet"]
    )  # fmt: skip
    assert code == 0
    out = capsys.readouterr().out
    assert "| M4-Hourly | 48 | seasonal naive | 13.912 | 1.193 | 0.628 |" in out


def test_unknown_models_and_groups_are_refused(data_home, tmp_path):
    with pytest.raises(ValueError, match="non-empty selection"):
        run_m4_benchmark("Weekly", data_home=data_home, models=("arima",), output_dir=tmp_path)
    with pytest.raises(ValueError, match="Unknown M4 group"):
        run_m4_benchmark("Fortnightly", data_home=data_home, output_dir=tmp_path)


@pytest.mark.parametrize("name", sorted(M4_GROUPS))
def test_the_preset_follows_the_protocol(name):
    group = M4_GROUPS[name]
    settings = m4_preset(name)
    assert settings["seq_len"] == 2 * settings["pred_len"] == 2 * group.horizon
    assert settings["seasonal_period"] == group.period
    assert settings["history_size"] == group.history_size
    assert settings["validation_size"] == group.horizon  # the last H points of each training series
    assert (
        settings["learning_rate"],
        settings["batch_size"],
        settings["max_epochs"],
        settings["patience"],
    ) == (
        1e-3,
        512,
        200,
        20,
    )
    CALFForecaster(**settings)  # every key is a parameter
    assert is_m4(f"M4-{name}") and not is_m4(name)
