"""Checkpoints and resuming, a separate validation series, strided training windows."""

import numpy as np
import pytest
import torch
from conftest import make_series, tiny

from calf_sklearn import CALFForecaster
from calf_sklearn.training import Trainer, read_checkpoint

X = make_series(200, 3)
X_VAL = make_series(80, 3, seed=1)


def fit(tmp_path=None, name="run.ckpt", **overrides):
    model = CALFForecaster(**tiny(**{"max_epochs": 3, "patience": 10, **overrides}))
    checkpoint = None if tmp_path is None else tmp_path / name
    return model.fit(X, checkpoint=checkpoint)


@pytest.fixture(scope="module")
def reference(module_env):
    return CALFForecaster(**tiny(max_epochs=3, patience=10)).fit(X)


def interrupt_at(monkeypatch, epoch):
    """Make the next training raise KeyboardInterrupt when ``epoch`` begins."""
    original = Trainer.train_epoch

    def train_epoch(self, data, current):
        if current == epoch:
            raise KeyboardInterrupt
        return original(self, data, current)

    monkeypatch.setattr(Trainer, "train_epoch", train_epoch)


def test_checkpointing_does_not_change_the_fit(tmp_path, reference):
    model = fit(tmp_path)
    np.testing.assert_array_equal(model.predict(), reference.predict())
    state = read_checkpoint(tmp_path / "run.ckpt")
    assert state["epoch"] == 3 and len(state["history"]) == 3
    assert model.resumed_from_epoch_ is None


def test_resumed_fit_equals_the_uninterrupted_one(tmp_path, reference, monkeypatch):
    with monkeypatch.context() as patch:
        interrupt_at(patch, 3)
        with pytest.warns(UserWarning, match="holds the last finished epoch"):
            broken = fit(tmp_path)
    assert broken.training_interrupted_ and len(broken.history_) == 2
    assert read_checkpoint(tmp_path / "run.ckpt")["epoch"] == 2

    resumed = fit(tmp_path)
    assert resumed.resumed_from_epoch_ == 2 and not resumed.training_interrupted_
    assert [h["epoch"] for h in resumed.history_] == [1, 2, 3]
    for got, want in zip(resumed.history_, reference.history_):
        assert got["train_loss"] == want["train_loss"] and got["val_mse"] == want["val_mse"]
    assert resumed.best_epoch_ == reference.best_epoch_
    np.testing.assert_array_equal(resumed.predict(), reference.predict())


def test_resuming_a_finished_fit_trains_no_more(tmp_path, reference, monkeypatch):
    fit(tmp_path)
    interrupt_at(monkeypatch, 1)  # any epoch that starts would raise
    again = fit(tmp_path)
    assert again.resumed_from_epoch_ == 3 and not again.training_interrupted_
    np.testing.assert_array_equal(again.predict(), reference.predict())


def test_a_larger_max_epochs_extends_a_finished_fit(tmp_path):
    fit(tmp_path)
    longer = fit(tmp_path, max_epochs=4)
    assert longer.resumed_from_epoch_ == 3
    assert [h["epoch"] for h in longer.history_] == [1, 2, 3, 4]
    fresh = CALFForecaster(**tiny(max_epochs=4, patience=10)).fit(X)
    np.testing.assert_array_equal(longer.predict(), fresh.predict())


def test_a_checkpoint_of_another_fit_is_refused(tmp_path, reference):
    fit(tmp_path)
    model = CALFForecaster(**tiny(max_epochs=3, patience=10)).fit(X)
    before = model.predict()
    with pytest.raises(ValueError, match="belongs to another fit"):
        model.set_params(learning_rate=1e-3).fit(X, checkpoint=tmp_path / "run.ckpt")
    # The failed fit leaves the earlier one as it was.
    np.testing.assert_array_equal(model.predict(), before)
    with pytest.raises(ValueError, match="belongs to another fit"):
        CALFForecaster(**tiny(max_epochs=3, patience=10)).fit(X[:-1], checkpoint=tmp_path / "run.ckpt")


def test_an_unreadable_checkpoint_names_the_file(tmp_path):
    path = tmp_path / "bad.ckpt"
    path.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="bad.ckpt cannot be read"):
        CALFForecaster(**tiny()).fit(X, checkpoint=path)
    torch.save({"something": 1}, path)
    with pytest.raises(ValueError, match="not a calf-sklearn training checkpoint"):
        CALFForecaster(**tiny()).fit(X, checkpoint=path)


def test_x_val_drives_early_stopping_and_all_of_x_trains(monkeypatch):
    seen = []
    original = Trainer.validation_mse

    def validation_mse(self, data):
        seen.append(len(data))
        return original(self, data)

    monkeypatch.setattr(Trainer, "validation_mse", validation_mse)
    model = CALFForecaster(**tiny()).fit(X, X_val=X_VAL)
    params = tiny()
    assert seen == [len(X_VAL) - params["seq_len"] - params["pred_len"] + 1] * 2
    np.testing.assert_allclose(model.scaler_.mean_, X.mean(axis=0))
    assert all(h["val_mse"] is not None for h in model.history_)


@pytest.mark.parametrize(
    "bad, message",
    [
        (X_VAL[:, :2], "X_val has 2 series but X has 3"),
        (X_VAL[:20], "X_val has 20 rows"),
        (np.where(X_VAL > 1.5, np.nan, X_VAL), "X_val"),
    ],
)
def test_bad_x_val_is_refused(bad, message):
    with pytest.raises(ValueError, match=message):
        CALFForecaster(**tiny()).fit(X, X_val=bad)


def test_x_val_columns_must_match_a_frames_columns():
    import pandas as pd

    frame = pd.DataFrame(X, columns=["a", "b", "c"])
    val = pd.DataFrame(X_VAL, columns=["a", "c", "b"])
    with pytest.raises(ValueError, match="columns differ"):
        CALFForecaster(**tiny()).fit(frame, X_val=val)


def test_window_stride_trains_on_every_kth_window(monkeypatch):
    batches = []
    original = Trainer.train_step

    def train_step(self, x, y):
        batches.append(len(x))
        return original(self, x, y)

    monkeypatch.setattr(Trainer, "train_step", train_step)
    CALFForecaster(**tiny(max_epochs=1, validation_size=0)).fit(X)
    every = sum(batches)
    batches.clear()
    CALFForecaster(**tiny(max_epochs=1, validation_size=0, window_stride=3)).fit(X)
    assert every == len(X) - 24 - 8 + 1
    assert sum(batches) == len(range(0, every, 3))
