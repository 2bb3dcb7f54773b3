"""GPT-NeoX (Pythia): partial rotary positions, LayerNorms, one fused query-key-value projection."""

from __future__ import annotations

from .family import BackboneFamily

__all__ = ["FAMILY"]

FAMILY = BackboneFamily(
    model_type="gpt_neox",
    name="GPT-NeoX",
    models="Pythia, GPT-NeoX-20B",
    embeddings="embed_in",
    blocks="layers",
    final_norm="final_layer_norm",
    norms=("input_layernorm", "post_attention_layernorm", "final_layer_norm"),
    lora_targets=("query_key_value",),
    differences=(
        "Rotary positions on part of each head (no weights); LayerNorms with biases, as GPT-2's; "
        "the fused query_key_value projection is GPT-2's c_attn stored as (out, in); attention and "
        "MLP run in parallel from the same input (use_parallel_residual)."
    ),
)
