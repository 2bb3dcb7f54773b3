"""Forecasting stacks of look-back windows with a trained network (torch only).

The public face of :func:`forecast_windows` is :mod:`calf_sklearn.network`; its documentation is there.
"""

from __future__ import annotations

import contextlib

import numpy as np
import torch

from .transfer import to_device

__all__ = ["forecast_windows"]


def forecast_windows(network, windows, batch_size, device, *, precision=None, forward=None):
    """Forecast a stack of look-back windows in batches, without gradients.

    Parameters
    ----------
    network : CALFNetwork
        The network (put in eval mode for the call, then restored).
    windows : ndarray of shape (N, L, M)
        Look-back windows.
    batch_size : int
        Windows per forward pass.
    device : torch.device
        Where the network lives.
    precision : calf_sklearn.precision.Precision, default=None
        Run under its autocast (validation of a mixed-precision fit, whose
        weights are still float32); ``None`` runs in the weights' dtype.
    forward : callable, default=None
        What maps a batch tensor on ``device`` to its forecast, e.g. a
        compiled copy of ``network``; ``None`` calls ``network``.

    Returns
    -------
    ndarray of shape (N, P, M), float32
        Forecasts.

    Examples
    --------
    >>> from transformers import GPT2Model
    >>> from calf_sklearn.backbone import gpt2_config
    >>> from calf_sklearn.network import CALFNetwork
    >>> backbone = GPT2Model(gpt2_config({"n_embd": 32, "n_layer": 2, "n_head": 4, "vocab_size": 64}))
    >>> net = CALFNetwork(backbone, seq_len=24, pred_len=8, principal_words=torch.randn(10, 32))
    >>> windows = np.random.default_rng(0).normal(size=(10, 24, 3))
    >>> forecast_windows(net, windows, batch_size=4, device=torch.device("cpu")).shape
    (10, 8, 3)
    """
    forward = network if forward is None else forward
    autocast = precision.autocast() if precision is not None else contextlib.nullcontext()
    was_training = network.training
    network.eval()
    out = []
    try:
        with torch.inference_mode(), autocast:
            for start in range(0, len(windows), batch_size):
                # Contiguous float32 whatever the caller's layout: the same
                # values then take the same kernels and give the same bits.
                batch = to_device(windows[start : start + batch_size], device)
                out.append(forward(batch).float().cpu().numpy())
    finally:
        network.train(was_training)
    if not out:
        return np.empty((0, network.pred_len, windows.shape[-1]), dtype=np.float32)
    return np.concatenate(out)
