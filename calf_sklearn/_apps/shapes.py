"""The published shapes of well-known language models, for randomly initialised backbones.

A benchmark or a smoke test with ``--backbone-random`` draws random weights of
a real model's shape; these configurations let it do so with no network and
no download. The fields are those of each model's published ``config.json``
that set the shape (width, layers, heads, vocabulary, positions, norms,
rotary settings); a backbone built from them is randomly initialised and is
labelled so.
"""

from __future__ import annotations

import copy

__all__ = ["PUBLISHED_SHAPES", "published_shape"]

_LLAMA_1B = {"hidden_size": 2048, "num_attention_heads": 32, "rms_norm_eps": 1e-5, "hidden_act": "silu"}

#: Hub id -> configuration fields (with ``model_type``) of the published model.
PUBLISHED_SHAPES = {
    "gpt2": {
        "model_type": "gpt2",
        "n_embd": 768,
        "n_layer": 12,
        "n_head": 12,
        "vocab_size": 50257,
        "n_positions": 1024,
    },
    "HuggingFaceTB/SmolLM-135M": {
        "model_type": "llama",
        "hidden_size": 576,
        "intermediate_size": 1536,
        "num_hidden_layers": 30,
        "num_attention_heads": 9,
        "num_key_value_heads": 3,
        "vocab_size": 49152,
        "max_position_embeddings": 2048,
        "rms_norm_eps": 1e-5,
        "tie_word_embeddings": True,
    },
    "meta-llama/Llama-3.2-1B": {
        "model_type": "llama",
        **_LLAMA_1B,
        "intermediate_size": 8192,
        "num_hidden_layers": 16,
        "num_key_value_heads": 8,
        "head_dim": 64,
        "vocab_size": 128256,
        "max_position_embeddings": 131072,
        "rope_parameters": {
            "rope_type": "llama3",
            "rope_theta": 500000.0,
            "factor": 32.0,
            "low_freq_factor": 1.0,
            "high_freq_factor": 4.0,
            "original_max_position_embeddings": 8192,
        },
        "tie_word_embeddings": True,
    },
    "TinyLlama/TinyLlama-1.1B-Chat-v1.0": {
        "model_type": "llama",
        **_LLAMA_1B,
        "intermediate_size": 5632,
        "num_hidden_layers": 22,
        "num_key_value_heads": 4,
        "vocab_size": 32000,
        "max_position_embeddings": 2048,
    },
    "Qwen/Qwen2.5-0.5B": {
        "model_type": "qwen2",
        "hidden_size": 896,
        "intermediate_size": 4864,
        "num_hidden_layers": 24,
        "num_attention_heads": 14,
        "num_key_value_heads": 2,
        "vocab_size": 151936,
        "max_position_embeddings": 32768,
        "max_window_layers": 24,
        "rms_norm_eps": 1e-6,
        "rope_parameters": {"rope_type": "default", "rope_theta": 1000000.0},
        "tie_word_embeddings": True,
    },
    "mistralai/Mistral-7B-v0.1": {
        "model_type": "mistral",
        "hidden_size": 4096,
        "intermediate_size": 14336,
        "num_hidden_layers": 32,
        "num_attention_heads": 32,
        "num_key_value_heads": 8,
        "vocab_size": 32000,
        "max_position_embeddings": 32768,
        "sliding_window": 4096,
        "rms_norm_eps": 1e-5,
    },
    "EleutherAI/pythia-160m": {
        "model_type": "gpt_neox",
        "hidden_size": 768,
        "intermediate_size": 3072,
        "num_hidden_layers": 12,
        "num_attention_heads": 12,
        "vocab_size": 50304,
        "max_position_embeddings": 2048,
        "rope_parameters": {"rope_type": "default", "rope_theta": 10000.0, "partial_rotary_factor": 0.25},
        "use_parallel_residual": True,
        "layer_norm_eps": 1e-5,
        "tie_word_embeddings": False,
    },
    "microsoft/phi-1_5": {
        "model_type": "phi",
        "hidden_size": 2048,
        "intermediate_size": 8192,
        "num_hidden_layers": 24,
        "num_attention_heads": 32,
        "vocab_size": 51200,
        "max_position_embeddings": 2048,
        "rope_parameters": {"rope_type": "default", "rope_theta": 10000.0, "partial_rotary_factor": 0.5},
        "layer_norm_eps": 1e-5,
        "hidden_act": "gelu_new",
    },
}


def published_shape(name):
    """The configuration fields of a well-known model's shape, to initialise randomly.

    Parameters
    ----------
    name : str
        A hub id of :data:`PUBLISHED_SHAPES`, or its last part
        (``"Qwen2.5-0.5B"``), in any case.

    Returns
    -------
    dict
        A new dict of configuration fields, with ``model_type``.

    Raises
    ------
    ValueError
        If ``name`` is not one of them; the message lists them.

    Examples
    --------
    >>> shape = published_shape("qwen2.5-0.5b")
    >>> shape["model_type"], shape["hidden_size"], shape["num_hidden_layers"]
    ('qwen2', 896, 24)
    """
    wanted = str(name).lower()
    for hub_id, fields in PUBLISHED_SHAPES.items():
        if wanted in (hub_id.lower(), hub_id.rsplit("/", 1)[-1].lower()):
            return copy.deepcopy(fields)
    raise ValueError(
        f"no published shape is known for {name!r}; known: {', '.join(PUBLISHED_SHAPES)}. "
        "For another model, give its configuration fields (with model_type) instead."
    )
