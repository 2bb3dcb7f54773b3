"""Phi (Phi-1, Phi-1.5, Phi-2): partial rotary positions, one LayerNorm per layer feeding attention and MLP."""

from __future__ import annotations

from .family import BackboneFamily

__all__ = ["FAMILY"]

FAMILY = BackboneFamily(
    model_type="phi",
    name="Phi",
    models="Phi-1, Phi-1.5, Phi-2",
    embeddings="embed_tokens",
    blocks="layers",
    final_norm="final_layernorm",
    # q_layernorm and k_layernorm exist only with qk_layernorm=True.
    norms=("input_layernorm", "final_layernorm", "q_layernorm", "k_layernorm"),
    lora_targets=("q_proj", "k_proj", "v_proj"),
    differences=(
        "Rotary positions on part of each head (no weights); one LayerNorm per layer, whose output "
        "feeds attention and MLP in parallel, so a layer trains one norm where GPT-2's trains two; "
        "LoRA on q_proj, k_proj and v_proj."
    ),
)
