"""Finding and building the language-model backbone, of any supported family (torch and transformers only).

``llm`` names the language model: a Hugging Face hub id, a local folder saved
with ``save_pretrained``, or a configuration (``GPT2Config``, ``LlamaConfig``,
..., or a dict of its fields with ``model_type``) for a randomly initialised
backbone of that shape. GPT-2, the paper's backbone, is the default; the
decoder families of :func:`supported_families` run too, each described by a
:class:`BackboneFamily`.
"""

from ._torch.backbone import BackboneUnavailableError, backbone_config, gpt2_config, llm_config, load_backbone
from ._torch.families import BackboneFamily, backbone_family, supported_families

__all__ = [
    "BackboneFamily",
    "BackboneUnavailableError",
    "backbone_config",
    "backbone_family",
    "gpt2_config",
    "llm_config",
    "load_backbone",
    "supported_families",
]
