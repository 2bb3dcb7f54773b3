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
            f"llm must be a hub id, a local folder, a dict or a GPT2Config, got {type(llm).__name__}."
        )


def check_backbone_fits(config, *, n_layers, n_principal_words, n_series):
    """Refuse settings the backbone's configuration cannot serve, saying what would fit."""
    if n_layers > config.n_layer:
        raise ValueError(
            f"n_layers={n_layers} exceeds the backbone's {config.n_layer} blocks; "
            f"use n_layers <= {config.n_layer}."
        )
    if n_principal_words > config.n_embd:
        raise ValueError(
            f"n_principal_words={n_principal_words} exceeds the backbone's embedding "
            f"width {config.n_embd}; use n_principal_words <= {config.n_embd}."
        )
    if n_series > config.n_positions:
        raise ValueError(
            f"X has {n_series} series but the backbone has only {config.n_positions} "
            "positions (each series is one token); forecast the series in groups of at "
            f"most {config.n_positions}."
        )
    if config.n_embd % config.n_head:
        raise ValueError(
            f"The backbone's width {config.n_embd} is not divisible by its {config.n_head} heads."
        )
