"""temporal_split and WindowedSeries: the numbers, checked against hand-built slices."""

import math

import numpy as np
import pytest

from calf_sklearn.windows import WindowedSeries, temporal_split

# ---------------------------------------------------------------- temporal_split


@pytest.mark.parametrize(
    "n_rows, validation_size, seq_len, pred_len, expected",
    [
        (1000, 0.2, 96, 24, (800, 704)),  # fraction of the rows
        (300, 0.2, 24, 8, (240, 216)),
        (101, 0.25, 10, 5, (76, 66)),  # round(25.25) = 25 rows held out
        (300, 60, 24, 8, (240, 216)),  # a number of rows
        (300, np.int64(40), 24, 8, (260, 236)),  # NumPy integers are numbers of rows too
        (300, 8, 24, 8, (292, 268)),  # exactly pred_len rows: one validation window
    ],
)
def test_temporal_split_numbers(n_rows, validation_size, seq_len, pred_len, expected):
    assert temporal_split(n_rows, validation_size, seq_len, pred_len) == expected


@pytest.mark.parametrize("validation_size", [0, 0.0])
def test_temporal_split_zero_holds_out_nothing(validation_size):
    assert temporal_split(120, validation_size, 24, 8) == (120, None)


def test_temporal_split_validation_targets_start_at_the_border():
    values = np.arange(200.0)[:, None]
    train_stop, validation_start = temporal_split(200, 0.2, 24, 8)
    validation = WindowedSeries(values[validation_start:], 24, 8)
    _, y = validation.batch(np.arange(len(validation)))
    # Every target lies after the training rows; the first one is the first held-out row.
    assert y.min() == train_stop
    assert y[0, 0, 0] == train_stop
    assert y.max() == 199
    # The held-out rows give exactly n_validation - pred_len + 1 windows.
    assert len(validation) == (200 - train_stop) - 8 + 1
    # The training windows never see a held-out row.
    train = WindowedSeries(values[:train_stop], 24, 8)
    tx, ty = train.batch(np.arange(len(train)))
    assert max(tx.max(), ty.max()) == train_stop - 1


def test_temporal_split_too_short_to_train_says_the_numbers():
    # 40 rows, 0.2 held out -> 8, leaves 32, a window needs 24 + 16 = 40.
    with pytest.raises(ValueError) as info:
        temporal_split(40, 0.2, 24, 16)
    message = str(info.value)
    for number in ("40", "8", "32", "seq_len + pred_len"):
        assert number in message


def test_temporal_split_shorter_than_one_window_without_validation():
    with pytest.raises(ValueError, match=r"31.*32|32.*31"):
        temporal_split(31, 0, 24, 8)


def test_temporal_split_too_little_validation_says_the_numbers():
    # 5 rows held out, but one validation window needs pred_len = 8 of them.
    with pytest.raises(ValueError) as info:
        temporal_split(100, 5, 24, 8)
    message = str(info.value)
    assert "5 rows" in message
    assert "pred_len=8" in message


def test_temporal_split_small_fraction_too_little_validation():
    # round(0.01 * 300) = 3 rows < pred_len = 8
    with pytest.raises(ValueError, match="3 rows"):
        temporal_split(300, 0.01, 24, 8)


# ---------------------------------------------------------------- WindowedSeries


def _hand_windows(values, seq_len, pred_len, stride=1):
    starts = range(0, len(values) - seq_len - pred_len + 1, stride)
    xs = [values[s : s + seq_len] for s in starts]
    ys = [values[s + seq_len : s + seq_len + pred_len] for s in starts]
    return np.stack(xs), np.stack(ys)


@pytest.mark.parametrize("stride", [1, 2, 3, 7])
def test_windowed_series_matches_hand_built_slices(stride):
    rng = np.random.default_rng(1)
    values = rng.normal(size=(53, 4)).astype(np.float32)
    windows = WindowedSeries(values, seq_len=10, pred_len=4, stride=stride)
    hand_x, hand_y = _hand_windows(values, 10, 4, stride)

    assert len(windows) == math.ceil((53 - 10 - 4 + 1) / stride) == len(hand_x)
    np.testing.assert_array_equal(windows.starts, np.arange(0, 40, stride))

    x, y = windows.batch(np.arange(len(windows)))
    assert x.shape == (len(windows), 10, 4) and y.shape == (len(windows), 4, 4)
    assert x.dtype == values.dtype and y.dtype == values.dtype
    np.testing.assert_array_equal(x, hand_x)
    np.testing.assert_array_equal(y, hand_y)


def test_windowed_series_batch_picks_the_requested_windows_in_order():
    values = np.arange(60.0).reshape(30, 2)
    windows = WindowedSeries(values, seq_len=5, pred_len=3, stride=2)
    hand_x, hand_y = _hand_windows(values, 5, 3, stride=2)
    picks = np.array([4, 0, 9, 4])
    x, y = windows.batch(picks)
    np.testing.assert_array_equal(x, hand_x[picks])
    np.testing.assert_array_equal(y, hand_y[picks])
    # Window 9 with stride 2 starts at row 18: look-back rows 18..22, future rows 23..25.
    np.testing.assert_array_equal(x[2, :, 0], values[18:23, 0])
    np.testing.assert_array_equal(y[2, :, 1], values[23:26, 1])


def test_windowed_series_last_window_ends_at_the_last_row():
    values = np.arange(40.0)[:, None]
    windows = WindowedSeries(values, seq_len=8, pred_len=4)
    assert len(windows) == 40 - 12 + 1
    x, y = windows.batch([len(windows) - 1])
    assert y[0, -1, 0] == 39
    assert x[0, 0, 0] == 40 - 12


def test_windowed_series_exactly_one_window():
    values = np.arange(24.0).reshape(12, 2)
    windows = WindowedSeries(values, seq_len=8, pred_len=4, stride=5)
    assert len(windows) == 1
    x, y = windows.batch([0])
    np.testing.assert_array_equal(x[0], values[:8])
    np.testing.assert_array_equal(y[0], values[8:])


def test_windowed_series_batches_are_contiguous_copies():
    values = np.arange(60.0).reshape(20, 3)
    original = values.copy()
    windows = WindowedSeries(values, seq_len=6, pred_len=2)
    x, y = windows.batch([0, 1, 2])
    assert x.flags.c_contiguous and y.flags.c_contiguous
    x[:] = -1.0
    y[:] = -1.0
    np.testing.assert_array_equal(values, original)
    x2, _ = windows.batch([0])
    np.testing.assert_array_equal(x2[0], original[:6])


def test_windowed_series_look_back_only():
    values = np.arange(20.0).reshape(10, 2)
    windows = WindowedSeries(values, seq_len=4, pred_len=0)
    assert len(windows) == 7
    x, y = windows.batch(np.arange(7))
    assert y.shape == (7, 0, 2)
    np.testing.assert_array_equal(x[6], values[6:])


def test_windowed_series_rejects_non_2d_values():
    with pytest.raises(ValueError, match="2-D"):
        WindowedSeries(np.arange(10.0), seq_len=3, pred_len=1)


def test_missing_values_masked_windows_and_network():
    """NaN marks missing values: windows mask the targets and keep NaN look-backs, which both networks take."""
    import torch

    from calf_sklearn._series.windows import PanelWindows
    from calf_sklearn._torch.dlinear import DLinearNetwork

    rng = np.random.default_rng(0)
    members = [rng.normal(size=(60, 3)), rng.normal(size=(40, 3))]
    members[0][10:20, 1] = np.nan  # a gap in one series
    members[1][rng.random((40, 3)) < 0.1] = np.nan  # scattered holes
    windows = PanelWindows(members, seq_len=8, pred_len=4, missing=True)
    total = len(windows)
    dropped = windows.keep_observed(0.5)
    assert 0 < dropped < total and len(windows) == total - dropped
    x, y, mask = windows.batch(np.arange(len(windows)))
    assert np.isnan(x).any() and not np.isnan(y).any()
    assert (mask == 0).any() and (y[mask == 0] == 0).all()  # missing targets are 0 and masked out
    # Every kept window has each series observed somewhere in its look-back.
    assert (np.isfinite(x).any(axis=1)).all()
    from conftest import tiny_network

    net = tiny_network(seq_len=8, pred_len=4).eval()
    with torch.no_grad():
        assert torch.isfinite(net(torch.as_tensor(x, dtype=torch.float32))).all()
    assert torch.isfinite(DLinearNetwork(8, 4)(torch.as_tensor(x, dtype=torch.float32))).all()
