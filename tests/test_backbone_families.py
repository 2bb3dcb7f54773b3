"""CALF on every supported decoder family, on tiny random configurations (METHOD.md section 14).

Each family is checked for what it must share with GPT-2's CALF: the trained
set (LoRA on the attention projections, the norms, learned positions), the
feature states, the principal words taken from the input embedding, and the
estimator's whole life (fit, forecast, intervals, save and load, a
``save_pretrained`` folder loaded with ``pretrained=True``).
"""

import logging
import pickle
import re
import tracemalloc
import warnings

import numpy as np
import pytest
import torch
from conftest import LoggedWarnings, make_series, tiny
from transformers import AutoConfig, AutoModelForCausalLM, BertConfig, OPTConfig

from calf_sklearn import CALFForecaster
from calf_sklearn.backbone import backbone_config, backbone_family, load_backbone, supported_families
from calf_sklearn.network import CALFNetwork
from calf_sklearn.persistence import load_forecaster, save_forecaster
from calf_sklearn.vocabulary import cached_principal_word_embeddings, principal_word_embeddings

_DECODER = {
    "hidden_size": 32,
    "num_hidden_layers": 3,
    "num_attention_heads": 4,
    "intermediate_size": 64,
    "vocab_size": 128,
    "max_position_embeddings": 64,
}
# One tiny random configuration per family, with the family's own quirks where it has them.
TINY = {
    "gpt2": {
        "model_type": "gpt2",
        "n_embd": 32,
        "n_layer": 3,
        "n_head": 4,
        "vocab_size": 128,
        "n_positions": 64,
    },
    "llama": {"model_type": "llama", **_DECODER, "num_key_value_heads": 2},
    "qwen2": {"model_type": "qwen2", **_DECODER, "num_key_value_heads": 2},
    "mistral": {"model_type": "mistral", **_DECODER, "num_key_value_heads": 2, "sliding_window": 8},
    "gpt_neox": {"model_type": "gpt_neox", **_DECODER, "use_parallel_residual": True},
    "phi": {"model_type": "phi", **_DECODER},
}
FAMILIES = sorted(TINY)
# The attention's query, key and value projections, as each family names them (GPT-2's c_attn is all three).
QKV = {
    "gpt2": {"c_attn"},
    "llama": {"q_proj", "k_proj", "v_proj"},
    "qwen2": {"q_proj", "k_proj", "v_proj"},
    "mistral": {"q_proj", "k_proj", "v_proj"},
    "gpt_neox": {"query_key_value"},
    "phi": {"q_proj", "k_proj", "v_proj"},
}


def _params(model_type, **overrides):
    return tiny(llm=dict(TINY[model_type]), n_principal_words=8, max_epochs=1, **overrides)


def _network(model_type, n_layers=2, lora_r=4, seed=0):
    torch.manual_seed(seed)
    backbone = load_backbone(dict(TINY[model_type]), pretrained=False, n_layers=n_layers)
    return CALFNetwork(
        backbone, seq_len=24, pred_len=8, principal_words=torch.randn(6, 32), lora_r=lora_r, lora_alpha=8
    )


def test_the_issue_families_are_supported():
    """GPT-2, Llama, Qwen2, Mistral, GPT-NeoX and Phi, GPT-2 first (the default)."""
    assert next(iter(supported_families())) == "gpt2"
    assert set(supported_families()) == set(TINY)
    for model_type, fields in TINY.items():
        assert backbone_family(backbone_config(dict(fields))).model_type == model_type


@pytest.mark.parametrize(
    "llm",
    [
        {"model_type": "bert", "hidden_size": 32},
        BertConfig(hidden_size=32, num_hidden_layers=1, num_attention_heads=4, intermediate_size=64),
        OPTConfig(hidden_size=32, num_hidden_layers=1, num_attention_heads=4, ffn_dim=64),
    ],
    ids=["bert-dict", "bert-config", "opt-config"],
)
def test_unsupported_family_fails_at_once_listing_the_supported(llm, series, monkeypatch):
    """fit refuses another family before building anything, and names every supported one."""
    from transformers import AutoModel

    def no_build(*args, **kwargs):
        raise AssertionError("a model was built for an unsupported family")

    monkeypatch.setattr(AutoModel, "from_config", no_build)
    with pytest.raises(ValueError, match="does not support") as info:
        CALFForecaster(**tiny(llm=llm)).fit(series)
    for model_type in supported_families():
        assert model_type in str(info.value)


def test_a_published_config_json_is_accepted_as_a_dict():
    """Keys a published config.json carries and the class interprets (rope_theta, torch_dtype) are not typos."""
    fields = {
        **TINY["qwen2"],
        "rope_theta": 1000000.0,
        "torch_dtype": "bfloat16",
        "architectures": ["Qwen2ForCausalLM"],
        "use_sliding_window": False,
    }
    config = backbone_config(fields)
    assert config.rope_parameters["rope_theta"] == 1000000.0
    neox = backbone_config({**TINY["gpt_neox"], "rotary_pct": 0.25, "rotary_emb_base": 10000})
    assert neox.rope_parameters["partial_rotary_factor"] == 0.25
    with pytest.raises(ValueError, match="'rope_thetta', which is not a Qwen2Config field"):
        backbone_config({**TINY["qwen2"], "rope_thetta": 1.0})


def test_random_weights_ignore_the_dtype_a_configuration_records():
    """A configuration saved in bfloat16 draws the same float32 weights as one without a dtype."""
    torch.manual_seed(0)
    plain = load_backbone(dict(TINY["llama"]), pretrained=False, n_layers=2)
    torch.manual_seed(0)
    recorded = load_backbone({**TINY["llama"], "torch_dtype": "bfloat16"}, pretrained=False, n_layers=2)
    for (name, a), (_, b) in zip(plain.state_dict().items(), recorded.state_dict().items()):
        assert b.dtype == torch.float32
        torch.testing.assert_close(a, b, rtol=0, atol=0, msg=name)


def test_key_value_heads_must_divide_the_heads(series):
    """Qwen2Config's default of 32 key-value heads under 4 attention heads is refused before building."""
    llm = {k: v for k, v in TINY["qwen2"].items() if k != "num_key_value_heads"}
    with pytest.raises(ValueError, match="4 attention heads are not a multiple of its 32 key-value heads"):
        CALFForecaster(**tiny(llm=llm)).fit(series)


def test_a_dict_key_of_another_family_is_refused():
    """A GPT-2 field in a Llama dict is a typo of the family's own names, and said so."""
    with pytest.raises(ValueError, match="'n_embd', which is not a LlamaConfig field.*hidden_size"):
        backbone_config({"model_type": "llama", "n_embd": 32})


@pytest.mark.parametrize("model_type", FAMILIES)
def test_trained_set_mirrors_gpt2_calf(model_type):
    """LoRA sits on the attention projections only; the norms and learned positions train; nothing else."""
    network = _network(model_type)
    family = backbone_family(model_type)
    adapted = {
        name.rsplit(".", 1)[-1]
        for name, module in network.temporal.named_modules()
        if hasattr(module, "lora_A")
    }
    assert adapted == set(family.lora_targets) == QKV[model_type]
    n_adapted = sum(hasattr(module, "lora_A") for module in network.temporal.modules())
    assert n_adapted == 2 * len(family.lora_targets)  # every kept layer, each target once
    assert not any(hasattr(module, "lora_A") for module in network.textual.modules())
    norms = {
        f"{name}.{p}"
        for name, module in network.temporal.named_modules()
        if "Norm" in type(module).__name__
        for p, _ in module.named_parameters(recurse=False)
    }
    assert norms, "every family has norms"
    trainable = {name for name, p in network.temporal.named_parameters() if p.requires_grad}
    positions = {name for name, _ in network.temporal.named_parameters() if family.is_position(name)}
    lora = {name for name in trainable if "lora_" in name}
    assert lora and trainable == lora | norms | positions
    textual = {name for name, p in network.textual.named_parameters() if p.requires_grad}
    assert textual == {name for name, _ in network.textual.named_parameters() if family.is_position(name)}
    assert bool(textual) == (model_type == "gpt2")  # rotary positions have no weights
    # The frozen tensors are one copy, shared by the branches.
    temporal = dict(network.temporal.named_parameters())
    for name, parameter in network.textual.named_parameters():
        base = name.replace(".weight", ".base_layer.weight").replace(".bias", ".base_layer.bias")
        shared = temporal.get(name, temporal.get(base))
        assert (shared is parameter) == (not family.is_own(name)), name
    assert family.input_embeddings(network.temporal) is None  # the vocabulary is gone


@pytest.mark.parametrize("model_type", FAMILIES)
def test_feature_states_are_layer_outputs_and_the_residual(model_type):
    """n + 1 states: the embedding output, the outputs of layers 1 .. n-1, then final_norm(layer n) + tokens."""
    from calf_sklearn._torch.branches import run_branch

    network = _network(model_type, n_layers=3, lora_r=0).eval()
    family = backbone_family(model_type)
    model = network.temporal
    outputs = []
    hooks = [
        layer.register_forward_hook(
            lambda m, args, out: outputs.append(out[0] if isinstance(out, tuple) else out)
        )
        for layer in family.layers(model)
    ]
    tokens = torch.randn(2, 5, 32)
    with torch.no_grad():
        residual, states = run_branch(model, tokens, hidden_states=True)
    for hook in hooks:
        hook.remove()
    assert len(states) == 3 + 1 and states[-1] is residual
    for k in (1, 2):
        torch.testing.assert_close(states[k], outputs[k - 1])
    final_norm = getattr(model, family.final_norm)
    torch.testing.assert_close(residual, final_norm(outputs[-1]) + tokens)
    out = network.forward_train(torch.randn(2, 24, 3))
    assert len(out.features) == len(out.textual_features) == 4


@pytest.mark.parametrize("model_type", FAMILIES)
def test_family_fit_forecast_intervals_save_load(model_type, tmp_path):
    """The estimator's whole life on each family; saved and pickled models forecast identically."""
    X = make_series(n_rows=160)
    model = CALFForecaster(**_params(model_type)).fit(X)
    forecast = model.predict()
    assert forecast.shape == (8, 3) and np.all(np.isfinite(forecast))
    point, (lower, upper) = model.predict_with_interval(coverage=0.8)
    assert np.array_equal(point, forecast) and np.all(lower <= point) and np.all(point <= upper)
    assert model.get_params()["llm"]["model_type"] == model_type
    save_forecaster(model, tmp_path / "model.safetensors")
    loaded = load_forecaster(tmp_path / "model.safetensors")
    assert np.array_equal(loaded.predict(), forecast)
    assert loaded.get_params()["llm"] == model.get_params()["llm"]
    assert np.array_equal(pickle.loads(pickle.dumps(model)).predict(), forecast)


def test_a_config_object_of_another_family_round_trips(tmp_path):
    """llm given as a Qwen2Config is saved and rebuilt as one, with no network."""
    fields = dict(TINY["qwen2"])
    config = AutoConfig.for_model(fields.pop("model_type"), **fields)
    model = CALFForecaster(**tiny(llm=config, n_principal_words=8, max_epochs=1)).fit(make_series(n_rows=160))
    save_forecaster(model, tmp_path / "qwen.safetensors")
    loaded = load_forecaster(tmp_path / "qwen.safetensors")
    assert type(loaded.llm).__name__ == "Qwen2Config" and loaded.llm.to_dict() == config.to_dict()
    # GPT-2's configurations keep the key files had before other families, which older code reads.
    assert b"llm_config" in (tmp_path / "qwen.safetensors").read_bytes()[:100_000]
    gpt2 = CALFForecaster(**tiny(llm=backbone_config(TINY["gpt2"]), n_principal_words=8, max_epochs=1))
    save_forecaster(gpt2.fit(make_series(n_rows=160)), tmp_path / "gpt2.safetensors")
    header = (tmp_path / "gpt2.safetensors").read_bytes()[:100_000]
    assert b"gpt2_config" in header and b"llm_config" not in header
    assert np.array_equal(loaded.predict(), model.predict())


def _save_causal_lm(model_type, folder, seed=0):
    """A tiny causal language model of the family, saved as a hub checkpoint is (with its head)."""
    fields = dict(TINY[model_type])
    config = backbone_config(fields)
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(config)
    model.save_pretrained(folder)
    return model


@pytest.mark.parametrize("model_type", FAMILIES)
def test_pretrained_folder_loads_the_kept_layers_quietly(model_type, tmp_path, caplog):
    """A save_pretrained folder of a causal LM: the kept layers' weights, the embeddings' principal words, no report."""
    from calf_sklearn._torch.calf_model import build_calf_network

    saved = _save_causal_lm(model_type, tmp_path / "lm")
    base = saved.base_model
    family = backbone_family(model_type)
    handler = LoggedWarnings()
    logging.getLogger("transformers").addHandler(handler)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            network = build_calf_network(
                str(tmp_path / "lm"),
                pretrained=True,
                n_layers=2,
                revision=None,
                local_files_only=True,
                n_principal_words=8,
                cache_dir=tmp_path / "cache",
                seq_len=24,
                pred_len=8,
                lora_r=4,
                lora_alpha=8,
                lora_dropout=0.0,
            )
    finally:
        logging.getLogger("transformers").removeHandler(handler)
    assert not [r for r in handler.records if "LOAD REPORT" in r.getMessage()]
    assert len(family.layers(network.textual)) == 2 and network.textual.config.num_hidden_layers == 2
    expected = {
        name: tensor for name, tensor in base.state_dict().items() if not name.startswith(family.embeddings)
    }
    compared = 0
    for name, tensor in network.textual.state_dict().items():
        torch.testing.assert_close(tensor, expected[name], rtol=0, atol=0, msg=name)
        compared += 1
    layer_2 = f"{family.blocks}.2."
    assert compared == len([name for name in expected if not name.startswith(layer_2)])
    words = principal_word_embeddings(family.input_embeddings(base).weight.detach().numpy(), 8)
    np.testing.assert_allclose(network.principal_words.numpy(), words, rtol=1e-5, atol=1e-5)


def test_only_the_kept_layers_are_read(tmp_path, monkeypatch):
    """The loader builds and fills the kept layers alone; nothing is cut afterwards."""
    from calf_sklearn.backbone import BackboneFamily

    _save_causal_lm("llama", tmp_path / "lm")
    monkeypatch.setattr(BackboneFamily, "keep_layers", lambda self, model, n_layers: model)
    model = load_backbone(str(tmp_path / "lm"), pretrained=True, n_layers=2)
    assert len(model.layers) == 2 and model.config.num_hidden_layers == 2


@pytest.mark.parametrize("model_type", ["llama", "gpt_neox"])
def test_pretrained_forecaster_from_folder(model_type, tmp_path):
    """pretrained=True with a folder fits, and the saved forecaster needs neither the folder nor the hub."""
    _save_causal_lm(model_type, tmp_path / "lm")
    params = tiny(llm=str(tmp_path / "lm"), pretrained=True, n_principal_words=8, max_epochs=1)
    model = CALFForecaster(**params).fit(make_series(n_rows=160))
    save_forecaster(model, tmp_path / "model.safetensors")
    (tmp_path / "lm" / "config.json").unlink()  # the folder is gone: the saved model must not need it
    assert np.array_equal(load_forecaster(tmp_path / "model.safetensors").predict(), model.predict())


def test_checkpoint_missing_weights_warns(tmp_path):
    """Weights of a kept layer missing from the checkpoint are reported, not silently random."""
    saved = _save_causal_lm("llama", tmp_path / "full")
    state = {k: v for k, v in saved.state_dict().items() if "layers.1.mlp" not in k}
    saved.save_pretrained(tmp_path / "partial", state_dict=state)
    with pytest.warns(RuntimeWarning, match=r"lacks 3 weights of the kept layers .*layers\.1\.mlp"):
        load_backbone(str(tmp_path / "partial"), pretrained=True, n_layers=2)


def test_principal_words_of_a_large_vocabulary_need_no_copy_of_it(tmp_path):
    """150,000 words: the cache's working memory is blocks and a width x width Gram, never the matrix again."""
    weight = np.random.default_rng(0).standard_normal((150_000, 64), dtype=np.float32)
    matrix_bytes = weight.nbytes  # 38 MB
    tracemalloc.start()
    try:
        cached_principal_word_embeddings(weight, 16, tmp_path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < matrix_bytes / 4, f"peak {peak / 1e6:.1f} MB for a {matrix_bytes / 1e6:.1f} MB matrix"


@pytest.mark.filterwarnings("ignore::calf_sklearn.precision.ReducedPrecisionWarning")  # slow on AVX2, says so
@pytest.mark.parametrize("model_type", ["llama", "phi"])
def test_rotary_family_trains_in_bfloat16(model_type):
    """Reduced precision holds the frozen matrices of any family in bfloat16; forecasts stay near float32's."""
    X = make_series(n_rows=160)
    reference = CALFForecaster(**_params(model_type)).fit(X).predict()
    model = CALFForecaster(**_params(model_type, precision="bfloat16")).fit(X)
    forecast = model.predict()
    assert np.all(np.isfinite(forecast)) and not np.array_equal(forecast, reference)
    np.testing.assert_allclose(forecast, reference, atol=0.2)


def test_a_saved_file_naming_another_family_is_refused(tmp_path):
    """A file whose configuration names an unsupported model_type builds nothing from it."""
    path = tmp_path / "model.safetensors"
    save_forecaster(CALFForecaster(**_params("gpt2")).fit(make_series(n_rows=160)), path)
    data, count = re.subn(rb'(model_type\\*"\s*:\s*\\*")gpt2', rb"\1bert", path.read_bytes())
    assert count >= 1
    path.write_bytes(data)  # same length: the header's offsets hold
    with pytest.raises(ValueError, match="'bert' model, which CALF does not support"):
        load_forecaster(path)
