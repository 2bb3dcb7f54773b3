"""The training loop with masked window sources, per-epoch resampling and a chosen validation metric."""

import numpy as np
import pytest
import torch
from conftest import tiny_network
from torch import nn

from calf_sklearn.losses import LOSSES, CALFLoss
from calf_sklearn.training import Trainer, read_checkpoint, windows_loss, windows_mse

SEQ_LEN, PRED_LEN = 8, 4
CPU = torch.device("cpu")


def trainer_for(network, loss=None, seed=0, **settings):
    options = {
        "learning_rate": 1e-3,
        "projection_learning_rate": 1e-4,
        "batch_size": 4,
        "max_epochs": 3,
        "patience": 10,
        "cosine_t_max": 20,
        "device": CPU,
        "generator": torch.Generator().manual_seed(seed),
        **settings,
    }
    loss = loss or CALFLoss("smape", "mase", "smooth_l1", 1.0, 1.0, 0.01, period=2)
    return Trainer(network, loss, **options)


class MaskedWindows:
    """Univariate windows whose last ``missing[i]`` target steps lie past the series' end."""

    def __init__(self, n=10, seed=0, fill=0.0):
        rng = np.random.default_rng(seed)
        self.x = (rng.normal(size=(n, SEQ_LEN, 1)) + 5.0).astype(np.float32)
        self.y = (rng.normal(size=(n, PRED_LEN, 1)) + 5.0).astype(np.float32)
        self.mask = np.ones_like(self.y)
        for i, missing in enumerate(rng.integers(0, PRED_LEN, size=n)):
            if missing:
                self.mask[i, -missing:] = 0.0
        self.y[self.mask == 0] = fill

    def __len__(self):
        return len(self.x)

    def batch(self, indices):
        return self.x[indices], self.y[indices], self.mask[indices]


class ResampledWindows(MaskedWindows):
    """Draws a fresh set of windows on every resample(rng), like the M4 protocol's one window per series."""

    def __init__(self, n=10):
        super().__init__(n)
        self.calls, self.log = [], []

    def resample(self, rng):
        assert isinstance(rng, np.random.Generator)
        draw = rng.integers(0, 1_000_000)
        self.calls.append(int(draw))
        self.log.append("resample")
        fresh = MaskedWindows(len(self), seed=int(draw))
        self.x, self.y, self.mask = fresh.x, fresh.y, fresh.mask

    def batch(self, indices):
        self.log.append("batch")
        return super().batch(indices)


def histories_equal(a, b):
    keys = [k for k in a[0] if k != "seconds"]
    return [[r[k] for k in keys] for r in a] == [[r[k] for k in keys] for r in b]


# ---------------------------------------------------------------- masks


def test_masked_out_targets_do_not_change_the_training():
    """Two sources differing only under mask 0 give the same terms and weights, bit for bit."""
    zeros, junk = MaskedWindows(fill=0.0), MaskedWindows(fill=1e6)
    assert (zeros.mask == 0).any() and not np.array_equal(zeros.y, junk.y)
    runs = []
    for data in (zeros, junk):
        network = tiny_network()
        terms = trainer_for(network).train_epoch(data, epoch=1)
        runs.append((terms, [p.detach().clone() for p in network.parameters()]))
    assert runs[0][0] == runs[1][0]
    assert all(torch.equal(a, b) for a, b in zip(runs[0][1], runs[1][1]))


def test_masked_out_targets_do_not_reach_the_gradient():
    data_a, data_b = MaskedWindows(fill=0.0), MaskedWindows(fill=float("nan"))
    network = tiny_network()
    loss = CALFLoss("mse", "mase", "l1", 1.0, 1.0, 0.0, period=2)
    grads = []
    for data in (data_a, data_b):
        x, y, mask = (torch.from_numpy(a) for a in data.batch(np.arange(len(data))))
        network.zero_grad(set_to_none=True)
        torch.manual_seed(1)  # same dropout in both passes
        total, _ = loss(network.forward_train(x, textual=True, features=False), y, context=x, mask=mask)
        total.backward()
        gradient = [p.grad.clone() for p in network.parameters() if p.grad is not None]
        grads.append((float(total.detach()), gradient))
    assert grads[0][0] == grads[1][0]
    assert all(torch.equal(a, b) for a, b in zip(grads[0][1], grads[1][1]))
    # While a masked-in target does matter.
    data_b.y[0, 0, 0] += 1.0
    x, y, mask = (torch.from_numpy(a) for a in data_b.batch(np.arange(len(data_b))))
    torch.manual_seed(1)
    total, _ = loss(network.forward_train(x, textual=True, features=False), y, context=x, mask=mask)
    assert float(total.detach()) != grads[0][0]


def test_a_source_must_give_two_or_three_arrays():
    class Broken(MaskedWindows):
        def batch(self, indices):
            return (*super().batch(indices), None)

    with pytest.raises(ValueError, match=r"\(x, y\) or \(x, y, mask\); it returned 4"):
        trainer_for(tiny_network()).train_epoch(Broken(), epoch=1)


class LastValue(nn.Module):
    """Forecasts each look-back's last value: known forecasts for the validation functions."""

    pred_len = PRED_LEN

    def forward(self, x):
        return x[:, -1:, :].expand(-1, PRED_LEN, -1)


def test_windows_mse_averages_the_masked_in_elements_only():
    data = MaskedWindows(fill=float("nan"))
    forecast = np.repeat(data.x[:, -1:], PRED_LEN, axis=1).astype(np.float64)
    kept = data.mask > 0
    expected = np.mean(np.square(forecast - data.y)[kept])
    assert windows_mse(LastValue(), data, 3, CPU) == pytest.approx(expected, rel=1e-12)


def _last_value_loss(name, x, y, mask):
    forecast = np.repeat(x[:, -1:], PRED_LEN, axis=1)
    as64 = [torch.from_numpy(np.asarray(a, dtype=np.float64)) for a in (forecast, y, x, mask)]
    return float(LOSSES[name](as64[0], as64[1], context=as64[2], mask=as64[3], period=2))


@pytest.mark.parametrize("name", ["smape", "mase"])
def test_windows_loss_is_the_mean_over_windows_whatever_the_batches(name):
    """Batches of 3, 3, 3, 1 windows: each weighs by its windows, so the mean equals one window at a time."""
    data = MaskedWindows(fill=float("nan"))
    one_by_one = np.mean([_last_value_loss(name, *data.batch([i])) for i in range(len(data))])
    got = windows_loss(LastValue(), data, 3, CPU, name, period=2)
    assert got == pytest.approx(one_by_one, rel=1e-12)
    assert windows_loss(LastValue(), data, 1, CPU, name, period=2) == pytest.approx(got, rel=1e-12)


@pytest.mark.parametrize("name", ["l1", "mse"])
def test_windows_loss_of_a_masked_mean_is_the_mean_over_existing_targets(name):
    """l1 / mse with masks: batches weigh by their kept elements: the mean over every existing target."""
    data = MaskedWindows(fill=float("nan"))
    everything = _last_value_loss(name, *data.batch(np.arange(len(data))))
    for batch_size in (1, 3, 10):
        got = windows_loss(LastValue(), data, batch_size, CPU, name, period=2)
        assert got == pytest.approx(everything, rel=1e-12)
    if name == "mse":
        assert windows_mse(LastValue(), data, 3, CPU) == pytest.approx(everything, rel=1e-12)


def test_windows_loss_refuses_an_unknown_name():
    with pytest.raises(ValueError, match="loss_name must be one of"):
        windows_loss(LastValue(), MaskedWindows(), 3, CPU, "owa")


# ---------------------------------------------------------------- resampling


def test_resample_is_called_once_per_epoch_before_the_batches():
    data = ResampledWindows()
    result = trainer_for(tiny_network(), max_epochs=3).fit(data)
    assert len(result.history) == 3 and len(data.calls) == 3
    assert len(set(data.calls)) == 3  # a fresh draw every epoch
    epochs = "".join("R" if event == "resample" else "b" for event in data.log).split("R")[1:]
    assert epochs == ["bbb"] * 3  # 10 windows in batches of 4, after each resample


def test_the_same_seed_gives_the_same_resampled_fit():
    runs = []
    for _ in range(2):
        data = ResampledWindows()
        result = trainer_for(tiny_network(), seed=7).fit(data, MaskedWindows(seed=5))
        runs.append((data.calls, result.history))
    assert runs[0][0] == runs[1][0]
    assert histories_equal(runs[0][1], runs[1][1])
    other = ResampledWindows()
    trainer_for(tiny_network(), seed=8).fit(other, MaskedWindows(seed=5))
    assert other.calls != runs[0][0]


def test_a_source_without_resample_keeps_the_shuffling_stream():
    """Only sources with resample() take a draw from the generator; the others shuffle as before."""
    trainer = trainer_for(tiny_network(), seed=3)
    trainer.train_epoch(MaskedWindows(), epoch=1)
    expected = torch.Generator().manual_seed(3)
    torch.randperm(10, generator=expected)
    assert torch.equal(trainer.generator.get_state(), expected.get_state())


def test_a_resumed_resampled_fit_equals_the_uninterrupted_one(tmp_path, monkeypatch):
    validation = MaskedWindows(seed=5)
    whole_data = ResampledWindows()
    whole = trainer_for(tiny_network(), validation_metric="smape", max_epochs=4).fit(whole_data, validation)

    original = Trainer.train_epoch

    def train_epoch(self, data, epoch):
        if epoch == 3:
            raise KeyboardInterrupt
        return original(self, data, epoch)

    path = tmp_path / "fit.ckpt"
    with monkeypatch.context() as patch:
        patch.setattr(Trainer, "train_epoch", train_epoch)
        with pytest.warns(UserWarning, match="holds the last finished epoch"):
            broken = trainer_for(tiny_network(), validation_metric="smape", max_epochs=4).fit(
                ResampledWindows(), validation, checkpoint=path
            )
    assert broken.interrupted and len(broken.history) == 2

    resumed_data = ResampledWindows()
    network = tiny_network()
    resumed = trainer_for(network, validation_metric="smape", max_epochs=4).fit(
        resumed_data, validation, resume=read_checkpoint(path)
    )
    assert resumed.resumed_from == 2 and resumed_data.calls == whole_data.calls[2:]
    assert histories_equal(resumed.history, whole.history)
    assert resumed.best_epoch == whole.best_epoch


# ---------------------------------------------------------------- validation metric


def test_validation_metric_smape_is_recorded_and_is_what_the_best_weights_score():
    validation = MaskedWindows(seed=5)
    network = tiny_network()
    result = trainer_for(network, validation_metric="smape", max_epochs=3).fit(MaskedWindows(), validation)
    assert all({"val_mse", "val_smape"} <= set(record) for record in result.history)
    scores = [record["val_smape"] for record in result.history]
    assert result.best_epoch == 1 + int(np.argmin(scores))
    # The restored weights score exactly what their epoch recorded.
    assert windows_loss(network, validation, 4, CPU, "smape", period=2) == scores[result.best_epoch - 1]
    assert windows_mse(network, validation, 4, CPU) == result.history[result.best_epoch - 1]["val_mse"]


def test_mse_metric_records_only_val_mse():
    result = trainer_for(tiny_network(), max_epochs=1).fit(MaskedWindows(), MaskedWindows(seed=5))
    assert [key for key in result.history[0] if key.startswith("val_")] == ["val_mse"]


def test_early_stopping_follows_the_metric_not_the_mse(monkeypatch):
    """The MSE keeps falling while sMAPE rises after epoch 1: patience 2 stops at epoch 3, keeping epoch 1."""
    script = iter([(9.0, 10.0), (8.0, 11.0), (7.0, 12.0), (6.0, 13.0), (5.0, 14.0)])

    def validation_scores(self, data):
        mse, smape = next(script)
        return {"val_mse": mse, "val_smape": smape}

    monkeypatch.setattr(Trainer, "validation_scores", validation_scores)
    network = tiny_network()
    result = trainer_for(network, validation_metric="smape", max_epochs=5, patience=2).fit(
        MaskedWindows(), MaskedWindows(seed=5)
    )
    assert [r["epoch"] for r in result.history] == [1, 2, 3]
    assert result.best_epoch == 1


def test_an_unknown_validation_metric_is_refused():
    with pytest.raises(ValueError, match="validation_metric must be one of .*'smape', 'mase'; got 'owa'"):
        trainer_for(tiny_network(), validation_metric="owa")


def test_adam_is_fused_and_stays_fused_when_an_older_checkpoint_resumes():
    """Checkpoints carry their groups' kernel flags; one written before Adam was fused must not
    switch a resumed run back to the per-tensor loop."""
    import copy

    from transformers import GPT2Model

    from calf_sklearn._torch.training.steps import CALFStep, DLinearStep
    from calf_sklearn.backbone import gpt2_config
    from calf_sklearn.dlinear import DLinearNetwork
    from calf_sklearn.losses import CALFLoss
    from calf_sklearn.network import CALFNetwork

    backbone = GPT2Model(gpt2_config({"n_embd": 16, "n_layer": 1, "n_head": 2, "vocab_size": 32}))
    network = CALFNetwork(backbone, seq_len=8, pred_len=4, principal_words=torch.randn(5, 16))
    steps = [
        CALFStep(network, CALFLoss("l1", "l1", "l1", 1, 1, 0.01), learning_rate=5e-4,
                 projection_learning_rate=1e-4, cosine_t_max=20),
        DLinearStep(DLinearNetwork(8, 4), learning_rate=5e-3),
    ]  # fmt: skip
    for step in steps:
        assert all(group["fused"] for optimizer in step.optimizers for group in optimizer.param_groups)
        old = copy.deepcopy(step.state_dict())
        for key in ("optimizer", "projection_optimizer"):
            for group in (old.get(key) or {}).get("param_groups", []):
                group["fused"] = None  # as an unfused Adam wrote it
        step.load_state_dict(old)
        assert all(group["fused"] for optimizer in step.optimizers for group in optimizer.param_groups)
