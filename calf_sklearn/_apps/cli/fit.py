"""``calf-sklearn fit``: train a CALFForecaster on a CSV file and save it."""

from __future__ import annotations

import argparse
import textwrap
from pathlib import Path

from .csv_io import quoted_names, read_csv, select_series
from .options import (
    CommandError,
    add_csv_options,
    add_estimator_options,
    backbone_config,
    estimator_params,
    random_backbone,
)

__all__ = ["add_fit"]


def add_fit(subparsers):
    """Add the ``fit`` subcommand, with one option per CALFForecaster parameter.

    Parameters
    ----------
    subparsers : argparse._SubParsersAction
        What ``add_subparsers`` returned for the ``calf-sklearn`` parser.

    Examples
    --------
    >>> import argparse
    >>> parser = argparse.ArgumentParser()
    >>> add_fit(parser.add_subparsers())
    >>> sorted(parser._subparsers._group_actions[0].choices)
    ['fit']
    """
    parser = subparsers.add_parser(
        "fit",
        help="train a forecaster on a CSV file and save it",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=textwrap.dedent(
            """\
            Train a CALFForecaster (a language model fine-tuned the CALF way) on the series of a CSV file,
            one row per time step and one column per series, oldest row first, and save it.
            The last --validation-size of the rows is held out, in time order, for early
            stopping, unless --validation-file gives a separate validation series. The
            backbone and training options are CALFForecaster's parameters, with its defaults.
            An output ending in .safetensors is written in a format that runs no code when
            loaded; any other name is written with joblib (a pickle)."""
        ),
        epilog=textwrap.dedent(
            """\
            examples:
              calf-sklearn fit ETTh1.csv --pred-len 96 -o etth1.joblib
              calf-sklearn fit sales.csv --columns north,south --seq-len 48 --pred-len 12 \\
                  --backbone-random --max-epochs 5 -o sales.safetensors
              calf-sklearn fit train.csv --validation-file val.csv --pred-len 96 -o model.joblib"""
        ),
    )
    parser.add_argument("data", metavar="DATA.csv", help="training series: time steps x series")
    parser.add_argument(
        "-o",
        "--output",
        required=True,
        metavar="MODEL",
        help="where to save the model: NAME.safetensors (safe to load) or any other name (joblib)",
    )
    parser.add_argument(
        "--validation-file",
        metavar="VAL.csv",
        help="a separate validation series for early stopping, read with the same CSV rules (and "
        "--columns, --date-column) as DATA.csv; its first --seq-len rows are look-back only, so "
        "include the seq_len rows before the validation period. All of DATA.csv then trains and "
        "--validation-size does not apply (default: hold out the last --validation-size of DATA.csv)",
    )
    parser.add_argument(
        "--checkpoint",
        metavar="PATH",
        help="keep the training state here after every epoch; running the same command again "
        "resumes after the last finished epoch (default: no checkpoint)",
    )
    parser.add_argument(
        "-q", "--quiet", action="store_true", help="no progress bar (default: a bar over epochs)"
    )
    add_csv_options(parser)
    backbone = add_estimator_options(parser)
    backbone.add_argument(
        "--backbone-random",
        action="store_true",
        help="train a randomly initialised backbone instead of pre-trained weights, of the shape "
        "of --llm (a well-known model's, e.g. Qwen2.5-0.5B, or a local folder's), GPT-2 small's "
        "without --llm; needs no network and no download (default: pre-trained --llm)",
    )
    backbone.add_argument(
        "--backbone-config",
        type=backbone_config,
        metavar="JSON",
        help="configuration fields of the random backbone (with model_type for a family other "
        "than GPT-2), as a JSON object or the path of a JSON file; implies --backbone-random "
        "(default: GPT-2 small's shape)",
    )
    parser.set_defaults(handler=_fit)


def _random_backbone_line(llm, n_layers):
    from ..._torch.backbone import backbone_config
    from ..._torch.families import backbone_family

    config = backbone_config(llm)
    return (
        f"Backbone: randomly initialised {backbone_family(config).name} (width {config.hidden_size}, "
        f"first {n_layers} of {config.num_hidden_layers} blocks), not pre-trained weights."
    )


def _fit(args):
    from ..._estimators.calf import CALFForecaster
    from ..._torch.backbone import BackboneUnavailableError
    from ..._torch.distributed import main_process

    params = {name: getattr(args, name) for name in estimator_params() if hasattr(args, name)}
    is_random = args.backbone_random or args.backbone_config is not None
    if is_random:
        if "llm" in params and args.backbone_config is not None:
            raise CommandError("--llm and --backbone-config both name the backbone; give one of the two")
        llm = args.backbone_config or random_backbone(params.get("llm"))
        params.update(llm=llm, pretrained=False)
    model = CALFForecaster(**params, verbose=0 if args.quiet else 1)
    output = Path(args.output)
    save = _saver(output)  # before training, so a bad output path does not waste a fit
    frame = select_series(read_csv(args.data, args.date_column), args.columns, args.data)
    validation = None
    if args.validation_file is not None:
        if "validation_size" in params:
            raise CommandError(
                "--validation-size holds out rows of DATA.csv and --validation-file replaces them; "
                "give one of the two"
            )
        hint = f"; {args.data} has the series {quoted_names(frame.columns)}"
        validation = select_series(
            read_csv(args.validation_file, args.date_column), list(frame.columns), args.validation_file, hint
        )
    if is_random and main_process():
        print(_random_backbone_line(model.llm, model.n_layers))
    try:
        model.fit(frame, X_val=validation, checkpoint=args.checkpoint)
    except BackboneUnavailableError as error:
        raise CommandError(
            f"{error} On the command line: --llm FOLDER, --local-files-only, or --backbone-random."
        ) from None
    if not main_process():  # under torchrun: the model is written once, by the first process
        return 0
    save(model, output)
    scores = [epoch["val_mse"] for epoch in model.history_ if epoch.get("val_mse") is not None]
    if validation is not None:
        print(f"Validated on every window of {args.validation_file} ({len(validation)} rows).")
    if model.resumed_from_epoch_:
        print(f"Resumed from {args.checkpoint} after epoch {model.resumed_from_epoch_}.")
    print(
        f"Trained {len(model.history_)} epoch(s)"
        + (f" on {model.n_processes_} processes" if model.n_processes_ > 1 else "")
        + f", best epoch {model.best_epoch_}"
        + (f", last validation MSE {scores[-1]:.4g} (standardised)" if scores else ", no validation")
        + (" (interrupted: best weights so far kept)" if model.training_interrupted_ else "")
        + "."
    )
    print(f"Model saved to {output}")
    return 0


def _saver(path):
    """The function that writes a model to ``path``, chosen by its extension."""
    if not path.parent.is_dir():
        raise CommandError(f"cannot save the model to {path}: folder {path.parent} does not exist")
    if path.suffix.lower() == ".safetensors":
        from ..._estimators.persistence import save_forecaster  # lazily: torch and safetensors load slowly

        return save_forecaster
    import joblib

    return joblib.dump
