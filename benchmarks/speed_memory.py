"""Speed and memory of calf_sklearn's CALF against a faithful re-creation of the authors' path.

Both paths use a randomly initialised GPT-2 of the paper's shape (width 768,
12 heads, vocabulary 50257, first 6 blocks kept), L = P = 96 and K = 500
random principal words, and are measured side by side in one run:

- **ours**: :class:`calf_sklearn.network.CALFNetwork` trained by
  :class:`calf_sklearn.training.Trainer` with the CALF loss (L1, L1, L1;
  weights 1, 1, 0.01); inference with the network after
  ``strip_for_inference()`` (temporal branch only, LoRA merged) in
  ``torch.inference_mode()``.
- **faithful**: ``benchmarks/_faithful.py``, which does what the authors'
  implementation does (two full GPT-2 copies, unmerged peft LoRA, per-window
  copies of the words, attention maps and hidden states requested, both
  branches run at inference). Same trainer, loss and trainable parameters.

Optional paths of ours, each measured beside the two above:

- **ours-bfloat16**, **ours-float16** (``--precision``): training by the
  same trainer with ``precision=`` (matrix products under autocast, float32
  master weights and optimiser state, a gradient scaler for float16);
  inference with the stripped network cast to that dtype (float32 in and
  out), the network a forecaster of that precision keeps and saves. float16
  runs on CUDA only. The faithful path stays float32.
- **ours-compiled** (``--compile``): inference only, the stripped float32
  network through :class:`calf_sklearn.compiled.CompiledForecast`
  (``torch.compile`` with inductor's freezing). Its first call compiles;
  that time is reported on its own and kept out of the timed repeats.

For each case (M series, batch B) it reports the median time of a training
step (both branches, the three-term loss, backward, both Adam steps) and of
an inference batch, taken interleaved (every path in turn, then in reverse
order, ...) so that a busy machine slows all alike; the peak memory of
training and of inference, each in a fresh subprocess (peak RSS from
``getrusage`` on the CPU, ``torch.cuda.max_memory_allocated`` on CUDA); and
the saved artifact size (ours: the export that calf_sklearn pickles, saved
with joblib, per precision; faithful: ``torch.save`` of the full
state_dict). Before measuring, it checks on a tiny configuration that both
paths compute the same function.

    python benchmarks/speed_memory.py [--series 7 21 321] [--batch 32] [--batch-321 4]
        [--cases M:B [M:B ...]] [--precision float32 bfloat16 float16] [--compile]
        [--device cpu|cuda] [--repeats 5] [--threads 2] [--shape paper|tiny] [--out results.md]

``--cases 7:32 21:32 7:256`` replaces ``--series``/``--batch``/``--batch-321``
and may list one M at several batch sizes. ``--shape tiny`` (a GPT-2 of width
64, L = P = 24) is for smoke tests of the script only: its figures mean nothing.
"""

from __future__ import annotations

import argparse
import copy
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import warnings

import torch

# Run as a script, this folder is on sys.path; run otherwise, put it there.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _faithful import FaithfulCALF, copy_weights_from, ours_name

from calf_sklearn._utils.hardware import cpu_info
from calf_sklearn.losses import CALFLoss
from calf_sklearn.network import CALFNetwork
from calf_sklearn.precision import (
    PRECISIONS,
    Precision,
    ReducedPrecisionWarning,
    has_native_bfloat16,
    place_network,
    resolve_precision,
)
from calf_sklearn.training import Trainer

GPT2_SHAPE = {"n_embd": 768, "n_layer": 12, "n_head": 12, "vocab_size": 50257, "n_positions": 1024}
N_LAYERS = 6
SEQ_LEN = PRED_LEN = 96
N_WORDS = 500
# The model of each --shape. "tiny" only checks that the script runs (seconds, not minutes).
SHAPES = {
    "paper": {
        "gpt2": GPT2_SHAPE,
        "n_layers": N_LAYERS,
        "seq_len": SEQ_LEN,
        "pred_len": PRED_LEN,
        "n_words": N_WORDS,
        "text": "random GPT-2 of the paper's shape (d 768, 12 heads, vocabulary 50257), first 6 blocks",
    },
    "tiny": {
        # Token ids inside the small vocabulary, so that transformers does not warn.
        "gpt2": {
            "n_embd": 64,
            "n_layer": 2,
            "n_head": 4,
            "vocab_size": 512,
            "n_positions": 1024,
            "bos_token_id": 0,
            "eos_token_id": 0,
        },
        "n_layers": 2,
        "seq_len": 24,
        "pred_len": 24,
        "n_words": 20,
        "text": "TINY random GPT-2 for smoke tests (d 64, 4 heads, vocabulary 512), 2 blocks",
    },
}
WARMUP = 2
# Series counts from this one up take the small "large-M" batch.
LARGE_M = 100
TARGETS = {"inference": 2.0, "train": 1.3, "memory": 0.7}
# Reduced precision against ours in float32, and compiled forecasting (issue 13).
REDUCED_TARGETS = {"inference": 2.0, "train": 1.3, "memory": 0.8}
COMPILED_TARGET = 4.0
COMPILED_TARGET_CASE = (7, 32)
COMPILED = "ours-compiled"

# Deprecation notices from transformers and peft (one per model) would bury the table.
warnings.filterwarnings("ignore", category=FutureWarning)
# bfloat16 on a CPU without native bfloat16 is measured on purpose; the report
# says whether the CPU has it (has_native_bfloat16) instead of warning per model.
warnings.filterwarnings("ignore", category=ReducedPrecisionWarning)


def ours_path(precision):
    """The name of ours' path in ``precision``: ``"ours"`` for float32, else ``"ours-<precision>"``."""
    return "ours" if precision == "float32" else f"ours-{precision}"


def _dtype(precision):
    return Precision(precision, "cpu").dtype


# ------------------------------------------------------------------ building


def _gpt2_config(shape="paper"):
    from transformers import GPT2Config

    config = GPT2Config(**SHAPES[shape]["gpt2"])
    config.n_layer = SHAPES[shape]["n_layers"]
    config._attn_implementation = "sdpa"
    return config


def _words(shape="paper", seed=0):
    width = SHAPES[shape]["gpt2"]["n_embd"]
    return torch.randn(SHAPES[shape]["n_words"], width, generator=torch.Generator().manual_seed(seed))


def build(path, device, shape="paper", words=None):
    """One path's training network on ``device`` (every ``ours*`` path builds ours)."""
    from transformers import GPT2Model

    config = _gpt2_config(shape)
    words = _words(shape) if words is None else words
    lengths = {"seq_len": SHAPES[shape]["seq_len"], "pred_len": SHAPES[shape]["pred_len"]}
    if path.startswith("ours"):
        # What load_backbone(pretrained=False) builds: the kept blocks only, SDPA.
        network = CALFNetwork(GPT2Model(config), principal_words=words, **lengths)
    else:
        network = FaithfulCALF(config, principal_words=words, **lengths)
    return network.to(device)


def make_trainer(network, batch, device, precision=None):
    """The package's trainer with the defaults of the authors' ETT scripts.

    ``precision`` (a :class:`~calf_sklearn.precision.Precision`, ``None`` for
    float32) is passed on as a forecaster of that precision passes it.
    """
    return Trainer(
        network,
        CALFLoss("l1", "l1", "l1", 1.0, 1.0, 0.01),
        learning_rate=5e-4,
        projection_learning_rate=1e-4,
        batch_size=batch,
        max_epochs=1,
        patience=1,
        cosine_t_max=20,
        device=device,
        generator=torch.Generator().manual_seed(0),
        precision=precision,
    )


def _batch(n_series, batch, device, shape="paper", seed=0):
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, SHAPES[shape]["seq_len"], n_series, generator=generator)
    y = torch.randn(batch, SHAPES[shape]["pred_len"], n_series, generator=generator)
    return x.to(device), y.to(device)


def infer_fn(path, network):
    """A call that forecasts a batch the way each path does at inference."""
    network.eval()
    # The authors evaluate under no_grad; ours under inference_mode.
    context = torch.inference_mode if path.startswith("ours") else torch.no_grad

    def infer(x):
        with context():
            return network(x)

    return infer


def compiled_fn(compiled):
    """A call that forecasts a batch with a :class:`~calf_sklearn.compiled.CompiledForecast`."""

    def infer(x):
        # Inductor's freezing needs inference mode (as CALFForecaster calls it).
        with torch.inference_mode():
            return compiled(x)

    return infer


# --------------------------------------------------------------- equivalence


def check_equivalence():
    """Assert, on a tiny GPT-2, that both paths compute the same function.

    Same weights in both (LoRA, LayerNorms and position embeddings moved off
    their initial values so that every part counts): the training outputs,
    the loss, every trainable gradient, and the inference forecast before and
    after ours merges LoRA must agree to float tolerance.

    Returns
    -------
    dict
        The largest absolute differences found.
    """
    from transformers import GPT2Config, GPT2Model

    torch.manual_seed(0)
    config = GPT2Config(
        n_embd=32, n_layer=2, n_head=4, vocab_size=64, n_positions=64, bos_token_id=0, eos_token_id=0
    )
    config._attn_implementation = "sdpa"
    words = torch.randn(10, 32)
    ours = CALFNetwork(GPT2Model(config), seq_len=24, pred_len=8, principal_words=words)
    with torch.no_grad():
        for name, parameter in ours.named_parameters():
            if any(part in name for part in ("lora_B", "ln_", "wpe")):
                parameter.add_(0.1 * torch.randn_like(parameter))
    faithful = copy_weights_from(FaithfulCALF(config, seq_len=24, pred_len=8, principal_words=words), ours)
    trainable_ours = {n for n, p in ours.named_parameters() if p.requires_grad}
    trainable_faithful = {ours_name(n) for n, p in faithful.named_parameters() if p.requires_grad}
    assert trainable_ours == trainable_faithful, trainable_ours ^ trainable_faithful

    # Eval mode: dropout off, so both passes are deterministic and comparable.
    ours.eval()
    faithful.eval()
    x, y = torch.randn(3, 24, 5), torch.randn(3, 8, 5)
    loss = CALFLoss("l1", "l1", "l1", 1.0, 1.0, 0.01)
    out_ours, out_faithful = ours.forward_train(x), faithful.forward_train(x)
    pairs = [
        (out_ours.forecast, out_faithful.forecast),
        (out_ours.textual_forecast, out_faithful.textual_forecast),
    ]
    pairs += list(zip(out_ours.features, out_faithful.features))
    pairs += list(zip(out_ours.textual_features, out_faithful.textual_features))
    diffs = {"outputs": max(float((a - b).detach().abs().max()) for a, b in pairs)}
    total_ours, _ = loss(out_ours, y)
    total_faithful, _ = loss(out_faithful, y)
    total_ours.backward()
    total_faithful.backward()
    diffs["loss"] = abs(float((total_ours - total_faithful).detach()))
    grads = {n: p.grad for n, p in ours.named_parameters() if p.requires_grad}
    diffs["gradients"] = max(
        float((grads[ours_name(n)] - p.grad).abs().max())
        for n, p in faithful.named_parameters()
        if p.requires_grad
    )
    with torch.no_grad():
        expected = faithful(x)
        diffs["inference"] = float((ours(x) - expected).abs().max())
        ours.strip_for_inference()
        diffs["inference_merged"] = float((ours(x) - expected).abs().max())
    scale = float(expected.abs().max())
    for key, value in diffs.items():
        # Merging LoRA reorders a sum: allow a little more rounding there.
        tolerance = (1e-4 if key == "inference_merged" else 1e-5) * max(scale, 1.0)
        assert value <= tolerance, f"ours and faithful differ in {key}: {value:.3g} > {tolerance:.3g}"
    return diffs


# ------------------------------------------------------------------- timing


def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _seconds(fn, device):
    _sync(device)
    started = time.perf_counter()
    fn()
    _sync(device)
    return time.perf_counter() - started


def interleaved(calls, device, repeats, warmup=WARMUP):
    """Time two calls alternately, ABBA, and return each one's list of seconds.

    Alternating the order cancels a steady drift in the machine's speed (other
    work, clock changes) between the two paths.
    """
    times = {name: [] for name in calls}
    names = list(calls)
    for round_ in range(warmup + repeats):
        for name in names if round_ % 2 == 0 else names[::-1]:
            elapsed = _seconds(calls[name], device)
            if round_ >= warmup:
                times[name].append(elapsed)
    return times


def build_paths(n_series, batch, device, precisions=("float32",), shape="paper"):
    """Every path's training network (in train mode) and trainer, and one batch ``(x, y)``.

    Ours in each precision, then faithful (float32), all from the same initial
    weights (seed 0) and principal words.
    """
    words = _words(shape)
    networks, trainers = {}, {}
    for precision in precisions:
        path = ours_path(precision)
        torch.manual_seed(0)
        networks[path] = build(path, device, shape, words=words).train()
        trainers[path] = make_trainer(networks[path], batch, device, Precision(precision, device.type))
    torch.manual_seed(0)
    networks["faithful"] = build("faithful", device, shape, words=words).train()
    trainers["faithful"] = make_trainer(networks["faithful"], batch, device)
    return networks, trainers, _batch(n_series, batch, device, shape)


def forecasters(networks, precisions, device):
    """Each path's forecast call, built from :func:`build_paths`' networks (ours' are consumed).

    Returns ours' stripped float32 network and a dict of path to call. Every
    precision forecasts with the float32-trained weights cast to it, as a
    forecaster of that precision casts its trained network: the speed is the
    same as with its own trained weights, and the forecasts can be compared.
    """
    stripped = networks.pop("ours").strip_for_inference().eval()
    infer = {"ours": infer_fn("ours", stripped)}
    for precision in precisions[1:]:
        del networks[ours_path(precision)]
        # place_network: the layout a forecaster of this precision uses on this device.
        cast = place_network(copy.deepcopy(stripped).to(_dtype(precision)), device, warn=False)
        infer[ours_path(precision)] = infer_fn(ours_path(precision), cast)
    infer["faithful"] = infer_fn("faithful", networks["faithful"])
    return stripped, infer


def add_compiled(infer, stripped, batch, x, device):
    """Add ours' compiled forecast to ``infer``; its compile time and failure (None if it compiled)."""
    from calf_sklearn.compiled import CompiledForecast

    compiled = CompiledForecast(copy.deepcopy(stripped), batch)
    infer[COMPILED] = compiled_fn(compiled)
    # The first call compiles (tens of seconds on a CPU): timed on its own.
    seconds = _seconds(lambda: infer[COMPILED](x), device)
    return {"compile_seconds": seconds, "compile_failure": compiled.failure}


def measure_speed(
    n_series, batch, device, repeats, precisions=("float32",), with_compiled=False, shape="paper"
):
    """Training-step and inference seconds of every path at (``n_series``, ``batch``).

    Parameters
    ----------
    n_series, batch : int
        The case.
    device : torch.device
    repeats : int
        Timed repeats (after ``WARMUP`` untimed ones) per path and phase.
    precisions : sequence of str, default=("float32",)
        Precisions of ours, float32 first; the faithful path is float32.
    with_compiled : bool, default=False
        Also time the inference of ours' stripped float32 network through
        :class:`~calf_sklearn.compiled.CompiledForecast`.
    shape : str, default="paper"
        A key of ``SHAPES``.

    Returns
    -------
    dict
        ``train`` and ``inference``: each a dict of path to its list of
        seconds; ``differences``: path to the largest absolute difference of
        its forecast from ours' float32 one, relative to the largest forecast
        value; with ``with_compiled``, ``compile_seconds`` (the first, compiling
        call) and ``compile_failure`` (None, or why it fell back to eager).
    """
    networks, trainers, (x, y) = build_paths(n_series, batch, device, precisions, shape)
    train = interleaved({p: (lambda p=p: trainers[p].train_step(x, y)) for p in trainers}, device, repeats)
    trainers.clear()  # Adam's state: not needed for inference

    stripped, infer = forecasters(networks, precisions, device)
    result = {"train": train}
    if with_compiled:
        result.update(add_compiled(infer, stripped, batch, x, device))
    result["inference"] = interleaved({p: (lambda p=p: infer[p](x)) for p in infer}, device, repeats)
    reference = infer["ours"](x).float()
    scale = float(reference.abs().max())
    result["differences"] = {
        path: float((infer[path](x).float() - reference).abs().max()) / max(scale, 1e-12)
        for path in infer
        if path not in ("ours", "faithful")
    }
    return result


# ------------------------------------------------------------------- memory


def _rss_bytes():
    import resource

    # Linux reports kibibytes (macOS bytes; this benchmark targets Linux).
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _vm_hwm_bytes():
    """The kernel's peak RSS of this process's address space (Linux), or None."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def memory_worker(spec):
    """Body of the fresh subprocess that measures one (path, case, phase).

    Builds only what that phase needs, runs ``WARMUP`` + 2 steps and reports
    the peak. Training builds the path's network and trainer (for ours in a
    reduced precision, the trainer of that precision). Inference of ours
    loads the saved artifact of its precision as a deployed forecaster does;
    inference of the faithful path builds its network (the authors would also
    load a checkpoint on top, so this is a lower bound for them).
    """
    device = torch.device(spec["device"])
    if device.type == "cpu":
        torch.set_num_threads(spec["threads"])
    shape = spec.get("shape", "paper")
    ours = spec["path"].startswith("ours")
    x, y = _batch(spec["series"], spec["batch"], device, shape)
    baseline = _rss_bytes()
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    torch.manual_seed(0)
    if spec["phase"] == "train":
        network = build(spec["path"], device, shape)
        # main() has checked that the device runs this precision.
        precision = Precision(spec.get("precision", "float32"), device.type) if ours else None
        trainer = make_trainer(network.train(), spec["batch"], device, precision)
        step = lambda: trainer.train_step(x, y)
    else:
        if ours:
            import joblib

            # The export keeps its dtype: a bfloat16 artifact loads as a bfloat16 network.
            network = place_network(
                CALFNetwork.from_export(joblib.load(spec["artifact"])), device, warn=False
            )
        else:
            network = build(spec["path"], device, shape)
        infer = infer_fn(spec["path"], network)
        step = lambda: infer(x)
    # The first step allocates Adam's state; two more show any later growth.
    for _ in range(3):
        step()
    _sync(device)
    peak = _rss_bytes()
    result = {"baseline": baseline, "peak_rss": peak, "rss_added": peak - baseline, "vm_hwm": _vm_hwm_bytes()}
    if device.type == "cuda":
        result["cuda_peak"] = torch.cuda.max_memory_allocated(device)
    return result


def measure_memory(spec):
    """Run :func:`memory_worker` in a fresh Python process and return its figures.

    Linux carries ``ru_maxrss`` across ``execve`` from the address space that
    the new program replaces, and Python's subprocess starts children with
    vfork, so a worker started from this (large) process would report this
    process's peak. A small launcher in between absorbs that: the worker
    inherits only the launcher's few megabytes.
    """
    launcher = "import subprocess, sys; sys.exit(subprocess.run(sys.argv[1:]).returncode)"
    command = [sys.executable, "-c", launcher, sys.executable, os.path.abspath(__file__)]
    command += ["--memory-worker", json.dumps(spec)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode:
        raise RuntimeError(f"memory worker {spec} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


class CpuShare:
    """Share of the machine's CPU time that other processes took, between start and stop.

    Read from ``/proc/stat`` (Linux) minus this process's and its children's
    CPU time; a high share means the timings were taken on a busy machine.
    """

    def __init__(self):
        self.start = self._read()

    @staticmethod
    def _read():
        try:
            with open("/proc/stat") as stat:
                values = [int(v) for v in stat.readline().split()[1:9]]
        except (OSError, ValueError):
            return None
        times = os.times()
        own = times.user + times.system + times.children_user + times.children_system
        return sum(values), values[3] + values[4], own

    def stop(self):
        """The other processes' share in [0, 1], or None where it cannot be read."""
        end = self._read()
        if self.start is None or end is None:
            return None
        tick = os.sysconf("SC_CLK_TCK")
        total = (end[0] - self.start[0]) / tick
        busy = total - (end[1] - self.start[1]) / tick
        own = end[2] - self.start[2]
        return max(0.0, busy - own) / total if total else None


# ---------------------------------------------------------------- artifacts


def save_artifacts(folder, precisions=("float32",), shape="paper"):
    """Save every path's model as each saves them; return sizes and ours' files.

    Returns
    -------
    sizes : dict
        Bytes per path (``"ours"``, ``"ours-bfloat16"``, ..., ``"faithful"``)
        and the faithful model's value counts.
    files : dict of str to str
        Precision to the file of ours' artifact in it.
    """
    import joblib

    torch.manual_seed(0)
    sizes, files = {}, {}
    # What CALFForecaster pickles: the stripped network's export dict, in the
    # fit's precision (the stripped network cast to it).
    stripped = build("ours", torch.device("cpu"), shape).strip_for_inference()
    for precision in precisions:
        network = stripped if precision == "float32" else copy.deepcopy(stripped).to(_dtype(precision))
        files[precision] = os.path.join(folder, f"{ours_path(precision)}.joblib")
        joblib.dump(network.export(), files[precision])
        sizes[ours_path(precision)] = os.path.getsize(files[precision])
    del stripped, network
    faithful = build("faithful", torch.device("cpu"), shape)
    faithful_path = os.path.join(folder, "faithful.pt")
    torch.save(faithful.state_dict(), faithful_path)
    sizes["faithful"] = os.path.getsize(faithful_path)
    sizes["faithful_trainable"] = sum(p.numel() for p in faithful.parameters() if p.requires_grad)
    sizes["faithful_total"] = sum(p.numel() for p in faithful.state_dict().values())
    os.remove(faithful_path)  # only its size is needed
    return sizes, files


# ------------------------------------------------------------------ report

# The CPU features that decide how fast float32 and bfloat16 products run.
CPU_FLAGS = ("avx2", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile")


def _median(values):
    return statistics.median(values)


def _spread(seconds, digits):
    ms = [1e3 * s for s in seconds]
    return f"{_median(ms):.{digits}f} ({min(ms):.{digits}f}-{max(ms):.{digits}f})"


def _speedup(times, slow="faithful", fast="ours"):
    """``slow`` over ``fast``: ratio of medians, and of the fastest repeats.

    The fastest repeat is the one least disturbed by other work on a shared
    machine, so the second ratio shows what the code itself gains.
    """
    return (
        _median(times[slow]) / _median(times[fast]),
        min(times[slow]) / min(times[fast]),
    )


def _mb(n_bytes):
    return n_bytes / 1e6


def _and(names):
    names = list(names)
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _cpu():
    """The CPU's model name and its flags, from ``/proc/cpuinfo`` (Linux; elsewhere no flags)."""
    model, flags = cpu_info()
    return model or platform.processor() or "unknown", flags


def _conditions(args, cases, paths):
    import peft
    import transformers

    model, flags = _cpu()
    cpu = f"CPU: {model}, {os.cpu_count()} logical cores"
    if args.device == "cuda":
        where = f"{torch.cuda.get_device_name(0)} (CUDA {torch.version.cuda}); host {cpu}"
    else:
        where = f"{cpu}, {args.threads} torch threads"
    shape = SHAPES[args.shape]
    native = has_native_bfloat16(torch.device(args.device))
    lines = [
        f"date: {datetime.date.today().isoformat()}",
        f"device: {where}",
        "CPU flags: " + ", ".join(f"{flag} {'yes' if flag in flags else 'no'}" for flag in CPU_FLAGS),
        f"native bfloat16 on {args.device} (has_native_bfloat16): {'yes' if native else 'no'}",
        (
            f"torch {torch.__version__}, transformers {transformers.__version__}, peft {peft.__version__}, "
            f"Python {platform.python_version()}"
        ),
        (
            f"model: {shape['text']}, L = P = {shape['seq_len']}, K = {shape['n_words']} random principal "
            "words"
        ),
        "cases: " + ", ".join(f"M={m} batch {batch}" for m, batch in cases),
    ]
    reduced = [p for p in args.precision if p != "float32"]
    if reduced:
        lines.append(
            f"reduced precision ({_and(reduced)}): training by the same Trainer with precision= (autocast "
            "products, float32 master weights and Adam state, a GradScaler for float16); forecasting by "
            "ours' stripped float32 network cast to the dtype (float32 in and out); faithful stays float32"
        )
    if COMPILED in paths:
        lines.append(
            f"{COMPILED}: ours' stripped float32 network through CompiledForecast (torch.compile, inductor "
            "freezing) under inference_mode, inference only; its first call compiles and is timed on its "
            "own, outside the repeats; its memory is not measured (a fresh process's peak would be the "
            "compiler's)"
        )
    lines += [
        (
            f"timing: median of {args.repeats} after {WARMUP} warm-up, {_and(paths)} interleaved "
            "(ABBA: in turn, then in reverse order); inference batch = training batch"
        ),
        "memory: "
        + (
            "torch.cuda.max_memory_allocated in a fresh process per (path, case, phase)"
            if args.device == "cuda"
            else "peak RSS (getrusage) of a fresh process per (path, case, phase); 'added' = peak minus "
            "the RSS after imports, before any model exists"
        ),
    ]
    return lines


def _verdict(value, good):
    return f"{value} {'met' if good else 'MISSED'}"


def render(args, cases, paths, speed, memory, sizes, diffs):
    """The Markdown report.

    ``speed`` and ``memory`` are keyed by case ``(M, batch)``, then by path
    (and phase): see :func:`main`.
    """
    cuda = args.device == "cuda"
    lines = ["# CALF speed and memory: ours vs faithful", ""]
    lines += [f"- {line}" for line in _conditions(args, cases, paths)]
    if not cuda:
        gaps = [
            abs(record["peak_rss"] - record["vm_hwm"])
            for per_path in memory.values()
            for per_phase in per_path.values()
            for record in per_phase.values()
            if record.get("vm_hwm") is not None
        ]
        if gaps:
            lines.append(
                f"- ru_maxrss vs the kernel's VmHWM of each worker: at most {_mb(max(gaps)):.0f} MB apart"
            )
    lines += [
        "- equivalence (tiny GPT-2, same weights, max abs difference): "
        + ", ".join(f"{k} {v:.1e}" for k, v in diffs.items()),
        "",
        "## Measurements",
        "",
    ]
    mem_head = "peak memory (MB)" if cuda else "peak RSS added / absolute (MB)"
    lines += [
        (
            "| M | batch | path | train step (ms) | inference (ms/batch) | inference (windows/s) "
            f"| training {mem_head} | inference {mem_head} |"
        ),
        "|---:|---:|---|---:|---:|---:|---:|---:|",
    ]

    def mem(record):
        if record is None:
            return "-"
        if cuda:
            return f"{_mb(record['cuda_peak']):.0f}"
        return f"{_mb(record['rss_added']):.0f} / {_mb(record['peak_rss']):.0f}"

    for case in cases:
        m, batch = case
        for path in paths:
            train = speed[case]["train"].get(path)
            infer = speed[case]["inference"][path]
            records = memory[case].get(path, {})
            lines.append(
                f"| {m} | {batch} | {path} | {_spread(train, 0) if train else '-'} | {_spread(infer, 1)} "
                f"| {batch / _median(infer):.1f} "
                f"| {mem(records.get('train'))} | {mem(records.get('inference'))} |"
            )
    lines += [
        "",
        "Times: median (min-max) over the timed repeats. Windows/s = batch / median inference time.",
    ]
    if COMPILED in paths:
        lines.append(f"{COMPILED}: inference only; memory not measured ('-').")
    lines += [
        "",
        "## Ratios (measured in this run) against the targets",
        "",
        "Speed-ups are faithful / ours of the median times (in brackets: of the fastest repeats); the "
        "verdict uses the medians. Memory ratios are ours / faithful of the peak "
        + ("allocated CUDA memory." if cuda else "RSS added over the post-import baseline."),
        "",
        (
            "| M | batch | inference speed-up (target >= 2x) | training speed-up (>= 1.3x) "
            "| peak training memory, ours / faithful (<= 0.7x) | peak inference memory, ours / faithful |"
        ),
        "|---:|---:|---:|---:|---:|---:|",
    ]
    key = "cuda_peak" if cuda else "rss_added"
    verdicts = []
    for case in cases:
        m, batch = case
        infer, infer_best = _speedup(speed[case]["inference"])
        train, train_best = _speedup(speed[case]["train"])
        mem_train = memory[case]["ours"]["train"][key] / memory[case]["faithful"]["train"][key]
        mem_infer = memory[case]["ours"]["inference"][key] / memory[case]["faithful"]["inference"][key]
        ok = (infer >= TARGETS["inference"], train >= TARGETS["train"], mem_train <= TARGETS["memory"])
        verdicts.append(all(ok))
        mark = ["met" if good else "MISSED" for good in ok]
        extra = ""
        if not cuda:
            absolute = (
                memory[case]["ours"]["train"]["peak_rss"] / memory[case]["faithful"]["train"]["peak_rss"]
            )
            extra = f" (absolute RSS {absolute:.2f}x)"
        lines.append(
            f"| {m} | {batch} | {infer:.2f}x (best {infer_best:.2f}x) {mark[0]} "
            f"| {train:.2f}x (best {train_best:.2f}x) {mark[1]} "
            f"| {mem_train:.2f}x{extra} {mark[2]} | {mem_infer:.2f}x |"
        )
    more_lines, more_verdicts = _render_reduced(args, cases, paths, speed, memory, sizes, key)
    lines += more_lines
    lines += [
        "",
        "## Saved artifact",
        "",
        f"- ours (joblib of `strip_for_inference().export()`): {_mb(sizes['ours']):.0f} MB",
    ]
    for precision in args.precision[1:]:
        path = ours_path(precision)
        lines.append(
            f"- {path} (joblib of the export of the stripped network cast to {precision}): "
            f"{_mb(sizes[path]):.0f} MB, {sizes[path] / sizes['ours']:.2f}x ours float32"
        )
    lines += [
        (
            f"- faithful (torch.save of the full state_dict): {_mb(sizes['faithful']):.0f} MB "
            f"({sizes['faithful_total'] / 1e6:.2f} M values, {sizes['faithful_trainable'] / 1e6:.2f} M "
            "trainable)"
        ),
        f"- ratio ours / faithful: {sizes['ours'] / sizes['faithful']:.2f}x",
        "",
        f"All targets met: {'yes' if all(verdicts) else 'no'}",
    ]
    if more_lines:
        met = ("yes" if all(more_verdicts) else "no") if more_verdicts else "no target applies to these cases"
        lines.append(f"Reduced-precision and compiled targets met: {met}")
    lines.append("")
    return "\n".join(lines)


def _render_reduced(args, cases, paths, speed, memory, sizes, key):
    """The tables of ours in reduced precision against ours in float32, and of compiled forecasting.

    Returns
    -------
    lines : list of str
        Empty where the run measured neither.
    verdicts : list of bool
        One per target that applied.
    """
    reduced = [p for p in args.precision if p != "float32"]
    if not reduced and COMPILED not in paths:
        return [], []
    cuda = args.device == "cuda"
    lines = ["", "## Reduced precision and compiled forecasting (measured in this run) against the targets"]
    verdicts = []
    if reduced:
        lines += [
            "",
            "Speed-ups are ours in float32 / ours in the precision, of the median times (in brackets: of "
            "the fastest repeats); the verdict uses the medians. Memory ratios are the precision / float32 "
            "of the peak "
            + ("allocated CUDA memory" if cuda else "RSS added over the post-import baseline")
            + "; artifact: of the saved file. Forecast difference: largest |forecast in the precision - "
            "forecast in float32| over the largest |forecast in float32|, same weights, timed batch.",
            "",
            (
                "| M | batch | precision | forecast speed-up over float32 (target >= 2x) "
                "| training speed-up (>= 1.3x) | peak training memory / float32 (<= 0.8x) "
                "| peak inference memory / float32 | artifact / float32 | forecast difference |"
            ),
            "|---:|---:|---|---:|---:|---:|---:|---:|---:|",
        ]
        for case in cases:
            m, batch = case
            for precision in reduced:
                path = ours_path(precision)
                infer, infer_best = _speedup(speed[case]["inference"], slow="ours", fast=path)
                train, train_best = _speedup(speed[case]["train"], slow="ours", fast=path)
                mem_train = memory[case][path]["train"][key] / memory[case]["ours"]["train"][key]
                mem_infer = memory[case][path]["inference"][key] / memory[case]["ours"]["inference"][key]
                ok = (
                    infer >= REDUCED_TARGETS["inference"],
                    train >= REDUCED_TARGETS["train"],
                    mem_train <= REDUCED_TARGETS["memory"],
                )
                verdicts += ok
                lines.append(
                    f"| {m} | {batch} | {precision} "
                    f"| {_verdict(f'{infer:.2f}x (best {infer_best:.2f}x)', ok[0])} "
                    f"| {_verdict(f'{train:.2f}x (best {train_best:.2f}x)', ok[1])} "
                    f"| {_verdict(f'{mem_train:.2f}x', ok[2])} | {mem_infer:.2f}x "
                    f"| {sizes[path] / sizes['ours']:.2f}x | {speed[case]['differences'][path]:.1e} |"
                )
        if "bfloat16" in reduced and not has_native_bfloat16(torch.device(args.device)):
            lines += [
                "",
                (
                    f"This {args.device.upper()} has no native bfloat16 (see the CPU flags above): every "
                    "bfloat16 product is converted to float32 and back, so bfloat16 is expected to be slower "
                    "than float32 here; its speed targets need AVX512-BF16 or AMX (or an Ampere or newer GPU)."
                ),
            ]
    if COMPILED in paths:
        m_target, batch_target = COMPILED_TARGET_CASE
        lines += [
            "",
            (
                f"Speed-ups of {COMPILED} (ours' stripped float32 network, compiled) over the faithful path "
                "and over ours' eager float32 forecasting, of the median times (in brackets: of the fastest "
                "repeats). Compile time: the first call, outside the repeats."
            ),
            "",
            (
                f"| M | batch | compile (s) | forecast speed-up over faithful (target >= {COMPILED_TARGET:g}x "
                f"at M = {m_target}, batch {batch_target}) | forecast speed-up over ours eager float32 "
                "| forecast difference |"
            ),
            "|---:|---:|---:|---:|---:|---:|",
        ]
        failures = []
        for case in cases:
            m, batch = case
            over_faithful, best_faithful = _speedup(speed[case]["inference"], slow="faithful", fast=COMPILED)
            over_ours, best_ours = _speedup(speed[case]["inference"], slow="ours", fast=COMPILED)
            cell = f"{over_faithful:.2f}x (best {best_faithful:.2f}x)"
            if case == COMPILED_TARGET_CASE:
                verdicts.append(over_faithful >= COMPILED_TARGET)
                cell = _verdict(cell, verdicts[-1])
            if speed[case]["compile_failure"]:
                failures.append(f"M={m} batch {batch}: {speed[case]['compile_failure']}")
            lines.append(
                f"| {m} | {batch} | {speed[case]['compile_seconds']:.1f} | {cell} "
                f"| {over_ours:.2f}x (best {best_ours:.2f}x) | {speed[case]['differences'][COMPILED]:.1e} |"
            )
        if failures:
            lines += [
                "",
                "torch.compile FAILED (these figures are the eager fallback's): " + "; ".join(failures),
            ]
    return lines, verdicts


# -------------------------------------------------------------------- main


def _case(text):
    """``"M:B"`` as the case ``(M, B)`` (an argparse type)."""
    try:
        m, batch = (int(part) for part in text.split(":"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not M:B, e.g. 7:32") from None
    if m < 1 or batch < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: M and B must be positive")
    return m, batch


def cases_from(args, device_type="cpu"):
    """The measured cases ``(M, batch)``, in order, from ``--cases`` or ``--series``/``--batch``/``--batch-321``."""
    if args.cases:
        return list(dict.fromkeys(args.cases))
    batch = 32 if args.batch is None else args.batch
    large = args.batch_321 or (4 if device_type == "cpu" else batch)
    series = args.series or [7, 21, 321]
    return list(dict.fromkeys((m, large if m >= LARGE_M else batch) for m in series))


def checked_precisions(parser, names, device):
    """``names`` with float32 first (the reference of every ratio); a parser error for one ``device`` cannot run."""
    names = list(dict.fromkeys(["float32", *names]))
    for name in names:
        try:
            resolve_precision(name, device)
        except ValueError as error:
            parser.error(str(error))
    return names


def publish(report, started, out=None):
    """Print ``report`` with the run's total time since ``started``; also write it to ``out``."""
    report += f"\nTotal run time: {time.perf_counter() - started:.0f} s\n"
    print(report)
    if out:
        with open(out, "w") as handle:
            handle.write(report)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, nargs="+", default=None, help="numbers of series M (7 21 321)")
    parser.add_argument("--batch", type=int, default=None, help="batch below M = 100 (32)")
    parser.add_argument(
        "--batch-321",
        type=int,
        default=None,
        help=f"batch for every M >= {LARGE_M} (default 4 on the CPU, --batch on CUDA)",
    )
    parser.add_argument(
        "--cases",
        type=_case,
        nargs="+",
        default=None,
        metavar="M:B",
        help="cases as M:batch, e.g. 7:32 21:32 7:256 (instead of --series/--batch/--batch-321)",
    )
    parser.add_argument(
        "--precision",
        nargs="+",
        choices=PRECISIONS,
        default=["float32"],
        help="precisions of ours (float32 is always measured: it is the reference); float16 on CUDA only",
    )
    parser.add_argument(
        "--compile",
        action="store_true",
        help=f"also time forecasting with ours' float32 network compiled ({COMPILED})",
    )
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--shape", choices=list(SHAPES), default="paper", help="'tiny': smoke tests of this script only"
    )
    parser.add_argument("--out", default=None, help="also write the Markdown report here")
    parser.add_argument("--memory-worker", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.memory_worker:
        print(json.dumps(memory_worker(json.loads(args.memory_worker))))
        return
    if args.cases and (args.series or args.batch is not None or args.batch_321 is not None):
        parser.error("--cases replaces --series, --batch and --batch-321: give one or the other")
    if args.device == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda: no CUDA device is available")
    device = torch.device(args.device)
    args.precision = checked_precisions(parser, args.precision, device)
    if device.type == "cpu":
        torch.set_num_threads(args.threads)
    cases = cases_from(args, device.type)
    train_paths = [ours_path(p) for p in args.precision] + ["faithful"]
    paths = train_paths + ([COMPILED] if args.compile else [])

    started = time.perf_counter()
    whole_run = CpuShare()
    diffs = check_equivalence()
    print("equivalence ok:", ", ".join(f"{k} {v:.1e}" for k, v in diffs.items()), flush=True)
    speed, memory = {}, {}
    with tempfile.TemporaryDirectory() as folder:
        sizes, artifacts = save_artifacts(folder, args.precision, args.shape)
        print(
            "artifacts: " + ", ".join(f"{p} {_mb(sizes[p]):.0f} MB" for p in train_paths),
            flush=True,
        )
        for case in cases:
            m, batch = case
            share = CpuShare()
            speed[case] = measure_speed(
                m, batch, device, args.repeats, args.precision, args.compile, args.shape
            )
            speed[case]["other_load"] = share.stop()
            if args.compile:
                # Drop the compiled code: the next case compiles its own shape.
                torch._dynamo.reset()
            memory[case] = {}
            for precision, path in [(p, ours_path(p)) for p in args.precision] + [("float32", "faithful")]:
                memory[case][path] = {
                    phase: measure_memory(
                        {
                            "path": path,
                            "precision": precision,
                            "series": m,
                            "phase": phase,
                            "batch": batch,
                            "device": args.device,
                            "threads": args.threads,
                            "shape": args.shape,
                            "artifact": artifacts[precision],
                        }
                    )
                    for phase in ("train", "inference")
                }
            summary = {
                p: (f"train {1e3 * _median(speed[case]['train'][p]):.0f} ms, " if p in train_paths else "")
                + f"infer {1e3 * _median(speed[case]['inference'][p]):.0f} ms"
                for p in paths
            }
            if args.compile:
                summary[COMPILED] += f" (compiled in {speed[case]['compile_seconds']:.0f} s)"
            print(
                f"M={m} batch={batch}: {summary} ({time.perf_counter() - started:.0f} s so far)", flush=True
            )
    other_load = whole_run.stop()
    report = render(args, cases, paths, speed, memory, sizes, diffs)
    if other_load is not None:
        report += (
            f"\nOther processes took {100 * other_load:.0f}% of the machine's CPU time during the run "
            "(per case, timing phase: "
            + ", ".join(f"M={m} batch {b}: {100 * (speed[(m, b)]['other_load'] or 0):.0f}%" for m, b in cases)
            + ").\n"
        )
    publish(report, started, args.out)


if __name__ == "__main__":
    main()
