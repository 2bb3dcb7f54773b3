"""Where a float32 forecast's time goes: our forward against a bare GPT-2 forward over the same tokens.

On a randomly initialised GPT-2 of the paper's shape (first 6 blocks, width
768), L = P = 96, it times, interleaved round by round so that a busy machine
slows every part alike:

- ``gpt2``: ``GPT2Model(inputs_embeds=tokens)`` alone, the floor;
- the parts of :meth:`CALFNetwork.forward` around it: the window
  normalisation, the input projection, the input encoder layer, the branch's
  residual and the head with de-normalisation;
- ``forward``: the whole network on a float32 tensor;
- ``forecast_windows``: the package's path from a NumPy batch to a NumPy
  forecast (conversion, transfer, inference mode);
- ``compiled``: the same through :class:`calf_sklearn.compiled.CompiledForecast`
  (its compilation time is reported apart);
- with ``--bfloat16``, ``forward_bfloat16``: the network cast to bfloat16 and
  placed as a ``precision="bfloat16"`` forecaster places it
  (:func:`calf_sklearn.precision.place_network`: on a CPU without bfloat16
  instructions its matrices are stored transposed), and, for comparison,
  ``forward_bfloat16_plain``, the same without that layout.

    python benchmarks/forecast_profile.py [--series 7] [--batch 32] [--repeats 15] [--threads 2]
        [--no-compile] [--bfloat16] [--only forward ...]
"""

from __future__ import annotations

import argparse
import copy
import os
import statistics
import sys
import time
import warnings

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from speed_memory import build

from calf_sklearn._apps.experiment import hardware as _hardware
from calf_sklearn._torch.branches import normalise, run_branch
from calf_sklearn._torch.inference import forecast_windows
from calf_sklearn.compiled import CompiledForecast
from calf_sklearn.precision import place_network

warnings.filterwarnings("ignore", category=FutureWarning)


def parts(network, x_numpy, batch_size, compiled, bfloat16=False):
    """The calls to time, each a closure over prepared inputs of its own stage."""
    cpu = torch.device("cpu")
    x = torch.from_numpy(x_numpy)
    normalised, mean, std = normalise(x)
    projected = network.input_projection(normalised.transpose(1, 2))
    tokens = network.encoder(projected)
    hidden, _ = run_branch(network.temporal, tokens, hidden_states=False)
    calls = {
        "gpt2": lambda: network.temporal(inputs_embeds=tokens, use_cache=False),
        "normalise": lambda: normalise(x),
        "input_projection": lambda: network.input_projection(normalised.transpose(1, 2)),
        "encoder": lambda: network.encoder(projected),
        "branch_residual": lambda: run_branch(network.temporal, tokens, hidden_states=False),
        "head": lambda: network._forecast(hidden, mean, std),
        "forward": lambda: network(x),
        "forecast_windows": lambda: forecast_windows(network, x_numpy, batch_size, cpu),
    }
    if compiled is not None:
        calls["compiled"] = lambda: compiled(x)
    if bfloat16:
        plain = copy.deepcopy(network).to(torch.bfloat16)
        placed = place_network(copy.deepcopy(plain), cpu, warn=False)
        calls["forward_bfloat16"] = lambda: placed(x)
        calls["forward_bfloat16_plain"] = lambda: plain(x)
    return calls


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, default=7)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--no-compile", action="store_true")
    parser.add_argument("--bfloat16", action="store_true", help="also time the forward in bfloat16")
    parser.add_argument("--only", nargs="+", metavar="PART", help="time only these parts (forward always)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    network = build("ours", torch.device("cpu")).strip_for_inference().eval()
    x = np.random.default_rng(0).normal(size=(args.batch, 96, args.series)).astype(np.float32)
    compiled, compile_s = None, None
    with torch.inference_mode():
        if not args.no_compile:
            compiled = CompiledForecast(network, args.batch)
            started = time.perf_counter()
            compiled(torch.from_numpy(x))
            compile_s = time.perf_counter() - started
        calls = parts(network, x, args.batch, compiled, args.bfloat16)
        if args.only:
            calls = {name: call for name, call in calls.items() if name in {*args.only, "forward"}}
        times = {name: [] for name in calls}
        names = list(calls)
        for round_ in range(2 + args.repeats):
            for name in names if round_ % 2 == 0 else names[::-1]:
                started = time.perf_counter()
                calls[name]()
                if round_ >= 2:
                    times[name].append(time.perf_counter() - started)
    median = {name: 1e3 * statistics.median(values) for name, values in times.items()}
    print(f"# Float32 forecast profile, M = {args.series}, B = {args.batch}")
    print()
    print(f"- {_hardware('cpu')}; torch {torch.__version__}")
    print(f"- median of {args.repeats} interleaved rounds after 2 warm-up rounds; random GPT-2, 6 blocks")
    if compile_s is not None:
        failure = compiled.failure or "none"
        print(f"- compilation (first call): {compile_s:.1f} s; failure: {failure}")
    print()
    print("| part | ms per batch | share of forward |")
    print("|---|---:|---:|")
    for name, value in median.items():
        print(f"| {name} | {value:.1f} | {100 * value / median['forward']:.0f}% |")
    print()
    if "gpt2" in median:
        around = median["forward"] - median["gpt2"]
        print(f"forward - gpt2 = {around:.1f} ms ({100 * around / median['forward']:.0f}% of the forward)")
    for name in ("forward_bfloat16", "forward_bfloat16_plain"):
        if name in median:
            print(f"{name} / forward (float32): {median[name] / median['forward']:.2f}x the time")
    if "compiled" in median:
        print(f"compiled speed-up over forward: {median['forward'] / median['compiled']:.2f}x")
        saved = (median.get("forecast_windows", median["forward"]) - median["compiled"]) / 1e3
        if compile_s is not None and saved > 0:
            print(
                f"break-even: {compile_s / saved:.0f} batches ({compile_s / saved * args.batch:.0f} windows)"
            )


if __name__ == "__main__":
    main()
