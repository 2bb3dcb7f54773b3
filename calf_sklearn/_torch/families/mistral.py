"""Mistral: Llama's layout, with sliding-window attention over long inputs."""

from __future__ import annotations

from .family import BackboneFamily

__all__ = ["FAMILY"]

FAMILY = BackboneFamily(
    model_type="mistral",
    name="Mistral",
    models="Mistral 7B, Mistral-derived small models",
    embeddings="embed_tokens",
    blocks="layers",
    final_norm="norm",
    norms=("input_layernorm", "post_attention_layernorm", "norm"),
    lora_targets=("q_proj", "k_proj", "v_proj"),
    differences=(
        "As Llama. The sliding attention window (4,096 tokens) never binds: CALF's sequence is "
        "the M series, far fewer."
    ),
)
