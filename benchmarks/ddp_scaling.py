"""Data-parallel scaling of one CALF fit: windows per second for 1, 2, ... processes under torchrun.

For each process count N it launches ``torchrun --standalone --nproc-per-node N``
on this script (in worker mode), which fits a ``CALFForecaster`` on ETTh1's
training rows (``--data-home``, default ``../shared/data``; a synthetic series of
the same shape when the file is not there) for a fixed number of epochs, without
validation, so that every epoch is training alone. Rank 0 reports the epochs'
seconds, the windows trained per second and the whole fit's wall time (backbone
building included). On a CPU the machine's threads are divided between the
processes (``--threads`` in all: N processes of ``threads / N`` threads each), so
the comparison is "the same cores, used by one process or by N". On CUDA each
process takes its own GPU (``--device cuda``; N at most the GPU count).

The backbone is a randomly initialised GPT-2 (the paper's shape with
``--shape paper``, a width-64 one with ``--shape tiny`` for smoke tests): speed
does not depend on the weights' values, and nothing is downloaded.

``--compare-reduction`` measures instead how the gradients are summed, on the
largest process count given: the training step of calf_sklearn's loop
(``torch.nn.parallel.DistributedDataParallel``: bucketed all-reduces
overlapped with the backward pass) against the same step with one all-reduce
of exactly the trained tensors' gradients, flattened, after the backward pass
(the design this replaced), on one batch of ETTh1-shaped windows,
interleaved, median of ``--repeats``.

    python benchmarks/ddp_scaling.py [--processes 1 2] [--threads 2] [--device cpu|cuda]
        [--epochs 2] [--batch-size 32] [--window-stride 16] [--shape paper|tiny]
        [--precision float32] [--data-home ../shared/data] [--out results.md]
        [--compare-reduction] [--repeats 7]
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import subprocess
import sys
import time
from pathlib import Path

SHAPES = {
    # GPT-2 small's width and heads, the first 6 blocks kept (the paper's setting).
    "paper": {"llm": {"n_embd": 768, "n_head": 12, "n_layer": 6}, "n_layers": 6, "n_principal_words": 500},
    "tiny": {"llm": {"n_embd": 64, "n_head": 4, "n_layer": 2}, "n_layers": 2, "n_principal_words": 32},
}
_RESULT = "DDP_SCALING_RESULT "


def _series(data_home):
    """ETTh1's training rows (12 months), or a synthetic series of that shape without the file."""
    import numpy as np

    try:
        from calf_sklearn.datasets import load_benchmark

        return load_benchmark("ETTh1", data_home=data_home, download=False).train, "ETTh1 (train rows)"
    except (FileNotFoundError, ValueError):
        from calf_sklearn.datasets import make_synthetic_series

        return np.asarray(make_synthetic_series(8640, 7), dtype=np.float64), "synthetic, 8640 x 7"


def worker(args):
    import torch

    from calf_sklearn import CALFForecaster

    X, data = _series(args.data_home)
    shape = SHAPES[args.shape]
    model = CALFForecaster(
        pred_len=96,
        seq_len=96,
        llm=shape["llm"],
        pretrained=False,
        n_layers=shape["n_layers"],
        n_principal_words=shape["n_principal_words"],
        batch_size=args.batch_size,
        window_stride=args.window_stride,
        max_epochs=args.epochs,
        validation_size=0,
        device=args.device,
        precision=args.precision,
        random_state=0,
    )
    started = time.perf_counter()
    model.fit(X)
    wall = time.perf_counter() - started
    if int(os.environ.get("RANK", "0")) != 0:
        return
    epoch_seconds = [record["seconds"] for record in model.history_]
    windows = len(range(0, len(X) - 96 - 96 + 1, args.window_stride))
    print(
        _RESULT
        + json.dumps(
            {
                "processes": model.n_processes_,
                "threads": torch.get_num_threads(),
                "windows_per_epoch": windows,
                "epoch_seconds": epoch_seconds,
                "windows_per_s": windows * len(epoch_seconds) / sum(epoch_seconds),
                "fit_wall_s": wall,
                "data": data,
                "device": str(model.device_),
            }
        ),
        flush=True,
    )


def reduction_worker(args):
    """Time one training step summed by our all-reduce and by DDP, in this process of a launch."""
    import statistics

    import torch
    from torch import distributed as dist

    from calf_sklearn._torch.distributed import join_process_group
    from calf_sklearn.backbone import gpt2_config
    from calf_sklearn.losses import CALFLoss
    from calf_sklearn.network import CALFNetwork
    from calf_sklearn.training import Trainer

    device = torch.device(args.device)
    group = join_process_group(True, device)
    device = group.place(device)
    shape = SHAPES[args.shape]

    def network():
        from transformers import GPT2Model

        torch.manual_seed(0)
        backbone = GPT2Model(gpt2_config({**shape["llm"], "n_layer": shape["n_layers"]}))
        words = torch.randn(shape["n_principal_words"], shape["llm"]["n_embd"])
        return CALFNetwork(backbone, seq_len=96, pred_len=96, principal_words=words).to(device)

    loss = CALFLoss("l1", "l1", "l1", 1.0, 1.0, 0.01)
    share = group.share(args.batch_size)
    generator = torch.Generator().manual_seed(1)
    x = torch.randn(args.batch_size, 96, 7, generator=generator)[share].to(device)
    y = torch.randn(args.batch_size, 96, 7, generator=generator)[share].to(device)

    ours = Trainer(
        network(), loss, learning_rate=5e-4, projection_learning_rate=1e-4, batch_size=args.batch_size,
        max_epochs=1, patience=1, cosine_t_max=20, device=device, generator=torch.Generator(),
        process_group=group,
    )  # fmt: skip
    flat_network = network()
    trained = [p for p in flat_network.parameters() if p.requires_grad]
    optimizer = torch.optim.Adam(trained, lr=5e-4)

    def flat_step():
        optimizer.zero_grad(set_to_none=True)
        loss(flat_network.forward_train(x), y, context=x)[0].backward()
        flat = torch.cat([p.grad.reshape(-1) for p in trained])
        dist.all_reduce(flat)
        offset = 0
        for p in trained:
            p.grad = flat[offset : offset + p.numel()].view_as(p)
            offset += p.numel()
        optimizer.step()

    def our_step():
        ours.train_step(x, y, batch_windows=args.batch_size)

    times = {
        "calf_sklearn's loop (DistributedDataParallel)": [],
        "one flat all-reduce of the trained gradients after backward": [],
    }
    for repeat in range(args.repeats + 1):
        for name, step in (
            zip(times, (our_step, flat_step))
            if repeat % 2
            else zip(reversed(list(times)), (flat_step, our_step))
        ):
            dist.barrier()
            if device.type == "cuda":
                torch.cuda.synchronize()
            started = time.perf_counter()
            step()
            if device.type == "cuda":
                torch.cuda.synchronize()
            if repeat:  # the first round warms up
                times[name].append(time.perf_counter() - started)
    trained = sum(p.numel() for p in trained)
    if group.is_main:
        print(
            _RESULT
            + json.dumps(
                {
                    "processes": group.world_size,
                    "threads": torch.get_num_threads(),
                    "trained_parameters": trained,
                    "median_step_s": {name: statistics.median(values) for name, values in times.items()},
                    "data": "random windows of ETTh1's shape (7 series)",
                    "windows_per_epoch": args.batch_size,
                }
            ),
            flush=True,
        )


def _launch(n_processes, args):
    env = dict(os.environ)
    if args.device == "cpu":
        env["OMP_NUM_THREADS"] = str(max(1, args.threads // n_processes))
    command = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={n_processes}",
        __file__, "--worker", "--epochs", str(args.epochs), "--batch-size", str(args.batch_size),
        "--window-stride", str(args.window_stride), "--shape", args.shape, "--device", args.device,
        "--precision", args.precision, "--data-home", str(args.data_home), "--repeats", str(args.repeats),
        *(["--compare-reduction"] if args.compare_reduction else []),
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    for line in done.stdout.splitlines():
        if line.startswith(_RESULT):
            return json.loads(line[len(_RESULT) :])
    raise RuntimeError(f"{n_processes} process(es) failed (exit {done.returncode}):\n{done.stderr[-3000:]}")


def _conditions(args, first):
    import torch

    from calf_sklearn._utils.hardware import cpu_description

    cpu = f"{cpu_description()}, {os.cpu_count()} logical cores"
    if args.device == "cuda":
        where = f"{torch.cuda.get_device_name(0)} x {torch.cuda.device_count()} (CUDA {torch.version.cuda}); host {cpu}"
    else:
        where = f"CPU: {cpu}; {args.threads} torch threads divided between the processes"
    return [
        f"date: {datetime.date.today().isoformat()}",
        f"device: {where}",
        f"torch {torch.__version__}, backend {'NCCL' if args.device == 'cuda' else 'gloo'}",
        (
            f"data: {first['data']}, seq_len = pred_len = 96, every {args.window_stride}th window "
            f"({first['windows_per_epoch']} per epoch), batch {args.batch_size} (global), no validation"
        ),
        (
            f"backbone: randomly initialised GPT-2, {args.shape} shape {SHAPES[args.shape]['llm']}, "
            f"precision {args.precision}"
        ),
    ]


def _report_reduction(args):
    result = _launch(max(args.processes), args)
    steps = result["median_step_s"]
    ours, theirs = steps.values()
    lines = [
        (
            f"- processes: {result['processes']} x {result['threads']} thread(s); one step on a global "
            f"batch of {args.batch_size} random windows (96 steps x 7 series, pred_len 96); "
            f"{result['trained_parameters']:,} trained parameters"
        ),
        "",
        "| gradients summed by | median step s |",
        "|---|---:|",
        *(f"| {name} | {seconds:.3f} |" for name, seconds in steps.items()),
        "",
        f"flat all-reduce / DistributedDataParallel: {theirs / ours:.2f}",
    ]
    conditions = [line for line in _conditions(args, result) if not line.startswith("data:")]
    text = "\n".join([*(f"- {line}" for line in conditions), *lines])
    print(text)
    if args.out is not None:
        args.out.write_text(text + "\n")
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--processes", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--window-stride", type=int, default=16)
    parser.add_argument("--shape", choices=sorted(SHAPES), default="paper")
    parser.add_argument("--precision", default="float32")
    parser.add_argument(
        "--data-home", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data"
    )
    parser.add_argument("--out", type=Path)
    parser.add_argument("--compare-reduction", action="store_true")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return reduction_worker(args) if args.compare_reduction else worker(args)
    if args.compare_reduction:
        return _report_reduction(args)
    rows = [_launch(n, args) for n in args.processes]
    base = rows[0]["windows_per_s"]
    lines = [
        "| processes | threads each | windows/s | vs first row | seconds per epoch | fit wall s |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        per_epoch = sum(row["epoch_seconds"]) / len(row["epoch_seconds"])
        lines.append(
            f"| {row['processes']} | {row['threads'] if args.device == 'cpu' else '-'} | "
            f"{row['windows_per_s']:.1f} | {row['windows_per_s'] / base:.2f}x | {per_epoch:.1f} | "
            f"{row['fit_wall_s']:.1f} |"
        )
    text = "\n".join([*(f"- {line}" for line in _conditions(args, rows[0])), "", *lines])
    print(text)
    if args.out is not None:
        args.out.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
