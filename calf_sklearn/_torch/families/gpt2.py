"""GPT-2, the paper's backbone: learned positions (``wpe``) and one fused attention projection."""

from __future__ import annotations

from .family import BackboneFamily

__all__ = ["FAMILY"]

FAMILY = BackboneFamily(
    model_type="gpt2",
    name="GPT-2",
    models="GPT-2 small to XL, DistilGPT-2",
    embeddings="wte",
    blocks="h",
    final_norm="ln_f",
    norms=("ln_1", "ln_2", "ln_f"),
    lora_targets=("c_attn",),
    positions="wpe",
    fan_in_fan_out=True,  # Conv1D stores its weight as (in, out)
    differences="The paper's backbone: nothing differs.",
)
