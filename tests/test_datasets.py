"""Tests of the benchmark data loaders and splits (data README, METHOD.md section 10)."""

import dataclasses
import functools
import hashlib
import http.server
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.preprocessing import StandardScaler

from calf_sklearn import datasets
from calf_sklearn.datasets import (
    DATA_ENV,
    DATASETS,
    BenchmarkData,
    ChecksumError,
    DatasetInfo,
    get_data_home,
    load_benchmark,
    load_dataset,
    split_borders,
)

# name -> (rows, columns including the date column), from the data README.
SHAPES = {
    "ETTh1": (17420, 8),
    "ETTh2": (17420, 8),
    "ETTm1": (69680, 8),
    "Weather": (52696, 22),
    "ILI": (966, 8),
}


@pytest.fixture(scope="module")
def frames(data_home):
    """Each staged file, read once for the module."""
    cache = {}

    def get(name):
        if name not in cache:
            cache[name] = load_dataset(name, data_home=data_home, download=False)
        return cache[name]

    return get


@pytest.fixture(scope="module")
def etth1_few_shot(data_home):
    return load_benchmark("ETTh1", seq_len=96, percent=10, data_home=data_home, download=False)


def _sha256(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _write(path, text, *, bom=False, newline="\n"):
    data = text.replace("\n", newline).encode("utf-8")
    Path(path).write_bytes((b"\xef\xbb\xbf" if bom else b"") + data)
    return Path(path)


TOY_CSV = "date,a,b\n2024-01-01 00:00:00,1.5,2\n2024-01-01 01:00:00,2.5,3\n2024-01-01 02:00:00,3.5,4\n"


# --------------------------------------------------------------------------------------------------
# Registry
# --------------------------------------------------------------------------------------------------


def test_registry_entries():
    assert list(DATASETS) == [
        "ETTh1",
        "ETTh2",
        "ETTm1",
        "ETTm2",
        "Weather",
        "ECL",
        "Traffic",
        "Exchange",
        "ILI",
    ]
    ett = "https://raw.githubusercontent.com/zhouhaoyi/ETDataset/1d16c8f4f943005d613b5bc962e9eeb06058cf07/"
    for name in ("ETTh1", "ETTh2", "ETTm1", "ETTm2"):
        assert DATASETS[name].url == f"{ett}ETT-small/{name}.csv"
    assert DATASETS["ETTm2"].git_blob_sha1 == "f9d46027c987d442d2d8f81308d1d8c4d1d35db8"
    assert DATASETS["ETTm2"].sha256 == ()
    hf = "https://huggingface.co/datasets/thuml/Time-Series-Library/resolve/main/"
    assert DATASETS["ECL"].url == hf + "electricity/electricity.csv"
    assert DATASETS["ILI"].url == hf + "illness/national_illness.csv"
    assert DATASETS["Exchange"].url == hf + "exchange_rate/exchange_rate.csv"
    assert DATASETS["Exchange"].sha256 == () and DATASETS["Exchange"].git_blob_sha1 is None
    assert len(DATASETS["Weather"].sha256) == 2
    assert DATASETS["Traffic"].sha256 == ("cb06463d56fa17d87f47027cd9389ceae82a69eddee51cdb61480e120dab0b16",)
    assert [DATASETS[n].split for n in ("ETTh2", "ETTm2", "Weather")] == ["ett_hour", "ett_minute", "ratio"]


@pytest.mark.parametrize(
    "alias, name",
    [
        ("etth1", "ETTh1"),
        ("ETTH2", "ETTh2"),
        ("weather", "Weather"),
        ("ecl", "ECL"),
        ("electricity", "ECL"),
        ("ili", "ILI"),
        ("illness", "ILI"),
        ("national_illness", "ILI"),
        ("national_illness.csv", "ILI"),
        ("exchange_rate", "Exchange"),
    ],
)
def test_registry_aliases(alias, name):
    assert DATASETS[alias].name == name


def test_registry_is_read_only_and_info_validated():
    with pytest.raises(TypeError):
        DATASETS["Mine"] = DATASETS["ETTh1"]
    with pytest.raises(dataclasses.FrozenInstanceError):
        DATASETS["ETTh1"].url = "http://example.invalid/"
    with pytest.raises(KeyError, match="Did you mean 'ETTh1'"):
        DATASETS["ETTh1x"]
    with pytest.raises(ValueError, match="split"):
        DatasetInfo("x", "x.csv", "monthly")
    with pytest.raises(ValueError, match="sha256"):
        DatasetInfo("x", "x.csv", sha256=("abc",))
    with pytest.raises(ValueError, match="plain file name"):
        DatasetInfo("x", "../x.csv")
    assert DatasetInfo("x", "x.csv", sha256="AB" * 32).sha256 == ("ab" * 32,)


# --------------------------------------------------------------------------------------------------
# Staged files
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(SHAPES))
def test_staged_file_shape_dtype_checksum(name, data_home, frames):
    info = DATASETS[name]
    path = data_home / info.filename
    assert _sha256(path) in info.sha256
    frame = frames(name)
    rows, columns = SHAPES[name]
    assert frame.shape == (rows, columns - 1) == (rows, info.n_series)
    assert isinstance(frame.index, pd.DatetimeIndex)
    assert frame.index.name == "date"
    assert (frame.dtypes == np.float64).all()
    assert frame.columns[-1] == "OT"
    assert np.isfinite(frame.to_numpy()).all()
    first_line = path.read_bytes().split(b"\n", 1)[0].decode().strip()
    assert list(frame.columns) == first_line.split(",")[1:]


def test_staged_git_blob_ids(data_home):
    for name in ("ETTh1", "ETTh2", "ETTm1", "ILI"):
        data = (data_home / DATASETS[name].filename).read_bytes()
        blob = hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()
        assert blob == DATASETS[name].git_blob_sha1


def test_weather_quirks(data_home, frames):
    raw = (data_home / "weather.csv").read_bytes()
    assert b"\r\n" in raw[:1000]
    weather = frames("weather")
    assert "SWDR (W/m\ufffd)" in weather.columns
    assert "PAR (\ufffdmol/m\ufffd/s)" in weather.columns
    assert "max. PAR (\ufffdmol/m\ufffd/s)" in weather.columns
    assert not any("\r" in column or column != column.strip() for column in weather.columns)
    assert weather.columns[-1] == "OT"
    repeated = pd.Timestamp("2020-05-12 06:00:00")
    assert weather.index[19043] == weather.index[19044] == repeated
    assert not weather.index.is_unique
    assert weather.index.duplicated().sum() == 1
    steps = pd.Series(np.diff(weather.index.to_numpy()))
    assert (steps == pd.Timedelta("100min")).sum() == 1
    assert weather.index[0] == pd.Timestamp("2020-01-01 00:10:00")


def test_ett_and_ili_timestamps(frames):
    etth1, ettm1, ili = frames("ETTh1"), frames("ETTm1"), frames("ILI")
    assert (np.diff(etth1.index.to_numpy()) == np.timedelta64(1, "h")).all()
    assert (np.diff(ettm1.index.to_numpy()) == np.timedelta64(15, "m")).all()
    assert ili.index[1] - ili.index[0] == pd.Timedelta("7D")
    assert etth1.iloc[0, 0] == pytest.approx(5.827000141143799)
    assert list(ili.columns) == [
        "% WEIGHTED ILI",
        "%UNWEIGHTED ILI",
        "AGE 0-4",
        "AGE 5-24",
        "ILITOTAL",
        "NUM. OF PROVIDERS",
        "OT",
    ]


# --------------------------------------------------------------------------------------------------
# Splits
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("seq_len", [96, 336])
def test_ett_hour_borders(seq_len):
    assert split_borders(17420, "ett_hour", seq_len) == {
        "train": (0, 8640),
        "validation": (8640 - seq_len, 11520),
        "test": (11520 - seq_len, 14400),
    }


@pytest.mark.parametrize("seq_len", [96, 512])
def test_ett_minute_borders(seq_len):
    assert split_borders(69680, "ett_minute", seq_len) == {
        "train": (0, 34560),
        "validation": (34560 - seq_len, 46080),
        "test": (46080 - seq_len, 57600),
    }


@pytest.mark.parametrize("seq_len", [96, 336])
def test_weather_borders(seq_len):
    assert split_borders(52696, "ratio", seq_len) == {
        "train": (0, 36887),
        "validation": (36887 - seq_len, 42157),
        "test": (42157 - seq_len, 52696),
    }


def test_ili_and_readme_ratio_borders():
    assert split_borders(966, "ratio", 36) == {
        "train": (0, 676),
        "validation": (640, 773),
        "test": (737, 966),
    }
    # Electricity and traffic stops quoted in the data README.
    for n_rows, stops in ((26304, (18412, 21044, 26304)), (17544, (12280, 14036, 17544))):
        borders = split_borders(n_rows, "ratio", 96)
        assert tuple(borders[part][1] for part in ("train", "validation", "test")) == stops


@pytest.mark.parametrize("percent", [1, 5, 10, 33, 100])
@pytest.mark.parametrize("split, n_rows, stop", [("ett_hour", 17420, 8640), ("ett_minute", 69680, 34560)])
def test_percent_shortens_only_train(percent, split, n_rows, stop):
    seq_len = 96
    full = split_borders(n_rows, split, seq_len)
    few = split_borders(n_rows, split, seq_len, percent)
    assert few["train"] == (0, (stop - seq_len) * percent // 100 + seq_len)
    assert few["validation"] == full["validation"] and few["test"] == full["test"]


def test_split_borders_errors():
    with pytest.raises(ValueError, match="at least 14400 rows"):
        split_borders(14399, "ett_hour")
    with pytest.raises(ValueError, match="at least 57600 rows"):
        split_borders(17420, "ett_minute")
    with pytest.raises(ValueError, match="percent"):
        split_borders(17420, "ett_hour", percent=0)
    with pytest.raises(ValueError, match="percent"):
        split_borders(17420, "ett_hour", percent=101)
    with pytest.raises(TypeError, match="percent must be an integer, got 10.5"):
        split_borders(17420, "ett_hour", percent=10.5)
    with pytest.raises(ValueError, match="seq_len"):
        split_borders(17420, "ett_hour", seq_len=0)
    with pytest.raises(ValueError, match="split must be one of"):
        split_borders(17420, "hourly")
    # 100 rows: train [0, 70), validation [70 - seq_len, 80), test [80 - seq_len, 100).
    with pytest.raises(ValueError, match="train part"):
        split_borders(100, "ratio", seq_len=70)
    with pytest.raises(ValueError, match="train part"):
        split_borders(100, "ratio", seq_len=75)
    # 4 rows: int(4 * 0.2) = 0 test rows.
    with pytest.raises(ValueError, match="test part"):
        split_borders(4, "ratio", seq_len=1)
    # 200 rows: train stop 140, (140 - 96) * 1 // 100 = 0 training windows left.
    with pytest.raises(ValueError, match="train part.*percent=1"):
        split_borders(200, "ratio", seq_len=96, percent=1)
    assert split_borders(200, "ratio", seq_len=96, percent=3)["train"] == (0, 97)
    assert split_borders(100, "ratio", seq_len=8)["validation"] == (62, 80)


def test_benchmark_few_shot_scaler(etth1_few_shot, frames):
    data = etth1_few_shot
    assert isinstance(data, BenchmarkData)
    etth1 = frames("ETTh1")
    assert data.borders["train"] == (0, (8640 - 96) * 10 // 100 + 96)
    assert len(data.train) == 950
    assert data.train.equals(etth1.iloc[:950])
    reference = StandardScaler().fit(etth1.iloc[:8640].to_numpy())
    assert_allclose(data.scaler.mean_, reference.mean_, rtol=1e-12)
    assert_allclose(data.scaler.scale_, reference.scale_, rtol=1e-12)
    short = StandardScaler().fit(etth1.iloc[:950].to_numpy())
    assert not np.allclose(data.scaler.mean_, short.mean_)
    assert (data.percent, data.seq_len, data.split, data.name) == (10, 96, "ett_hour", "ETTh1")


def test_benchmark_parts_and_scaled(etth1_few_shot):
    data = etth1_few_shot
    assert data.validation.equals(data.frame.iloc[8640 - 96 : 11520])
    assert data.test.equals(data.frame.iloc[11520 - 96 : 14400])
    scaled = data.scaled("test")
    assert scaled.dtype == np.float32 and scaled.shape == (2880 + 96, 7)
    assert_allclose(scaled, data.scaler.transform(data.test).astype(np.float32), rtol=1e-6, atol=1e-6)
    assert_allclose(
        scaled, (data.test.to_numpy() - data.scaler.mean_) / data.scaler.scale_, rtol=1e-5, atol=1e-5
    )
    # Every target row (after the seq_len look-back rows) is a test row of the protocol.
    targets = data.frame.index.get_indexer(data.test.index[data.seq_len :])
    assert targets.min() == 11520 and targets.max() == 14399
    assert ((targets >= 11520) & (targets < 14400)).all()
    assert data.scaled("train").shape == (950, 7)
    with pytest.raises(ValueError, match="part must be one of"):
        data.scaled("val")
    assert "ETTh1" in repr(data) and "(0, 950)" in repr(data)


def test_benchmark_ratio_on_staged_files(data_home, frames):
    ili = load_benchmark("ili", seq_len=36, data_home=data_home, download=False)
    assert ili.borders == {"train": (0, 676), "validation": (640, 773), "test": (737, 966)}
    assert ili.split == "ratio" and len(ili.test) == 966 - 737
    assert_allclose(ili.scaler.mean_, frames("ILI").iloc[:676].mean().to_numpy(), rtol=1e-12)
    weather = load_benchmark("Weather", data_home=data_home, download=False)
    assert weather.borders["test"] == (42157 - 96, 52696)
    assert len(weather.test) == 52696 - 42157 + 96


# --------------------------------------------------------------------------------------------------
# CSV robustness
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("bom", [False, True])
@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_csv_line_endings_and_bom(tmp_path, bom, newline):
    _write(tmp_path / "toy.csv", TOY_CSV, bom=bom, newline=newline)
    frame = load_dataset("toy.csv", data_home=tmp_path)
    assert list(frame.columns) == ["a", "b"]
    assert frame.index.name == "date"
    assert_array_equal(frame.to_numpy(), [[1.5, 2.0], [2.5, 3.0], [3.5, 4.0]])
    assert (frame.dtypes == np.float64).all()
    assert frame.index[2] == pd.Timestamp("2024-01-01 02:00")


def test_csv_odd_header_names(tmp_path):
    text = "Date , p (mbar), SWDR (W/m\ufffd) ,µ/s ² ,OT\n2024-01-01,1,2,3,4\n2024-01-02,5,6,7,8\n"
    _write(tmp_path / "odd.csv", text, newline="\r\n")
    frame = load_dataset("odd.csv", data_home=tmp_path)
    assert list(frame.columns) == ["p (mbar)", "SWDR (W/m\ufffd)", "µ/s ²", "OT"]
    assert frame.index.name == "date"
    # Bytes that are not UTF-8 still load, as U+FFFD.
    (tmp_path / "latin.csv").write_bytes(b"date,temp (\xb0C)\n2024-01-01,1\n2024-01-02,2\n")
    assert list(load_dataset("latin.csv", data_home=tmp_path).columns) == ["temp (\ufffdC)"]


def test_csv_date_column_found_by_name(tmp_path):
    text = "id,value,DATE,other\n1,0.5,2024-03-01,7\n2,0.25,2024-03-02,8\n"
    _write(tmp_path / "named.csv", text)
    frame = load_dataset("named.csv", data_home=tmp_path)
    assert list(frame.columns) == ["id", "value", "other"]
    assert list(frame.index) == [pd.Timestamp("2024-03-01"), pd.Timestamp("2024-03-02")]


def test_csv_first_column_dates_without_name(tmp_path):
    _write(tmp_path / "first.csv", "timestamp,x\n2024-01-01 00:00,1\n2024-01-01 00:10,2\n")
    frame = load_dataset("first.csv", data_home=tmp_path)
    assert list(frame.columns) == ["x"] and frame.index.name == "date"
    _write(tmp_path / "nodate.csv", "id,x\n1,1\n2,2\n")
    with pytest.raises(ValueError, match="no date column"):
        load_dataset("nodate.csv", data_home=tmp_path)


def test_csv_repeats_and_gaps_kept(tmp_path):
    text = "date,x\n2024-01-01 00:00,1\n2024-01-01 00:10,2\n2024-01-01 00:10,3\n2024-01-01 01:00,4\n"
    _write(tmp_path / "gaps.csv", text)
    frame = load_dataset("gaps.csv", data_home=tmp_path)
    assert len(frame) == 4 and frame.index[1] == frame.index[2]
    assert frame["x"].tolist() == [1.0, 2.0, 3.0, 4.0]


def test_csv_non_numeric_columns(tmp_path):
    text = "date,a,label,b,note\n2024-01-01,1,x,2,ok\n2024-01-02,2,y,3,fine\n"
    _write(tmp_path / "mixed.csv", text)
    with pytest.raises(ValueError, match=r"\['label', 'note'\] are not numeric") as excinfo:
        load_dataset("mixed.csv", data_home=tmp_path)
    assert "'x'" in str(excinfo.value)
    _write(tmp_path / "baddate.csv", "date,a\n2024-01-01,1\nnot a date,2\n")
    with pytest.raises(ValueError, match="date"):
        load_dataset("baddate.csv", data_home=tmp_path)


def test_unknown_name_suggestion(tmp_path):
    with pytest.raises(ValueError, match="Did you mean 'Weather'") as excinfo:
        load_dataset("wether", data_home=tmp_path)
    assert "ETTh1" in str(excinfo.value) and "ILI" in str(excinfo.value)
    with pytest.raises(ValueError, match="Did you mean 'ETTm1'"):
        load_benchmark("ETm1", data_home=tmp_path)
    with pytest.raises(TypeError):
        load_dataset(42, data_home=tmp_path)


def test_missing_file_message(tmp_path):
    with pytest.raises(FileNotFoundError) as excinfo:
        load_dataset("ETTh2", data_home=tmp_path, download=False)
    message = str(excinfo.value)
    assert "ETTh2.csv" in message
    assert str(tmp_path) in message
    assert DATASETS["ETTh2"].url in message
    assert "data_home" in message and DATA_ENV in message
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(FileNotFoundError, match="No download URL") as excinfo:
        load_dataset("mine.csv", data_home=tmp_path)
    assert str(tmp_path) in str(excinfo.value)


def test_paths_and_registered_split_by_file_name(tmp_path, data_home):
    _write(tmp_path / "toy.csv", TOY_CSV)
    assert load_dataset(tmp_path / "toy.csv", data_home=tmp_path / "elsewhere").shape == (3, 2)
    assert load_dataset(str(tmp_path / "toy.csv")).shape == (3, 2)
    (tmp_path / "sub").mkdir()
    _write(tmp_path / "sub" / "t.csv", TOY_CSV)
    assert load_dataset("sub/t.csv", data_home=tmp_path).shape == (3, 2)
    # A registered file given by its path keeps its split convention.
    data = load_benchmark((data_home / "ETTh1.csv").resolve(), data_home=tmp_path, download=False)
    assert data.split == "ett_hour" and data.borders["train"] == (0, 8640)


def test_caller_arguments_not_mutated(tmp_path):
    info = DatasetInfo("Toy", "toy.csv", "ratio")
    before = dataclasses.asdict(info)
    _write(tmp_path / "toy.csv", TOY_CSV)
    load_dataset(info, data_home=tmp_path)
    assert dataclasses.asdict(info) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["toy.csv"]


def test_get_data_home_precedence(tmp_path, monkeypatch):
    import platformdirs

    monkeypatch.delenv(DATA_ENV, raising=False)
    default = Path(platformdirs.user_data_dir("calf-sklearn", appauthor=False)) / "data"
    assert get_data_home() == default
    monkeypatch.setenv(DATA_ENV, str(tmp_path / "env"))
    assert get_data_home() == tmp_path / "env"
    assert get_data_home(tmp_path / "param") == tmp_path / "param"
    assert get_data_home(str(tmp_path / "param")) == tmp_path / "param"
    assert not (tmp_path / "env").exists() and not (tmp_path / "param").exists()
    monkeypatch.setenv("HOME", str(tmp_path))
    assert get_data_home("~/d") == tmp_path / "d"


def test_env_var_used_by_loaders(tmp_path, monkeypatch):
    _write(tmp_path / "toy.csv", TOY_CSV)
    monkeypatch.setenv(DATA_ENV, str(tmp_path))
    assert load_dataset("toy.csv").shape == (3, 2)


# --------------------------------------------------------------------------------------------------
# Download
# --------------------------------------------------------------------------------------------------


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A local HTTP server over a folder that holds toy.csv."""
    root = tmp_path_factory.mktemp("served")
    _write(root / "toy.csv", TOY_CSV, newline="\r\n")
    handler = functools.partial(_QuietHandler, directory=str(root))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", _sha256(root / "toy.csv")
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


def test_download_verified(tmp_path, server):
    base, digest = server
    info = DatasetInfo("Toy", "toy.csv", "ratio", url=f"{base}/toy.csv", sha256=(digest,))
    folder = tmp_path / "new" / "data"
    frame = load_dataset(info, data_home=folder)
    assert sorted(p.name for p in folder.iterdir()) == ["toy.csv"]
    assert _sha256(folder / "toy.csv") == digest
    assert frame.shape == (3, 2) and list(frame.columns) == ["a", "b"]
    # The file is now local: no second download needed.
    assert load_dataset(info, data_home=folder, download=False).equals(frame)


def test_download_verified_by_git_blob(tmp_path, server):
    base, _ = server
    data = TOY_CSV.replace("\n", "\r\n").encode()
    blob = hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()
    info = DatasetInfo("Toy", "toy.csv", url=f"{base}/toy.csv", git_blob_sha1=blob)
    assert load_dataset(info, data_home=tmp_path).shape == (3, 2)
    assert (tmp_path / "toy.csv").is_file()


def test_download_checksum_mismatch(tmp_path, server):
    base, digest = server
    wrong = "0" * 64
    info = DatasetInfo("Toy", "toy.csv", url=f"{base}/toy.csv", sha256=(wrong,), git_blob_sha1="1" * 40)
    with pytest.raises(ChecksumError) as excinfo:
        load_dataset(info, data_home=tmp_path)
    message = str(excinfo.value)
    assert wrong in message and "1" * 40 in message and digest in message
    assert list(tmp_path.iterdir()) == []


def test_download_unverifiable_warns_with_digest(tmp_path, server):
    base, digest = server
    info = DatasetInfo("Toy", "toy.csv", url=f"{base}/toy.csv")
    with pytest.warns(UserWarning, match=f"could not be verified.*{digest}"):
        load_dataset(info, data_home=tmp_path)
    assert (tmp_path / "toy.csv").is_file()


def test_download_not_found_on_server(tmp_path, server):
    base, _ = server
    info = DatasetInfo("Toy", "gone.csv", url=f"{base}/gone.csv", sha256=("0" * 64,))
    with pytest.raises(FileNotFoundError, match="404") as excinfo:
        load_dataset(info, data_home=tmp_path)
    assert f"{base}/gone.csv" in str(excinfo.value)
    assert list(tmp_path.iterdir()) == []


def test_download_unreachable_is_quick_and_clear(tmp_path):
    info = dataclasses.replace(DATASETS["ETTh1"], url="http://127.0.0.1:9/ETTh1.csv")
    folder = tmp_path / "data"
    start = time.perf_counter()
    with pytest.raises(FileNotFoundError) as excinfo:
        load_dataset(info, data_home=folder)
    assert time.perf_counter() - start < 10
    message = str(excinfo.value)
    assert "ETTh1.csv" in message and str(folder) in message and "http://127.0.0.1:9/ETTh1.csv" in message
    assert DATA_ENV in message
    assert not folder.exists()


def test_download_false_never_fetches(tmp_path, server, monkeypatch):
    base, digest = server
    calls = []
    monkeypatch.setattr(datasets.download, "fetch", lambda *args: calls.append(args))
    info = DatasetInfo("Toy", "toy.csv", url=f"{base}/toy.csv", sha256=(digest,))
    with pytest.raises(FileNotFoundError, match="download=True"):
        load_dataset(info, data_home=tmp_path, download=False)
    assert calls == []
