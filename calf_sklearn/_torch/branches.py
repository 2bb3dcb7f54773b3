"""How a language-model backbone becomes CALF's two branches, and what each branch reads (torch only).

The surgery on the language model (the textual branch sharing the frozen
tensors, LoRA injected into and merged out of the temporal branch), a
branch's forward pass, and the standardisation of the windows the branches
read. :class:`~calf_sklearn.network.CALFNetwork` puts them together.
"""

from __future__ import annotations

import copy

import torch

from .families import backbone_family

__all__ = ["add_lora", "is_branch_own", "merge_lora", "normalise", "run_branch", "share_frozen"]

_EPS = 1e-5


def normalise(x):
    """Per-window, per-series standardisation with detached statistics; NaN marks a missing value.

    Parameters
    ----------
    x : Tensor of shape (B, L, M)
        Look-back windows; NaN where a value is missing.

    Returns
    -------
    normalised : Tensor of shape (B, L, M)
        ``(x - mean) / std``, and 0 (the normalised mean) where ``x`` is missing.
    mean, std : Tensor of shape (B, 1, M)
        The statistics over time of the observed values (``std`` with a
        small epsilon), detached so that no gradient flows through them. A
        series with no observed value in a window gets mean 0 and std
        ``sqrt(eps)``.

    Examples
    --------
    >>> x = 5 + 3 * torch.randn(2, 24, 3)
    >>> normalised, mean, std = normalise(x)
    >>> torch.allclose(normalised * std + mean, x, atol=1e-5), mean.shape
    (True, torch.Size([2, 1, 3]))
    >>> gappy = x.clone()
    >>> gappy[0, :12, 0] = float("nan")  # the statistics of the observed half
    >>> normalised, mean, _ = normalise(gappy)
    >>> torch.allclose(mean[0, 0, 0], x[0, 12:, 0].mean()), bool((normalised[0, :12, 0] == 0).all())
    (True, True)
    """
    missing = torch.isnan(x)
    mean = x.mean(dim=1, keepdim=True).detach()
    std = torch.sqrt(x.var(dim=1, keepdim=True, unbiased=False) + _EPS).detach()
    if not missing.any():  # the common case, exactly as without gaps
        return (x - mean) / std, mean, std
    # Only the series with a gap take the observed statistics: a complete series' are
    # the same whichever windows share its batch.
    observed = ~missing
    gappy = missing.any(dim=1, keepdim=True)
    count = observed.sum(dim=1, keepdim=True).clamp(min=1)
    observed_mean = (torch.where(observed, x, 0).sum(dim=1, keepdim=True) / count).detach()
    centred = torch.where(observed, x - observed_mean, 0)
    observed_std = torch.sqrt(centred.square().sum(dim=1, keepdim=True) / count + _EPS).detach()
    mean = torch.where(gappy, observed_mean, mean)
    std = torch.where(gappy, observed_std, std)
    return torch.where(observed, (x - mean) / std, 0), mean, std


def is_branch_own(name, model_type="gpt2"):
    """Whether the backbone parameter ``name`` belongs to one branch (trained) rather than to both.

    Parameters
    ----------
    name : str
        A parameter name of the backbone.
    model_type : str, default="gpt2"
        The backbone's family (see :func:`calf_sklearn.backbone.backbone_family`).

    Returns
    -------
    bool
        True for the norms and a learned position embedding; every other
        backbone tensor is frozen and shared by the two branches.

    Examples
    --------
    >>> is_branch_own("h.0.ln_1.weight"), is_branch_own("h.0.attn.c_attn.weight")
    (True, False)
    >>> is_branch_own("layers.0.input_layernorm.weight", "llama")
    True
    """
    return backbone_family(model_type).is_own(name)


def fuse_gelu(model):
    """Replace transformers' Python tanh-GELU ("gelu_new": GPT-2, Phi) with torch's fused kernel.

    The same function, ``0.5 x (1 + tanh(sqrt(2 / pi) (x + 0.044715 x^3)))``,
    to float rounding, in one kernel. The Python version makes five passes
    over the MLP's widest activations and keeps four intermediates for
    backward; the kernel keeps only its input. Measured at the paper's shape
    (M = 7, B = 32): about 120 MB less peak training memory.

    Parameters
    ----------
    model : torch.nn.Module
        Modified in place.

    Returns
    -------
    torch.nn.Module
        ``model``.

    Examples
    --------
    >>> from transformers import GPT2Model
    >>> from calf_sklearn.backbone import gpt2_config
    >>> model = GPT2Model(gpt2_config({"n_embd": 16, "n_layer": 1, "n_head": 2, "vocab_size": 32}))
    >>> x = torch.randn(4, 64)
    >>> before = model.h[0].mlp.act(x)
    >>> fuse_gelu(model).h[0].mlp.act
    GELU(approximate='tanh')
    >>> torch.allclose(model.h[0].mlp.act(x), before, atol=1e-6)
    True
    """
    from transformers.activations import NewGELUActivation

    for module in list(model.modules()):
        for name, child in list(module.named_children()):
            if isinstance(child, NewGELUActivation):
                setattr(module, name, torch.nn.GELU(approximate="tanh"))
    return model


def share_frozen(model):
    """A copy of ``model`` that shares every frozen tensor with it.

    Parameters
    ----------
    model : transformers.PreTrainedModel
        The backbone, of a supported family.

    Returns
    -------
    torch.nn.Module
        A deep copy whose parameters other than the branch's own (norms and
        learned positions, :func:`is_branch_own`) are the very tensors of
        ``model``.

    Examples
    --------
    >>> from transformers import GPT2Model
    >>> from calf_sklearn.backbone import gpt2_config
    >>> model = GPT2Model(gpt2_config({"n_embd": 16, "n_layer": 1, "n_head": 2, "vocab_size": 32}))
    >>> copy_ = share_frozen(model)
    >>> copy_.h[0].attn.c_attn.weight is model.h[0].attn.c_attn.weight, copy_.wpe.weight is model.wpe.weight
    (True, False)
    """
    family = backbone_family(model)
    memo = {id(p): p for name, p in model.named_parameters() if not family.is_own(name)}
    return copy.deepcopy(model, memo)


def add_lora(model, r, alpha, dropout):
    """Inject LoRA adapters into the attention projections of ``model``, in place.

    The family says which: GPT-2's fused ``c_attn``, GPT-NeoX's fused
    ``query_key_value``, the separate ``q_proj``, ``k_proj`` and ``v_proj``
    elsewhere.

    Parameters
    ----------
    model : transformers.PreTrainedModel
        The backbone of the temporal branch, of a supported family.
    r, alpha, dropout : int, float, float
        LoRA's rank, scaling and dropout.

    Returns
    -------
    torch.nn.Module
        ``model``, with adapters.

    Examples
    --------
    >>> from transformers import GPT2Model
    >>> from calf_sklearn.backbone import gpt2_config
    >>> model = GPT2Model(gpt2_config({"n_embd": 16, "n_layer": 1, "n_head": 2, "vocab_size": 32}))
    >>> model = add_lora(model, 4, 32, 0.0)
    >>> any("lora_A" in name for name, _ in model.named_parameters())
    True
    """
    from peft import LoraConfig, inject_adapter_in_model

    family = backbone_family(model)
    config = LoraConfig(
        r=r,
        lora_alpha=alpha,
        lora_dropout=dropout,
        target_modules=list(family.lora_targets),
        bias="none",
        fan_in_fan_out=family.fan_in_fan_out,
    )
    return inject_adapter_in_model(config, model)


def merge_lora(model):
    """Fold LoRA updates into the base weights and remove the adapters, in place.

    Parameters
    ----------
    model : torch.nn.Module
        A backbone that went through :func:`add_lora`.

    Returns
    -------
    None

    Examples
    --------
    >>> from transformers import GPT2Model
    >>> from calf_sklearn.backbone import gpt2_config
    >>> model = add_lora(GPT2Model(gpt2_config({"n_embd": 16, "n_layer": 1, "n_head": 2, "vocab_size": 32})), 4, 32, 0.0)
    >>> merge_lora(model)
    >>> any("lora_" in name for name, _ in model.named_parameters())
    False
    """
    from peft.tuners.lora import LoraLayer

    for name, module in list(model.named_modules()):
        if isinstance(module, LoraLayer):
            module.merge()
            parent_name, _, child = name.rpartition(".")
            setattr(model.get_submodule(parent_name), child, module.get_base_layer())


def run_branch(model, tokens, hidden_states):
    """A branch's residual output ``LM(tokens) + tokens`` and, if asked, its n + 1 feature states.

    The states are the embedding output and the outputs of blocks 1 .. n-1,
    then, deepest, the residual output itself rather than ``final_norm(block n)``:
    the authors add the residual in place to the tensor that is also the last
    entry of their hidden-state tuple, so the feature loss compares it
    (METHOD.md section 5).

    Parameters
    ----------
    model : transformers.PreTrainedModel
        The branch's language model, of a supported family.
    tokens : Tensor of shape (B, N, d)
        Its input embeddings.
    hidden_states : bool
        Whether to return the feature states too.

    Returns
    -------
    residual : Tensor of shape (B, N, d)
        ``LM(tokens) + tokens``.
    states : tuple of Tensor or None
        The n + 1 feature states, shallowest first (``None`` unless
        ``hidden_states``).

    Examples
    --------
    >>> from transformers import GPT2Model
    >>> from calf_sklearn.backbone import gpt2_config
    >>> model = GPT2Model(gpt2_config({"n_embd": 16, "n_layer": 2, "n_head": 2, "vocab_size": 32}))
    >>> residual, states = run_branch(model, torch.randn(3, 5, 16), hidden_states=True)
    >>> residual.shape, len(states), states[-1] is residual
    (torch.Size([3, 5, 16]), 3, True)
    """
    out = model(inputs_embeds=tokens, output_hidden_states=hidden_states, use_cache=False)
    residual = out.last_hidden_state + tokens
    if not hidden_states:
        return residual, None
    return residual, (*out.hidden_states[:-1], residual)
