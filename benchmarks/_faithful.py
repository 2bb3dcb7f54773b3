"""A deliberately unoptimised CALF network, as the authors' implementation runs it.

Written from the method description (``METHOD.md``), not from the authors'
code, to serve as the baseline of ``speed_memory.py``. It computes the same
function as :class:`calf_sklearn.network.CALFNetwork` and has the same
trainable parameters, but pays every cost that the method page lists as a
deviation of ours:

- two separate, complete GPT-2 copies, each with its own word-embedding
  matrix ``wte`` (never used, but held, trained over by nothing and saved);
- peft LoRA on the temporal copy through ``get_peft_model``, never merged;
- cross-attention with ``torch.nn.MultiheadAttention`` over a per-window copy
  of the principal words, with the attention weights requested;
- both copies called with ``output_attentions=True`` and
  ``output_hidden_states=True`` on the eager attention path;
- inference that runs both branches and the feature projections and keeps
  only the temporal forecast.

Like the authors' model, it adds each branch's residual in place to the
tensor that is also the last entry of the hidden-state tuple, so the deepest
feature state is the residual output (our network builds that state
explicitly; the start-up check of ``speed_memory.py`` compares the two).

The normalisation, input projection, encoder layer and head are
calf_sklearn's, so only the parts named above differ.
"""

from __future__ import annotations

import torch
from torch import nn

from calf_sklearn._torch.branches import normalise
from calf_sklearn._torch.network import CALFOutputs

__all__ = ["FaithfulCALF", "copy_weights_from"]

# What each language copy trains besides LoRA (the method, section 5).
_OWN = ("ln_1.", "ln_2.", "ln_f.", "wpe.")


def _gpt2(config):
    from transformers import GPT2Model

    config = config.__class__.from_dict(config.to_dict())
    # Attention weights are asked for, which the fused kernels cannot return.
    config._attn_implementation = "eager"
    return GPT2Model(config)


class FaithfulCALF(nn.Module):
    """CALF the unoptimised way (see the module docstring).

    Parameters
    ----------
    config : transformers.GPT2Config
        Shape of the language model, with ``n_layer`` already set to the
        number of blocks kept.
    seq_len, pred_len : int
        Look-back L and horizon P.
    principal_words : Tensor of shape (K, d)
        The fixed words of the cross-modal match.
    lora_r, lora_alpha, lora_dropout : int, float, float
        LoRA settings.
    encoder_ffn : int, default=2048
        Feed-forward width of the input encoder layer.
    dropout : float, default=0.1
        Dropout of the input encoder layer.
    """

    def __init__(
        self,
        config,
        *,
        seq_len,
        pred_len,
        principal_words,
        lora_r=8,
        lora_alpha=32,
        lora_dropout=0.1,
        encoder_ffn=2048,
        dropout=0.1,
    ):
        super().__init__()
        from peft import LoraConfig, get_peft_model

        width, n_heads = config.n_embd, config.n_head
        n_states = config.n_layer + 1
        self.input_projection = nn.Linear(seq_len, width)
        self.encoder = nn.TransformerEncoderLayer(
            width, n_heads, encoder_ffn, dropout, activation="relu", batch_first=True
        )
        # Two independent copies: nothing is shared, each keeps its vocabulary.
        lora = LoraConfig(
            r=lora_r,
            lora_alpha=lora_alpha,
            lora_dropout=lora_dropout,
            target_modules=["c_attn"],
            bias="none",
            fan_in_fan_out=True,
        )
        self.temporal = get_peft_model(_gpt2(config), lora)
        self.textual = _gpt2(config)
        for name, parameter in self.temporal.named_parameters():
            parameter.requires_grad_("lora_" in name or any(part in name for part in _OWN))
        for name, parameter in self.textual.named_parameters():
            parameter.requires_grad_(name.startswith("wpe."))
        self.cross_attention = nn.MultiheadAttention(width, n_heads, dropout=0.0, batch_first=True)
        # Not part of the saved state: the authors' checkpoints hold parameters only.
        self.register_buffer(
            "principal_words", torch.as_tensor(principal_words, dtype=torch.float32), persistent=False
        )
        self.projections = nn.ModuleList(nn.Linear(width, width, bias=False) for _ in range(n_states))
        self.textual_projections = nn.ModuleList(nn.Linear(width, width, bias=False) for _ in range(n_states))
        self.head = nn.Linear(width, pred_len)

    def forward_train(self, x, textual=True, features=True):
        """Both branches, every hidden state and attention map, the projections.

        ``textual`` and ``features`` are accepted for the trainer's sake and
        ignored: this path always computes everything.
        """
        del textual, features
        x, mean, std = normalise(x)
        tokens = self.encoder(self.input_projection(x.transpose(1, 2)))
        # One copy of the words per window.
        words = self.principal_words.unsqueeze(0).repeat(x.shape[0], 1, 1)
        text_tokens, _ = self.cross_attention(tokens, words, words, need_weights=True)
        temporal = self.temporal(
            inputs_embeds=tokens, output_attentions=True, output_hidden_states=True, use_cache=False
        )
        textual_out = self.textual(
            inputs_embeds=text_tokens, output_attentions=True, output_hidden_states=True, use_cache=False
        )
        # The residual is added in place, as the authors add it: the last
        # hidden state of the tuple is the very tensor modified, so the deepest
        # feature state includes the residual (METHOD.md section 5).
        for out, inputs in ((temporal, tokens), (textual_out, text_tokens)):
            if out.hidden_states[-1] is not out.last_hidden_state:
                raise RuntimeError(
                    "this transformers version returns a copy as the last hidden state, so an "
                    "in-place residual no longer reaches the feature states as in the authors' model"
                )
            out.last_hidden_state += inputs
        projected = [p(s) for p, s in zip(self.projections, temporal.hidden_states)]
        textual_projected = [p(s) for p, s in zip(self.textual_projections, textual_out.hidden_states)]
        forecast = self.head(temporal.last_hidden_state).transpose(1, 2) * std + mean
        textual_forecast = self.head(textual_out.last_hidden_state).transpose(1, 2) * std + mean
        return CALFOutputs(forecast, textual_forecast, projected, textual_projected)

    def forward(self, x):
        """The temporal forecast, computed as the training pass does (both branches)."""
        return self.forward_train(x).forecast

    def main_parameters(self):
        """Trainable parameters other than the feature projections."""
        skip = {id(p) for p in self.projections.parameters()}
        skip |= {id(p) for p in self.textual_projections.parameters()}
        return [p for p in self.parameters() if p.requires_grad and id(p) not in skip]

    def projection_parameters(self):
        """The feature projections' parameters (their own optimiser)."""
        return list(self.projections.parameters()) + list(self.textual_projections.parameters())


def ours_name(name):
    """The name that a faithful parameter has in ``CALFNetwork``."""
    return name.replace("temporal.base_model.model.", "temporal.", 1)


def copy_weights_from(faithful, network):
    """Give ``faithful`` the weights of an unstripped ``CALFNetwork``.

    Every tensor of ``network`` lands in its counterpart; only the two
    vocabulary matrices, which ``network`` does not have, keep their values.
    """
    source = network.state_dict()
    state = faithful.state_dict()
    left = set(state)
    with torch.no_grad():
        for name, tensor in state.items():
            key = ours_name(name)
            if key in source:
                tensor.copy_(source[key])
                left.discard(name)
    unexpected = {n for n in left if not n.endswith("wte.weight")}
    if unexpected:
        raise RuntimeError(f"no counterpart in CALFNetwork for {sorted(unexpected)}")
    with torch.no_grad():
        faithful.principal_words.copy_(network.principal_words)
    missing = set(source) - {ours_name(n) for n in state} - {"principal_words"}
    if missing:
        raise RuntimeError(f"no counterpart in FaithfulCALF for {sorted(missing)}")
    return faithful
