"""Llama (Llama 3.2, SmolLM, TinyLlama): rotary positions, RMSNorm, separate q/k/v projections."""

from __future__ import annotations

from .family import BackboneFamily

__all__ = ["FAMILY", "LAYOUT"]

#: Where Llama keeps what CALF reads and trains; Qwen2 and Mistral keep them in the same places.
LAYOUT = {
    "embeddings": "embed_tokens",
    "blocks": "layers",
    "final_norm": "norm",
    "norms": ("input_layernorm", "post_attention_layernorm", "norm"),
    "lora_targets": ("q_proj", "k_proj", "v_proj"),
}

FAMILY = BackboneFamily(
    model_type="llama",
    name="Llama",
    models="Llama 3.x, SmolLM, TinyLlama",
    **LAYOUT,
    differences=(
        "Rotary positions (no weights, so neither branch trains positions); RMSNorm weights "
        "(no biases) are the trained norms; LoRA on q_proj, k_proj and v_proj, the three parts "
        "of GPT-2's fused c_attn; no dropout inside the model."
    ),
)
