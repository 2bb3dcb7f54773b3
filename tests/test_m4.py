"""The M4 data, measures and statistical benchmarks, checked on the competition's own files.

The M4 competition published the sMAPE and MASE of its benchmarks per group
(Makridakis, Spiliotis and Assimakopoulos, "The M4 Competition: 100,000 time
series and 61 forecasting methods", International Journal of Forecasting 36,
2020). Reproducing them to three decimals on the Hourly and Weekly files
checks the loader, both measures, the seasonality test and the
decomposition together.
"""

import numpy as np
import pytest

from calf_sklearn import datasets
from calf_sklearn.datasets import M4_GROUPS, load_m4
from calf_sklearn.metrics import mase, owa, smape
from calf_sklearn.seasonal import (
    autocorrelation,
    is_seasonal,
    naive1,
    naive2,
    seasonal_indices,
    seasonal_naive,
)

# group -> method -> (sMAPE, MASE), as published.
PUBLISHED = {
    "Hourly": {"naive1": (43.003, 11.608), "snaive": (13.912, 1.193), "naive2": (18.383, 2.395)},
    "Weekly": {"naive1": (9.161, 2.777), "snaive": (9.161, 2.777), "naive2": (9.161, 2.777)},
}
METHODS = {"naive1": naive1, "snaive": seasonal_naive, "naive2": naive2}


@pytest.fixture(scope="module", params=["Hourly", "Weekly"])
def group_data(request, data_home):
    return load_m4(request.param, data_home=data_home)


def test_the_loader_reads_every_series_of_the_group(group_data):
    data = group_data
    expected = {"Hourly": (414, "H", 700, 960), "Weekly": (359, "W", 80, 2597)}[data.group.name]
    n_series, prefix, shortest, longest = expected
    assert data.n_series == len(data.train) == len(data.test) == n_series
    assert data.ids[:2] == [f"{prefix}1", f"{prefix}2"]
    assert data.test.shape == (n_series, data.group.horizon)
    lengths = [len(series) for series in data.train]
    assert (min(lengths), max(lengths)) == (shortest, longest)
    assert all(np.isfinite(series).all() for series in data.train) and np.isfinite(data.test).all()


def test_the_benchmarks_reproduce_the_published_smape_and_mase(group_data):
    data = group_data
    group = data.group
    scores = {}
    for name, method in METHODS.items():
        forecasts = np.stack(
            [
                method(series, group.horizon)
                if name == "naive1"
                else method(series, group.horizon, group.period)
                for series in data.train
            ]
        )
        scores[name] = (smape(data.test, forecasts), mase(data.test, forecasts, data.train, group.period))
    for name, (published_smape, published_mase) in PUBLISHED[group.name].items():
        assert round(scores[name][0], 3) == published_smape, name
        assert round(scores[name][1], 3) == published_mase, name
    assert owa(*scores["naive2"], *scores["naive2"]) == 1.0


def test_groups_and_their_settings():
    settings = {name: (g.horizon, g.period, g.history_size, g.seq_len) for name, g in M4_GROUPS.items()}
    assert settings == {
        "Yearly": (6, 1, 1.5, 12),
        "Quarterly": (8, 4, 1.5, 16),
        "Monthly": (18, 12, 1.5, 36),
        "Weekly": (13, 1, 10.0, 26),
        "Daily": (14, 1, 10.0, 28),
        "Hourly": (48, 24, 10.0, 96),
    }


def test_unknown_group_and_missing_files_say_what_to_do(data_home, tmp_path, monkeypatch):
    with pytest.raises(ValueError, match=r"Unknown M4 group 'Hourlyy'; use one of Yearly, .*Hourly"):
        load_m4("Hourlyy", data_home=data_home)
    # The shared folder has Daily's test file but not its training file.
    with pytest.raises(
        FileNotFoundError, match=r"Daily-train\.csv.*not found in .*m4.*Mcompetitions/M4-methods"
    ):
        load_m4("M4-Daily", data_home=data_home, download=False)

    def offline(info, path):
        raise datasets.download.DownloadFailed("no network")

    monkeypatch.setattr(datasets.download, "fetch", offline)
    with pytest.raises(
        FileNotFoundError, match=r"downloading it from .*Yearly-train\.csv failed \(no network\)"
    ):
        load_m4("yearly", data_home=tmp_path)


def test_a_gap_inside_a_series_is_refused_naming_it(tmp_path):
    folder = tmp_path / "m4"
    folder.mkdir()
    (folder / "Weekly-train.csv").write_text('"V1","V2","V3","V4"\n"W1",1,,3\n')
    (folder / "Weekly-test.csv").write_text(
        '"V1",' + ",".join(f'"V{i}"' for i in range(2, 15)) + '\n"W1",' + ",".join(["1"] * 13) + "\n"
    )
    with pytest.raises(ValueError, match="series 'W1' has an empty cell before its last value"):
        load_m4("Weekly", data_home=tmp_path)


def test_smape_and_mase_against_hand_computations():
    y, f = np.array([[10.0, 20.0, 0.0]]), np.array([[12.0, 15.0, 0.0]])
    assert smape(y, f) == pytest.approx((200 * 2 / 22 + 200 * 5 / 35 + 0.0) / 3)
    histories = [np.array([1.0, 3.0, 2.0, 6.0]), np.array([5.0, 5.0, 7.0])]
    y2, f2 = np.array([[4.0, 4.0], [6.0, 9.0]]), np.array([[3.0, 6.0], [6.0, 6.0]])
    # Scales at lag 1: mean(2, 1, 4) = 7/3 and mean(0, 2) = 1; errors 1.5 and 1.5.
    assert mase(y2, f2, histories, period=1) == pytest.approx((1.5 / (7 / 3) + 1.5 / 1.0) / 2)
    # At lag 2 the first history's scale is mean(|2-1|, |6-3|) = 2.
    assert mase(y2[:1], f2[:1], histories[:1], period=2) == pytest.approx(1.5 / 2)
    with pytest.raises(ValueError, match="series 1: its history does not change at lag 1"):
        mase(y2, f2, [histories[0], np.ones(5)])
    with pytest.raises(ValueError, match="same shape"):
        smape(y, f[:, :2])
    with pytest.raises(ValueError, match="period must be >= 1"):
        mase(y2, f2, histories, period=0)


def test_the_seasonality_test_and_the_decomposition_by_hand():
    rng = np.random.default_rng(0)
    cycle = np.array([0.5, 1.0, 1.5, 1.0])
    seasonal = 100 * np.tile(cycle, 12) * (1 + 0.01 * rng.normal(size=48))
    assert is_seasonal(seasonal, 4) and not is_seasonal(rng.normal(size=48) + 100, 4)
    assert not is_seasonal(seasonal[:11], 4)  # shorter than three cycles
    r = autocorrelation(seasonal, 4)
    deviations = seasonal - seasonal.mean()
    assert r[3] == pytest.approx(deviations[4:] @ deviations[:-4] / (deviations @ deviations))
    indices = seasonal_indices(seasonal, 4)
    np.testing.assert_allclose(indices[:4], cycle / cycle.mean(), atol=0.02)
    assert indices[:4].mean() == pytest.approx(1.0) and np.array_equal(indices[:4], indices[4:8])
    # Naive2 = the last deseasonalised value times the next cycle's indices.
    expected = seasonal[-1] / indices[-1] * np.resize(indices[:4], 6)
    np.testing.assert_allclose(naive2(seasonal, 6, period=4), expected)
    np.testing.assert_array_equal(seasonal_naive(seasonal, 6, period=4), np.resize(seasonal[-4:], 6))
