"""Finding and building the GPT-2 backbone (torch and transformers only).

The public face of this module is :mod:`calf_sklearn.backbone`; its documentation is there.
"""

from __future__ import annotations

import functools
import os
import socket
from pathlib import Path
from urllib.parse import urlparse

from .._utils import checks

__all__ = ["BackboneUnavailableError", "backbone_config", "gpt2_config", "load_backbone"]

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
        "backbone with llm=GPT2Config(...) or a dict of its fields and pretrained=False."
    )


def _check_gpt2(config, llm):
    if getattr(config, "model_type", None) != "gpt2":
        raise ValueError(
            f"llm={llm!r} is a {getattr(config, 'model_type', type(config).__name__)!r} "
            "model; CALF needs a GPT-2 backbone (model_type 'gpt2')."
        )
    return config


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


def _check_config_keys(fields, config_class):
    """Refuse keys the configuration does not know: GPT2Config would keep a typo silently."""
    known = set(config_class().to_dict()) | set(config_class.attribute_map)
    for key in fields:
        if key not in known:
            raise ValueError(
                f"llm has the key {key!r}, which is not a {config_class.__name__} field."
                f"{checks.suggest(key, sorted(known))} "
                "Common fields: n_embd, n_layer, n_head, n_positions, vocab_size."
            )


def gpt2_config(fields):
    """A ``GPT2Config`` from a dict of its fields, without special-token ids it cannot hold.

    GPT-2's begin- and end-of-text ids (50256) mean nothing to CALF, whose
    inputs are embeddings, never token ids; in a smaller vocabulary
    transformers would warn about them at every fit. Any ``*_token_id``
    outside the vocabulary is therefore set to ``None``; every other field is
    kept as given.

    Parameters
    ----------
    fields : dict
        ``GPT2Config`` fields, for example ``GPT2Config(...).to_dict()``.

    Returns
    -------
    transformers.GPT2Config

    Examples
    --------
    >>> config = gpt2_config({"n_embd": 32, "n_layer": 2, "n_head": 4, "vocab_size": 300})
    >>> config.vocab_size, config.bos_token_id, config.eos_token_id
    (300, None, None)
    >>> gpt2_config({"vocab_size": 50257}).eos_token_id  # GPT-2's own vocabulary keeps it
    50256
    """
    from transformers import GPT2Config

    defaults = _default_fields()
    fields = dict(fields)
    vocab_size = fields.get("vocab_size", defaults["vocab_size"])
    for name in {key for key in {**defaults, **fields} if key.endswith("_token_id")}:
        value = fields.get(name, defaults.get(name))
        if isinstance(value, int) and not 0 <= value < vocab_size:
            fields[name] = None
    return GPT2Config.from_dict(fields)


@functools.cache
def _default_fields():
    from transformers import GPT2Config

    return GPT2Config().to_dict()


def backbone_config(llm, *, revision=None, local_files_only=False):
    """The ``GPT2Config`` that ``llm`` names, without loading any weights.

    Parameters
    ----------
    llm : str, path-like, dict or GPT2Config
        Hub id, local folder, or configuration.
    revision : str, default=None
        Branch, tag or commit of a hub model.
    local_files_only : bool, default=False
        Never contact the hub.

    Returns
    -------
    transformers.GPT2Config
        A fresh copy; changing it changes nothing the caller passed.

    Raises
    ------
    BackboneUnavailableError
        If the configuration is neither local nor reachable.
    ValueError
        If the model is not a GPT-2.

    Examples
    --------
    >>> backbone_config({"n_embd": 64, "n_layer": 2, "n_head": 4}).n_embd
    64
    """
    from transformers import GPT2Config

    if isinstance(llm, dict):
        _check_config_keys(llm, GPT2Config)
        return gpt2_config(llm)
    if _is_config(llm):
        _check_gpt2(llm, llm)
        return gpt2_config(llm.to_dict())
    return _check_gpt2(_from_pretrained(GPT2Config, llm, revision, local_files_only), llm)


def load_backbone(llm, *, pretrained, n_layers, revision=None, local_files_only=False):
    """Build the GPT-2 backbone, truncated to its first ``n_layers`` blocks.

    Parameters
    ----------
    llm : str, path-like, dict or GPT2Config
        Hub id, local folder, or configuration (see :func:`backbone_config`).
    pretrained : bool
        Load the published weights (``True``) or initialise randomly from the
        configuration with the current torch seed (``False``).
    n_layers : int
        Number of transformer blocks to keep.
    revision : str, default=None
        Branch, tag or commit of a hub model.
    local_files_only : bool, default=False
        Never contact the hub.

    Returns
    -------
    model : transformers.GPT2Model
        The truncated model, in float32, with SDPA attention and its word
        embedding ``wte`` still in place (the caller drops it after use).

    Examples
    --------
    >>> model = load_backbone({"n_embd": 32, "n_layer": 3, "n_head": 4, "vocab_size": 50},
    ...                       pretrained=False, n_layers=2)
    >>> len(model.h), model.config.n_layer
    (2, 2)
    """
    from transformers import GPT2Model

    config = backbone_config(llm, revision=revision, local_files_only=local_files_only)
    if n_layers > config.n_layer:
        raise ValueError(
            f"n_layers={n_layers} exceeds the {config.n_layer} blocks of the backbone; "
            f"use n_layers <= {config.n_layer}."
        )
    if pretrained:
        model = _from_pretrained(GPT2Model, llm, revision, local_files_only, attn_implementation="sdpa")
        model.h = model.h[:n_layers]
        model.config.n_layer = n_layers
    else:
        config.n_layer = n_layers
        config._attn_implementation = "sdpa"
        model = GPT2Model(config)
    return model.float()
