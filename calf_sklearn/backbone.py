"""Finding and building the GPT-2 backbone (torch and transformers only).

``llm`` names the language model: a Hugging Face hub id, a local folder saved
with ``save_pretrained``, or a ``GPT2Config`` / dict for a randomly
initialised backbone of that shape.
"""

from ._torch.backbone import BackboneUnavailableError, backbone_config, gpt2_config, load_backbone

__all__ = ["BackboneUnavailableError", "backbone_config", "gpt2_config", "load_backbone"]
