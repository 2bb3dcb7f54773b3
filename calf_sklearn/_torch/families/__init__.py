"""The decoder families CALF runs on, one module each (torch and transformers only).

Each module holds one :class:`~calf_sklearn.backbone.BackboneFamily`; this
package is their registry. The public face is :mod:`calf_sklearn.backbone`.
"""

from __future__ import annotations

from . import gpt2, gpt_neox, llama, mistral, phi, qwen2
from .family import BackboneFamily, truncated_config

__all__ = ["BackboneFamily", "backbone_family", "supported_families", "truncated_config"]

_FAMILIES = {
    module.FAMILY.model_type: module.FAMILY for module in (gpt2, llama, qwen2, mistral, gpt_neox, phi)
}


def supported_families():
    """The families CALF runs on, by ``model_type``.

    Returns
    -------
    dict of str to BackboneFamily
        A new dict, GPT-2 first.

    Examples
    --------
    >>> list(supported_families())
    ['gpt2', 'llama', 'qwen2', 'mistral', 'gpt_neox', 'phi']
    """
    return dict(_FAMILIES)


def _listing():
    return "; ".join(f"{key} ({family.models})" for key, family in _FAMILIES.items())


def backbone_family(model):
    """The family of a configuration, a model or a ``model_type``.

    Parameters
    ----------
    model : str, transformers.PretrainedConfig or transformers.PreTrainedModel
        What to look up.

    Returns
    -------
    BackboneFamily

    Raises
    ------
    ValueError
        If the family is not one CALF runs on; the message lists those.

    Examples
    --------
    >>> backbone_family("qwen2").lora_targets
    ('q_proj', 'k_proj', 'v_proj')
    >>> backbone_family("bert")
    Traceback (most recent call last):
    ...
    ValueError: the language model is a 'bert' model, which CALF does not support. Supported families (model_type): gpt2 (GPT-2 small to XL, DistilGPT-2); llama (Llama 3.x, SmolLM, TinyLlama); qwen2 (Qwen2, Qwen2.5); mistral (Mistral 7B, Mistral-derived small models); gpt_neox (Pythia, GPT-NeoX-20B); phi (Phi-1, Phi-1.5, Phi-2).
    """
    config = getattr(model, "config", model)
    model_type = config if isinstance(config, str) else getattr(config, "model_type", None)
    try:
        return _FAMILIES[model_type]
    except (KeyError, TypeError):
        what = model_type or type(config).__name__
        raise ValueError(
            f"the language model is a {what!r} model, which CALF does not support. "
            f"Supported families (model_type): {_listing()}."
        ) from None
