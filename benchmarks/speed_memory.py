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

For each number of series M it reports the median time of a training step
(both branches, the three-term loss, backward, both Adam steps) and of an
inference batch, taken interleaved (ours, faithful, faithful, ours, ...) so
that a busy machine slows both alike; the peak memory of training and of
inference, each in a fresh subprocess (peak RSS from ``getrusage`` on the
CPU, ``torch.cuda.max_memory_allocated`` on CUDA); and the saved artifact
size (ours: the export that calf_sklearn pickles, saved with joblib;
faithful: ``torch.save`` of the full state_dict). Before measuring, it checks
on a tiny configuration that both paths compute the same function.

    python benchmarks/speed_memory.py [--series 7 21 321] [--batch 32] [--batch-321 4]
        [--device cpu|cuda] [--repeats 5] [--threads 2] [--out results.md]
"""

from __future__ import annotations

import argparse
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

from calf_sklearn.losses import CALFLoss
from calf_sklearn.network import CALFNetwork
from calf_sklearn.training import Trainer

GPT2_SHAPE = {"n_embd": 768, "n_layer": 12, "n_head": 12, "vocab_size": 50257, "n_positions": 1024}
N_LAYERS = 6
SEQ_LEN = PRED_LEN = 96
N_WORDS = 500
WARMUP = 2
# Series counts from this one up take the small "large-M" batch.
LARGE_M = 100
TARGETS = {"inference": 2.0, "train": 1.3, "memory": 0.7}
PATHS = ("ours", "faithful")

# Deprecation notices from transformers and peft (one per model) would bury the table.
warnings.filterwarnings("ignore", category=FutureWarning)


# ------------------------------------------------------------------ building


def _gpt2_config(shape=GPT2_SHAPE, n_layers=N_LAYERS):
    from transformers import GPT2Config

    config = GPT2Config(**shape)
    config.n_layer = n_layers
    config._attn_implementation = "sdpa"
    return config


def _words(width=GPT2_SHAPE["n_embd"], count=N_WORDS, seed=0):
    return torch.randn(count, width, generator=torch.Generator().manual_seed(seed))


def build(path, device, config=None, words=None, seq_len=SEQ_LEN, pred_len=PRED_LEN):
    """One path's training network on ``device``."""
    from transformers import GPT2Model

    config = config or _gpt2_config()
    words = _words(config.n_embd) if words is None else words
    if path == "ours":
        # What load_backbone(pretrained=False) builds: the kept blocks only, SDPA.
        network = CALFNetwork(GPT2Model(config), seq_len=seq_len, pred_len=pred_len, principal_words=words)
    else:
        network = FaithfulCALF(config, seq_len=seq_len, pred_len=pred_len, principal_words=words)
    return network.to(device)


def make_trainer(network, batch, device):
    """The package's trainer with the defaults of the authors' ETT scripts."""
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
    )


def _batch(n_series, batch, device, seed=0):
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, SEQ_LEN, n_series, generator=generator)
    y = torch.randn(batch, PRED_LEN, n_series, generator=generator)
    return x.to(device), y.to(device)


def infer_fn(path, network):
    """A call that forecasts a batch the way each path does at inference."""
    network.eval()
    # The authors evaluate under no_grad; ours under inference_mode.
    context = torch.inference_mode if path == "ours" else torch.no_grad

    def infer(x):
        with context():
            return network(x)

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


def measure_speed(n_series, batch, device, repeats):
    """Training-step and inference seconds of both paths at ``n_series``."""
    torch.manual_seed(0)
    words = _words()
    networks = {path: build(path, device, words=words) for path in PATHS}
    trainers = {path: make_trainer(networks[path], batch, device) for path in PATHS}
    x, y = _batch(n_series, batch, device)
    for network in networks.values():
        network.train()
    train = interleaved({p: (lambda p=p: trainers[p].train_step(x, y)) for p in PATHS}, device, repeats)
    networks["ours"].strip_for_inference()
    infer = {p: infer_fn(p, networks[p]) for p in PATHS}
    inference = interleaved({p: (lambda p=p: infer[p](x)) for p in PATHS}, device, repeats)
    return {"train": train, "inference": inference}


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
    """Body of the fresh subprocess that measures one (path, M, phase).

    Builds only what that phase needs, runs ``WARMUP`` + 2 steps and reports
    the peak. Training builds the path's network and trainer. Inference of
    ours loads the saved artifact as a deployed forecaster does; inference of
    the faithful path builds its network (the authors would also load a
    checkpoint on top, so this is a lower bound for them).
    """
    device = torch.device(spec["device"])
    if device.type == "cpu":
        torch.set_num_threads(spec["threads"])
    x, y = _batch(spec["series"], spec["batch"], device)
    baseline = _rss_bytes()
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    torch.manual_seed(0)
    if spec["phase"] == "train":
        network = build(spec["path"], device)
        trainer = make_trainer(network.train(), spec["batch"], device)
        step = lambda: trainer.train_step(x, y)
    else:
        if spec["path"] == "ours":
            import joblib

            network = CALFNetwork.from_export(joblib.load(spec["artifact"])).to(device)
        else:
            network = build(spec["path"], device)
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


def save_artifacts(folder):
    """Save both paths' models as each saves them; return sizes and ours' file."""
    import joblib

    torch.manual_seed(0)
    sizes = {}
    ours_path = os.path.join(folder, "ours.joblib")
    # What CALFForecaster pickles: the stripped network's export dict.
    joblib.dump(build("ours", torch.device("cpu")).strip_for_inference().export(), ours_path)
    sizes["ours"] = os.path.getsize(ours_path)
    faithful = build("faithful", torch.device("cpu"))
    faithful_path = os.path.join(folder, "faithful.pt")
    torch.save(faithful.state_dict(), faithful_path)
    sizes["faithful"] = os.path.getsize(faithful_path)
    sizes["faithful_trainable"] = sum(p.numel() for p in faithful.parameters() if p.requires_grad)
    sizes["faithful_total"] = sum(p.numel() for p in faithful.state_dict().values())
    os.remove(faithful_path)  # only its size is needed
    return sizes, ours_path


# ------------------------------------------------------------------ report


def _median(values):
    return statistics.median(values)


def _spread(seconds, digits):
    ms = [1e3 * s for s in seconds]
    return f"{_median(ms):.{digits}f} ({min(ms):.{digits}f}-{max(ms):.{digits}f})"


def _speedup(times):
    """Faithful over ours: ratio of medians, and of the fastest repeats.

    The fastest repeat is the one least disturbed by other work on a shared
    machine, so the second ratio shows what the code itself gains.
    """
    return (
        _median(times["faithful"]) / _median(times["ours"]),
        min(times["faithful"]) / min(times["ours"]),
    )


def _mb(n_bytes):
    return n_bytes / 1e6


def _conditions(args, batches):
    import peft
    import transformers

    if args.device == "cuda":
        where = f"{torch.cuda.get_device_name(0)} (CUDA {torch.version.cuda})"
    else:
        model = platform.processor()
        with open("/proc/cpuinfo") as info:
            names = [line.split(":", 1)[1].strip() for line in info if line.startswith("model name")]
        model = names[0] if names else model
        where = f"CPU: {model}, {os.cpu_count()} logical cores, {args.threads} torch threads"
    return [
        f"date: {datetime.date.today().isoformat()}",
        f"device: {where}",
        (
            f"torch {torch.__version__}, transformers {transformers.__version__}, peft {peft.__version__}, "
            f"Python {platform.python_version()}"
        ),
        (
            "model: random GPT-2 of the paper's shape (d 768, 12 heads, vocabulary 50257), first 6 blocks, "
            f"L = P = {SEQ_LEN}, K = {N_WORDS} random principal words"
        ),
        "batch per M: " + ", ".join(f"M={m}: {b}" for m, b in batches.items()),
        (
            f"timing: median of {args.repeats} after {WARMUP} warm-up, ours and faithful interleaved "
            "(ABBA); inference batch = training batch"
        ),
        "memory: "
        + (
            "torch.cuda.max_memory_allocated in a fresh process per (path, M, phase)"
            if args.device == "cuda"
            else "peak RSS (getrusage) of a fresh process per (path, M, phase); 'added' = peak minus "
            "the RSS after imports, before any model exists"
        ),
    ]


def render(args, batches, speed, memory, sizes, diffs):
    """The Markdown report."""
    cuda = args.device == "cuda"
    lines = ["# CALF speed and memory: ours vs faithful", ""]
    lines += [f"- {line}" for line in _conditions(args, batches)]
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
        if cuda:
            return f"{_mb(record['cuda_peak']):.0f}"
        return f"{_mb(record['rss_added']):.0f} / {_mb(record['peak_rss']):.0f}"

    for m, batch in batches.items():
        for path in PATHS:
            train = speed[m]["train"][path]
            infer = speed[m]["inference"][path]
            lines.append(
                f"| {m} | {batch} | {path} | {_spread(train, 0)} | {_spread(infer, 1)} "
                f"| {batch / _median(infer):.1f} "
                f"| {mem(memory[m][path]['train'])} | {mem(memory[m][path]['inference'])} |"
            )
    lines += [
        "",
        "Times: median (min-max) over the timed repeats. Windows/s = batch / median inference time.",
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
    for m, batch in batches.items():
        infer, infer_best = _speedup(speed[m]["inference"])
        train, train_best = _speedup(speed[m]["train"])
        mem_train = memory[m]["ours"]["train"][key] / memory[m]["faithful"]["train"][key]
        mem_infer = memory[m]["ours"]["inference"][key] / memory[m]["faithful"]["inference"][key]
        ok = (infer >= TARGETS["inference"], train >= TARGETS["train"], mem_train <= TARGETS["memory"])
        verdicts.append(all(ok))
        mark = ["met" if good else "MISSED" for good in ok]
        extra = ""
        if not cuda:
            absolute = memory[m]["ours"]["train"]["peak_rss"] / memory[m]["faithful"]["train"]["peak_rss"]
            extra = f" (absolute RSS {absolute:.2f}x)"
        lines.append(
            f"| {m} | {batch} | {infer:.2f}x (best {infer_best:.2f}x) {mark[0]} "
            f"| {train:.2f}x (best {train_best:.2f}x) {mark[1]} "
            f"| {mem_train:.2f}x{extra} {mark[2]} | {mem_infer:.2f}x |"
        )
    lines += [
        "",
        "## Saved artifact",
        "",
        f"- ours (joblib of `strip_for_inference().export()`): {_mb(sizes['ours']):.0f} MB",
        (
            f"- faithful (torch.save of the full state_dict): {_mb(sizes['faithful']):.0f} MB "
            f"({sizes['faithful_total'] / 1e6:.2f} M values, {sizes['faithful_trainable'] / 1e6:.2f} M "
            "trainable)"
        ),
        f"- ratio ours / faithful: {sizes['ours'] / sizes['faithful']:.2f}x",
        "",
        f"All targets met: {'yes' if all(verdicts) else 'no'}",
        "",
    ]
    return "\n".join(lines)


# -------------------------------------------------------------------- main


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, nargs="+", default=[7, 21, 321])
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument(
        "--batch-321",
        type=int,
        default=None,
        help=f"batch for every M >= {LARGE_M} (default 4 on the CPU, --batch on CUDA)",
    )
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", default=None, help="also write the Markdown report here")
    parser.add_argument("--memory-worker", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.memory_worker:
        print(json.dumps(memory_worker(json.loads(args.memory_worker))))
        return
    if args.device == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda: no CUDA device is available")
    device = torch.device(args.device)
    if device.type == "cpu":
        torch.set_num_threads(args.threads)
    large = args.batch_321 or (4 if device.type == "cpu" else args.batch)
    batches = {m: (large if m >= LARGE_M else args.batch) for m in args.series}

    started = time.perf_counter()
    whole_run = CpuShare()
    diffs = check_equivalence()
    print("equivalence ok:", ", ".join(f"{k} {v:.1e}" for k, v in diffs.items()), flush=True)
    speed, memory = {}, {}
    with tempfile.TemporaryDirectory() as folder:
        sizes, ours_artifact = save_artifacts(folder)
        print(
            f"artifacts: ours {_mb(sizes['ours']):.0f} MB, faithful {_mb(sizes['faithful']):.0f} MB",
            flush=True,
        )
        for m, batch in batches.items():
            share = CpuShare()
            speed[m] = measure_speed(m, batch, device, args.repeats)
            speed[m]["other_load"] = share.stop()
            memory[m] = {}
            for path in PATHS:
                memory[m][path] = {
                    phase: measure_memory(
                        {
                            "path": path,
                            "series": m,
                            "phase": phase,
                            "batch": batch,
                            "device": args.device,
                            "threads": args.threads,
                            "artifact": ours_artifact,
                        }
                    )
                    for phase in ("train", "inference")
                }
            summary = {
                p: f"train {1e3 * _median(speed[m]['train'][p]):.0f} ms, "
                f"infer {1e3 * _median(speed[m]['inference'][p]):.0f} ms"
                for p in PATHS
            }
            print(
                f"M={m} batch={batch}: {summary} ({time.perf_counter() - started:.0f} s so far)", flush=True
            )
    other_load = whole_run.stop()
    report = render(args, batches, speed, memory, sizes, diffs)
    if other_load is not None:
        report += (
            f"\nOther processes took {100 * other_load:.0f}% of the machine's CPU time during the run "
            "(per M, timing phase: "
            + ", ".join(f"M={m}: {100 * (speed[m]['other_load'] or 0):.0f}%" for m in batches)
            + ").\n"
        )
    report += f"\nTotal run time: {time.perf_counter() - started:.0f} s\n"
    print(report)
    if args.out:
        with open(args.out, "w") as handle:
            handle.write(report)


if __name__ == "__main__":
    main()
