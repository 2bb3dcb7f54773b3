"""Numeric precision of training and forecasting (torch only).

The public face of this module is :mod:`calf_sklearn.precision`; its documentation is there.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import torch

from .._utils.checks import suggest
from .._utils.hardware import cpu_info

__all__ = [
    "PRECISIONS",
    "Precision",
    "ReducedPrecisionWarning",
    "check_precision",
    "has_native_bfloat16",
    "place_network",
    "resolve_precision",
]

PRECISIONS = ("float32", "bfloat16", "float16")

_DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
# What PyTorch Lightning users type, and other common spellings.
_ALIASES = {
    "32": "float32",
    "32-true": "float32",
    "fp32": "float32",
    "bf16": "bfloat16",
    "bf16-mixed": "bfloat16",
    "16": "float16",
    "16-mixed": "float16",
    "fp16": "float16",
    "half": "float16",
}
_HALF_MASTER = ("bf16-true", "16-true", "64", "64-true", "float64", "transformer-engine")


class ReducedPrecisionWarning(UserWarning):
    """A precision runs here, but not as the user probably expects (slowly, or converted).

    Examples
    --------
    >>> import warnings
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore", ReducedPrecisionWarning)  # silence it where known
    """


def check_precision(value):
    """The canonical name of a precision, or a ``ValueError`` that says what to pass.

    Parameters
    ----------
    value : str, int or torch.dtype
        ``"float32"``, ``"bfloat16"``, ``"float16"`` (in any case), a PyTorch
        Lightning name (``"32-true"``, ``"bf16-mixed"``, ``"16-mixed"``,
        ``32``, ``16``...) or the torch dtype itself.

    Returns
    -------
    str
        One of :data:`PRECISIONS`.

    Raises
    ------
    ValueError
        If ``value`` names no precision calf-sklearn offers.

    Examples
    --------
    >>> check_precision("bf16-mixed"), check_precision(32), check_precision(torch.float16)
    ('bfloat16', 'float32', 'float16')
    >>> check_precision("bf16-true")
    Traceback (most recent call last):
    ...
    ValueError: precision='bf16-true' keeps the weights themselves in half precision, which calf-sklearn does not offer: pass 'bfloat16' (bfloat16 arithmetic, float32 weights and optimiser state).
    """
    if isinstance(value, torch.dtype):
        key = str(value).removeprefix("torch.")
    elif isinstance(value, (str, int)) and not isinstance(value, bool):
        key = str(value).lower()
    else:
        key = None
    if key in PRECISIONS:
        return key
    if key in _ALIASES:
        return _ALIASES[key]
    if key in _HALF_MASTER:
        raise ValueError(
            f"precision={value!r} keeps the weights themselves in half precision, which calf-sklearn "
            "does not offer: pass 'bfloat16' (bfloat16 arithmetic, float32 weights and optimiser state)."
            if "true" in key
            else f"precision={value!r} is not offered: pass one of {list(PRECISIONS)}."
        )
    raise ValueError(
        f"precision={value!r} is not one of {list(PRECISIONS)}."
        + suggest(str(value).lower(), PRECISIONS + tuple(_ALIASES))
    )


def _cpu_flags():
    return cpu_info()[1]


def has_native_bfloat16(device):
    """Whether ``device`` does bfloat16 arithmetic in hardware.

    On a CPU: the AVX512-BF16 or AMX instructions (read from
    ``/proc/cpuinfo``; where that file is missing, oneDNN's own check);
    elsewhere bfloat16 still runs, converted to float32 and back around every
    product, and on the 2-core AVX2 machine of ``docs/performance.md`` a
    training step took about 30x and a forecast about 5x as long as in
    float32. On CUDA: compute capability 8.0 (Ampere) or newer.

    Parameters
    ----------
    device : torch.device or str

    Returns
    -------
    bool

    Examples
    --------
    >>> isinstance(has_native_bfloat16("cpu"), bool)
    True
    """
    device = torch.device(device)
    if device.type == "cuda":
        # The capability of this device, not of the current one.
        return bool(torch.cuda.is_available() and torch.cuda.get_device_capability(device)[0] >= 8)
    if device.type != "cpu":
        return True
    flags = _cpu_flags()
    if flags:
        return bool({"avx512_bf16", "amx_bf16"} & flags)
    try:  # no /proc/cpuinfo (not Linux): oneDNN's own check, which is broader
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


@dataclass(frozen=True)
class Precision:
    """How one fit computes: a precision on a device type.

    Build it with :func:`resolve_precision`, which checks that the device
    can run it.

    Parameters
    ----------
    name : {"float32", "bfloat16", "float16"}
        The precision.
    device_type : str
        ``"cpu"`` or ``"cuda"`` (what ``torch.autocast`` takes).

    Attributes
    ----------
    dtype : torch.dtype
        The arithmetic (and forecasting weights') dtype.
    mixed : bool
        Whether training runs under autocast (every precision but float32).

    Examples
    --------
    >>> precision = Precision("bfloat16", "cpu")
    >>> precision.dtype, precision.mixed
    (torch.bfloat16, True)
    >>> layer = torch.nn.Linear(4, 2)
    >>> with precision.autocast():
    ...     out = layer(torch.randn(3, 4))
    >>> out.dtype, layer.weight.dtype  # bfloat16 products, float32 weights
    (torch.bfloat16, torch.float32)
    """

    name: str
    device_type: str

    @property
    def dtype(self):
        """The torch dtype of the arithmetic.

        Examples
        --------
        >>> Precision("float16", "cuda").dtype
        torch.float16
        """
        return _DTYPES[self.name]

    @property
    def mixed(self):
        """Whether training runs under autocast (every precision but float32).

        Examples
        --------
        >>> Precision("float32", "cpu").mixed, Precision("bfloat16", "cpu").mixed
        (False, True)
        """
        return self.name != "float32"

    def autocast(self):
        """The context that runs matrix products in :attr:`dtype` (a no-op for float32).

        Returns
        -------
        torch.autocast
            Enabled for bfloat16 and float16.

        Examples
        --------
        >>> with Precision("float32", "cpu").autocast():
        ...     out = torch.nn.Linear(4, 2)(torch.randn(3, 4))
        >>> out.dtype
        torch.float32
        """
        return torch.autocast(self.device_type, dtype=self.dtype, enabled=self.mixed)

    def grad_scaler(self):
        """torch's gradient scaler, enabled for float16 only.

        A disabled scaler passes the loss and the optimiser steps through
        unchanged, so one training step serves every precision.

        Returns
        -------
        torch.amp.GradScaler

        Examples
        --------
        >>> Precision("bfloat16", "cpu").grad_scaler().is_enabled()
        False
        >>> # resolve_precision allows float16 on CUDA only; built directly, the
        >>> # same scaler runs on a CPU (the tests exercise the CUDA path so).
        >>> Precision("float16", "cpu").grad_scaler().is_enabled()
        True
        """
        # The enabled check first: constructing a CUDA scaler on a machine
        # without CUDA would warn about it.
        enabled = self.name == "float16"
        return torch.amp.GradScaler(self.device_type if enabled else "cpu", enabled=enabled)


def resolve_precision(value, device):
    """Check that ``device`` can run ``value`` and return the :class:`Precision`.

    Parameters
    ----------
    value : str or int
        A precision name (see :func:`check_precision`).
    device : torch.device

    Returns
    -------
    Precision

    Raises
    ------
    ValueError
        For ``"float16"`` anywhere but CUDA, and for ``"bfloat16"`` on a GPU
        without bfloat16 (before Ampere); the message says what to use.

    Warns
    -----
    ReducedPrecisionWarning
        For ``"bfloat16"`` on a CPU without AVX512-BF16 or AMX, where it runs
        but slower than float32.

    Examples
    --------
    >>> resolve_precision("32-true", torch.device("cpu"))
    Precision(name='float32', device_type='cpu')
    >>> resolve_precision("float16", torch.device("cpu"))
    Traceback (most recent call last):
    ...
    ValueError: precision='float16' needs a CUDA device (float16 training needs a gradient scaler and CPUs compute float16 slowly); on a CPU pass precision='bfloat16', or 'float32'.
    """
    name = check_precision(value)
    device = torch.device(device)
    if name == "float16" and device.type != "cuda":
        raise ValueError(
            f"precision={value!r} needs a CUDA device (float16 training needs a gradient scaler and "
            f"CPUs compute float16 slowly); on a {device.type.upper()} pass precision='bfloat16', or "
            "'float32'."
        )
    if name == "bfloat16" and not has_native_bfloat16(device):
        if device.type == "cuda":
            raise ValueError(
                f"precision={value!r}: this GPU ({torch.cuda.get_device_name(device)}) has no bfloat16 "
                "arithmetic (it needs compute capability 8.0 or newer); pass precision='float16' or "
                "'float32'."
            )
        warnings.warn(
            "precision='bfloat16' on a CPU without AVX512-BF16 or AMX: it runs, but every product is "
            "converted to float32 and back, which is far slower than float32 here (on a 2-core AVX2 "
            "machine a training step took about 30x and a forecast about 5x as long; "
            "docs/performance.md). Use 'float32' on this CPU unless you need the half-size model.",
            ReducedPrecisionWarning,
            stacklevel=3,
        )
    return Precision(name, device.type)


def place_network(network, device, *, warn=True):
    """Move an inference network to ``device`` in a dtype and layout that run well there.

    A float16 network (trained on CUDA) moved to a CPU is converted to float32,
    with a warning: every float16 value is exactly a float32, so only the
    arithmetic changes, and forecasts may differ from the GPU's in the last
    digits. Likewise a bfloat16 network on a GPU without bfloat16. A bfloat16
    network on a CPU that emulates bfloat16 stores its matrices in the layout
    the emulation multiplies fastest (the network's
    ``store_matrices_transposed``, where it has one).

    Parameters
    ----------
    network : torch.nn.Module
        An inference network (all of whose floating weights share one dtype).
    device : torch.device
    warn : bool, default=True
        Warn that bfloat16 is emulated here (``False`` where the caller has
        already said so).

    Returns
    -------
    torch.nn.Module
        ``network``, moved (and converted where needed).

    Warns
    -----
    ReducedPrecisionWarning
        When the weights are converted, or when bfloat16 weights land on a
        CPU that emulates bfloat16.

    Examples
    --------
    >>> net = torch.nn.Linear(3, 2).half()
    >>> import warnings
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     net = place_network(net, torch.device("cpu"))
    >>> net.weight.dtype, caught[0].category.__name__
    (torch.float32, 'ReducedPrecisionWarning')
    """
    device = torch.device(device)
    dtype = next((p.dtype for p in network.parameters() if p.is_floating_point()), torch.float32)
    convert = (dtype == torch.float16 and device.type != "cuda") or (
        dtype == torch.bfloat16 and device.type == "cuda" and not has_native_bfloat16(device)
    )
    if convert:
        name = str(dtype).removeprefix("torch.")
        warnings.warn(
            f"This forecaster was trained with precision={name!r}, which cannot run on "
            f"{device}; its weights were converted to float32 (exactly: no value changes) and it "
            "forecasts in float32 here.",
            ReducedPrecisionWarning,
            stacklevel=3,
        )
        return network.to(device=device, dtype=torch.float32)
    network = network.to(device)
    if dtype == torch.bfloat16 and not has_native_bfloat16(device):
        if warn:
            warnings.warn(
                "This forecaster forecasts in bfloat16, which this CPU emulates (no AVX512-BF16 or AMX): "
                "it runs slower here than a float32 one would.",
                ReducedPrecisionWarning,
                stacklevel=3,
            )
        if hasattr(network, "store_matrices_transposed"):
            network.store_matrices_transposed()
    return network
