"""Tests of CALF's three-term loss (METHOD.md section 7)."""

import pytest
import torch

from calf_sklearn.losses import LOSSES, CALFLoss
from calf_sklearn.network import CALFOutputs

# Differences chosen to fall on both sides of smooth L1's beta = 1.
FORECAST = torch.tensor([[[0.0, 2.0], [1.0, -1.0]]])  # (B=1, P=2, M=2)
TARGET = torch.tensor([[[0.5, -1.0], [1.0, 1.5]]])
# |diff| = 0.5, 3.0, 0.0, 2.5
L1 = (0.5 + 3.0 + 0.0 + 2.5) / 4
SMOOTH_L1 = (0.5 * 0.5**2 + (3.0 - 0.5) + 0.0 + (2.5 - 0.5)) / 4
MSE = (0.25 + 9.0 + 0.0 + 6.25) / 4
EXPECTED = {"l1": L1, "smooth_l1": SMOOTH_L1, "mse": MSE}


def _outputs(textual=None, features=None, textual_features=None, forecast=FORECAST):
    return CALFOutputs(forecast, textual, features, textual_features)


@pytest.mark.parametrize("kind", ["l1", "smooth_l1", "mse"])
def test_task_term_hand_computed(kind):
    """The task term is the mean distance to the target, by hand, for each distance."""
    total, terms = CALFLoss(kind, "l1", "l1", 1.0, 0.0, 0.0)(_outputs(), TARGET)
    assert float(total) == pytest.approx(EXPECTED[kind], rel=1e-6)
    assert terms == {
        "task_loss": pytest.approx(EXPECTED[kind], rel=1e-6),
        "output_loss": 0.0,
        "feature_loss": 0.0,
    }


@pytest.mark.parametrize("kind", ["l1", "smooth_l1", "mse"])
def test_output_term_hand_computed(kind):
    """The output term compares the temporal forecast with the textual one."""
    loss = CALFLoss("l1", kind, "l1", 0.0, 2.5, 0.0)
    total, terms = loss(_outputs(textual=TARGET), None)
    assert terms["output_loss"] == pytest.approx(EXPECTED[kind], rel=1e-6)
    assert float(total) == pytest.approx(2.5 * EXPECTED[kind], rel=1e-6)
    assert terms["task_loss"] == 0.0 and terms["feature_loss"] == 0.0


def test_smooth_l1_uses_beta_one():
    """smooth_l1 is quadratic below |d| = 1 and linear above it (beta 1, not another beta)."""
    a = torch.tensor([0.0, 0.0, 0.0])
    b = torch.tensor([0.4, 1.0, 5.0])
    expected = (0.5 * 0.16 + 0.5 * 1.0 + 4.5) / 3
    assert float(LOSSES["smooth_l1"](a, b)) == pytest.approx(expected, rel=1e-6)
    assert set(LOSSES) == {"l1", "smooth_l1", "mse"}


@pytest.mark.parametrize("kind", ["l1", "smooth_l1", "mse"])
@pytest.mark.parametrize("n_layers", [1, 2, 6])
def test_feature_term_depth_weights(kind, n_layers):
    """Feature term = sum_i 0.8**(n-i) * Lf(p_time[i], p_text[i]): deepest weight 1, embedding 0.8**n."""
    generator = torch.Generator().manual_seed(n_layers)
    n_states = n_layers + 1
    # State i differs by a constant i + 1 so each distance is known by hand.
    features = [torch.randn(2, 3, 4, generator=generator) for _ in range(n_states)]
    textual_features = [f + (i + 1) for i, f in enumerate(features)]
    distance = {"l1": lambda c: c, "smooth_l1": lambda c: c - 0.5, "mse": lambda c: c**2}[kind]
    expected = sum(0.8 ** (n_layers - i) * distance(i + 1) for i in range(n_states))
    loss = CALFLoss("l1", "l1", kind, 0.0, 0.0, 0.01)
    assert float(loss.feature_term(features, textual_features)) == pytest.approx(expected, rel=1e-5)
    total, terms = loss(
        _outputs(textual=FORECAST, features=features, textual_features=textual_features), TARGET
    )
    assert terms["feature_loss"] == pytest.approx(expected, rel=1e-5)
    assert float(total) == pytest.approx(0.01 * expected, rel=1e-5)


def test_feature_weights_favour_the_deepest_state():
    """A mismatch only in the deepest state costs 1; only in the embedding output costs 0.8**n."""
    n_layers = 3
    zeros = [torch.zeros(1, 2, 4) for _ in range(n_layers + 1)]
    loss = CALFLoss("l1", "l1", "l1", 1.0, 1.0, 1.0)
    deepest = [z.clone() for z in zeros]
    deepest[-1] += 1.0
    shallowest = [z.clone() for z in zeros]
    shallowest[0] += 1.0
    assert float(loss.feature_term(zeros, deepest)) == pytest.approx(1.0)
    assert float(loss.feature_term(zeros, shallowest)) == pytest.approx(0.8**n_layers)


def test_total_is_weighted_sum_of_terms():
    """total = wt * task + wo * output + wf * feature, with every term reported unweighted."""
    features = [torch.zeros(1, 2, 4), torch.zeros(1, 2, 4)]
    textual_features = [torch.ones(1, 2, 4), torch.full((1, 2, 4), 2.0)]
    textual = FORECAST + 1.0
    loss = CALFLoss("mse", "l1", "l1", 0.7, 1.3, 0.01)
    total, terms = loss(_outputs(textual, features, textual_features), TARGET)
    feature = 0.8 * 1.0 + 1.0 * 2.0
    assert terms["task_loss"] == pytest.approx(MSE)
    assert terms["output_loss"] == pytest.approx(1.0)
    assert terms["feature_loss"] == pytest.approx(feature)
    assert float(total) == pytest.approx(0.7 * MSE + 1.3 * 1.0 + 0.01 * feature, rel=1e-6)
    assert all(isinstance(v, float) for v in terms.values())


def test_zero_weight_removes_term_and_its_gradient():
    """A zero-weighted term reports 0.0 and sends no gradient to the tensors only it uses."""
    forecast = FORECAST.clone().requires_grad_(True)
    textual = (FORECAST + 1.0).requires_grad_(True)
    features = [torch.randn(1, 2, 4, requires_grad=True) for _ in range(3)]
    textual_features = [torch.randn(1, 2, 4, requires_grad=True) for _ in range(3)]
    outputs = _outputs(textual, features, textual_features, forecast=forecast)

    total, terms = CALFLoss("l1", "l1", "l1", 1.0, 0.0, 0.0)(outputs, TARGET)
    assert terms["output_loss"] == 0.0 and terms["feature_loss"] == 0.0
    total.backward()
    assert forecast.grad is not None and forecast.grad.abs().sum() > 0
    assert textual.grad is None
    assert all(f.grad is None for f in features + textual_features)

    forecast.grad = None
    total, terms = CALFLoss("l1", "l1", "l1", 0.0, 1.0, 0.0)(outputs, TARGET)
    assert terms["task_loss"] == 0.0 and terms["feature_loss"] == 0.0
    total.backward()
    # Only the output term: both forecasts get gradient, features none.
    assert textual.grad.abs().sum() > 0 and forecast.grad.abs().sum() > 0
    assert all(f.grad is None for f in features + textual_features)

    forecast.grad = textual.grad = None
    total, terms = CALFLoss("l1", "l1", "l1", 0.0, 0.0, 0.5)(outputs, TARGET)
    assert terms["task_loss"] == 0.0 and terms["output_loss"] == 0.0
    total.backward()
    assert forecast.grad is None and textual.grad is None
    assert all(f.grad.abs().sum() > 0 for f in features + textual_features)


def test_zero_weights_accept_missing_parts():
    """With output and feature weights zero the textual parts may be None (skipped by the network)."""
    total, terms = CALFLoss("mse", "l1", "l1", 1.0, 0.0, 0.0)(_outputs(), TARGET)
    assert float(total) == pytest.approx(MSE)
    assert terms["output_loss"] == 0.0 and terms["feature_loss"] == 0.0


@pytest.mark.parametrize(
    "output_weight,feature_weight,textual,features",
    [(1.0, 0.01, True, True), (1.0, 0.0, True, False), (0.0, 0.01, True, True), (0.0, 0.0, False, False)],
)
def test_needs_flags(output_weight, feature_weight, textual, features):
    """needs_textual when either branch-comparing term is on; needs_features only with the feature term."""
    loss = CALFLoss("l1", "l1", "l1", 1.0, output_weight, feature_weight)
    assert loss.needs_textual is textual
    assert loss.needs_features is features


def test_unknown_distance_rejected():
    """Only l1, smooth_l1 and mse are accepted."""
    with pytest.raises((KeyError, ValueError)):
        CALFLoss("huber", "l1", "l1", 1.0, 1.0, 0.01)
