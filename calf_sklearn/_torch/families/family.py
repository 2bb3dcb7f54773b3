"""What one decoder family of language models looks like to CALF (torch and transformers only).

A :class:`BackboneFamily` names the parts of a Hugging Face base model
(``AutoModel``) that CALF reads, cuts and trains; every family module of this
package holds one. The network, the branches and the loader ask the family
instead of spelling GPT-2's attribute names.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

__all__ = ["BackboneFamily", "truncated_config"]


@dataclass(frozen=True)
class BackboneFamily:
    """Where a decoder family keeps what CALF reads, cuts and trains.

    All families read their width, heads, blocks and positions from the
    configuration's common names (``hidden_size``, ``num_attention_heads``,
    ``num_hidden_layers``, ``max_position_embeddings``); GPT-2's own names
    (``n_embd``, ...) are aliases of those.

    Parameters
    ----------
    model_type : str
        The configuration's ``model_type``, e.g. ``"llama"``.
    name : str
        The family's name in messages and documentation.
    models : str
        Published models of the family, for messages and documentation.
    embeddings : str
        Attribute of the base model that holds the input word embedding
        (its weight is the matrix the principal words are taken from).
    blocks : str
        Attribute of the base model that holds the decoder layers.
    final_norm : str
        Attribute of the base model that holds the norm after the last layer.
    norms : tuple of str
        Module names of the norms, in the layers and after them; each
        branch trains its own copy of them (GPT-2's ``ln_1``, ``ln_2``,
        ``ln_f``).
    lora_targets : tuple of str
        Module names LoRA adapts in the temporal branch: the attention's
        query, key and value projections (fused in GPT-2 and GPT-NeoX).
    positions : str or None, default=None
        Attribute of a learned position embedding, trained in both branches
        (GPT-2's ``wpe``); ``None`` where positions are rotary and have no
        weights.
    fan_in_fan_out : bool, default=False
        Whether the LoRA targets store their weight as (in, out), as GPT-2's
        ``Conv1D`` does.
    differences : str, default=""
        What differs from CALF on GPT-2, in one or two sentences.

    Examples
    --------
    >>> from calf_sklearn.backbone import backbone_family
    >>> llama = backbone_family("llama")
    >>> llama.is_own("layers.0.input_layernorm.weight"), llama.is_own("layers.0.self_attn.q_proj.weight")
    (True, False)
    >>> backbone_family("gpt2").is_position("wpe.weight")
    True
    """

    model_type: str
    name: str
    models: str
    embeddings: str
    blocks: str
    final_norm: str
    norms: tuple
    lora_targets: tuple
    positions: str | None = None
    fan_in_fan_out: bool = False
    differences: str = ""

    def is_position(self, name):
        """Whether the parameter ``name`` belongs to a learned position embedding.

        Parameters
        ----------
        name : str
            A parameter name of the base model.

        Returns
        -------
        bool

        Examples
        --------
        >>> from calf_sklearn.backbone import backbone_family
        >>> backbone_family("gpt2").is_position("wpe.weight"), backbone_family("llama").is_position("norm.weight")
        (True, False)
        """
        return self.positions is not None and name.split(".", 1)[0] == self.positions

    def is_own(self, name):
        """Whether the parameter ``name`` is one a branch trains: a norm or learned positions.

        Every other parameter of the backbone is frozen and shared by the two
        branches.

        Parameters
        ----------
        name : str
            A parameter name of the base model.

        Returns
        -------
        bool

        Examples
        --------
        >>> from calf_sklearn.backbone import backbone_family
        >>> gpt2 = backbone_family("gpt2")
        >>> gpt2.is_own("h.0.ln_1.weight"), gpt2.is_own("wpe.weight"), gpt2.is_own("h.0.attn.c_attn.weight")
        (True, True, False)
        """
        return self.is_position(name) or any(part in self.norms for part in name.split("."))

    def layers(self, model):
        """The model's decoder layers.

        Parameters
        ----------
        model : transformers.PreTrainedModel
            A base model of this family.

        Returns
        -------
        torch.nn.ModuleList

        Examples
        --------
        >>> from transformers import GPT2Model
        >>> from calf_sklearn.backbone import backbone_family, llm_config
        >>> model = GPT2Model(llm_config({"n_embd": 16, "n_layer": 2, "n_head": 2, "vocab_size": 32}))
        >>> len(backbone_family("gpt2").layers(model))
        2
        """
        return getattr(model, self.blocks)

    def keep_layers(self, model, n_layers):
        """Keep the first ``n_layers`` decoder layers of ``model``, in place, and say so in its configuration.

        Parameters
        ----------
        model : transformers.PreTrainedModel
            A base model of this family.
        n_layers : int
            Layers to keep.

        Returns
        -------
        model : transformers.PreTrainedModel

        Examples
        --------
        >>> from transformers import GPT2Model
        >>> from calf_sklearn.backbone import backbone_family, llm_config
        >>> model = GPT2Model(llm_config({"n_embd": 16, "n_layer": 3, "n_head": 2, "vocab_size": 32}))
        >>> model = backbone_family("gpt2").keep_layers(model, 1)
        >>> len(model.h), model.config.n_layer
        (1, 1)
        """
        setattr(model, self.blocks, self.layers(model)[:n_layers])
        model.config = truncated_config(model.config, n_layers)
        return model

    def input_embeddings(self, model):
        """The input word embedding of ``model`` (``None`` once dropped).

        Parameters
        ----------
        model : transformers.PreTrainedModel
            A base model of this family.

        Returns
        -------
        torch.nn.Embedding or None

        Examples
        --------
        >>> from transformers import GPT2Model
        >>> from calf_sklearn.backbone import backbone_family, llm_config
        >>> model = GPT2Model(llm_config({"n_embd": 16, "n_layer": 1, "n_head": 2, "vocab_size": 32}))
        >>> backbone_family("gpt2").input_embeddings(model).weight.shape
        torch.Size([32, 16])
        """
        return getattr(model, self.embeddings)

    def drop_input_embeddings(self, model):
        """Remove the input word embedding: CALF's inputs are always embeddings, never token ids.

        Parameters
        ----------
        model : transformers.PreTrainedModel
            A base model of this family, changed in place.

        Returns
        -------
        None

        Examples
        --------
        >>> from transformers import GPT2Model
        >>> from calf_sklearn.backbone import backbone_family, llm_config
        >>> model = GPT2Model(llm_config({"n_embd": 16, "n_layer": 1, "n_head": 2, "vocab_size": 32}))
        >>> backbone_family("gpt2").drop_input_embeddings(model)
        >>> model.wte is None
        True
        """
        setattr(model, self.embeddings, None)


def truncated_config(config, n_layers):
    """A copy of ``config`` that describes only its first ``n_layers`` layers.

    Per-layer lists (Qwen2's ``layer_types``) are cut to match, so the copy
    validates and rebuilds the truncated model.

    Parameters
    ----------
    config : transformers.PretrainedConfig
        A language model's configuration; it is not changed.
    n_layers : int
        Layers kept.

    Returns
    -------
    transformers.PretrainedConfig

    Examples
    --------
    >>> from transformers import Qwen2Config
    >>> config = Qwen2Config(num_hidden_layers=4, hidden_size=16, num_attention_heads=2,
    ...                      num_key_value_heads=1, intermediate_size=32, vocab_size=64)
    >>> short = truncated_config(config, 2)
    >>> short.num_hidden_layers, len(short.layer_types), config.num_hidden_layers
    (2, 2, 4)
    """
    config = copy.deepcopy(config)
    layer_types = getattr(config, "layer_types", None)
    if isinstance(layer_types, (list, tuple)):
        config.layer_types = list(layer_types[:n_layers])
    config.num_hidden_layers = n_layers
    return config
