"""CALF's training behind ``CALFForecaster.fit``: the device, the process group, the network and the loop.

The estimator validates and prepares the data; :func:`train_calf` builds
everything torch needs from its parameters, trains, and hands back the network
reduced for forecasting. torch is imported inside the function, so that
``import calf_sklearn`` stays light.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from sklearn.utils import check_random_state

from .backbone_checks import check_backbone_fits
from .resume import fit_fingerprint, read_matching_checkpoint

__all__ = ["TrainedCALF", "train_calf"]


class TrainedCALF(NamedTuple):
    """What :func:`train_calf` hands back to the estimator."""

    module: object  # the CALFNetwork reduced for forecasting, in the fit's precision, on its device
    result: object  # the loop's TrainingResult (history, best epoch, interrupted, resumed from)
    device: object  # torch.device of this process
    n_processes: int  # how many processes trained it


def train_calf(forecaster, prepared, checkpoint=None):
    """Build CALF's network from ``forecaster``'s parameters and train it on ``prepared``.

    Under ``torchrun`` (or in a process group the caller initialised) every
    process of the group trains its share (``data_parallel``); rank 0 fills
    the caches first, reads the checkpoint and draws the seed for all.

    Parameters
    ----------
    forecaster : CALFForecaster
        Validated parameters, and ``n_features_in_`` of the data.
    prepared : Prepared
        The fit's windows (see ``FitMixin._prepare_fit``).
    checkpoint : path-like, default=None
        Resume from it if it holds this fit's state; write it after every epoch.

    Returns
    -------
    TrainedCALF
    """
    from .._torch.backbone import backbone_config
    from .._torch.calf_model import build_calf_network
    from .._torch.devices import resolve_device
    from .._torch.distributed import join_process_group
    from .._torch.losses import CALFLoss
    from .._torch.precision import place_network, resolve_precision
    from .._torch.seeding import seed_process_draws, seeded
    from .._torch.training import Trainer

    device = resolve_device(forecaster.device)
    group = join_process_group(forecaster.data_parallel, device)
    device = group.place(device)
    precision = resolve_precision(forecaster.precision, device)
    with group.main_first():  # one process downloads; the others find it in the cache
        config = backbone_config(
            forecaster.llm, revision=forecaster.revision, local_files_only=forecaster.local_files_only
        )
    check_backbone_fits(
        config,
        n_layers=forecaster.n_layers,
        n_principal_words=forecaster.n_principal_words,
        n_series=forecaster.n_features_in_,
    )
    fingerprint = resume = None
    if checkpoint is not None:
        fingerprint = fit_fingerprint(forecaster.get_params(), prepared)
        # Rank 0's checkpoint, sent to all: only its machine needs the file.
        resume = group.on_main(lambda: read_matching_checkpoint(checkpoint, fingerprint))
    if resume is not None:
        seed = int(resume["seed"])  # the frozen random backbone must be the same one
    else:
        # Every rank draws, so that a RandomState passed in advances alike on all;
        # every process trains the same model: rank 0's draw when random_state is None.
        seed = int(check_random_state(forecaster.random_state).randint(np.iinfo(np.int32).max))
        seed = group.broadcast_object(seed)
    # Seed torch for this fit without disturbing the caller's generators.
    with seeded(seed, device) as generator:
        # Rank 0 fills the backbone and principal-word caches; the others read them.
        with group.main_first():
            network = build_calf_network(
                forecaster.llm,
                pretrained=forecaster.pretrained,
                n_layers=forecaster.n_layers,
                revision=forecaster.revision,
                local_files_only=forecaster.local_files_only,
                n_principal_words=forecaster.n_principal_words,
                cache_dir=forecaster.cache_dir,
                seq_len=forecaster.seq_len,
                pred_len=forecaster.pred_len,
                lora_r=forecaster.lora_r,
                lora_alpha=forecaster.lora_alpha,
                lora_dropout=forecaster.lora_dropout,
            ).to(device)
        seed_process_draws(seed, group.rank)
        loss = CALFLoss(
            forecaster.task_loss,
            forecaster.output_loss,
            forecaster.feature_loss,
            forecaster.task_weight,
            forecaster.output_weight,
            forecaster.feature_weight,
            period=forecaster.seasonal_period,
        )
        # Scale-free task losses are also what early stopping watches: the
        # MSE of raw values of different scales follows the largest series.
        scale_free = forecaster.task_loss in ("smape", "mase")
        trainer = Trainer(
            network,
            loss,
            learning_rate=forecaster.learning_rate,
            projection_learning_rate=forecaster.projection_learning_rate,
            batch_size=forecaster.batch_size,
            max_epochs=forecaster.max_epochs,
            patience=forecaster.patience,
            cosine_t_max=forecaster.cosine_t_max,
            device=device,
            generator=generator,
            verbose=int(forecaster.verbose),
            validation_metric=forecaster.task_loss if scale_free else "mse",
            precision=precision,
            process_group=group,
        )
        result = trainer.fit(
            prepared.train,
            prepared.validation,
            checkpoint=checkpoint,
            resume=resume,
            metadata={"fingerprint": fingerprint, "seed": seed},
        )
    # LoRA is merged in float32, into the frozen weights training saw
    # (held in the training precision), and the sum is rounded once.
    stripped = network.strip_for_inference().to(precision.dtype).eval()
    module = place_network(stripped, device, warn=False)  # resolve_precision has warned
    return TrainedCALF(module, result, device, group.world_size)
