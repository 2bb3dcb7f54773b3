"""Finding and building the language-model backbone, of any supported family (torch and transformers only).

The public face of this module is :mod:`calf_sklearn.backbone`; its documentation is there.
"""

from __future__ import annotations

import functools
import logging
import os
import socket
import warnings
from pathlib import Path
from urllib.parse import urlparse

from .._utils import checks
from .families import backbone_family, truncated_config

__all__ = [
    "BackboneUnavailableError",
    "backbone_config",
    "gpt2_config",
    "llm_config",
    "load_backbone",
]

_OFFLINE_VALUES = {"1", "on", "yes", "true"}


class BackboneUnavailableError(OSError):
    """The backbone's weights cannot be found locally and the hub is out of reach.

    Examples
    --------
    >>> issubclass(BackboneUnavailableError, OSError)
    True
    """


def _is_config(llm):
    from transformers import PretrainedConfig

    return isinstance(llm, (dict, PretrainedConfig))


def _hub_offline():
    return any(
        os.environ.get(name, "").strip().lower() in _OFFLINE_VALUES
        for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
    )


def _hub_reachable(timeout=3.0):
    """One quick TCP connection to the hub, instead of the hub client's retries."""
    if any(os.environ.get(name) for name in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy")):
        return True  # behind a proxy a direct probe proves nothing: let the client try
    from huggingface_hub import constants

    endpoint = urlparse(os.environ.get("HF_ENDPOINT") or constants.ENDPOINT)
    port = endpoint.port or (443 if endpoint.scheme == "https" else 80)
    try:
        with socket.create_connection((endpoint.hostname, port), timeout=timeout):
            return True
    except OSError:
        return False


def _unavailable(llm, revision, reason):
    where = f"{llm!r}" + (f" at revision {revision!r}" if revision else "")
    return BackboneUnavailableError(
        f"Cannot load the language model {where}: {reason}. Remedies: pass the path "
        "of a local folder saved with `save_pretrained` as llm=...; or download the "
        "model once where the hub is reachable so it is in the Hugging Face cache "
        "(HF_HOME) and fit with local_files_only=True; or use a randomly initialised "
        "backbone with llm=GPT2Config(...) (or another family's configuration, or a dict "
        "of its fields with model_type) and pretrained=False."
    )


def _family(config, llm):
    """The family of ``config``, or the error that names ``llm`` and lists the supported ones."""
    try:
        return backbone_family(config)
    except ValueError as error:
        raise ValueError(f"llm={llm!r}: {error}") from None


def _from_pretrained(loader, llm, revision, local_files_only, **kwargs):
    """``loader.from_pretrained`` that fails fast instead of retrying offline.

    A local folder is read directly. A hub id is looked up in the local
    cache first; only when it is missing there, offline use was not asked for
    and one quick probe reaches the hub, is it downloaded.
    """
    name = os.fspath(llm)
    if not Path(name).is_dir():
        try:
            return loader.from_pretrained(name, revision=revision, local_files_only=True, **kwargs)
        except OSError:
            if local_files_only or _hub_offline():
                reason = "it is not in the local cache and offline use was asked for"
                raise _unavailable(llm, revision, reason) from None
            if not _hub_reachable():
                reason = "it is not in the local cache and the hub cannot be reached"
                raise _unavailable(llm, revision, reason) from None
    try:
        return loader.from_pretrained(name, revision=revision, **kwargs)
    except OSError as error:
        raise _unavailable(llm, revision, str(error).splitlines()[0]) from error


def _check_config_keys(fields, config):
    """Refuse keys the configuration does not know: a configuration would keep a typo silently.

    A key is known when it is a field of the class, an alias of one, or a key
    the class interprets on the way in (published ``config.json`` files carry
    ``rope_theta``, ``rope_scaling``, ``torch_dtype``, ...: they become other
    fields). An unknown key is one the class merely stores as it came.
    """
    config_class = type(config)
    known = set(_default_fields(config_class)) | set(config_class.attribute_map)
    known |= set(fields) - set(config.to_dict())
    common = config_class.attribute_map or {}
    names = ", ".join(
        common.get(name, name)
        for name in ("hidden_size", "num_hidden_layers", "num_attention_heads", "max_position_embeddings")
    )
    for key in fields:
        if key not in known:
            raise ValueError(
                f"llm has the key {key!r}, which is not a {config_class.__name__} field."
                f"{checks.suggest(key, sorted(known))} Common fields: {names}, vocab_size."
            )


class _DropLoadReport(logging.Filter):
    """Hold back transformers' load report when it lists only left-over and missing weights.

    The weights of the dropped layers and of a language-model head are
    expected to be left over (UNEXPECTED), and :func:`_load_kept_layers`
    reports missing ones itself. A report of mismatched shapes or failed
    conversions is let through: transformers raises after it and points at it.
    """

    def filter(self, record):
        message = str(record.msg)
        return "LOAD REPORT" not in message or "MISMATCH" in message or "CONVERSION" in message


def _load_kept_layers(llm, revision, local_files_only, config):
    """The base model of ``config`` with the checkpoint's weights, reading only the kept layers."""
    import torch
    from transformers import AutoModel

    report_filter = _DropLoadReport()
    loader_log = logging.getLogger("transformers.modeling_utils")
    loader_log.addFilter(report_filter)
    try:
        model, info = _from_pretrained(
            AutoModel,
            llm,
            revision,
            local_files_only,
            config=config,
            dtype=torch.float32,
            attn_implementation="sdpa",
            output_loading_info=True,
        )
    finally:
        loader_log.removeFilter(report_filter)
    missing = sorted(info.get("missing_keys") or ())
    if missing:
        shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
        warnings.warn(
            f"The checkpoint of llm={llm!r} lacks {len(missing)} weights of the kept layers "
            f"({shown}); they are randomly initialised. Check that the folder or hub id holds "
            "the whole model.",
            RuntimeWarning,
            stacklevel=3,
        )
    return model


def _config_class(model_type):
    from transformers import CONFIG_MAPPING

    backbone_family(model_type)  # an unsupported family fails here, with the list
    return CONFIG_MAPPING[model_type]


def llm_config(fields):
    """A language model's configuration from a dict of its fields, without token ids it cannot hold.

    ``model_type`` (default ``"gpt2"``) names the family; every other key is
    a field of that family's configuration class. Token ids mean nothing to
    CALF, whose inputs are embeddings, never token ids; in a smaller
    vocabulary transformers would warn about them at every fit. Any
    ``*_token_id`` outside the vocabulary is therefore set to ``None``;
    every other field is kept as given.

    Parameters
    ----------
    fields : dict
        Configuration fields, for example ``GPT2Config(...).to_dict()``, or
        ``{"model_type": "llama", "hidden_size": 64, ...}``.

    Returns
    -------
    transformers.PretrainedConfig
        The family's configuration class, e.g. ``GPT2Config``.

    Raises
    ------
    ValueError
        If ``model_type`` is not a supported family (the message lists them).

    Examples
    --------
    >>> config = llm_config({"n_embd": 32, "n_layer": 2, "n_head": 4, "vocab_size": 300})
    >>> type(config).__name__, config.vocab_size, config.bos_token_id, config.eos_token_id
    ('GPT2Config', 300, None, None)
    >>> llm_config({"vocab_size": 50257}).eos_token_id  # GPT-2's own vocabulary keeps it
    50256
    >>> type(llm_config({"model_type": "llama", "hidden_size": 64, "vocab_size": 100})).__name__
    'LlamaConfig'
    """
    fields = dict(fields)
    config_class = _config_class(fields.pop("model_type", "gpt2"))
    defaults = _default_fields(config_class)
    vocab_size = fields.get("vocab_size", defaults.get("vocab_size"))
    for name in {key for key in {**defaults, **fields} if key.endswith("_token_id")}:
        value = fields.get(name, defaults.get(name))
        if isinstance(value, int) and isinstance(vocab_size, int) and not 0 <= value < vocab_size:
            fields[name] = None
    return config_class.from_dict(fields)


def gpt2_config(fields):
    """A ``GPT2Config`` from a dict of its fields, without special-token ids it cannot hold.

    :func:`llm_config` for GPT-2: GPT-2's begin- and end-of-text ids (50256)
    outside a smaller vocabulary become ``None``.

    Parameters
    ----------
    fields : dict
        ``GPT2Config`` fields, for example ``GPT2Config(...).to_dict()``.

    Returns
    -------
    transformers.GPT2Config

    Raises
    ------
    ValueError
        If ``fields`` names another ``model_type``.

    Examples
    --------
    >>> config = gpt2_config({"n_embd": 32, "n_layer": 2, "n_head": 4, "vocab_size": 300})
    >>> config.vocab_size, config.bos_token_id, config.eos_token_id
    (300, None, None)
    """
    if fields.get("model_type", "gpt2") != "gpt2":
        raise ValueError(f"gpt2_config got model_type {fields['model_type']!r}; use llm_config")
    return llm_config(fields)


@functools.cache
def _default_fields(config_class):
    return config_class().to_dict()


def backbone_config(llm, *, revision=None, local_files_only=False):
    """The configuration of the language model ``llm`` names, without loading any weights.

    Parameters
    ----------
    llm : str, path-like, dict or transformers.PretrainedConfig
        Hub id, local folder, or configuration: a configuration object of a
        supported family, or a dict of its fields with ``model_type``
        (without it, GPT-2's fields).
    revision : str, default=None
        Branch, tag or commit of a hub model.
    local_files_only : bool, default=False
        Never contact the hub.

    Returns
    -------
    transformers.PretrainedConfig
        A fresh copy of the family's configuration class; changing it
        changes nothing the caller passed.

    Raises
    ------
    BackboneUnavailableError
        If the configuration is neither local nor reachable.
    ValueError
        If the model is not of a supported family (the message lists them),
        or a dict has a key its configuration does not know.

    Examples
    --------
    >>> backbone_config({"n_embd": 64, "n_layer": 2, "n_head": 4}).n_embd
    64
    >>> backbone_config({"model_type": "qwen2", "hidden_size": 64, "num_attention_heads": 4,
    ...                  "num_key_value_heads": 2, "num_hidden_layers": 2}).hidden_size
    64
    """
    from transformers import AutoConfig

    if isinstance(llm, dict):
        config = llm_config(llm)
        _check_config_keys({key: value for key, value in llm.items() if key != "model_type"}, config)
        return config
    if _is_config(llm):
        _family(llm, llm)
        return llm_config(llm.to_dict())
    config = _from_pretrained(AutoConfig, llm, revision, local_files_only)
    _family(config, llm)
    return llm_config(config.to_dict())


def load_backbone(llm, *, pretrained, n_layers, revision=None, local_files_only=False):
    """Build the language model, truncated to its first ``n_layers`` decoder layers.

    A pre-trained model is read with the kept layers only: the weights of
    the others are never loaded, so a 16-layer model of which CALF keeps 6
    needs the memory of 6.

    Parameters
    ----------
    llm : str, path-like, dict or transformers.PretrainedConfig
        Hub id, local folder, or configuration (see :func:`backbone_config`).
    pretrained : bool
        Load the published weights (``True``) or initialise randomly from the
        configuration with the current torch seed (``False``).
    n_layers : int
        Number of decoder layers to keep.
    revision : str, default=None
        Branch, tag or commit of a hub model.
    local_files_only : bool, default=False
        Never contact the hub.

    Returns
    -------
    model : transformers.PreTrainedModel
        The family's base model (``GPT2Model``, ``LlamaModel``, ...),
        truncated, in float32, with SDPA attention and its input word
        embedding still in place (the caller drops it after use).

    Examples
    --------
    >>> model = load_backbone({"n_embd": 32, "n_layer": 3, "n_head": 4, "vocab_size": 50},
    ...                       pretrained=False, n_layers=2)
    >>> type(model).__name__, len(model.h), model.config.n_layer
    ('GPT2Model', 2, 2)
    """
    import torch
    from transformers import AutoModel

    config = backbone_config(llm, revision=revision, local_files_only=local_files_only)
    family = backbone_family(config)
    if n_layers > config.num_hidden_layers:
        raise ValueError(
            f"n_layers={n_layers} exceeds the {config.num_hidden_layers} blocks of the backbone; "
            f"use n_layers <= {config.num_hidden_layers}."
        )
    kept = truncated_config(config, n_layers)
    if pretrained:
        model = _load_kept_layers(llm, revision, local_files_only, kept)
        family.keep_layers(model, n_layers)  # a no-op unless the loader kept more
    else:
        # float32 whatever dtype the configuration records, so a seed draws the same weights.
        model = AutoModel.from_config(kept, attn_implementation="sdpa", dtype=torch.float32)
    return model.float()
