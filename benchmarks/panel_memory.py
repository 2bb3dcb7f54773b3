"""Memory and time of a panel of 100,000 members: windows are views, not copies.

Builds a univariate float64 panel of ``--members`` members of random lengths
(uniform in ``[--min-length, --max-length]``), then measures, each phase on
its own:

- **windows**: the estimator's ``_prepare_fit`` (validation of every member,
  per-member split and scaling, the training and validation window sources);
- **fit**: the real ``fit`` of a ``DLinearForecaster`` (``max_epochs=1``,
  ``validation_size=24`` rows of every member, every ``--window-stride``-th
  training window so that the epoch is short), or of a CALFForecaster on a
  tiny random GPT-2 with ``--model calf``;
- **predict**: ``predict()`` for every member.

For each it prints the peak resident set of the process (sampled from /proc
by ``calf_sklearn._utils.memory.PeakMemory``; ``getrusage``'s lifetime peak is
printed at the end) and the time, beside the data's own size and what the
training windows would take if each were copied out
(``n_windows * (seq_len + pred_len) * 8`` bytes).

    python benchmarks/panel_memory.py [--members 100000] [--min-length 200] [--max-length 500]
        [--seq-len 96] [--pred-len 24] [--model dlinear|calf] [--window-stride 50]

Output of ``OMP_NUM_THREADS=2 python benchmarks/panel_memory.py`` (the defaults), run
2026-12-02 on an "AMD EPYC" (family 25, model 1; KVM guest), 2 cores, 23.5 GiB RAM, CPU only;
2 min 2 s wall in all. The 325 MiB before the first phase are Python, NumPy and torch.
The windows cost the joined float32 copy of the rows (170 MiB) where copied windows would
take 18.9 GiB (every window) or 424 MiB (the 1/50 trained on); the ~780 MiB above the data
while preparing were mostly the per-member scaling (``_member_statistics``: three float64
arrays of the whole panel at once, 750 MiB measured alone). Since it works in chunks of
4,096 members, a second run (other work sharing the cores, so slower) peaked at 1,192 MiB
while preparing, 1,234 MiB in the fit and 1,236 MiB in all (docs/results.md has both runs).

    calf_sklearn panel memory benchmark, 2026-12-02
    CPU: AMD EPYC (2 logical CPUs), RAM 23.5 GiB, torch 2.13.0+cpu with 2 threads, Python 3.11.7
    Panel: 100,000 univariate float64 members, lengths uniform in [200, 500]; seq_len=96, pred_len=24
    model=dlinear, window_stride=50, batch_size=256, validation_size=24 rows per member
      build the panel: 2.4 s, peak RSS 686 MiB
      windows (_prepare_fit): 25.4 s, peak RSS 1,416 MiB
      fit (1 epoch): 82.2 s, peak RSS 1,559 MiB
      predict() every member: 3.9 s, peak RSS 1,008 MiB

                                               value
    members                                  100,000
    rows (all members)                    34,988,066
    data (float64) MiB                           267
    training windows (stride 1)           20,688,066
    training windows trained on              462,975
    validation windows                       100,000
    joined float32 rows MiB                      170
    copied windows, stride 1 MiB              18,940
    copied windows, trained MiB                  424

    phase                       seconds  RSS before MiB  peak RSS MiB  peak - before
    build the panel                 2.4             325           686            361
    windows (_prepare_fit)         25.4             633         1,416            784
    fit (1 epoch)                  82.2             779         1,559            780
    predict() every member          3.9             935         1,008             73

    process peak RSS (getrusage, whole run): 1,559 MiB; measured: process RSS
    fit: 1 epoch, train_loss 0.0227, val_mse 0.0214
"""

from __future__ import annotations

import argparse
import datetime
import gc
import os
import platform
import resource
import subprocess
import sys
import time
import warnings

import numpy as np

from calf_sklearn._utils.memory import PeakMemory, _rss_bytes
from calf_sklearn.baselines import DLinearForecaster

MIB = 2**20

# The tiny random backbone of the test suite: it is the windows' memory that is
# measured here, not the language model's.
TINY_GPT2 = {
    "n_embd": 32,
    "n_layer": 2,
    "n_head": 4,
    "vocab_size": 128,
    "n_positions": 64,
    "bos_token_id": 0,
    "eos_token_id": 0,
}


def cpu_model():
    """The CPU's model name, from lscpu, else /proc/cpuinfo, else platform."""
    try:
        output = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        for line in output.splitlines():
            if line.startswith("Model name:"):
                return line.split(":", 1)[1].strip()
    except (OSError, subprocess.CalledProcessError):
        pass
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def total_memory_gib():
    try:
        with open("/proc/meminfo") as handle:
            for line in handle:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) / 2**20
    except OSError:
        pass
    return float("nan")


def make_panel(n_members, min_length, max_length, seed=0):
    """``n_members`` univariate float64 series of random lengths, as (n, 1) views of one buffer.

    Each member is a daily-like cycle plus a random walk, at its own level and
    spread (so per-member scaling matters, as in real panels).
    """
    rng = np.random.default_rng(seed)
    lengths = rng.integers(min_length, max_length + 1, size=n_members)
    stops = np.cumsum(lengths)
    starts = stops - lengths
    buffer = np.empty((int(stops[-1]), 1))
    # Filled a few thousand members at a time, so that the temporaries stay
    # small beside the panel and the peaks below are the forecaster's.
    chunk = 5000
    for first in range(0, n_members, chunk):
        last = min(first + chunk, n_members)
        sizes = lengths[first:last]
        step = np.arange(starts[first], stops[last - 1]) - np.repeat(starts[first:last], sizes)
        level = np.repeat(rng.uniform(-100, 100, size=last - first), sizes)
        spread = np.repeat(rng.uniform(0.1, 10, size=last - first), sizes)
        noise = 0.1 * rng.standard_normal(len(step))
        buffer[starts[first] : stops[last - 1], 0] = level + spread * (np.sin(2 * np.pi * step / 24) + noise)
    # Views, not copies: the panel's memory is the buffer's.
    members = np.split(buffer, stops[:-1])
    return members, lengths, buffer


def make_model(args):
    common = {"pred_len": args.pred_len, "seq_len": args.seq_len, "max_epochs": 1}
    if args.model == "dlinear":
        return DLinearForecaster(
            **common,
            batch_size=args.batch_size,
            validation_size=args.pred_len,
            window_stride=args.window_stride,
            device="cpu",
            random_state=0,
        )
    from calf_sklearn import CALFForecaster

    return CALFForecaster(
        **common,
        llm=dict(TINY_GPT2),
        pretrained=False,
        n_layers=2,
        n_principal_words=16,
        batch_size=args.batch_size,
        validation_size=args.pred_len,
        window_stride=args.window_stride,
        device="cpu",
        random_state=0,
    )


def measure(label, function, results):
    gc.collect()
    before = _rss_bytes() or 0
    started = time.perf_counter()
    with PeakMemory("cpu") as memory:
        value = function()
    seconds = time.perf_counter() - started
    results.append((label, seconds, before / MIB, memory.peak_bytes / MIB, memory.kind))
    print(f"  {label}: {seconds:.1f} s, peak RSS {memory.peak_bytes / MIB:,.0f} MiB", flush=True)
    return value


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=100_000)
    parser.add_argument("--min-length", type=int, default=200)
    parser.add_argument("--max-length", type=int, default=500)
    parser.add_argument("--seq-len", type=int, default=96)
    parser.add_argument("--pred-len", type=int, default=24)
    parser.add_argument("--model", choices=["dlinear", "calf"], default="dlinear")
    parser.add_argument(
        "--window-stride", type=int, default=50, help="train on every k-th window of each member (default 50)"
    )
    parser.add_argument("--batch-size", type=int, default=256)
    args = parser.parse_args()
    if args.min_length < args.seq_len + 2 * args.pred_len:
        parser.error(
            f"--min-length must be at least seq_len + 2 * pred_len = {args.seq_len + 2 * args.pred_len}: "
            "each member holds out pred_len rows for validation and needs one training window"
        )
    warnings.filterwarnings("ignore", category=FutureWarning)

    import torch

    print(f"calf_sklearn panel memory benchmark, {datetime.date.today().isoformat()}")
    print(
        f"CPU: {cpu_model()} ({os.cpu_count()} logical CPUs), RAM {total_memory_gib():.1f} GiB, "
        f"torch {torch.__version__} with {torch.get_num_threads()} threads, "
        f"Python {platform.python_version()}"
    )
    print(
        f"Panel: {args.members:,} univariate float64 members, lengths uniform in "
        f"[{args.min_length}, {args.max_length}]; seq_len={args.seq_len}, pred_len={args.pred_len}"
    )
    print(
        f"model={args.model}, window_stride={args.window_stride}, batch_size={args.batch_size}, "
        f"validation_size={args.pred_len} rows per member"
    )
    results = []
    members, lengths, buffer = measure(
        "build the panel", lambda: make_panel(args.members, args.min_length, args.max_length), results
    )
    data_mib = buffer.nbytes / MIB
    window = args.seq_len + args.pred_len
    train_rows = lengths - args.pred_len
    all_windows = int(np.maximum(train_rows - window + 1, 0).sum())
    strided_windows = int((-(-np.maximum(train_rows - window + 1, 0) // args.window_stride)).sum())

    prepared = measure(
        "windows (_prepare_fit)",
        lambda: make_model(args)._prepare_fit(members, None, args.window_stride),
        results,
    )
    n_train, n_validation = len(prepared.train), len(prepared.validation)
    assert n_train == strided_windows, (n_train, strided_windows)
    joined_mib = (prepared.train.values.nbytes + prepared.validation.values.nbytes) / MIB
    del prepared

    model = make_model(args)
    measure("fit (1 epoch)", lambda: model.fit(members), results)
    forecasts = measure("predict() every member", model.predict, results)
    assert len(forecasts) == args.members and forecasts[0].shape == (args.pred_len, 1)

    copied_all = all_windows * window * 8 / MIB
    copied_strided = n_train * window * 8 / MIB
    print()
    print(f"{'':<32}{'value':>16}")
    print(f"{'members':<32}{args.members:>16,}")
    print(f"{'rows (all members)':<32}{int(lengths.sum()):>16,}")
    print(f"{'data (float64) MiB':<32}{data_mib:>16,.0f}")
    print(f"{'training windows (stride 1)':<32}{all_windows:>16,}")
    print(f"{'training windows trained on':<32}{n_train:>16,}")
    print(f"{'validation windows':<32}{n_validation:>16,}")
    print(f"{'joined float32 rows MiB':<32}{joined_mib:>16,.0f}")
    print(f"{'copied windows, stride 1 MiB':<32}{copied_all:>16,.0f}")
    print(f"{'copied windows, trained MiB':<32}{copied_strided:>16,.0f}")
    print()
    print(f"{'phase':<26}{'seconds':>9}{'RSS before MiB':>16}{'peak RSS MiB':>14}{'peak - before':>15}")
    for label, seconds, before, peak, _ in results:
        print(f"{label:<26}{seconds:>9.1f}{before:>16,.0f}{peak:>14,.0f}{peak - before:>15,.0f}")
    lifetime = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * (1 if sys.platform == "darwin" else 1024)
    print(f"\nprocess peak RSS (getrusage, whole run): {lifetime / MIB:,.0f} MiB; measured: {results[0][4]}")
    print(
        f"fit: {len(model.history_)} epoch, train_loss {model.history_[-1]['train_loss']:.4f}, "
        f"val_mse {model.history_[-1]['val_mse']:.4f}"
    )


if __name__ == "__main__":
    main()
