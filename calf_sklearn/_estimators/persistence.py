"""Saving a fitted CALFForecaster without pickle: one safetensors file.

The public face of this module is :mod:`calf_sklearn.persistence`; its documentation is there.
"""

from __future__ import annotations

import json
import numbers
import os
from pathlib import Path

import numpy as np
import pandas as pd

from .._series.conformal import ConformalCalibration
from .._series.panel import PanelLayout
from .._series.time_index import spec_from_json, spec_to_json
from .._utils.atomic import write_atomically
from .._version import ARTIFACT_FORMAT, __version__
from .state import FittedState

__all__ = ["load_forecaster", "save_forecaster"]

_FORMAT_NAME = "calf-sklearn/CALFForecaster"
_HEADER_KEY = "calf_sklearn"
# Fitted attributes that hold plain JSON values.
_PLAIN = (
    "n_features_in_",
    "history_",
    "best_epoch_",
    "training_interrupted_",
    "resumed_from_epoch_",
    "n_processes_",
    "target_indices_",
)
# What a file written before an attribute existed stands for (target_indices_: None, every column).
_PLAIN_DEFAULTS = {"n_processes_": 1}


def save_forecaster(forecaster, path):
    """Write a fitted forecaster to a file that loads without running code.

    The file is a `safetensors <https://github.com/huggingface/safetensors>`_
    file: the network's weights, the scaling and the last training window
    as tensors, and the parameters and other fitted state as JSON in its
    header. It is written atomically (a reader never sees half a file).

    Parameters
    ----------
    forecaster : CALFForecaster
        A fitted forecaster. Its parameters must be plain values (numbers,
        strings, ``None``, a dict or a transformers configuration for ``llm``); a
        ``RandomState`` instance as ``random_state`` cannot be stored.
    path : str or path-like
        Destination, conventionally ending in ``.safetensors``.

    Returns
    -------
    pathlib.Path
        The path written.

    Raises
    ------
    TypeError
        If ``forecaster`` is not a CALFForecaster, or holds a value that has
        no safe representation (the message names it).
    sklearn.exceptions.NotFittedError
        If ``forecaster`` is not fitted.

    See Also
    --------
    load_forecaster : Read the file back.

    Examples
    --------
    >>> import tempfile
    >>> import numpy as np
    >>> from calf_sklearn import CALFForecaster, load_forecaster, save_forecaster
    >>> X = np.sin(np.arange(200) / 6)[:, None] * [1.0, 2.0]
    >>> tiny = {"n_embd": 32, "n_layer": 2, "n_head": 4, "vocab_size": 128}
    >>> model = CALFForecaster(pred_len=8, seq_len=24, llm=tiny, pretrained=False, n_layers=2,
    ...                        n_principal_words=16, max_epochs=1, random_state=0).fit(X)
    >>> path = save_forecaster(model, tempfile.mkdtemp() + "/model.safetensors")
    >>> loaded = load_forecaster(path)
    >>> bool((loaded.predict() == model.predict()).all())
    True
    """
    from safetensors.torch import save_file
    from sklearn.utils.validation import check_is_fitted

    from .calf import CALFForecaster

    if not isinstance(forecaster, CALFForecaster):
        raise TypeError(
            f"save_forecaster stores a fitted CALFForecaster, got {type(forecaster).__name__}; "
            "save other estimators with joblib.dump (from trusted sources only)."
        )
    check_is_fitted(forecaster)
    tensors, header = _encode(forecaster)
    path = Path(path)
    metadata = {_HEADER_KEY: json.dumps(header)}
    write_atomically(path, lambda tmp: save_file(tensors, tmp, metadata=metadata))
    return path


def load_forecaster(path, *, device=None):
    """Read a forecaster written by :func:`save_forecaster`.

    Nothing in the file is executed: the header is parsed as JSON and the
    tensors are read as raw numbers.

    Parameters
    ----------
    path : str or path-like
        A file written by :func:`save_forecaster`.
    device : str, default=None
        Where to put the network: ``None`` uses the device it was saved from
        when that exists here, else the CPU; or ``"cpu"``, ``"cuda"``, ...

    Returns
    -------
    CALFForecaster
        The fitted forecaster; its forecasts equal the saved one's on the
        same device.

    Raises
    ------
    FileNotFoundError
        If there is no file at ``path``.
    ValueError
        If the file is not a calf-sklearn forecaster, or was written by a
        calf-sklearn whose format this version cannot read (the message
        names both versions).

    See Also
    --------
    save_forecaster : Write the file.

    Examples
    --------
    >>> import tempfile
    >>> import numpy as np
    >>> from calf_sklearn import CALFForecaster, load_forecaster, save_forecaster
    >>> X = np.sin(np.arange(200) / 6)[:, None] * [1.0, 2.0]
    >>> tiny = {"n_embd": 32, "n_layer": 2, "n_head": 4, "vocab_size": 128}
    >>> model = CALFForecaster(pred_len=8, seq_len=24, llm=tiny, pretrained=False, n_layers=2,
    ...                        n_principal_words=16, max_epochs=1, random_state=0).fit(X)
    >>> path = save_forecaster(model, tempfile.mkdtemp() + "/model.safetensors")
    >>> loaded = load_forecaster(path, device="cpu")
    >>> loaded.device_, loaded.history_ == model.history_
    (device(type='cpu'), True)
    """
    from safetensors import SafetensorError, safe_open

    from .._torch.devices import resolve_device, saved_device
    from .._torch.network import CALFNetwork
    from .._torch.precision import place_network
    from .calf import CALFForecaster

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"No saved forecaster at {path}.")
    try:
        with safe_open(os.fspath(path), framework="pt") as handle:
            metadata = handle.metadata() or {}
            tensors = {key: handle.get_tensor(key) for key in handle.keys()}  # noqa: SIM118 - not a dict
    except (SafetensorError, OSError, ValueError) as error:
        raise ValueError(f"{path} is not a safetensors file written by save_forecaster ({error}).") from None
    header = _read_header(path, metadata)
    target = resolve_device(device) if device is not None else saved_device(header["device"])
    forecaster = CALFForecaster(**_decode_params(header["params"]))
    module = {key[len("module.") :]: value for key, value in tensors.items() if key.startswith("module.")}
    payload = {**header["module"], "state_dict": module}
    forecaster.module_ = place_network(CALFNetwork.from_export(payload), target)
    forecaster.device_ = target
    for name in _PLAIN:
        setattr(forecaster, name, header["fitted"].get(name, _PLAIN_DEFAULTS.get(name)))
    if header["fitted"]["feature_names_in_"] is not None:
        forecaster.feature_names_in_ = np.asarray(header["fitted"]["feature_names_in_"], dtype=object)
    _decode_state(header, tensors).apply(forecaster)
    return forecaster


# ---------------------------------------------------------------- encoding


def _encode(forecaster):
    import torch

    state = forecaster.module_.export()

    # export() already gives CPU tensors that share no storage: no second copy of the weights.
    def array(values):
        return torch.from_numpy(np.ascontiguousarray(values, dtype=np.float64))

    tensors = {f"module.{key}": value.contiguous() for key, value in state["state_dict"].items()}
    fitted = FittedState.of(forecaster)
    tensors["last_window"] = array(fitted.last_window)
    names = getattr(forecaster, "feature_names_in_", None)
    header = {
        "format": _FORMAT_NAME,
        "artifact_format": ARTIFACT_FORMAT,
        "calf_sklearn_version": __version__,
        "params": _encode_params(forecaster.get_params()),
        "module": {key: value for key, value in state.items() if key != "state_dict"},
        "device": str(forecaster.device_),
        "fitted": {
            **{name: _plain(name, getattr(forecaster, name, _PLAIN_DEFAULTS.get(name))) for name in _PLAIN},
            "feature_names_in_": None if names is None else [str(name) for name in names],
        },
        "calibration": None,
    }
    if fitted.calibration is not None:
        tensors["calibration.scores"] = torch.from_numpy(np.ascontiguousarray(fitted.calibration.scores))
        header["calibration"] = {"method": fitted.calibration.method}
        floor = getattr(fitted.calibration, "spread_floor", None)  # unpickled from 0.1.0: none
        if floor is not None:
            tensors["calibration.spread_floor"] = torch.from_numpy(np.asarray(floor))
    if fitted.is_panel:
        tensors["member.mean"] = array(fitted.member_mean)
        tensors["member.scale"] = array(fitted.member_scale)
        header["panel"] = _encode_panel(fitted)
        return tensors, header
    scaler = fitted.scaler
    tensors["scaler.mean"] = array(scaler.mean_)
    tensors["scaler.scale"] = array(scaler.scale_)
    if scaler.var_ is not None:  # None: scaling=None, nothing was fitted
        tensors["scaler.var"] = array(scaler.var_)
    header["scaler"] = {"n_samples_seen": _plain("scaler_.n_samples_seen_", scaler.n_samples_seen_)}
    header["output"] = _encode_output(fitted.output)
    header["index_spec"] = spec_to_json(fitted.index_spec)
    return tensors, header


def _encode_output(output):
    return {
        "kind": output["kind"],
        "columns": _encode_labels(output["columns"]),
        "name": _encode_label(output["name"], "the Series name"),
    }


def _encode_panel(fitted):
    layout = fitted.output["layout"]
    return {
        "kind": layout.kind,
        "ids": [_encode_label(member_id, "The member id")["value"] for member_id in layout.ids],
        "names": [_encode_label(name, "The index level name")["value"] for name in layout.names],
        "members": [_encode_output(output) for output in fitted.output["members"]],
        "index_specs": [spec_to_json(spec) for spec in fitted.index_spec],
    }


def _decode_state(header, tensors):
    """The :class:`FittedState` that :func:`_encode` wrote."""
    last_window = tensors["last_window"].numpy().astype(np.float64)
    calibration = _decode_calibration(header.get("calibration"), tensors)
    if "panel" not in header:
        return FittedState(
            last_window,
            _decode_output(header["output"]),
            spec_from_json(header["index_spec"]),
            calibration,
            scaler=_decode_scaler(header["scaler"], tensors),
        )
    panel = header["panel"]
    layout = PanelLayout(panel["kind"], tuple(panel["ids"]), tuple(panel["names"]))
    return FittedState(
        last_window,
        {"layout": layout, "members": [_decode_output(output) for output in panel["members"]]},
        [spec_from_json(spec) for spec in panel["index_specs"]],
        calibration,
        member_ids=list(layout.ids),
        member_mean=tensors["member.mean"].numpy(),
        member_scale=tensors["member.scale"].numpy(),
    )


def _decode_calibration(header, tensors):
    if header is None:
        return None
    # The scores are stored sorted; rebuilding from them sorts nothing new.
    floor = tensors.get("calibration.spread_floor")
    return ConformalCalibration._from_sorted(
        tensors["calibration.scores"].numpy(), header["method"], None if floor is None else floor.numpy()
    )


def _plain(name, value):
    """``value`` as JSON-ready Python data, or a TypeError naming ``name``."""
    if isinstance(value, np.ndarray):
        value = value.tolist()
    elif isinstance(value, np.generic):
        value = value.item()
    try:
        json.dumps(value, allow_nan=True)
    except (TypeError, ValueError):
        raise TypeError(
            f"{name}={value!r} has no safe (JSON) representation; save this forecaster with "
            "joblib instead, or set a plain value."
        ) from None
    return value


def _encode_params(params):
    from transformers import PretrainedConfig

    encoded = {}
    for name, value in params.items():
        if isinstance(value, PretrainedConfig):
            # GPT-2's key is the one files had before other families, so older code reads them.
            kind = "gpt2_config" if value.model_type == "gpt2" else "llm_config"
            encoded[name] = {kind: value.to_dict()}  # to_dict holds model_type
        elif isinstance(value, os.PathLike):
            encoded[name] = {"path": os.fspath(value)}
        elif isinstance(value, dict):
            encoded[name] = {"dict": _plain(name, value)}
        else:
            encoded[name] = {"value": _plain(name, value)}
    return encoded


def _decode_params(encoded):
    from transformers import CONFIG_MAPPING

    from .._torch.families import backbone_family

    params = {}
    for name, item in encoded.items():
        ((kind, value),) = item.items()
        if kind in ("llm_config", "gpt2_config"):  # "gpt2_config": files written before other families
            # Only a supported family's configuration class is ever built from a file.
            model_type = backbone_family(value.get("model_type", "gpt2")).model_type
            value = CONFIG_MAPPING[model_type].from_dict(value)
        elif kind == "path":
            value = Path(value)
        params[name] = value
    return params


def _encode_label(label, what):
    if label is None or isinstance(label, (str, bool)):
        return {"value": label}
    if isinstance(label, numbers.Integral):
        return {"value": int(label)}
    if isinstance(label, numbers.Real):
        return {"value": float(label)}
    raise TypeError(
        f"{what} {label!r} ({type(label).__name__}) has no safe (JSON) representation; use string "
        "or integer labels, or save with joblib instead."
    )


def _encode_labels(columns):
    if columns is None:
        return None
    if isinstance(columns, pd.MultiIndex):
        raise TypeError("MultiIndex columns have no safe representation; flatten them, or save with joblib.")
    return {
        "dtype": str(columns.dtype),
        "labels": [_encode_label(label, "The column label")["value"] for label in columns],
    }


def _decode_output(output):
    columns = output["columns"]
    if columns is not None:
        columns = pd.Index(columns["labels"], dtype=columns["dtype"])
    return {"kind": output["kind"], "columns": columns, "name": output["name"]["value"]}


def _decode_scaler(header, tensors):
    from sklearn.preprocessing import StandardScaler

    standard = "scaler.var" in tensors
    scaler = StandardScaler(with_mean=standard, with_std=standard)
    scaler.mean_ = tensors["scaler.mean"].numpy()
    scaler.scale_ = tensors["scaler.scale"].numpy()
    scaler.var_ = tensors["scaler.var"].numpy() if standard else None
    scaler.n_features_in_ = len(scaler.mean_)
    seen = header["n_samples_seen"]
    scaler.n_samples_seen_ = np.asarray(seen) if isinstance(seen, list) else seen
    return scaler


def _read_header(path, metadata):
    try:
        header = json.loads(metadata[_HEADER_KEY])
    except (KeyError, json.JSONDecodeError):
        raise ValueError(
            f"{path} is a safetensors file but not a forecaster written by save_forecaster "
            "(it has no calf_sklearn header)."
        ) from None
    if header.get("format") != _FORMAT_NAME or header.get("artifact_format") != ARTIFACT_FORMAT:
        raise ValueError(
            f"{path} was saved by calf-sklearn {header.get('calf_sklearn_version', 'unknown')} "
            f"(artifact format {header.get('artifact_format')}); calf-sklearn {__version__} reads "
            f"format {ARTIFACT_FORMAT}. Load it with the version that saved it, or fit it again."
        )
    return header
