"""Tests of CALF's three-term loss (METHOD.md section 7) and the M4 losses (section 13)."""

import pytest
import torch
from torch.nn import functional as F

from calf_sklearn.losses import FEATURE_LOSSES, LOSSES, CALFLoss
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
    assert set(LOSSES) == {"l1", "smooth_l1", "mse", "smape", "mase"}
    assert FEATURE_LOSSES == ("l1", "smooth_l1", "mse")


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
    """Only the names of LOSSES are accepted, and the message lists them."""
    with pytest.raises(ValueError, match="task_loss must be one of .*'smape', 'mase'; got 'huber'"):
        CALFLoss("huber", "l1", "l1", 1.0, 1.0, 0.01)
    with pytest.raises(ValueError, match="output_loss must be one of"):
        CALFLoss("l1", "huber", "l1", 1.0, 1.0, 0.01)


# ---------------------------------------------------------------- one signature, masks


@pytest.mark.parametrize("kind", ["l1", "smooth_l1", "mse"])
def test_unmasked_distances_are_torchs_own(kind):
    """Unmasked l1 / smooth_l1 (beta 1) / mse are exactly torch's means; context and period are ignored."""
    reference = {
        "l1": F.l1_loss,
        "smooth_l1": lambda a, b: F.smooth_l1_loss(a, b, beta=1.0),
        "mse": F.mse_loss,
    }[kind]
    forecast, target = torch.randn(3, 4, 2), torch.randn(3, 4, 2)
    got = LOSSES[kind](forecast, target, context=torch.randn(3, 5, 2), period=3)
    assert torch.equal(got, reference(forecast, target))


@pytest.mark.parametrize("kind", ["l1", "smooth_l1", "mse"])
def test_masked_distances_average_the_kept_elements(kind):
    """With a mask: sum(err * mask) / sum(mask), by hand; the masked-out elements can hold anything."""
    mask = torch.tensor([[[1.0, 0.0], [1.0, 1.0]]])  # drops |diff| = 3.0
    kept = {"l1": [0.5, 0.0, 2.5], "smooth_l1": [0.125, 0.0, 2.0], "mse": [0.25, 0.0, 6.25]}[kind]
    got = LOSSES[kind](FORECAST, TARGET, mask=mask)
    assert float(got) == pytest.approx(sum(kept) / 3, rel=1e-6)
    target = TARGET.clone()
    target[0, 0, 1] = float("nan")  # what a source may put past the end of a series
    assert torch.equal(LOSSES[kind](FORECAST, target, mask=mask), got)
    # An all-ones mask is the plain mean.
    full = LOSSES[kind](FORECAST, TARGET, mask=torch.ones_like(TARGET))
    assert float(full) == pytest.approx(EXPECTED[kind], rel=1e-6)


@pytest.mark.parametrize("kind", sorted(LOSSES))
def test_an_empty_mask_costs_nothing_and_gives_a_finite_gradient(kind):
    forecast = FORECAST.clone().requires_grad_(True)
    context = torch.tensor([[[0.0, 1.0], [1.0, 3.0], [3.0, 0.0]]])
    value = LOSSES[kind](forecast, TARGET, context=context, mask=torch.zeros_like(TARGET))
    value.backward()
    assert float(value.detach()) == 0.0
    assert torch.equal(forecast.grad, torch.zeros_like(forecast))


@pytest.mark.parametrize("kind", sorted(LOSSES))
def test_masked_out_targets_do_not_reach_the_gradient(kind):
    """Changing the targets under mask 0 changes neither the value nor the gradient, bit for bit."""
    generator = torch.Generator().manual_seed(3)
    forecast = torch.randn(4, 5, 2, generator=generator) + 3.0
    target = torch.randn(4, 5, 2, generator=generator) + 3.0
    context = torch.randn(4, 6, 2, generator=generator)
    mask = (torch.rand(4, 5, 2, generator=generator) > 0.3).float()
    fill = torch.full_like(target, 1e6)
    fill[0] = float("nan")  # what a source may put past the end of a series
    other = torch.where(mask > 0, target, fill)
    assert (mask[0] == 0).any() and (mask[1:] == 0).any()
    results = []
    for values in (target, other):
        leaf = forecast.clone().requires_grad_(True)
        value = LOSSES[kind](leaf, values, context=context, mask=mask, period=2)
        value.backward()
        results.append((value.detach(), leaf.grad))
    assert torch.equal(results[0][0], results[1][0])
    assert torch.equal(results[0][1], results[1][1])
    assert torch.equal(results[0][1] * (1 - mask), torch.zeros_like(forecast))


# ---------------------------------------------------------------- sMAPE


def test_smape_hand_computed():
    """200 * mean(|f - t| / (|f| + |t|)), with 0 / 0 counting as 0."""
    forecast = torch.tensor([[[1.0], [-2.0], [0.0], [4.0]]])
    target = torch.tensor([[[3.0], [2.0], [0.0], [0.0]]])
    # ratios: 2 / 4, 4 / 4, 0 / 0 -> 0, 4 / 4
    assert float(LOSSES["smape"](forecast, target)) == pytest.approx(200 * 2.5 / 4)


def test_smape_non_finite_ratio_counts_as_zero():
    forecast = torch.tensor([[[1.0], [1.0]]])
    target = torch.tensor([[[3.0], [float("inf")]]])  # inf / inf
    assert float(LOSSES["smape"](forecast, target)) == pytest.approx(200 * 0.5 / 2)


def test_smape_mask_keeps_the_mean_over_every_element():
    """Masked-out elements count 0 but stay in the mean's count (the M4 recipe)."""
    forecast = torch.tensor([[[1.0], [1.0]]])
    target = torch.tensor([[[3.0], [100.0]]])
    mask = torch.tensor([[[1.0], [0.0]]])
    assert float(LOSSES["smape"](forecast, target, mask=mask)) == pytest.approx(200 * 0.5 / 2)


def test_smape_denominator_is_detached():
    """d/df of 200 |f - t| / (|f|.detach() + |t|) is 200 sign(f - t) / (|f| + |t|), not the full one."""
    forecast = torch.tensor([[[1.0]]], requires_grad=True)
    target = torch.tensor([[[3.0]]])
    LOSSES["smape"](forecast, target).backward()
    assert float(forecast.grad) == pytest.approx(-200 / 4)  # undetached would be -200 * 2t / (f + t)**2 = -75
    # The target's part of the denominator is not detached (it may be the textual forecast).
    forecast = torch.tensor([[[1.0]]])
    target = torch.tensor([[[3.0]]], requires_grad=True)
    LOSSES["smape"](forecast, target).backward()
    assert float(target.grad) == pytest.approx(200 * (1 / 4 - 2 / 16))  # d/dt (t - f) / (f + t)


def test_smape_gradient_is_finite_where_both_are_zero():
    forecast = torch.zeros(1, 3, 1, requires_grad=True)
    value = LOSSES["smape"](forecast, torch.zeros(1, 3, 1))
    value.backward()
    assert float(value.detach()) == 0.0 and torch.equal(forecast.grad, torch.zeros(1, 3, 1))


# ---------------------------------------------------------------- MASE


def test_mase_hand_computed():
    """Per window and series: mean |t - f| / mean_l |c[l] - c[l - m]|, a zero scale counting as 0."""
    # Two series, period 2. Series 0: lag-2 errors |4-0|, |3-1|, |2-4| -> scale 8/3.
    # Series 1 is flat: scale 0, so its (non-zero) errors count 0.
    context = torch.tensor([[[0.0, 5.0], [1.0, 5.0], [4.0, 5.0], [3.0, 5.0], [2.0, 5.0]]])
    forecast = torch.tensor([[[1.0, 0.0], [2.0, 0.0]]])
    target = torch.tensor([[[3.0, 1.0], [2.0, 1.0]]])
    got = LOSSES["mase"](forecast, target, context=context, period=2)
    assert float(got) == pytest.approx((2 / (8 / 3) + 0 + 0 + 0) / 4)
    # At lag 1 series 0's scale is (1 + 3 + 1 + 1) / 4 = 1.5.
    got = LOSSES["mase"](forecast, target, context=context, period=1)
    assert float(got) == pytest.approx((2 / 1.5) / 4)


def test_mase_scales_each_window_by_its_own_look_back():
    context = torch.tensor([[[0.0], [1.0], [0.0]], [[0.0], [10.0], [0.0]]])  # scales 1 and 10
    forecast = torch.zeros(2, 1, 1)
    target = torch.full((2, 1, 1), 5.0)
    assert float(LOSSES["mase"](forecast, target, context=context)) == pytest.approx((5 / 1 + 5 / 10) / 2)


def test_mase_mask_and_gradient():
    """Masked-out errors count 0 in a mean over all elements; no gradient into the context; scale 0 finite."""
    context = torch.tensor([[[0.0, 1.0], [2.0, 1.0]]], requires_grad=True)  # scales 2 and 0
    forecast = torch.tensor([[[1.0, 1.0], [1.0, 1.0]]], requires_grad=True)
    target = torch.tensor([[[3.0, 4.0], [-1.0, 4.0]]])
    mask = torch.tensor([[[1.0, 1.0], [0.0, 1.0]]])
    value = LOSSES["mase"](forecast, target, context=context, mask=mask)
    assert float(value.detach()) == pytest.approx((2 / 2) / 4)
    value.backward()
    assert context.grad is None
    assert torch.equal(forecast.grad, torch.tensor([[[-1 / 2 / 4, 0.0], [0.0, 0.0]]]))


def test_mase_refuses_what_it_cannot_scale_by():
    forecast = target = torch.zeros(1, 2, 1)
    with pytest.raises(ValueError, match="needs context"):
        LOSSES["mase"](forecast, target)
    with pytest.raises(ValueError, match="longer than its period 3; they have 3 steps"):
        LOSSES["mase"](forecast, target, context=torch.zeros(1, 3, 1), period=3)
    for period in (0, 1.5, True):
        with pytest.raises(ValueError, match="integer period >= 1"):
            LOSSES["mase"](forecast, target, context=torch.zeros(1, 3, 1), period=period)


# ---------------------------------------------------------------- CALFLoss with the M4 losses


def test_feature_term_refuses_scale_free_losses():
    for name in ("smape", "mase", "huber"):
        with pytest.raises(ValueError, match="feature_loss must be one of 'l1', 'smooth_l1', 'mse'"):
            CALFLoss("l1", "l1", name, 1.0, 1.0, 0.01)


@pytest.mark.parametrize(
    "period, error, message",
    [(0, ValueError, "period must be >= 1"), (-1, ValueError, "period must be >= 1"),
     (2.0, TypeError, "period must be an integer")],
)  # fmt: skip
def test_calf_loss_refuses_a_bad_period(period, error, message):
    with pytest.raises(error, match=message):
        CALFLoss("smape", "mase", "l1", 1.0, 1.0, 0.01, period=period)


def test_calf_loss_passes_context_mask_and_period_to_both_terms():
    """M4 setting: task sMAPE against the target, output MASE against the textual forecast, both masked."""
    forecast = torch.tensor([[[1.0], [1.0], [1.0]]])
    textual = torch.tensor([[[3.0], [5.0], [9.0]]])
    target = torch.tensor([[[3.0], [1.0], [50.0]]])
    mask = torch.tensor([[[1.0], [1.0], [0.0]]])
    context = torch.tensor([[[0.0], [1.0], [4.0], [5.0]]])  # lag-2 errors 4, 4 -> scale 4
    loss = CALFLoss("smape", "mase", "l1", 1.0, 0.5, 0.0, period=2)
    total, terms = loss(CALFOutputs(forecast, textual, None, None), target, context=context, mask=mask)
    smape = 200 * (2 / 4 + 0 + 0) / 3
    mase = (2 / 4 + 4 / 4 + 0) / 3
    assert terms["task_loss"] == pytest.approx(smape)
    assert terms["output_loss"] == pytest.approx(mase)
    assert float(total) == pytest.approx(smape + 0.5 * mase)
    with pytest.raises(ValueError, match="needs context"):
        loss(CALFOutputs(forecast, textual, None, None), target, mask=mask)


def test_calf_loss_masks_the_plain_distances_too():
    mask = torch.tensor([[[1.0, 0.0], [1.0, 1.0]]])
    _, terms = CALFLoss("l1", "mse", "l1", 1.0, 1.0, 0.0)(_outputs(textual=TARGET), TARGET, mask=mask)
    assert terms["task_loss"] == pytest.approx((0.5 + 0.0 + 2.5) / 3)
    assert terms["output_loss"] == pytest.approx((0.25 + 0.0 + 6.25) / 3)
    assert terms["feature_loss"] == 0.0
