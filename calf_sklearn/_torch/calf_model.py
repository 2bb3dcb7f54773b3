"""Building CALF's network for a fit: the backbone, its principal words and the two branches."""

from __future__ import annotations

import torch

from .backbone import load_backbone
from .families import backbone_family
from .network import CALFNetwork
from .vocabulary import cached_principal_word_embeddings

__all__ = ["build_calf_network", "llm_name"]


def llm_name(llm):
    """What names a backbone in the principal-word cache: its hub id or folder, else its family's configuration."""
    if isinstance(llm, str):
        return llm
    if isinstance(llm, dict):
        return f"random {llm.get('model_type', 'gpt2')} configuration"
    return type(llm).__name__


def build_calf_network(
    llm,
    *,
    pretrained,
    n_layers,
    revision,
    local_files_only,
    n_principal_words,
    cache_dir,
    seq_len,
    pred_len,
    lora_r,
    lora_alpha,
    lora_dropout,
):
    """Load the backbone, take its principal words (from the cache when there) and build the network.

    Random initialisation draws from torch's global generator: seed it first
    (see :func:`calf_sklearn._torch.seeding.seeded`).

    Parameters
    ----------
    llm : str, path-like, dict or transformers.PretrainedConfig
        The backbone (see :func:`calf_sklearn.backbone.load_backbone`).
    pretrained, n_layers, revision, local_files_only :
        How to load it.
    n_principal_words : int
        Rows of the principal-word matrix (the PCA of the word embeddings).
    cache_dir : str, path-like or None
        Where principal words are cached.
    seq_len, pred_len, lora_r, lora_alpha, lora_dropout :
        The network's shape and the temporal branch's LoRA.

    Returns
    -------
    CALFNetwork
        On the CPU.

    Examples
    --------
    >>> _ = torch.manual_seed(0)
    >>> tiny = {"n_embd": 16, "n_layer": 1, "n_head": 2, "vocab_size": 32}
    >>> network = build_calf_network(tiny, pretrained=False, n_layers=1, revision=None,
    ...                              local_files_only=False, n_principal_words=8, cache_dir=None,
    ...                              seq_len=24, pred_len=6, lora_r=4, lora_alpha=8, lora_dropout=0.0)
    >>> network.pred_len, tuple(network.principal_words.shape)
    (6, (8, 16))
    """
    backbone = load_backbone(
        llm, pretrained=pretrained, n_layers=n_layers, revision=revision, local_files_only=local_files_only
    )
    # The family's input embedding (not an untied output head) is the vocabulary.
    embeddings = backbone_family(backbone).input_embeddings(backbone).weight.detach()
    words, _ = cached_principal_word_embeddings(
        embeddings.cpu().numpy(), n_principal_words, cache_dir, source=str(llm_name(llm))
    )
    return CALFNetwork(
        backbone,
        seq_len=seq_len,
        pred_len=pred_len,
        principal_words=torch.from_numpy(words),
        lora_r=lora_r,
        lora_alpha=lora_alpha,
        lora_dropout=lora_dropout,
    )
