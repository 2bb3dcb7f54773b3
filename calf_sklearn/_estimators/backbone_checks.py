"""Checks of the backbone a CALF fit asks for, before anything is loaded or trained."""

from __future__ import annotations

__all__ = ["check_backbone_fits", "check_backbone_source"]


def check_backbone_source(llm, pretrained):
    """Refuse a backbone that cannot be had: a configuration with published weights, or not a source."""
    from transformers import PretrainedConfig

    is_config = isinstance(llm, (dict, PretrainedConfig))
    if is_config and pretrained:
        raise ValueError(
            "llm is a configuration, which has no published weights; pass pretrained=False "
            "to train a randomly initialised backbone of that shape, or name a hub id or "
            "local folder as llm."
        )
    if not is_config and not isinstance(llm, (str, bytes)) and not hasattr(llm, "__fspath__"):
        raise TypeError(
            "llm must be a hub id, a local folder, a dict or a transformers configuration "
            f"(GPT2Config, LlamaConfig, ...), got {type(llm).__name__}."
        )


def check_backbone_fits(config, *, n_layers, n_principal_words, n_series):
    """Refuse settings the backbone's configuration cannot serve, saying what would fit.

    Every supported family's configuration answers to the common names
    (GPT-2's ``n_embd``, ``n_layer``, ... are aliases of them).
    """
    n_blocks, width = config.num_hidden_layers, config.hidden_size
    positions, heads = config.max_position_embeddings, config.num_attention_heads
    if n_layers > n_blocks:
        raise ValueError(
            f"n_layers={n_layers} exceeds the backbone's {n_blocks} blocks; use n_layers <= {n_blocks}."
        )
    if n_principal_words > width:
        raise ValueError(
            f"n_principal_words={n_principal_words} exceeds the backbone's embedding "
            f"width {width}; use n_principal_words <= {width}."
        )
    if n_series > positions:
        raise ValueError(
            f"X has {n_series} series but the backbone has only {positions} "
            "positions (each series is one token); forecast the series in groups of at "
            f"most {positions}."
        )
    if width % heads:
        raise ValueError(f"The backbone's width {width} is not divisible by its {heads} heads.")
    kv_heads = getattr(config, "num_key_value_heads", None) or heads
    if heads % kv_heads:
        raise ValueError(
            f"The backbone's {heads} attention heads are not a multiple of its {kv_heads} "
            "key-value heads; set num_key_value_heads to a divisor of num_attention_heads."
        )
