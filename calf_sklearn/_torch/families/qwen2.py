"""Qwen2 (Qwen2 and Qwen2.5): Llama's layout, with biases on the q/k/v projections."""

from __future__ import annotations

from .family import BackboneFamily
from .llama import LAYOUT

__all__ = ["FAMILY"]

FAMILY = BackboneFamily(
    model_type="qwen2",
    name="Qwen2",
    models="Qwen2, Qwen2.5",
    **LAYOUT,
    differences=(
        "As Llama (rotary positions, RMSNorm, LoRA on q_proj, k_proj, v_proj); the projections' "
        "biases stay frozen, as GPT-2's c_attn bias does. The large vocabulary (151,936 words) "
        "only lengthens the principal-word pass."
    ),
)
