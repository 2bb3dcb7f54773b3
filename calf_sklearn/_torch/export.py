"""The export format of an inference-only CALF network: what it holds and how it is rebuilt (torch only).

:meth:`~calf_sklearn.network.CALFNetwork.export` and
:meth:`~calf_sklearn.network.CALFNetwork.from_export` are the public faces of
these functions; the persistence of the estimators stores the payload.
"""

from __future__ import annotations

import itertools

import torch

__all__ = ["export_payload", "network_from_payload"]


def export_payload(network):
    """Everything needed to rebuild an inference-only network, on the CPU.

    Parameters
    ----------
    network : CALFNetwork
        A network after :meth:`~calf_sklearn.network.CALFNetwork.strip_for_inference`.

    Returns
    -------
    dict
        ``config`` (the backbone's configuration as a dict, with its
        ``model_type``), ``seq_len``,
        ``pred_len``, ``encoder_ffn``, ``dropout`` and ``state_dict``.

    Raises
    ------
    RuntimeError
        If the network still has training parts or LoRA adapters.

    Examples
    --------
    >>> from transformers import GPT2Model
    >>> from calf_sklearn.backbone import gpt2_config
    >>> from calf_sklearn.network import CALFNetwork
    >>> backbone = GPT2Model(gpt2_config({"n_embd": 16, "n_layer": 1, "n_head": 2, "vocab_size": 32}))
    >>> net = CALFNetwork(backbone, seq_len=24, pred_len=8).strip_for_inference()
    >>> export_payload(net)["pred_len"]
    8
    """
    if network.has_training_parts or any("lora_" in n for n, _ in network.named_parameters()):
        raise RuntimeError("call strip_for_inference() before export()")
    return {
        "config": network.temporal.config.to_dict(),
        "seq_len": network.seq_len,
        "pred_len": network.pred_len,
        "encoder_ffn": network.encoder.linear1.out_features,
        "dropout": network.encoder.dropout.p,
        "state_dict": {k: v.detach().cpu() for k, v in network.state_dict().items()},
    }


def network_from_payload(cls, payload):
    """Rebuild the inference-only network that :func:`export_payload` described.

    Parameters
    ----------
    cls : type
        The network class, :class:`~calf_sklearn.network.CALFNetwork` (passed
        in, so that this module need not import the network's).
    payload : dict
        The output of :func:`export_payload`.

    Returns
    -------
    CALFNetwork
        In eval mode, on the CPU, with no trainable parameters.

    Examples
    --------
    >>> from transformers import GPT2Model
    >>> from calf_sklearn.backbone import gpt2_config
    >>> from calf_sklearn.network import CALFNetwork
    >>> backbone = GPT2Model(gpt2_config({"n_embd": 16, "n_layer": 1, "n_head": 2, "vocab_size": 32}))
    >>> net = CALFNetwork(backbone, seq_len=24, pred_len=8).strip_for_inference().eval()
    >>> rebuilt = network_from_payload(CALFNetwork, export_payload(net))
    >>> x = torch.randn(2, 24, 3)
    >>> torch.equal(rebuilt(x), net(x))
    True
    """
    from transformers import AutoModel

    from .backbone import llm_config

    # Saved by any version: a payload without model_type is GPT-2's.
    config = llm_config(payload["config"])
    # Build on the meta device and adopt the saved tensors: no time is
    # spent initialising weights that are overwritten at once.
    with torch.device("meta"):
        network = cls(
            AutoModel.from_config(config, attn_implementation="sdpa", dtype=torch.float32),
            seq_len=payload["seq_len"],
            pred_len=payload["pred_len"],
            lora_r=0,
            encoder_ffn=payload["encoder_ffn"],
            dropout=payload["dropout"],
        )
    network.load_state_dict(payload["state_dict"], strict=True, assign=True)
    _compute_derived_buffers(network.temporal)
    return network.requires_grad_(False).eval()


def _compute_derived_buffers(model):
    """Fill the buffers the state dict does not hold (rotary frequencies), left on the meta device.

    They follow from the configuration alone, so the family's own
    initialisation recomputes them.
    """
    for name, module in model.named_modules():
        if any(buffer.is_meta for buffer in module.buffers(recurse=False)):
            if any(True for _ in module.parameters(recurse=False)):
                # Initialising it would overwrite the weights just loaded.
                raise RuntimeError(f"{name} holds weights and unsaved buffers; it cannot be rebuilt safely")
            module.to_empty(device="cpu", recurse=False)
            model._init_weights(module)
    tensors = itertools.chain(model.named_parameters(), model.named_buffers())
    left = [name for name, tensor in tensors if tensor.is_meta]
    if left:
        raise RuntimeError(f"the saved network does not determine {left}; it cannot be rebuilt")
