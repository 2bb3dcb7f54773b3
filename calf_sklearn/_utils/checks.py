"""Checks of parameters, with messages that suggest a fix.

No torch at import: the NumPy-only modules (seasonal, metrics, datasets)
check their arguments with these too.
"""

from __future__ import annotations

import difflib
import math
import numbers


def suggest(value, choices):
    """' Did you mean ...?' for the closest of ``choices``, or ''."""
    close = difflib.get_close_matches(str(value), [str(c) for c in choices], n=1)
    return f" Did you mean {close[0]!r}?" if close else ""


# Names people often use for our loss names.
_ALIASES = {"l2": "mse", "mae": "l1", "huber": "smooth_l1", "smoothl1": "smooth_l1"}


def check_choice(name, value, choices):
    if value not in choices:
        hint = _ALIASES.get(str(value).lower())
        hint = f" Did you mean {hint!r}?" if hint in choices else suggest(value, choices)
        raise ValueError(f"{name}={value!r} is not one of {sorted(choices)}.{hint}")
    return value


def check_int(name, value, low, high=None):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {value!r} of type {type(value).__name__}.")
    if value < low or (high is not None and value > high):
        bound = f">= {low}" if high is None else f"in [{low}, {high}]"
        raise ValueError(f"{name} must be {bound}, got {value}.")
    return int(value)


def check_real(name, value, low=0.0, high=None, low_open=False, high_open=False):
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or math.isnan(value):
        raise TypeError(f"{name} must be a real number, got {value!r}.")
    too_low = value <= low if low_open else value < low
    too_high = high is not None and (value >= high if high_open else value > high)
    if too_low or too_high or value in (float("inf"), float("-inf")):
        left = "(" if low_open else "["
        right = "inf)" if high is None else (f"{high})" if high_open else f"{high}]")
        raise ValueError(f"{name} must be finite and in {left}{low}, {right}, got {value}.")
    return float(value)


def check_validation_size(value):
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return check_int("validation_size", value, 0)
    if value is None:
        return 0
    return check_real("validation_size", value, 0.0, 1.0, high_open=True)


def check_scaling(value):
    if value not in ("standard", None):
        hint = " Did you mean None?" if str(value).lower() in ("none", "raw", "false") else ""
        raise ValueError(f"scaling={value!r} is not one of 'standard' or None.{hint}")
    return value


def check_bool(name, value):
    if not isinstance(value, (bool, numbers.Integral)) or value not in (0, 1):
        raise TypeError(f"{name} must be True or False, got {value!r}.")
    return bool(value)


def resolve_device(device):
    """``torch.device`` for ``device``; ``"auto"`` picks CUDA when present."""
    import torch

    if device in (None, "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError) as error:
        raise ValueError(
            f"device={device!r} is not a torch device: use 'auto', 'cpu', 'cuda' or 'cuda:N'."
        ) from error
    if resolved.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(
                f"device={device!r} asks for CUDA, but no CUDA device is available; use 'cpu' or 'auto'."
            )
        if resolved.index is not None and resolved.index >= torch.cuda.device_count():
            raise ValueError(
                f"device={device!r} does not exist: this machine has {torch.cuda.device_count()} CUDA device(s)."
            )
    elif resolved.type == "mps":
        if not torch.backends.mps.is_available():
            raise ValueError(
                f"device={device!r} asks for MPS, which is not available here; use 'cpu' or 'auto'."
            )
    elif resolved.type != "cpu":
        raise ValueError(f"device={device!r} is not supported; use 'auto', 'cpu', 'cuda' or 'cuda:N'.")
    return resolved


def saved_device(name):
    """The device a saved network goes to: where it was saved if that exists here, else the CPU."""
    import torch

    device = torch.device(name)
    if device.type == "cuda" and (
        not torch.cuda.is_available() or (device.index or 0) >= torch.cuda.device_count()
    ):
        return torch.device("cpu")
    return device


def check_params(est):
    """Validate every plain parameter of a CALFForecaster; raise on the first bad one."""
    from .._torch.losses import FEATURE_LOSSES, LOSSES

    check_int("pred_len", est.pred_len, 1)
    check_int("seq_len", est.seq_len, 1)
    check_bool("pretrained", est.pretrained)
    check_bool("local_files_only", est.local_files_only)
    check_int("n_layers", est.n_layers, 1)
    check_int("n_principal_words", est.n_principal_words, 1)
    check_int("lora_r", est.lora_r, 1)
    check_real("lora_alpha", est.lora_alpha, 0.0, low_open=True)
    check_real("lora_dropout", est.lora_dropout, 0.0, 1.0, high_open=True)
    for term in ("task", "output", "feature"):
        choices = FEATURE_LOSSES if term == "feature" else LOSSES
        check_choice(f"{term}_loss", getattr(est, f"{term}_loss"), choices)
        check_real(f"{term}_weight", getattr(est, f"{term}_weight"), 0.0)
    if est.task_weight == est.output_weight == est.feature_weight == 0:
        raise ValueError("task_weight, output_weight and feature_weight are all 0: nothing to train.")
    check_real("learning_rate", est.learning_rate, 0.0, low_open=True)
    check_real("projection_learning_rate", est.projection_learning_rate, 0.0, low_open=True)
    check_int("cosine_t_max", est.cosine_t_max, 1)
    check_int("batch_size", est.batch_size, 1)
    check_int("window_stride", est.window_stride, 1)
    check_choice("window_sampling", est.window_sampling, ("sliding", "recent"))
    check_real("history_size", est.history_size, 0.0, low_open=True)
    check_bool("padding", est.padding)
    check_scaling(est.scaling)
    check_int("seasonal_period", est.seasonal_period, 1)
    check_choice("interval_method", est.interval_method, ("scaled", "absolute"))
    if "smape" in (est.task_loss, est.output_loss) and est.scaling is not None:
        raise ValueError(
            "sMAPE compares relative errors of the original values, which standardising (a shift) "
            "changes: with task_loss or output_loss='smape' pass scaling=None (CALF normalises every "
            "window itself)."
        )
    if "mase" in (est.task_loss, est.output_loss) and est.seasonal_period >= est.seq_len:
        raise ValueError(
            f"The 'mase' loss scales by the look-back's error at lag seasonal_period={est.seasonal_period}, "
            f"which needs seq_len > seasonal_period; got seq_len={est.seq_len}."
        )
    check_int("max_epochs", est.max_epochs, 1)
    check_int("patience", est.patience, 1)
    check_validation_size(est.validation_size)
    check_bool("compile", est.compile)
    check_int("verbose", int(est.verbose) if isinstance(est.verbose, bool) else est.verbose, 0)
