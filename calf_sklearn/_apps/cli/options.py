"""What the subcommands share: the error a user can fix, argument types, and options.

The ``fit`` options are generated from CALFForecaster's signature and docstring, so
that they stay in step with the estimator.
"""

from __future__ import annotations

import argparse
import inspect
import json
import re
from pathlib import Path

__all__ = [
    "CommandError",
    "add_csv_options",
    "add_estimator_options",
    "backbone_config",
    "estimator_params",
    "random_backbone",
]


class CommandError(Exception):
    """An error the user can fix; ``main`` prints its message without a traceback.

    Examples
    --------
    >>> str(CommandError("data.csv: no such file"))
    'data.csv: no such file'
    """


def backbone_config(text):
    """The ``--backbone-config`` argument: a JSON object, or the path of a JSON file holding one.

    Parameters
    ----------
    text : str
        The argument as given.

    Returns
    -------
    dict
        GPT2Config fields.

    Raises
    ------
    argparse.ArgumentTypeError
        If ``text`` is neither, or does not hold a JSON object.

    Examples
    --------
    >>> backbone_config('{"n_embd": 64, "n_layer": 2}')
    {'n_embd': 64, 'n_layer': 2}
    """
    source = text
    if not text.lstrip().startswith("{"):  # as a path, a long JSON object would be "file name too long"
        try:
            source = Path(text).read_text()
        except OSError:
            pass  # not a readable file: the JSON error below names the problem
    try:
        config = json.loads(source)
    except json.JSONDecodeError as error:
        raise argparse.ArgumentTypeError(
            f"--backbone-config must be a JSON object or a JSON file; {text!r} is neither ({error})"
        ) from None
    if not isinstance(config, dict):
        raise argparse.ArgumentTypeError("--backbone-config must hold a JSON object of GPT2Config fields")
    return config


def random_backbone(llm):
    """The configuration ``--backbone-random`` draws: the shape of ``--llm``, GPT-2 small's without it.

    A well-known model's shape is built in (:data:`calf_sklearn.benchmark.PUBLISHED_SHAPES`);
    any other hub id or folder lends the configuration it holds locally, never
    its weights, and never over the network.

    Parameters
    ----------
    llm : str or None
        The ``--llm`` argument.

    Returns
    -------
    dict
        Configuration fields, with ``model_type``.

    Raises
    ------
    CommandError
        If no configuration of that name is known or on this machine.

    Examples
    --------
    >>> random_backbone(None)["n_embd"], random_backbone("SmolLM-135M")["hidden_size"]
    (768, 576)
    """
    from ..._torch.backbone import BackboneUnavailableError, backbone_config
    from ..shapes import published_shape

    try:
        return published_shape(llm or "gpt2")
    except ValueError as unknown:
        try:
            return backbone_config(llm, local_files_only=True).to_dict()
        except (BackboneUnavailableError, ValueError) as error:
            raise CommandError(
                f"--backbone-random with --llm {llm!r}: {unknown} Its configuration is not on this "
                f"machine either ({str(error).split('. ')[0]})."
            ) from None


# Constructor parameters spelled another way on the command line.
_NOT_OPTIONS = {"pretrained": "--backbone-random", "verbose": "--quiet"}

# Parameters listed under "backbone" in --help; every other one is a training option.
_BACKBONE_PARAMS = ("llm", "revision", "local_files_only", "n_layers", "n_principal_words")


def _number(text):
    """An int when ``text`` is one (a row count), else a float (a fraction)."""
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    raise argparse.ArgumentTypeError(f"expected a number, got {text!r}")


def _column_list(text):
    names = [name.strip() for name in text.split(",") if name.strip()]
    if not names:
        raise argparse.ArgumentTypeError(f"expected comma-separated column names, got {text!r}")
    return names


# Option types the default value does not tell (a None default, or int-or-float).
def _scaling(text):
    return None if text.lower() == "none" else text


def _data_parallel(text):
    """``auto``, or a yes/no word as True/False."""
    words = {"auto": "auto", "true": True, "yes": True, "on": True, "false": False, "no": False, "off": False}
    if text.lower() not in words:
        raise argparse.ArgumentTypeError(f"expected auto, true or false, got {text!r}")
    return words[text.lower()]


_TYPES = {
    "random_state": int,
    "validation_size": _number,
    "lora_alpha": _number,
    "scaling": _scaling,
    "data_parallel": _data_parallel,
    "target_columns": _column_list,
}


# Short placeholders in --help; other options show their upper-cased name.
_METAVARS = {int: "N", float: "X", _number: "X"}

# Help for parameters whose docstring speaks of what only Python can pass (objects, fit's X_val).
_HELP = {
    "llm": "Hugging Face hub id of a language model (GPT-2, Llama, Qwen2, Mistral, GPT-NeoX or Phi), "
    "or a local folder saved with save_pretrained "
    "(--backbone-random trains a randomly initialised one instead).",
    "validation_size": "Fraction (e.g. 0.2) or number (e.g. 500) of the last rows held out for early "
    "stopping; 0 trains for --max-epochs and keeps the last weights.",
    "random_state": "Seeds initialisation, dropout and shuffling; fits with the same integer give "
    "identical forecasts on the same machine. Without it every fit differs.",
}


def _param_docs(cls):
    """``{parameter: description}`` from the numpydoc "Parameters" section of ``cls``'s docstring."""
    doc = inspect.cleandoc(cls.__doc__ or "")  # no docstring under python -OO: plain defaults then
    section = re.search(r"^Parameters\n-+\n(.*?)(?=^\S[^\n]*\n-+\n|\Z)", doc, re.MULTILINE | re.DOTALL)
    docs, names = {}, []
    for line in section.group(1).splitlines() if section else []:
        if line and not line[0].isspace():  # "a, b : type, default=..." documents a and b together
            names = [name.strip() for name in line.split(":")[0].split(",")]
        elif line.strip():
            for name in names:
                docs[name] = f"{docs.get(name, '')} {line.strip()}".strip()
    # Plain text for a terminal: no reST roles or literal markers.
    return {name: re.sub(r":\w+:`([^`]*)`", r"\1", text).replace("``", "") for name, text in docs.items()}


def estimator_params():
    """The CALFForecaster parameters offered as ``fit`` options, with their defaults.

    Returns
    -------
    dict
        ``{name: default}`` in signature order; ``pretrained`` and
        ``verbose`` are left out (``--backbone-random`` and ``--quiet`` say them).

    Examples
    --------
    >>> params = estimator_params()
    >>> params["pred_len"], "verbose" in params
    (96, False)
    """
    from ..._estimators.calf import CALFForecaster

    parameters = inspect.signature(CALFForecaster).parameters
    return {name: p.default for name, p in parameters.items() if name not in _NOT_OPTIONS}


def add_estimator_options(parser):
    """Add one option per CALFForecaster parameter, generated from the signature so they stay in sync.

    Each option's help is the parameter's description in the estimator's
    docstring; an option left out keeps the estimator's default.

    Parameters
    ----------
    parser : argparse.ArgumentParser
        The subcommand's parser.

    Returns
    -------
    argparse._ArgumentGroup
        The "backbone" group, to which a subcommand adds its own backbone options.

    Examples
    --------
    >>> import argparse
    >>> parser = argparse.ArgumentParser()
    >>> _ = add_estimator_options(parser)
    >>> vars(parser.parse_args(["--pred-len", "24", "--task-loss", "mse"]))
    {'pred_len': 24, 'task_loss': 'mse'}
    """
    from ..._estimators.calf import CALFForecaster
    from ..._estimators.constraints import choices

    docs = _param_docs(CALFForecaster)
    backbone = parser.add_argument_group("backbone")
    training = parser.add_argument_group("training (CALFForecaster parameters)")
    for name, default in estimator_params().items():
        text = _HELP.get(name, docs.get(name, "")).replace("%", "%%")
        # SUPPRESS: only the options given reach the estimator, which keeps its own defaults.
        options = {"default": argparse.SUPPRESS, "help": f"{text} (default: {default})".lstrip()}
        if isinstance(default, bool):
            options["action"] = "store_true" if default is False else argparse.BooleanOptionalAction
        else:
            options["type"] = _TYPES.get(name, str if default is None else type(default))
            options["metavar"] = _METAVARS.get(options["type"])
            # The values a parameter accepts come from the same table that validates it.
            options["choices"] = choices(name)
        group = backbone if name in _BACKBONE_PARAMS else training
        group.add_argument("--" + name.replace("_", "-"), **options)
    return backbone


def add_csv_options(parser):
    """Add ``--date-column`` and ``--columns``, which say how to read a CSV file's series.

    Parameters
    ----------
    parser : argparse.ArgumentParser
        The subcommand's parser.

    Examples
    --------
    >>> import argparse
    >>> parser = argparse.ArgumentParser()
    >>> add_csv_options(parser)
    >>> parser.parse_args(["--columns", "north, south"]).columns
    ['north', 'south']
    """
    data = parser.add_argument_group("CSV columns")
    data.add_argument(
        "--date-column",
        metavar="NAME",
        help="column of time stamps, used to stamp the forecast (default: a column named date, time, "
        "timestamp or datetime in any case, else the first column if it parses as dates or has no "
        "header, else none)",
    )
    data.add_argument(
        "--columns",
        type=_column_list,
        metavar="A,B,C",
        help="comma-separated series to use (default: fit takes every column but the time stamps, "
        "which must then all be numeric; predict takes the series the model was fitted on)",
    )
