"""Tests of finding and building the GPT-2 backbone, offline (METHOD.md section 5)."""

import ipaddress
import logging
import socket
import time
import warnings

import numpy as np
import pytest
import torch
from conftest import TINY_GPT2, LoggedWarnings, forget_logged_once
from transformers import AutoConfig, AutoModel, BertConfig, GPT2Config, GPT2Model

from calf_sklearn import CALFForecaster
from calf_sklearn.backbone import BackboneUnavailableError, backbone_config, gpt2_config, load_backbone

MISSING = "some-org/not-cached-model"


@pytest.fixture
def saved_gpt2(tmp_path):
    """A tiny random GPT-2 saved with save_pretrained, and its state_dict."""
    torch.manual_seed(0)
    model = GPT2Model(GPT2Config(**TINY_GPT2))
    folder = tmp_path / "tiny-gpt2"
    model.save_pretrained(folder)
    return folder, {k: v.clone() for k, v in model.state_dict().items()}


@pytest.fixture
def connections(monkeypatch):
    """Record every socket connection and name lookup; refuse any that is not loopback.

    huggingface_hub (2.x) fetches an "agent harness" registry from its
    import-time endpoint once per process when building request headers, even
    for local_files_only lookups. That is the hub client's own telemetry, not
    this package's doing, so it is pre-filled here (empty) to keep the record
    about what the package does; the guard still refuses it if it happens.
    """
    try:
        from huggingface_hub.utils import _detect_agent
    except ImportError:  # other hub versions: nothing to neutralise
        pass
    else:
        monkeypatch.setattr(
            _detect_agent, "_registry", {"standardEnvVars": [], "harnesses": {}}, raising=False
        )
    attempts = []
    original_connect = socket.socket.connect
    original_connect_ex = socket.socket.connect_ex
    original_getaddrinfo = socket.getaddrinfo

    def is_loopback(host):
        try:
            return ipaddress.ip_address(host).is_loopback
        except ValueError:
            return host == "localhost"

    def check(address):
        attempts.append(address)
        if isinstance(address, tuple) and not is_loopback(address[0]):
            raise OSError(f"test refused a network connection to {address!r}")

    def connect(self, address):
        check(address)
        return original_connect(self, address)

    def connect_ex(self, address):
        check(address)
        return original_connect_ex(self, address)

    def getaddrinfo(host, *args, **kwargs):
        if host is not None and not is_loopback(host if isinstance(host, str) else host.decode()):
            attempts.append((host, "lookup"))
            raise socket.gaierror(f"test refused a name lookup of {host!r}")
        return original_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return attempts


def _assert_remedies(message):
    assert MISSING in message
    assert "local folder" in message
    assert "cache" in message.lower() and "local_files_only" in message
    assert "GPT2Config" in message and "pretrained=False" in message


def test_load_local_folder_keeps_first_blocks(saved_gpt2):
    """A save_pretrained folder loads offline; the kept block and embeddings equal the saved ones."""
    folder, saved = saved_gpt2
    model = load_backbone(str(folder), pretrained=True, n_layers=1)
    assert isinstance(model, GPT2Model)
    assert len(model.h) == 1 and model.config.n_layer == 1
    state = model.state_dict()
    assert not any(k.startswith("h.1.") for k in state)
    compared = 0
    for key, value in state.items():
        assert value.dtype == torch.float32
        torch.testing.assert_close(value, saved[key], rtol=0, atol=0)
        compared += 1
    assert compared >= 14  # wte, wpe, ln_f and the block's 12 tensors
    assert model.wte is not None  # the caller drops it after computing the principal words
    assert model.config._attn_implementation == "sdpa"


def test_load_local_path_object(saved_gpt2):
    """A pathlib.Path works like its string and keeps both blocks when asked."""
    folder, saved = saved_gpt2
    model = load_backbone(folder, pretrained=True, n_layers=2)
    assert len(model.h) == 2
    torch.testing.assert_close(model.h[1].mlp.c_fc.weight, saved["h.1.mlp.c_fc.weight"], rtol=0, atol=0)


def test_random_backbone_follows_torch_seed():
    """pretrained=False initialises from the config with the current torch seed."""
    torch.manual_seed(3)
    a = load_backbone(dict(TINY_GPT2), pretrained=False, n_layers=1)
    torch.manual_seed(3)
    b = load_backbone(GPT2Config(**TINY_GPT2), pretrained=False, n_layers=1)
    assert len(a.h) == 1 and a.config.n_layer == 1
    for (name, x), (_, y) in zip(a.state_dict().items(), b.state_dict().items()):
        torch.testing.assert_close(x, y, rtol=0, atol=0, msg=name)


def test_backbone_config_from_dict_and_config():
    """backbone_config accepts a dict or a GPT2Config and returns an independent copy."""
    fields = dict(TINY_GPT2)
    from_dict = backbone_config(fields)
    assert isinstance(from_dict, GPT2Config)
    assert (from_dict.n_embd, from_dict.n_layer, from_dict.n_head) == (32, 2, 4)
    from_dict.n_layer = 7
    assert fields == TINY_GPT2

    original = GPT2Config(**TINY_GPT2)
    copy = backbone_config(original)
    assert isinstance(copy, GPT2Config) and copy is not original
    assert copy.to_dict() == original.to_dict()
    copy.n_layer = 9
    copy.n_embd = 64
    assert original.n_layer == 2 and original.n_embd == 32


@pytest.fixture
def transformers_warnings():
    """Messages of the warnings transformers logs (it logs, not warns, each once per process)."""
    handler = LoggedWarnings()
    logger = logging.getLogger("transformers")
    forget_logged_once()
    logger.addHandler(handler)
    yield handler.records
    logger.removeHandler(handler)


def test_special_token_ids_outside_a_small_vocabulary_are_dropped(transformers_warnings):
    """GPT-2's bos/eos id 50256 means nothing to CALF; in a 300-word vocabulary it becomes None, silently."""
    fields = {"n_embd": 32, "n_layer": 2, "n_head": 4, "vocab_size": 300}
    config = backbone_config(fields)
    assert (config.bos_token_id, config.eos_token_id, config.vocab_size) == (None, None, 300)
    assert fields == {"n_embd": 32, "n_layer": 2, "n_head": 4, "vocab_size": 300}  # not mutated
    assert gpt2_config({**fields, "bos_token_id": 7}).bos_token_id == 7  # inside the vocabulary: kept
    assert gpt2_config({**fields, "pad_token_id": 300}).pad_token_id is None
    assert gpt2_config({}).eos_token_id == 50256  # GPT-2's own vocabulary keeps its ids
    load_backbone(fields, pretrained=False, n_layers=1)
    assert [r.getMessage() for r in transformers_warnings] == []


def test_a_small_random_configuration_fits_without_token_id_warnings(transformers_warnings):
    """The README's kind of configuration: fit and predict log nothing."""
    t = np.arange(200)
    X = np.column_stack([np.sin(t / 7), np.cos(t / 11)])
    tiny = {"n_embd": 16, "n_layer": 1, "n_head": 2, "vocab_size": 300}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = CALFForecaster(
            pred_len=8, seq_len=24, llm=tiny, pretrained=False, n_layers=1, n_principal_words=4, max_epochs=1
        ).fit(X)
        model.predict()
    assert [r.getMessage() for r in transformers_warnings] == []
    # A GPT2Config the user built keeps its fields; only the meaningless ids are dropped.
    assert backbone_config(GPT2Config(**tiny)).to_dict() == {
        **GPT2Config(**tiny).to_dict(),
        "bos_token_id": None,
        "eos_token_id": None,
    }


def test_backbone_config_from_folder(saved_gpt2):
    """A local folder gives its saved configuration."""
    folder, _ = saved_gpt2
    config = backbone_config(str(folder))
    assert isinstance(config, GPT2Config) and config.n_layer == 2 and config.n_embd == 32


def _tiny_bert():
    return BertConfig(
        hidden_size=32, num_hidden_layers=1, num_attention_heads=4, intermediate_size=64, vocab_size=50
    )


def test_non_gpt2_config_rejected():
    """A BERT configuration is refused with a message that lists the supported families."""
    with pytest.raises(ValueError, match="'bert' model, which CALF does not support.*gpt2 .*llama"):
        backbone_config(_tiny_bert())
    with pytest.raises(ValueError, match="'bert' model, which CALF does not support"):
        load_backbone(_tiny_bert(), pretrained=False, n_layers=1)


def test_non_gpt2_folder_rejected(tmp_path):
    """A local folder holding a BERT configuration is refused too."""
    _tiny_bert().save_pretrained(tmp_path)
    with pytest.raises(ValueError, match="'bert' model, which CALF does not support"):
        backbone_config(str(tmp_path))


def test_too_many_layers(saved_gpt2):
    """n_layers above the backbone's depth is refused, pretrained or not."""
    folder, _ = saved_gpt2
    with pytest.raises(ValueError, match="n_layers"):
        load_backbone(str(folder), pretrained=True, n_layers=3)
    with pytest.raises(ValueError, match="n_layers"):
        load_backbone(dict(TINY_GPT2), pretrained=False, n_layers=3)


def test_offline_missing_model_fails_fast(connections):
    """With HF_HUB_OFFLINE=1 a model not in the cache raises BackboneUnavailableError at once, naming remedies."""
    started = time.perf_counter()
    with pytest.raises(BackboneUnavailableError) as info:
        load_backbone(MISSING, pretrained=True, n_layers=1)
    assert time.perf_counter() - started < 10
    assert isinstance(info.value, OSError)
    _assert_remedies(str(info.value))
    assert connections == []  # offline means no connection at all
    with pytest.raises(BackboneUnavailableError):
        backbone_config(MISSING)


@pytest.fixture
def online_env(monkeypatch):
    """Hub use allowed, but the hub endpoint is a loopback port where nothing listens."""
    for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        monkeypatch.delenv(name, raising=False)
    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")


def test_unreachable_hub_probe_fails_fast(online_env, connections):
    """When the hub cannot be reached the quick probe raises BackboneUnavailableError, loopback only."""
    started = time.perf_counter()
    with pytest.raises(BackboneUnavailableError) as info:
        load_backbone(MISSING, pretrained=True, n_layers=1)
    assert time.perf_counter() - started < 10
    _assert_remedies(str(info.value))
    assert ("127.0.0.1", 9) in connections  # the probe was made, to the configured endpoint
    assert all(isinstance(a, tuple) and a[0] == "127.0.0.1" for a in connections)


def test_local_files_only_never_connects(online_env, connections):
    """local_files_only=True fails without touching the network even when the hub is allowed."""
    with pytest.raises(BackboneUnavailableError) as info:
        load_backbone(MISSING, pretrained=True, n_layers=1, local_files_only=True)
    _assert_remedies(str(info.value))
    assert connections == []


def test_local_folder_needs_no_network(saved_gpt2, online_env, connections):
    """A local folder loads with the hub allowed but unreachable, and makes no connection."""
    folder, _ = saved_gpt2
    model = load_backbone(str(folder), pretrained=True, n_layers=1)
    assert len(model.h) == 1
    assert connections == []


def test_cached_config_without_weights_fails_fast(online_env, connections, monkeypatch):
    """A config in the cache but weights missing: one probe, then the error, never the retry loop."""
    calls = []

    def cached_config(name, **kwargs):
        return GPT2Config(**TINY_GPT2)

    def missing_weights(name, **kwargs):
        calls.append(kwargs.get("local_files_only", False))
        raise OSError("weights not in the cache")

    monkeypatch.setattr(AutoConfig, "from_pretrained", cached_config)
    monkeypatch.setattr(AutoModel, "from_pretrained", missing_weights)
    with pytest.raises(BackboneUnavailableError) as info:
        load_backbone(MISSING, pretrained=True, n_layers=1)
    _assert_remedies(str(info.value))
    assert calls == [True]  # only the cache was asked; the hub client was never let loose
    assert ("127.0.0.1", 9) in connections
