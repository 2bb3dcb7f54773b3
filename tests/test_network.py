"""Tests of the CALF dual-branch network (METHOD.md sections 1-3, 5, 6 and 9)."""

import re

import pytest
import torch
from conftest import TINY_GPT2
from torch import nn
from transformers import GPT2Config, GPT2Model

from calf_sklearn.losses import CALFLoss
from calf_sklearn.network import CALFNetwork, PrincipalWordAttention

SEQ_LEN, PRED_LEN, N_WORDS = 24, 8, 16
WIDTH, N_LAYERS = TINY_GPT2["n_embd"], TINY_GPT2["n_layer"]
# A vocabulary size no other tensor dimension shares (4 * n_embd = 128 is the
# MLP width), so a leftover word-embedding matrix cannot hide.
VOCAB = 97
BRANCH_OWN = re.compile(r"\.(ln_1|ln_2|ln_f|wpe)\.")


def _backbone(seed=0):
    torch.manual_seed(seed)
    config = GPT2Config(**{**TINY_GPT2, "vocab_size": VOCAB})
    config._attn_implementation = "sdpa"
    return GPT2Model(config)


def _network(seed=0, randomise_lora=True):
    """A tiny network; LoRA B is made non-zero so the adapters change outputs."""
    net = CALFNetwork(
        _backbone(seed),
        seq_len=SEQ_LEN,
        pred_len=PRED_LEN,
        principal_words=torch.randn(N_WORDS, WIDTH),
    )
    if randomise_lora:
        with torch.no_grad():
            for name, parameter in net.named_parameters():
                if "lora_B" in name:
                    parameter.normal_(0.0, 0.2)
    return net


def _windows(batch=4, n_series=3, seed=1):
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(batch, SEQ_LEN, n_series, generator=generator)


def _canonical(name):
    """Drop peft's adapter name: ``lora_A.default.weight`` -> ``lora_A.weight``."""
    return re.sub(r"\.(lora_[AB])\.[^.]+\.", r".\1.", name)


def _trainable(net):
    return {_canonical(n) for n, p in net.named_parameters(remove_duplicate=False) if p.requires_grad}


def test_output_shapes():
    """forward gives (B, P, M); forward_train gives both forecasts and n+1 features of width d."""
    net = _network()
    x = _windows(batch=5, n_series=3)
    assert net(x).shape == (5, PRED_LEN, 3)
    out = net.forward_train(x)
    assert out.forecast.shape == (5, PRED_LEN, 3)
    assert out.textual_forecast.shape == (5, PRED_LEN, 3)
    assert len(out.features) == len(out.textual_features) == N_LAYERS + 1
    for a, b in zip(out.features, out.textual_features):
        assert a.shape == b.shape == (5, 3, WIDTH)


def test_trainable_parameter_names_per_branch():
    """Temporal trains LoRA on c_attn, its LayerNorms and wpe; textual trains wpe only."""
    net = _network()
    trainable = _trainable(net)
    temporal = {n for n in trainable if n.startswith("temporal.")}
    textual = {n for n in trainable if n.startswith("textual.")}
    expected_temporal = {"temporal.wpe.weight", "temporal.ln_f.weight", "temporal.ln_f.bias"}
    for i in range(N_LAYERS):
        expected_temporal |= {
            f"temporal.h.{i}.attn.c_attn.lora_A.weight",
            f"temporal.h.{i}.attn.c_attn.lora_B.weight",
            f"temporal.h.{i}.ln_1.weight",
            f"temporal.h.{i}.ln_1.bias",
            f"temporal.h.{i}.ln_2.weight",
            f"temporal.h.{i}.ln_2.bias",
        }
    assert temporal == expected_temporal
    assert textual == {"textual.wpe.weight"}
    others = {n.split(".")[0] for n in trainable - temporal - textual}
    assert others == {
        "input_projection",
        "encoder",
        "cross_attention",
        "head",
        "projections",
        "textual_projections",
    }
    # Every parameter of those modules trains.
    for module in others:
        assert all(p.requires_grad for p in getattr(net, module).parameters())
    # LoRA sits on c_attn only (no c_proj, no MLP adapters).
    lora = [n for n, _ in net.named_parameters(remove_duplicate=False) if "lora_" in n]
    assert lora and all(".attn.c_attn.lora_" in n for n in lora)
    # LoRA rank 8 as METHOD.md section 5 says.
    a = net.temporal.h[0].attn.c_attn
    assert a.r["default"] == 8
    assert a.scaling["default"] == pytest.approx(32 / 8)


def test_parameter_partition_for_optimisers():
    """main_parameters + projection_parameters are exactly the trainable tensors, disjoint."""
    net = _network()
    main = {id(p) for p in net.main_parameters()}
    proj = {id(p) for p in net.projection_parameters()}
    assert not main & proj
    assert proj == {id(p) for p in [*net.projections.parameters(), *net.textual_projections.parameters()]}
    assert main | proj == {id(p) for p in net.parameters() if p.requires_grad}


def test_frozen_tensors_shared_and_textual_has_no_lora():
    """Every frozen backbone tensor is one storage used by both branches; textual has no adapters."""
    net = _network()
    temporal = {
        n.replace(".base_layer", ""): p
        for n, p in net.temporal.named_parameters(remove_duplicate=False)
        if "lora_" not in n
    }
    textual = dict(net.textual.named_parameters(remove_duplicate=False))
    assert set(temporal) == set(textual)
    assert not any("lora" in n for n in textual)
    assert not any("lora" in type(m).__name__.lower() for m in net.textual.modules())
    frozen = [n for n in textual if not BRANCH_OWN.search("." + n)]
    assert len(frozen) == N_LAYERS * 8  # c_attn, attn.c_proj, c_fc, mlp.c_proj: weight + bias
    for name in frozen:
        assert temporal[name].data_ptr() == textual[name].data_ptr(), name
        assert not temporal[name].requires_grad and not textual[name].requires_grad
    # The branch-owned tensors are separate copies that start from the same values.
    for name, own in textual.items():
        if BRANCH_OWN.search("." + name):
            assert temporal[name].data_ptr() != own.data_ptr(), name
            torch.testing.assert_close(temporal[name], own, rtol=0, atol=0)
            assert temporal[name].requires_grad
            assert own.requires_grad == name.startswith("wpe.")


def test_word_embedding_removed():
    """No wte and no vocabulary-sized tensor is kept in the network or its state_dict."""
    net = _network()
    assert net.temporal.wte is None and net.textual.wte is None
    state = net.state_dict()
    assert not any("wte" in k for k in state)
    assert all(VOCAB not in v.shape for v in state.values())
    # The principal words are a buffer, not a trained parameter.
    assert "principal_words" in state
    assert "principal_words" not in dict(net.named_parameters())
    assert state["principal_words"].shape == (N_WORDS, WIDTH)


def _inputs_of(module):
    """Attach a hook to ``module``; the returned list collects its first input at every call."""
    seen = []
    module.register_forward_hook(lambda _module, args, _output: seen.append(args[0].detach().clone()))
    return seen


def test_hidden_states_are_embedding_and_blocks_then_the_residual_output():
    """features[0] projects tokens + wpe, features[k] block k's output, features[-1] the residual output."""
    net = _network().eval()
    x = _windows(n_series=5)
    with torch.no_grad():
        out = net.forward_train(x)
        tokens, _, _ = net._time_tokens(x)
        text_tokens = net.cross_attention(tokens, net.principal_words)
        for branch, projections, branch_tokens, features in (
            (net.temporal, net.projections, tokens, out.features),
            (net.textual, net.textual_projections, text_tokens, out.textual_features),
        ):
            hidden = branch_tokens + branch.wpe.weight[:5]
            torch.testing.assert_close(features[0], projections[0](hidden), rtol=1e-5, atol=1e-5)
            for k, block in enumerate(branch.h[:-1], start=1):
                hidden = block(hidden)
                hidden = hidden[0] if isinstance(hidden, tuple) else hidden
                torch.testing.assert_close(features[k], projections[k](hidden), rtol=1e-5, atol=1e-5)
            residual = branch(inputs_embeds=branch_tokens, use_cache=False).last_hidden_state + branch_tokens
            torch.testing.assert_close(features[-1], projections[-1](residual), rtol=1e-5, atol=1e-5)
    assert len(out.features) == len(net.projections) == N_LAYERS + 1


def test_the_deepest_state_is_what_the_head_sees():
    """Before projection, each branch's deepest state is exactly the head's input (METHOD.md 5)."""
    net = _network().eval()
    head_inputs = _inputs_of(net.head)
    deepest = [_inputs_of(net.projections[-1]), _inputs_of(net.textual_projections[-1])]
    shallower = [_inputs_of(p) for p in list(net.projections[:-1]) + list(net.textual_projections[:-1])]
    x = _windows(n_series=4)
    with torch.no_grad():
        net.forward_train(x)
    assert len(head_inputs) == 2  # temporal branch, then textual branch
    for head_input, state in zip(head_inputs, deepest):
        assert len(state) == 1 and torch.equal(state[0], head_input)
    for state in shallower:
        assert not any(torch.allclose(state[0], head_input, atol=1e-3) for head_input in head_inputs)


class _FixedLanguageModel(nn.Module):
    """Returns the same hidden states whatever its input: only the residual can change."""

    def __init__(self, states):
        super().__init__()
        self.states = states

    def forward(self, inputs_embeds, output_hidden_states, use_cache):
        from types import SimpleNamespace

        return SimpleNamespace(
            last_hidden_state=self.states[-1], hidden_states=self.states if output_hidden_states else None
        )


def test_the_feature_loss_changes_when_only_the_residual_changes():
    """Same language-model states, other tokens: only the deepest state and the feature loss move."""
    from calf_sklearn._torch.branches import run_branch

    generator = torch.Generator().manual_seed(3)
    states = tuple(torch.randn(2, 3, WIDTH, generator=generator) for _ in range(N_LAYERS + 1))
    model = _FixedLanguageModel(states)
    tokens = torch.randn(2, 3, WIDTH, generator=generator)
    other = tokens + torch.randn(2, 3, WIDTH, generator=generator)
    residual, features = run_branch(model, tokens, hidden_states=True)
    other_residual, other_features = run_branch(model, other, hidden_states=True)
    torch.testing.assert_close(residual, states[-1] + tokens)
    assert torch.equal(features[-1], residual) and torch.equal(other_features[-1], other_residual)
    for a, b in zip(features[:-1], other_features[:-1]):
        assert torch.equal(a, b)
    loss = CALFLoss("l1", "l1", "l1", 1.0, 1.0, 0.01)
    reference = [torch.zeros_like(state) for state in states]
    assert float(loss.feature_term(list(features), reference)) != pytest.approx(
        float(loss.feature_term(list(other_features), reference)), rel=1e-3
    )
    assert run_branch(model, tokens, hidden_states=False)[1] is None


def test_the_faithful_reimplementation_agrees_and_would_catch_the_old_deepest_state(monkeypatch):
    """benchmarks/speed_memory.py's start-up check passes, and fails for ln_f(block n) as deepest state."""
    import sys
    from pathlib import Path

    from calf_sklearn._torch import network

    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[1] / "benchmarks"))
    speed_memory = __import__("speed_memory")
    try:
        diffs = speed_memory.check_equivalence()
        assert set(diffs) >= {"outputs", "loss", "gradients", "inference"}

        def old_branch(model, tokens, hidden_states):
            out = model(inputs_embeds=tokens, output_hidden_states=hidden_states, use_cache=False)
            return out.last_hidden_state + tokens, out.hidden_states

        monkeypatch.setattr(network, "run_branch", old_branch)
        with pytest.raises(AssertionError, match="differ in outputs"):
            speed_memory.check_equivalence()
    finally:
        sys.modules.pop("speed_memory", None)
        sys.modules.pop("_faithful", None)


def test_residual_and_shared_head():
    """Each branch forecasts head(LM(tokens) + tokens) with the one shared head, de-normalised."""
    net = _network().eval()
    x = _windows(n_series=3) * 2 + 5
    mean = x.mean(dim=1, keepdim=True)
    std = torch.sqrt(x.var(dim=1, keepdim=True, unbiased=False) + 1e-5)
    with torch.no_grad():
        out = net.forward_train(x)
        tokens = net.encoder(net.input_projection(((x - mean) / std).transpose(1, 2)))
        text_tokens = net.cross_attention(tokens, net.principal_words)
        for branch, branch_tokens, forecast in (
            (net.temporal, tokens, out.forecast),
            (net.textual, text_tokens, out.textual_forecast),
        ):
            hidden = branch(inputs_embeds=branch_tokens, use_cache=False).last_hidden_state + branch_tokens
            expected = net.head(hidden).transpose(1, 2) * std + mean
            torch.testing.assert_close(forecast, expected, rtol=1e-5, atol=1e-5)


def test_normalisation_statistics_are_detached():
    """Gradients w.r.t. the input do not flow through the window mean and std (both detached)."""
    net = _network().eval()
    x = (_windows(n_series=3) * 2 + 5).requires_grad_(True)
    weights = torch.randn(4, PRED_LEN, 3, generator=torch.Generator().manual_seed(2))
    (net(x) * weights).sum().backward()
    reference_x = x.detach().clone().requires_grad_(True)
    mean = reference_x.detach().mean(dim=1, keepdim=True)
    std = torch.sqrt(reference_x.detach().var(dim=1, keepdim=True, unbiased=False) + 1e-5)
    tokens = net.encoder(net.input_projection(((reference_x - mean) / std).transpose(1, 2)))
    hidden = net.temporal(inputs_embeds=tokens, use_cache=False).last_hidden_state + tokens
    forecast = net.head(hidden).transpose(1, 2) * std + mean
    (forecast * weights).sum().backward()
    torch.testing.assert_close(x.grad, reference_x.grad, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("batch,n_tokens,n_words", [(3, 5, 7), (1, 1, 16), (4, 2, 1)])
def test_principal_word_attention_matches_multihead_attention(batch, n_tokens, n_words):
    """PrincipalWordAttention equals nn.MultiheadAttention with the words repeated per window."""
    torch.manual_seed(0)
    attention = PrincipalWordAttention(WIDTH, 4)
    with torch.no_grad():
        attention.in_proj_bias.normal_()
        attention.out_proj.bias.normal_()
    reference = nn.MultiheadAttention(WIDTH, 4, dropout=0.0, batch_first=True)
    reference.load_state_dict(attention.state_dict())
    tokens = torch.randn(batch, n_tokens, WIDTH)
    words = torch.randn(n_words, WIDTH)
    expected, _ = reference(
        tokens, words.expand(batch, -1, -1), words.expand(batch, -1, -1), need_weights=False
    )
    torch.testing.assert_close(attention(tokens, words), expected, rtol=0, atol=1e-5)


def test_principal_word_attention_rejects_bad_heads():
    """A width not divisible by the number of heads is refused."""
    with pytest.raises(ValueError, match="divisible"):
        PrincipalWordAttention(30, 4)


def test_eval_forward_equals_forward_train_forecast():
    """In eval mode the inference path and the training path forecast the same."""
    net = _network().eval()
    x = _windows(n_series=4)
    with torch.no_grad():
        torch.testing.assert_close(net(x), net.forward_train(x).forecast, rtol=0, atol=1e-6)


def test_train_mode_uses_dropout():
    """In train mode two forwards differ (dropouts are active), in eval mode they agree."""
    net = _network()
    x = _windows()
    with torch.no_grad():
        net.train()
        assert not torch.allclose(net(x), net(x))
        net.eval()
        torch.testing.assert_close(net(x), net(x), rtol=0, atol=0)


def test_forecasts_equivariant_to_per_series_scale_and_shift():
    """f(a*x + b) == a*f(x) + b for a positive scale and a shift per series (per-window norm)."""
    net = _network().eval()
    x = _windows(batch=3, n_series=4)
    scale = torch.tensor([0.5, 2.0, 3.0, 1.5])
    shift = torch.tensor([-4.0, 0.0, 7.5, 10.0])
    with torch.no_grad():
        base = net(x)
        moved = net(x * scale + shift)
        train = net.forward_train(x * scale + shift)
        train_base = net.forward_train(x)
    expected = base * scale + shift
    tolerance = 1e-4 * expected.abs().max()
    torch.testing.assert_close(moved, expected, rtol=1e-4, atol=tolerance)
    torch.testing.assert_close(
        train.textual_forecast, train_base.textual_forecast * scale + shift, rtol=1e-4, atol=tolerance
    )
    # A different window-level statistic per batch element is also honoured.
    per_window = torch.tensor([1.0, 4.0, 0.25])[:, None, None]
    with torch.no_grad():
        torch.testing.assert_close(net(x * per_window), base * per_window, rtol=1e-4, atol=tolerance)


def test_causal_mask_across_series():
    """With the bidirectional encoder bypassed, earlier series ignore later ones in both branches.

    Tokens are series and GPT-2's causal mask runs across them, so the
    forecast of series j depends on series <= j only. The encoder is
    replaced by the identity so that only the language models mix series.
    """
    net = _network().eval()
    x = _windows(batch=2, n_series=4)
    changed = x.clone()
    changed[:, :, -1] = torch.randn(2, SEQ_LEN) * 3 + 1
    first_changed = x.clone()
    first_changed[:, :, 0] = torch.randn(2, SEQ_LEN) * 3 + 1
    with torch.no_grad():
        # With the encoder in place, every series sees every other (bidirectional).
        assert not torch.allclose(net(x)[:, :, 0], net(changed)[:, :, 0], atol=1e-4)
        net.encoder = nn.Identity()
        a, b = net.forward_train(x), net.forward_train(changed)
        torch.testing.assert_close(a.forecast[:, :, :-1], b.forecast[:, :, :-1], rtol=0, atol=1e-5)
        torch.testing.assert_close(
            a.textual_forecast[:, :, :-1], b.textual_forecast[:, :, :-1], rtol=0, atol=1e-5
        )
        for fa, fb in zip(a.features + a.textual_features, b.features + b.textual_features):
            torch.testing.assert_close(fa[:, :-1], fb[:, :-1], rtol=0, atol=1e-5)
        # The mask is causal, not block-diagonal: the last series does see the first.
        c = net.forward_train(first_changed)
        assert not torch.allclose(a.forecast[:, :, -1], c.forecast[:, :, -1], atol=1e-4)
        assert not torch.allclose(a.textual_forecast[:, :, -1], c.textual_forecast[:, :, -1], atol=1e-4)


def test_forward_train_skips_parts():
    """textual=False / features=False return None for the parts not computed."""
    net = _network().eval()
    x = _windows()
    with torch.no_grad():
        reference = net.forward_train(x)
        only_forecast = net.forward_train(x, textual=False, features=False)
        no_features = net.forward_train(x, textual=True, features=False)
    assert only_forecast.textual_forecast is None
    assert only_forecast.features is None and only_forecast.textual_features is None
    torch.testing.assert_close(only_forecast.forecast, reference.forecast, rtol=0, atol=1e-6)
    assert no_features.features is None and no_features.textual_features is None
    torch.testing.assert_close(no_features.textual_forecast, reference.textual_forecast, rtol=0, atol=1e-6)


def test_strip_for_inference_keeps_forecasts():
    """strip_for_inference drops training parts, merges LoRA and forecasts as before."""
    net = _network().eval()
    x = _windows(batch=3, n_series=5)
    with torch.no_grad():
        before = net(x)
    net.strip_for_inference()
    for name in ("textual", "cross_attention", "projections", "textual_projections", "principal_words"):
        assert not hasattr(net, name), name
    state = net.state_dict()
    assert not any(
        k.startswith(("textual", "cross_attention", "projections", "principal_words")) for k in state
    )
    assert not any("lora" in k or "base_layer" in k for k in state)
    assert not any(p.requires_grad for p in net.parameters())
    assert not net.has_training_parts
    with torch.no_grad():
        after = net(x)
    torch.testing.assert_close(after, before, rtol=0, atol=1e-5)
    with pytest.raises(RuntimeError):
        net.forward_train(x)
    assert net.projection_parameters() == []


def test_export_round_trip():
    """export then from_export rebuilds a network that forecasts identically."""
    net = _network().eval()
    with pytest.raises(RuntimeError, match="strip_for_inference"):
        net.export()
    net.strip_for_inference()
    x = _windows(batch=3, n_series=5)
    payload = net.export()
    rebuilt = CALFNetwork.from_export(payload)
    assert not rebuilt.training
    assert not any(p.requires_grad for p in rebuilt.parameters())
    assert rebuilt.seq_len == SEQ_LEN and rebuilt.pred_len == PRED_LEN
    assert set(rebuilt.state_dict()) == set(payload["state_dict"])
    assert all(not v.is_meta for v in rebuilt.state_dict().values())
    assert all(VOCAB not in v.shape for v in payload["state_dict"].values())
    with torch.no_grad():
        torch.testing.assert_close(rebuilt(x), net(x), rtol=0, atol=0)
        # Twice: nothing in the rebuilt network is left on the meta device.
        torch.testing.assert_close(rebuilt(x * 2), net(x * 2), rtol=0, atol=0)


def test_gradients_reach_trainable_and_not_frozen():
    """A backward of the full loss reaches LoRA, temporal LayerNorms, both wpe; frozen tensors get none."""
    net = _network()
    x = _windows(batch=4, n_series=3)
    y = torch.randn(4, PRED_LEN, 3)
    loss = CALFLoss("l1", "smooth_l1", "mse", 1.0, 1.0, 0.01)
    total, _ = loss(net.forward_train(x), y)
    total.backward()
    named = dict(net.named_parameters(remove_duplicate=False))
    for name, parameter in named.items():
        if parameter.requires_grad:
            assert parameter.grad is not None and parameter.grad.abs().sum() > 0, name
        else:
            assert parameter.grad is None, name
    checked = {_canonical(n) for n in named if named[n].requires_grad}
    assert "temporal.h.0.attn.c_attn.lora_A.weight" in checked
    assert "temporal.h.1.ln_2.bias" in checked and "temporal.ln_f.weight" in checked
    assert "textual.wpe.weight" in checked
    assert net.principal_words.grad is None


def test_gradient_flows_through_both_branches_to_shared_parts():
    """The output-consistency term alone trains the textual wpe and cross-attention (no stop-gradient)."""
    net = _network()
    out = net.forward_train(_windows(), features=False)
    total, _ = CALFLoss("l1", "l1", "l1", 0.0, 1.0, 0.0)(out, None)
    total.backward()
    assert net.textual.wpe.weight.grad.abs().sum() > 0
    assert net.cross_attention.in_proj_weight.grad.abs().sum() > 0
    assert net.temporal.wpe.weight.grad.abs().sum() > 0
    assert all(p.grad is None for p in net.projections.parameters())
