"""One process of the data-parallel test fits, launched by tests/test_distributed.py (under torchrun).

Usage: ``python distributed_worker.py SETTINGS.json``. The settings list the
fits to make (``fits``: each a ``name``, a ``data`` file of one array per
member, the forecaster's ``params`` and an optional ``checkpoint``) and the
folder where each rank writes what it ended with (``out``:
``<name>_rank<N>.npz`` and ``<name>_rank<N>.joblib``). ``die_after_epoch``
makes rank ``die_rank`` leave abruptly once that epoch has finished, as a
killed machine would; ``no_dropout`` builds the networks without dropout
(see :func:`without_encoder_dropout`).
"""

import json
import os
import sys

import numpy as np


def main(path):
    with open(path) as file:
        settings = json.load(file)
    import joblib

    from calf_sklearn import CALFForecaster

    if settings.get("no_dropout"):
        without_encoder_dropout()
    rank = int(os.environ.get("RANK", "0"))
    if settings.get("die_after_epoch") is not None and rank == settings.get("die_rank", 0):
        _die_after(settings["die_after_epoch"])
    for fit in settings["fits"]:
        data = np.load(fit["data"])
        members = [data[key] for key in sorted(data.files)]
        model = CALFForecaster(**fit["params"])
        model.fit(members[0] if len(members) == 1 else members, checkpoint=fit.get("checkpoint"))
        forecast = model.predict()
        # predict and joblib work on every rank; each rank writes its own files.
        stem = os.path.join(settings["out"], f"{fit['name']}_rank{rank}")
        joblib.dump(model, stem + ".joblib")
        np.savez(
            stem + ".npz",
            forecast=np.asarray(
                np.stack(forecast) if isinstance(forecast, list) else forecast, dtype=np.float64
            ),
            val_mse=np.array([record["val_mse"] for record in model.history_], dtype=np.float64),
            train_loss=np.array([record["train_loss"] for record in model.history_], dtype=np.float64),
            n_processes=model.n_processes_,
            resumed_from=model.resumed_from_epoch_ or 0,
        )


def without_encoder_dropout():
    """Build CALF networks without the input encoder's dropout (the estimator has no parameter for it).

    With it, ``lora_dropout=0`` and a backbone config whose dropouts are 0, a
    fit draws nothing at random after initialisation, so the shares of
    several processes must add up to exactly one process's fit.
    """
    import functools

    from calf_sklearn._torch import calf_model

    calf_model.CALFNetwork = functools.partial(calf_model.CALFNetwork, dropout=0.0)


def _die_after(epoch):
    """Leave the process (no clean-up, no exception) once ``epoch`` has finished and been checkpointed."""
    from calf_sklearn._torch.training import loop

    original = loop.TrainingLoop._write_checkpoint

    def write_then_die(self, path, metadata, finished_epoch, *rest):
        original(self, path, metadata, finished_epoch, *rest)
        if finished_epoch == epoch:
            sys.stdout.flush()
            os._exit(3)

    loop.TrainingLoop._write_checkpoint = write_then_die


if __name__ == "__main__":
    main(sys.argv[1])
