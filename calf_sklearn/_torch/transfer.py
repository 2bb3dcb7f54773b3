"""Host-to-device copies of NumPy batches (torch only)."""

from __future__ import annotations

import numpy as np
import torch


def to_device(array, device, dtype=np.float32):
    """``array`` as a contiguous tensor of ``dtype`` on ``device``.

    To a GPU the batch goes through page-locked (pinned) host memory with a
    non-blocking copy, so the transfer overlaps the work already queued on
    the device; on the CPU the tensor shares ``array``'s memory when it can.
    """
    tensor = torch.from_numpy(np.ascontiguousarray(array, dtype=dtype))
    if device.type == "cuda":
        return tensor.pin_memory().to(device, non_blocking=True)
    return tensor.to(device)
