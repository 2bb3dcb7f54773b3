"""A CALF fit run by Ray Train's TorchTrainer on 2 workers: the same model as one process, and its times.

Ray Train starts the workers and initialises a ``torch.distributed`` process
group (gloo on CPUs) in each; ``CALFForecaster.fit`` finds the group and
trains data-parallel on it, as under ``torchrun``. The script fits a tiny
randomly initialised model on a synthetic series with every dropout off
(the input encoder's too, by replacing its rate for this check), once in
this process and once through ``TorchTrainer``, and prints the largest
difference between the forecasts, the number of processes the workers'
model records, and the times (Ray's start-up included).

Needs ``pip install "ray[train]"`` (not a dependency of the package, and not
run by the test suite: Ray's start-up is too slow for CI's two cores).

    python benchmarks/ray_train_check.py [--workers 2]
"""

from __future__ import annotations

import argparse
import functools
import tempfile
import time

import numpy as np

PARAMS = {
    "pred_len": 8,
    "seq_len": 24,
    "llm": {"n_embd": 32, "n_layer": 2, "n_head": 4, "n_positions": 64, "resid_pdrop": 0.0, "embd_pdrop": 0.0,
            "attn_pdrop": 0.0},
    "pretrained": False,
    "n_layers": 2,
    "n_principal_words": 16,
    "lora_dropout": 0.0,
    "max_epochs": 3,
    "batch_size": 16,
    "device": "cpu",
    "random_state": 0,
}  # fmt: skip


def _without_encoder_dropout():
    from calf_sklearn._torch import calf_model

    if not isinstance(calf_model.CALFNetwork, functools.partial):
        calf_model.CALFNetwork = functools.partial(calf_model.CALFNetwork, dropout=0.0)


def _series():
    from calf_sklearn.datasets import make_synthetic_series

    return np.asarray(make_synthetic_series(240, 3), dtype=np.float64)


def _fit_in_worker(config):
    import ray.train
    import torch

    from calf_sklearn import CALFForecaster

    torch.set_num_threads(1)
    _without_encoder_dropout()
    model = CALFForecaster(**PARAMS).fit(_series())
    if ray.train.get_context().get_world_rank() == 0:
        np.savez(config["out"], forecast=np.asarray(model.predict()), n_processes=model.n_processes_)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)

    import ray
    from ray.train import RunConfig, ScalingConfig
    from ray.train.torch import TorchTrainer

    from calf_sklearn import CALFForecaster
    from calf_sklearn._utils.hardware import cpu_description

    _without_encoder_dropout()
    started = time.perf_counter()
    expected = np.asarray(CALFForecaster(**PARAMS).fit(_series()).predict())
    alone = time.perf_counter() - started
    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        ray.init(num_cpus=args.workers, include_dashboard=False, log_to_driver=False)
        ready = time.perf_counter() - started
        trainer = TorchTrainer(
            _fit_in_worker,
            train_loop_config={"out": f"{folder}/rank0.npz"},
            scaling_config=ScalingConfig(
                num_workers=args.workers, use_gpu=False, resources_per_worker={"CPU": 1}
            ),
            run_config=RunConfig(storage_path=folder, name="calf"),
        )
        trainer.fit()
        total = time.perf_counter() - started
        result = np.load(f"{folder}/rank0.npz")
        ray.shutdown()
    print(f"CPU: {cpu_description()}; ray {ray.__version__}; {args.workers} workers x 1 thread")
    print(f"n_processes_ recorded by the workers' model: {int(result['n_processes'])}")
    print(
        f"largest difference from the single-process forecasts: {np.abs(result['forecast'] - expected).max():.3g}"
    )
    print(
        f"one process: {alone:.1f} s; ray.init: {ready:.1f} s; ray.init and TorchTrainer.fit: {total:.1f} s"
    )


if __name__ == "__main__":
    main()
