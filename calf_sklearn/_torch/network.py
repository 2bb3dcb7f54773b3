"""The CALF dual-branch network (torch only).

The public face of this module is :mod:`calf_sklearn.network`; its documentation is there.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn
from torch.nn import functional as F

from .branches import add_lora, fuse_gelu, merge_lora, normalise, run_branch, share_frozen
from .export import export_payload, network_from_payload
from .families import backbone_family

__all__ = ["CALFNetwork", "CALFOutputs", "PrincipalWordAttention"]


class CALFOutputs(NamedTuple):
    """What a training forward pass returns.

    Attributes
    ----------
    forecast : Tensor of shape (B, P, M)
        Temporal-branch forecast, in the input's units.
    textual_forecast : Tensor of shape (B, P, M) or None
        Textual-branch forecast (``None`` when the textual branch was skipped).
    features : list of Tensor or None
        The n + 1 projected hidden states of the temporal branch, shallowest
        first: the embedding output, the outputs of blocks 1 .. n-1 and, last,
        the residual output ``LM(tokens) + tokens`` that the head reads.
    textual_features : list of Tensor or None
        The n + 1 projected hidden states of the textual branch, likewise.

    Examples
    --------
    >>> from transformers import GPT2Model
    >>> from calf_sklearn.backbone import gpt2_config
    >>> backbone = GPT2Model(gpt2_config({"n_embd": 32, "n_layer": 2, "n_head": 4, "vocab_size": 64}))
    >>> net = CALFNetwork(backbone, seq_len=24, pred_len=8, principal_words=torch.randn(10, 32))
    >>> out = net.forward_train(torch.randn(5, 24, 3))
    >>> out.forecast.shape, len(out.features), out.features[0].shape
    (torch.Size([5, 8, 3]), 3, torch.Size([5, 3, 32]))
    """

    forecast: torch.Tensor
    textual_forecast: torch.Tensor | None
    features: list | None
    textual_features: list | None


class PrincipalWordAttention(nn.Module):
    """Multi-head cross-attention from time tokens to a fixed set of words.

    Equivalent to ``nn.MultiheadAttention(d, n_heads, dropout=0)`` called with
    ``query = tokens`` and ``key = value = words`` repeated over the batch,
    but the words are projected to keys and values once per call and every
    query of the batch attends to that one set (folded into SDPA's sequence
    axis), so no per-window copy of the words is ever made and no attention
    weights are formed outside the fused kernel.

    Parameters
    ----------
    d_model : int
        Width of tokens and words.
    n_heads : int
        Number of attention heads; must divide ``d_model``.

    Examples
    --------
    >>> attention = PrincipalWordAttention(16, 4)
    >>> attention(torch.randn(3, 5, 16), torch.randn(7, 16)).shape
    torch.Size([3, 5, 16])
    """

    def __init__(self, d_model, n_heads):
        super().__init__()
        if d_model % n_heads:
            raise ValueError(f"d_model={d_model} is not divisible by n_heads={n_heads}")
        self.n_heads = n_heads
        self.in_proj_weight = nn.Parameter(torch.empty(3 * d_model, d_model))
        self.in_proj_bias = nn.Parameter(torch.zeros(3 * d_model))
        self.out_proj = nn.Linear(d_model, d_model)
        # The initialisation nn.MultiheadAttention uses.
        nn.init.xavier_uniform_(self.in_proj_weight)
        nn.init.zeros_(self.out_proj.bias)

    def forward(self, tokens, words):
        """Attend from every token to the words.

        Parameters
        ----------
        tokens : Tensor of shape (B, N, d)
            Queries: N tokens of each of B windows.
        words : Tensor of shape (K, d)
            Keys and values, the same for every window.

        Returns
        -------
        Tensor of shape (B, N, d)
            The attention output, projected by ``out_proj``.

        Examples
        --------
        >>> _ = torch.manual_seed(0)
        >>> attention = PrincipalWordAttention(16, 4)
        >>> tokens, words = torch.randn(3, 5, 16), torch.randn(7, 16)
        >>> # The same as nn.MultiheadAttention with the words repeated for each window.
        >>> reference = nn.MultiheadAttention(16, 4, batch_first=True)
        >>> _ = reference.load_state_dict(attention.state_dict())
        >>> expected, _ = reference(tokens, words.expand(3, 7, 16), words.expand(3, 7, 16))
        >>> torch.allclose(attention(tokens, words), expected, atol=1e-5)
        True
        """
        batch, n_tokens, width = tokens.shape
        head = width // self.n_heads
        w_q, w_k, w_v = self.in_proj_weight.chunk(3)
        b_q, b_k, b_v = self.in_proj_bias.chunk(3)

        def heads(t):  # (n, width) -> (1, heads, n, head)
            return t.reshape(1, -1, self.n_heads, head).transpose(1, 2)

        query = heads(F.linear(tokens.reshape(-1, width), w_q, b_q))
        out = F.scaled_dot_product_attention(
            query, heads(F.linear(words, w_k, b_k)), heads(F.linear(words, w_v, b_v))
        )
        return self.out_proj(out.transpose(1, 2).reshape(batch, n_tokens, width))


class CALFNetwork(nn.Module):
    """The CALF network: input encoder, two language-model branches and a shared head.

    The temporal branch carries LoRA on the attention's query, key and value
    projections (GPT-2's ``c_attn``) and trains its norms and learned
    position embedding; the textual branch trains only its learned position
    embedding (none where positions are rotary). Both use the same frozen
    backbone tensors (one copy in memory). The backbone's input word
    embedding (GPT-2's ``wte``) is removed: inputs are always embeddings, and
    the principal words replace the vocabulary. Which modules these are
    depends on the backbone's family (:func:`~calf_sklearn.backbone.backbone_family`).

    Parameters
    ----------
    backbone : transformers.PreTrainedModel
        The base model of a supported family (``GPT2Model``, ``LlamaModel``,
        ...), already truncated to the layers to keep. It is modified and
        becomes the temporal branch.
    seq_len : int
        Look-back length L.
    pred_len : int
        Horizon P.
    principal_words : Tensor of shape (K, d), default=None
        Fixed keys and values of the cross-modal match. ``None`` builds the
        inference-only network (no textual branch, cross-attention or
        feature projections).
    lora_r, lora_alpha, lora_dropout : int, float, float
        LoRA settings; ``lora_r=0`` adds no adapters (used when rebuilding a
        network whose adapters were merged).
    encoder_ffn : int, default=2048
        Feed-forward width of the input encoder layer.
    dropout : float, default=0.1
        Dropout of the input encoder layer.

    Attributes
    ----------
    has_training_parts : bool
        Whether the textual branch and the other training-only parts exist.

    Examples
    --------
    >>> from transformers import GPT2Model
    >>> from calf_sklearn.backbone import gpt2_config
    >>> backbone = GPT2Model(gpt2_config({"n_embd": 32, "n_layer": 2, "n_head": 4, "vocab_size": 64}))
    >>> net = CALFNetwork(backbone, seq_len=24, pred_len=8, principal_words=torch.randn(10, 32))
    >>> net(torch.randn(5, 24, 3)).shape
    torch.Size([5, 8, 3])
    >>> out = net.forward_train(torch.randn(5, 24, 3))
    >>> len(out.features), out.textual_forecast.shape
    (3, torch.Size([5, 8, 3]))
    """

    def __init__(
        self,
        backbone,
        *,
        seq_len,
        pred_len,
        principal_words=None,
        lora_r=8,
        lora_alpha=32,
        lora_dropout=0.1,
        encoder_ffn=2048,
        dropout=0.1,
    ):
        super().__init__()
        config = backbone.config
        family = backbone_family(config)
        width, n_heads = config.hidden_size, config.num_attention_heads
        n_states = len(family.layers(backbone)) + 1
        family.drop_input_embeddings(backbone)  # never used: inputs are embeddings
        fuse_gelu(backbone)  # before the textual branch is copied from it
        self.input_projection = nn.Linear(seq_len, width)
        self.encoder = nn.TransformerEncoderLayer(
            width, n_heads, encoder_ffn, dropout, activation="relu", batch_first=True
        )
        self.has_training_parts = principal_words is not None
        if self.has_training_parts:
            self.textual = share_frozen(backbone)
            self.cross_attention = PrincipalWordAttention(width, n_heads)
            self.register_buffer("principal_words", torch.as_tensor(principal_words, dtype=torch.float32))
            self.projections = nn.ModuleList(nn.Linear(width, width, bias=False) for _ in range(n_states))
            self.textual_projections = nn.ModuleList(
                nn.Linear(width, width, bias=False) for _ in range(n_states)
            )
            for name, parameter in self.textual.named_parameters():
                parameter.requires_grad_(family.is_position(name))
        self.temporal = add_lora(backbone, lora_r, lora_alpha, lora_dropout) if lora_r else backbone
        for name, parameter in self.temporal.named_parameters():
            parameter.requires_grad_("lora_" in name or family.is_own(name))
        self.head = nn.Linear(width, pred_len)

    @property
    def seq_len(self):
        """Look-back length L the network takes.

        Examples
        --------
        >>> from transformers import GPT2Model
        >>> from calf_sklearn.backbone import gpt2_config
        >>> backbone = GPT2Model(gpt2_config({"n_embd": 16, "n_layer": 1, "n_head": 2, "vocab_size": 32}))
        >>> CALFNetwork(backbone, seq_len=24, pred_len=8).seq_len
        24
        """
        return self.input_projection.in_features

    @property
    def pred_len(self):
        """Horizon P the network forecasts.

        Examples
        --------
        >>> from transformers import GPT2Model
        >>> from calf_sklearn.backbone import gpt2_config
        >>> backbone = GPT2Model(gpt2_config({"n_embd": 16, "n_layer": 1, "n_head": 2, "vocab_size": 32}))
        >>> CALFNetwork(backbone, seq_len=24, pred_len=8).pred_len
        8
        """
        return self.head.out_features

    def _time_tokens(self, x):
        # The statistics stay in the input's precision (float32) whatever the
        # weights' dtype: a bfloat16 mean of raw values would be off by units.
        x, mean, std = normalise(x)
        x = x.to(self.input_projection.weight.dtype)
        return self.encoder(self.input_projection(x.transpose(1, 2))), mean, std

    def _forecast(self, hidden, mean, std):
        return self.head(hidden).to(mean.dtype).transpose(1, 2) * std + mean

    def forward(self, x):
        """Forecast with the temporal branch alone (inference and validation).

        Parameters
        ----------
        x : Tensor of shape (B, L, M)
            Look-back windows.

        Returns
        -------
        Tensor of shape (B, P, M)
            Forecasts in the units of ``x``.

        Examples
        --------
        >>> _ = torch.manual_seed(0)
        >>> from transformers import GPT2Model
        >>> from calf_sklearn.backbone import gpt2_config
        >>> backbone = GPT2Model(gpt2_config({"n_embd": 16, "n_layer": 1, "n_head": 2, "vocab_size": 32}))
        >>> net = CALFNetwork(backbone, seq_len=24, pred_len=8).eval()
        >>> x = torch.randn(5, 24, 3)
        >>> net(x).shape
        torch.Size([5, 8, 3])
        >>> # Each window is standardised first: shifting and scaling it does the same to its forecast.
        >>> torch.allclose(net(10 + 2 * x), 10 + 2 * net(x), atol=1e-3)
        True
        """
        tokens, mean, std = self._time_tokens(x)
        hidden, _ = run_branch(self.temporal, tokens, hidden_states=False)
        return self._forecast(hidden, mean, std)

    def forward_train(self, x, textual=True, features=True):
        """Run both branches for the training loss.

        Parameters
        ----------
        x : Tensor of shape (B, L, M)
            Look-back windows.
        textual : bool, default=True
            Run the textual branch (needed by the output and feature losses).
        features : bool, default=True
            Collect and project the hidden states (needed by the feature loss).

        Returns
        -------
        CALFOutputs
            The two forecasts and the projected hidden states; the textual
            forecast is ``None`` when ``textual`` and ``features`` are both
            false, the states are ``None`` when ``features`` is false.

        Raises
        ------
        RuntimeError
            If the network was built for inference only and ``textual`` or
            ``features`` is true.

        Examples
        --------
        >>> _ = torch.manual_seed(0)
        >>> from transformers import GPT2Model
        >>> from calf_sklearn.backbone import gpt2_config
        >>> backbone = GPT2Model(gpt2_config({"n_embd": 16, "n_layer": 1, "n_head": 2, "vocab_size": 32}))
        >>> net = CALFNetwork(backbone, seq_len=24, pred_len=8, principal_words=torch.randn(5, 16))
        >>> x = torch.randn(4, 24, 3)
        >>> out = net.forward_train(x)
        >>> out.textual_forecast.shape, len(out.features), out.features[0].shape
        (torch.Size([4, 8, 3]), 2, torch.Size([4, 3, 16]))
        >>> out = net.forward_train(x, features=False)
        >>> out.textual_forecast is not None, out.features
        (True, None)
        """
        if (textual or features) and not self.has_training_parts:
            raise RuntimeError("this network was built for inference only; it cannot be trained")
        tokens, mean, std = self._time_tokens(x)
        hidden, states = run_branch(self.temporal, tokens, hidden_states=features)
        forecast = self._forecast(hidden, mean, std)
        if not (textual or features):
            return CALFOutputs(forecast, None, None, None)
        text_tokens = self.cross_attention(tokens, self.principal_words)
        text_hidden, text_states = run_branch(self.textual, text_tokens, hidden_states=features)
        projected = textual_projected = None
        if features:
            projected = [p(s) for p, s in zip(self.projections, states)]
            textual_projected = [p(s) for p, s in zip(self.textual_projections, text_states)]
        return CALFOutputs(forecast, self._forecast(text_hidden, mean, std), projected, textual_projected)

    def main_parameters(self):
        """Trainable parameters other than the feature projections.

        Returns
        -------
        list of torch.nn.Parameter
            What the main optimiser trains: input encoder, head, LoRA
            adapters, the branches' own norms and learned position
            embeddings and the cross-attention. The frozen backbone tensors are not in it.

        Examples
        --------
        >>> from transformers import GPT2Model
        >>> from calf_sklearn.backbone import gpt2_config
        >>> backbone = GPT2Model(gpt2_config({"n_embd": 16, "n_layer": 1, "n_head": 2, "vocab_size": 32}))
        >>> net = CALFNetwork(backbone, seq_len=24, pred_len=8, principal_words=torch.randn(5, 16))
        >>> names = {id(p): name for name, p in net.named_parameters()}
        >>> main = [names[id(p)] for p in net.main_parameters()]
        >>> sorted({name.split(".")[0] for name in main})
        ['cross_attention', 'encoder', 'head', 'input_projection', 'temporal', 'textual']
        >>> any("lora_" in name for name in main), any(name.endswith("c_attn.weight") for name in main)
        (True, False)
        """
        skip = set()
        if self.has_training_parts:
            skip = {id(p) for p in self.projections.parameters()}
            skip |= {id(p) for p in self.textual_projections.parameters()}
        return [p for p in self.parameters() if p.requires_grad and id(p) not in skip]

    def projection_parameters(self):
        """The feature projections' parameters (their own optimiser).

        Returns
        -------
        list of torch.nn.Parameter
            The weights of the temporal and the textual projections of every
            hidden state; empty for an inference-only network.

        Examples
        --------
        >>> from transformers import GPT2Model
        >>> from calf_sklearn.backbone import gpt2_config
        >>> backbone = GPT2Model(gpt2_config({"n_embd": 16, "n_layer": 1, "n_head": 2, "vocab_size": 32}))
        >>> net = CALFNetwork(backbone, seq_len=24, pred_len=8, principal_words=torch.randn(5, 16))
        >>> len(net.projection_parameters())  # 2 hidden states, 2 branches
        4
        >>> net.strip_for_inference().projection_parameters()
        []
        """
        if not self.has_training_parts:
            return []
        return list(self.projections.parameters()) + list(self.textual_projections.parameters())

    def hold_frozen_matrices_in(self, dtype):
        """Keep the frozen backbone's weight matrices in ``dtype`` (mixed-precision training).

        Under ``torch.autocast`` every product casts its float32 weight to
        the lower precision, and keeps that copy for the backward pass, once
        per branch and step. The frozen matrices are never updated, so they
        need no float32 master copy: held in ``dtype`` they give the same
        products without the copies (about a fifth less training memory at
        the paper's shape). Trainable tensors, LayerNorms and biases are left
        in float32. :meth:`strip_for_inference` brings them back to float32
        before it merges LoRA.

        Parameters
        ----------
        dtype : torch.dtype
            The autocast dtype, e.g. ``torch.bfloat16``.

        Returns
        -------
        self : CALFNetwork

        Examples
        --------
        >>> from transformers import GPT2Model
        >>> from calf_sklearn.backbone import gpt2_config
        >>> backbone = GPT2Model(gpt2_config({"n_embd": 16, "n_layer": 1, "n_head": 2, "vocab_size": 32}))
        >>> net = CALFNetwork(backbone, seq_len=8, pred_len=4, principal_words=torch.randn(5, 16))
        >>> _ = net.hold_frozen_matrices_in(torch.bfloat16)
        >>> attention = net.temporal.h[0].attn.c_attn
        >>> attention.base_layer.weight.dtype, attention.lora_A.default.weight.dtype
        (torch.bfloat16, torch.float32)
        """
        for parameter in self.parameters():
            if not parameter.requires_grad and parameter.ndim == 2 and parameter.is_floating_point():
                parameter.data = parameter.data.to(dtype)
        return self

    def store_matrices_transposed(self):
        """Store GPT-2's weight matrices (kept as (in, out)) in the transposed memory layout.

        The values and the forecasts' shapes do not change; only which of the
        CPU's matrix-product kernels runs does. Where a CPU has no bfloat16
        instructions, torch's fallback kernel multiplies by a bfloat16
        (in, out) matrix about 10x slower than by the same matrix stored
        transposed (measured on an AVX2 CPU, docs/performance.md);
        :func:`~calf_sklearn.precision.place_network` calls this there.

        Returns
        -------
        self : CALFNetwork

        Examples
        --------
        >>> from transformers import GPT2Model
        >>> from calf_sklearn.backbone import gpt2_config
        >>> backbone = GPT2Model(gpt2_config({"n_embd": 16, "n_layer": 1, "n_head": 2, "vocab_size": 32}))
        >>> net = CALFNetwork(backbone, seq_len=8, pred_len=4).strip_for_inference().eval()
        >>> x = torch.randn(3, 8, 2)
        >>> before = net(x)
        >>> weight = net.store_matrices_transposed().temporal.h[0].attn.c_attn.weight
        >>> weight.shape, weight.is_contiguous(), torch.equal(net(x), before)
        (torch.Size([16, 48]), False, True)
        """
        from transformers.pytorch_utils import Conv1D

        for module in self.modules():
            if isinstance(module, Conv1D) and module.weight.is_contiguous():
                module.weight.data = module.weight.data.t().contiguous().t()
        return self

    def strip_for_inference(self):
        """Drop everything only training needs and merge LoRA into the weights.

        Afterwards the network holds one copy of the backbone, no principal
        words and no adapters, and forecasts exactly as before up to float
        rounding of the merge.

        Returns
        -------
        self : CALFNetwork
            The same network, modified in place, with no trainable parameters.

        Examples
        --------
        >>> _ = torch.manual_seed(0)
        >>> from transformers import GPT2Model
        >>> from calf_sklearn.backbone import gpt2_config
        >>> backbone = GPT2Model(gpt2_config({"n_embd": 16, "n_layer": 1, "n_head": 2, "vocab_size": 32}))
        >>> net = CALFNetwork(backbone, seq_len=24, pred_len=8, principal_words=torch.randn(5, 16))
        >>> x = torch.randn(4, 24, 3)
        >>> before = net.eval()(x)
        >>> net.strip_for_inference() is net
        True
        >>> net.has_training_parts, hasattr(net, "textual"), any(p.requires_grad for p in net.parameters())
        (False, False, False)
        >>> torch.allclose(net(x), before, atol=1e-5)
        True
        """
        if self.has_training_parts:
            del self.textual, self.cross_attention, self.projections, self.textual_projections
            del self.principal_words
            self.has_training_parts = False
        # LoRA is merged in float32 (frozen matrices may be held in bfloat16).
        for parameter in self.parameters():
            if parameter.is_floating_point() and parameter.dtype != torch.float32:
                parameter.data = parameter.data.float()
        # Safe only now: the textual branch no longer shares these weights.
        merge_lora(self.temporal)
        self.requires_grad_(False)
        return self

    def export(self):
        """Everything needed to rebuild an inference-only network, on the CPU.

        Returns
        -------
        dict
            ``config`` (the backbone's configuration as a dict, with its
            ``model_type``), ``seq_len``,
            ``pred_len``, ``encoder_ffn``, ``dropout`` and ``state_dict``.

        Raises
        ------
        RuntimeError
            If the network still has training parts or LoRA adapters (call
            :meth:`strip_for_inference` first).

        Examples
        --------
        >>> from transformers import GPT2Model
        >>> from calf_sklearn.backbone import gpt2_config
        >>> backbone = GPT2Model(gpt2_config({"n_embd": 16, "n_layer": 1, "n_head": 2, "vocab_size": 32}))
        >>> net = CALFNetwork(backbone, seq_len=24, pred_len=8, encoder_ffn=32)
        >>> payload = net.strip_for_inference().export()
        >>> sorted(payload)
        ['config', 'dropout', 'encoder_ffn', 'pred_len', 'seq_len', 'state_dict']
        >>> payload["seq_len"], payload["pred_len"], payload["encoder_ffn"], payload["config"]["n_embd"]
        (24, 8, 32, 16)
        """
        return export_payload(self)

    @classmethod
    def from_export(cls, payload):
        """Rebuild the inference-only network that :meth:`export` described.

        Parameters
        ----------
        payload : dict
            The output of :meth:`export`.

        Returns
        -------
        CALFNetwork
            In eval mode, on the CPU, with no trainable parameters.

        Examples
        --------
        >>> _ = torch.manual_seed(0)
        >>> from transformers import GPT2Model
        >>> from calf_sklearn.backbone import gpt2_config
        >>> backbone = GPT2Model(gpt2_config({"n_embd": 16, "n_layer": 1, "n_head": 2, "vocab_size": 32}))
        >>> net = CALFNetwork(backbone, seq_len=24, pred_len=8).strip_for_inference().eval()
        >>> rebuilt = CALFNetwork.from_export(net.export())
        >>> x = torch.randn(4, 24, 3)
        >>> torch.allclose(rebuilt(x), net(x), atol=1e-6), rebuilt.training
        (True, False)
        """
        return network_from_payload(cls, payload)
