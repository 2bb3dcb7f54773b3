"""Speed and memory of CALF on language-model backbones of different families, side by side.

For each backbone named (any published shape of
:data:`calf_sklearn._apps.shapes.PUBLISHED_SHAPES`: GPT-2, SmolLM, Llama,
TinyLlama, Qwen2.5, Mistral, Pythia, Phi-1.5), it builds the training network
with random weights of the published shape, the first ``--n-layers`` decoder
layers kept, as a fit builds it
(:func:`calf_sklearn._torch.calf_model.build_calf_network`: the backbone,
the PCA of its word embedding into K principal words, the two branches with
LoRA r 8, alpha 32, dropout 0.1), and reports one row per backbone:

- family (``model_type``), width, vocabulary, layers kept / of the published total;
- trainable and total parameters of the training network (frozen backbone
  tensors, shared by the two branches, counted once; buffers such as the
  principal words not counted);
- seconds of the principal words (part of the build: the cache's call on an
  empty cache, i.e. hashing the embedding, its PCA and writing the entry);
- the median time of one optimiser step of :class:`calf_sklearn.training.Trainer`
  with the authors' ETT settings (``speed_memory.make_trainer``: CALF loss
  L1, L1, L1 weighted 1, 1, 0.01; Adam at 5e-4 and 1e-4) on a batch of B
  windows of M series;
- forecast windows per second: B over the median time of one forecast of a
  batch by the inference network (``strip_for_inference()``: LoRA merged,
  textual branch dropped) in eval mode under ``torch.inference_mode()``;
- the peak resident memory of the training steps (and of the build) above
  the process's memory after its imports;
- the step time and training memory as ratios to the first backbone listed.

Each backbone is measured in a fresh process of its own, one after the other,
so that no backbone's allocations colour the next one's memory or speed. The
processes are forked from a server that has imported torch, transformers and
peft once (multiprocessing's ``forkserver``): a new interpreter would spend
seconds on those imports per backbone. Peak memory is the kernel's VmHWM
(Linux), reset through ``/proc/self/clear_refs`` before each phase.

    python benchmarks/backbone_families.py [--backbone gpt2 SmolLM-135M Qwen2.5-0.5B]
        [--n-layers 6] [--series 7] [--batch 32] [--seq-len 96] [--pred-len 96]
        [--n-principal-words 500] [--repeats 5] [--threads 2] [--out results.md] [--tiny]

``--tiny`` replaces every backbone by a tiny one of its family (width 32, 2
layers, 4 heads, vocabulary 256; family settings such as rotary ones kept),
with L = P = 24, K = 8 and one repeat: for smoke tests of this script only,
its figures mean nothing.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import datetime
import gc
import multiprocessing
import multiprocessing.forkserver
import os
import platform
import sys
import tempfile
import time
from contextlib import contextmanager

import torch

# Run as a script, this folder is on sys.path; run otherwise, put it there.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from speed_memory import (
    CPU_FLAGS,
    WARMUP,
    CpuShare,
    _cpu,
    _mb,
    _median,
    _seconds,
    _vm_hwm_bytes,
    infer_fn,
    make_trainer,
    publish,
)

from calf_sklearn._apps.shapes import PUBLISHED_SHAPES, published_shape
from calf_sklearn._torch import calf_model
from calf_sklearn._utils.hardware import cpu_description
from calf_sklearn._utils.memory import PeakMemory, _rss_bytes
from calf_sklearn.backbone import backbone_config, supported_families

DEFAULT_BACKBONES = ["gpt2", "SmolLM-135M", "Qwen2.5-0.5B"]
# What --tiny sets, on whichever of these names the family's configuration uses.
TINY_FIELDS = {
    "n_embd": 32,
    "hidden_size": 32,
    "n_layer": 2,
    "num_hidden_layers": 2,
    "n_head": 4,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "intermediate_size": 64,
    "vocab_size": 256,
}
TINY_RUN = {"n_layers": 2, "seq_len": 24, "pred_len": 24, "n_principal_words": 8, "repeats": 1}
LORA = {"lora_r": 8, "lora_alpha": 32, "lora_dropout": 0.1}


# ------------------------------------------------------------------ shapes


def known_names():
    """The hub ids this script accepts (each also by its last part, in any case)."""
    return list(PUBLISHED_SHAPES)


def backbone(name):
    """``(hub id, configuration fields)`` of a published shape (an argparse type)."""
    try:
        fields = published_shape(name)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"unknown backbone {name!r}; known: {', '.join(known_names())} (or the part after the '/')"
        ) from None
    hub_id = next(hub_id for hub_id, published in PUBLISHED_SHAPES.items() if published == fields)
    return hub_id, fields


def tiny_shape(fields):
    """A tiny shape of the same family: width 32, 2 layers, 4 heads, feed-forward 64, vocabulary 256.

    Families with grouped-query attention get 2 key-value heads.
    ``model_type`` and the family's other settings (rotary, parallel
    residual, sliding window, norms) are kept; ``head_dim`` is dropped so
    that it follows from width and heads.
    """
    fields = {key: TINY_FIELDS.get(key, value) for key, value in fields.items() if key != "head_dim"}
    if "n_embd" in fields:  # GPT-2 names its feed-forward width n_inner (default 4 x width)
        fields["n_inner"] = 64
    return fields


# ----------------------------------------------------------------- measuring


def parameter_counts(network):
    """Trainable and total parameters, every tensor counted once however many modules share it."""
    unique = {}
    for _, parameter in network.named_parameters(remove_duplicate=False):
        key = (
            parameter.untyped_storage().data_ptr(),
            parameter.storage_offset(),
            tuple(parameter.shape),
            parameter.stride(),
        )
        unique[key] = parameter
    trainable = sum(p.numel() for p in unique.values() if p.requires_grad)
    return trainable, sum(p.numel() for p in unique.values())


def _reset_peak():
    """Reset the kernel's peak RSS (VmHWM) of this process; False where it cannot (not Linux >= 4.0)."""
    try:
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")
    except OSError:
        return False
    return _vm_hwm_bytes() is not None


class PeakRSS:
    """The peak resident set of this process while the ``with`` block runs, in ``peak`` (bytes).

    The kernel's VmHWM, reset on entry (exact); where it cannot be reset,
    :class:`calf_sklearn._utils.memory.PeakMemory`'s sampling every 5 ms.
    """

    def __enter__(self):
        self.exact = _reset_peak()
        self._sampler = None if self.exact else PeakMemory().__enter__()
        return self

    def __exit__(self, *exc):
        if self.exact:
            self.peak = _vm_hwm_bytes()
        else:
            self._sampler.__exit__(*exc)
            self.peak = self._sampler.peak_bytes
        return False


@contextmanager
def timed_principal_words(seconds):
    """Append to ``seconds`` the time of every principal-word computation the build does inside the block."""
    original = calf_model.cached_principal_word_embeddings

    def timed(*args, **kwargs):
        started = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            seconds.append(time.perf_counter() - started)

    calf_model.cached_principal_word_embeddings = timed
    try:
        yield seconds
    finally:
        calf_model.cached_principal_word_embeddings = original


def _train_seconds(network, x, y, batch, repeats):
    """Seconds of ``WARMUP`` + ``repeats`` training steps, and the :class:`PeakRSS` over all of them.

    The first step allocates Adam's state: it is inside the peak.
    """
    device = torch.device("cpu")
    trainer = make_trainer(network.train(), batch, device)
    with PeakRSS() as peak:
        seconds = [_seconds(lambda: trainer.train_step(x, y), device) for _ in range(WARMUP + repeats)]
    return seconds, peak


def measure_backbone(spec):
    """Body of the fresh process that measures one backbone; returns its figures (a dict).

    ``spec`` holds the shape (``fields``) and the run's settings. Builds the
    training network, times ``WARMUP`` + ``repeats`` training steps (the
    first allocates Adam's state, inside the memory peak), strips it and
    times as many forecasts.
    """
    device = torch.device("cpu")
    torch.set_num_threads(spec["threads"])
    baseline = _rss_bytes() or 0
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(spec["batch"], spec["seq_len"], spec["series"], generator=generator)
    y = torch.randn(spec["batch"], spec["pred_len"], spec["series"], generator=generator)
    pca_seconds = []
    torch.manual_seed(0)
    with PeakRSS() as build_peak, tempfile.TemporaryDirectory() as cache:
        started = time.perf_counter()
        with timed_principal_words(pca_seconds):
            network = calf_model.build_calf_network(
                spec["fields"],
                pretrained=False,
                n_layers=spec["n_layers"],
                revision=None,
                local_files_only=False,
                n_principal_words=spec["n_principal_words"],
                cache_dir=cache,
                seq_len=spec["seq_len"],
                pred_len=spec["pred_len"],
                **LORA,
            )
        build_seconds = time.perf_counter() - started
    gc.collect()
    trainable, total = parameter_counts(network)
    share = CpuShare()
    # The trainer, and Adam's state with it, is gone once this returns.
    train, train_peak = _train_seconds(network, x, y, spec["batch"], spec["repeats"])
    infer = infer_fn("ours", network.strip_for_inference())
    forecast = [_seconds(lambda: infer(x), device) for _ in range(WARMUP + spec["repeats"])]
    return {
        "trainable": trainable,
        "total": total,
        "build_seconds": build_seconds,
        "pca_seconds": sum(pca_seconds),
        "train": train[WARMUP:],
        "forecast": forecast[WARMUP:],
        "baseline": baseline,
        "build_peak": build_peak.peak,
        "train_peak": train_peak.peak,
        "exact_peak": train_peak.exact,
        "other_load": share.stop(),
    }


def _preloaded_modules():
    """What the fork server imports once for every measuring process."""
    own = "__main__" if __name__ == "__main__" else __name__
    models = [f"transformers.models.{t}.modeling_{t}" for t in supported_families()]
    return ["torch", "transformers", "peft", *models, "calf_sklearn.training", "speed_memory", own]


def start_fork_server():
    """Start the server the measuring processes fork from; its imports overlap with this process's work."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(_preloaded_modules())
    multiprocessing.forkserver.ensure_running()
    return context


def in_fresh_process(context, function, spec):
    """``function(spec)`` in a new process of ``context``, which ends with it."""
    with concurrent.futures.ProcessPoolExecutor(1, mp_context=context) as pool:
        return pool.submit(function, spec).result()


# -------------------------------------------------------------------- report


def _millions(count):
    return f"{count / 1e6:.2f} M"


def _conditions(args, results):
    import peft
    import transformers

    _, flags = _cpu()
    exact = all(result["exact_peak"] for result in results.values())
    loads = [r["other_load"] for r in results.values() if r["other_load"] is not None]
    low, high = (f"{f(_mb(r['baseline']) for r in results.values()):.0f}" for f in (min, max))
    weights = (
        "TINY random weights of each family (width 32, 2 layers, 4 heads, vocabulary 256): smoke test only"
        if args.tiny
        else "random weights of the published shape"
    )
    lines = [
        f"date: {datetime.date.today().isoformat()}",
        f"CPU: {cpu_description()}, {os.cpu_count()} logical cores, {args.threads} torch threads",
        "CPU flags: " + ", ".join(f"{flag} {'yes' if flag in flags else 'no'}" for flag in CPU_FLAGS),
        (
            f"torch {torch.__version__}, transformers {transformers.__version__}, peft {peft.__version__}, "
            f"Python {platform.python_version()}"
        ),
        (
            f"model: {weights}; first {args.n_layers} decoder layers kept; L = {args.seq_len}, "
            f"P = {args.pred_len}, K = {args.n_principal_words} principal words (PCA of the random "
            f"embedding); LoRA r {LORA['lora_r']}, alpha {LORA['lora_alpha']}, dropout {LORA['lora_dropout']}"
        ),
        f"batch B = {args.batch} windows of M = {args.series} series; float32 on the CPU",
        (
            f"timing: median of {args.repeats} after {WARMUP} warm-up; training step = Trainer.train_step "
            "(both branches, CALF loss, backward, both Adam steps); forecast = the stripped network "
            "(LoRA merged, no textual branch) in eval mode under torch.inference_mode"
        ),
        (
            "each backbone in a fresh process of its own (forked from a server that did the imports), "
            "one after the other: not interleaved"
        ),
        (
            "memory: peak RSS "
            + ("(the kernel's VmHWM, reset before each phase)" if exact else "(sampled every 5 ms)")
            + " minus the process's RSS after its imports "
            + f"({low if low == high else f'{low}-{high}'} MB); training = every step above, "
            "Adam's state included; build = backbone, PCA and branches"
        ),
    ]
    if loads:
        lines.append(
            f"other processes' share of the CPU while timing: {100 * min(loads):.0f}-{100 * max(loads):.0f}%"
        )
    return lines


def render(args, backbones, configs, results):
    """The Markdown report: one row per backbone, ratios to the first."""
    first = results[next(iter(backbones))]
    first_step = _median(first["train"])
    first_memory = first["train_peak"] - first["baseline"]
    title = "# CALF on backbone families" + (" (TINY: smoke test, figures mean nothing)" if args.tiny else "")
    lines = [title, ""]
    lines += [f"- {line}" for line in _conditions(args, results)]
    lines += [
        "",
        (
            "| backbone | family | width | vocabulary | layers kept / total | trainable params "
            "| total params (unique) | principal words (s) | build (s) | train step (s) "
            "| forecast (windows/s) | training peak (MB) | build peak (MB) | step / first | memory / first |"
        ),
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for label in backbones:
        result, config = results[label], configs[label]
        step = _median(result["train"])
        memory = result["train_peak"] - result["baseline"]
        lines.append(
            f"| {label} | {config.model_type} | {config.hidden_size} | {config.vocab_size} "
            f"| {args.n_layers} / {config.num_hidden_layers} | {_millions(result['trainable'])} "
            f"| {_millions(result['total'])} | {result['pca_seconds']:.2f} | {result['build_seconds']:.2f} "
            f"| {step:.3f} | {args.batch / _median(result['forecast']):.1f} | {_mb(memory):.0f} "
            f"| {_mb(result['build_peak'] - result['baseline']):.0f} | {step / first_step:.2f}x "
            f"| {memory / first_memory:.2f}x |"
        )
    lines += [
        "",
        (
            "Params: M = millions. Train step: median seconds of one optimiser step. Forecast: B / median "
            "seconds of one forecast of B windows. Training and build peaks: peak RSS above the process's "
            "RSS after its imports. Ratios: step time and training peak over those of the first backbone."
        ),
        "",
    ]
    return "\n".join(lines)


# ---------------------------------------------------------------------- main


def _positive(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: must be a positive integer")
    return value


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--backbone",
        type=backbone,
        nargs="+",
        default=None,
        metavar="NAME",
        help=f"published shapes to compare, the first the reference of the ratios "
        f"(default: {' '.join(DEFAULT_BACKBONES)}); known: {', '.join(known_names())}",
    )
    parser.add_argument("--n-layers", type=_positive, default=6, help="decoder layers kept (6)")
    parser.add_argument("--series", type=_positive, default=7, help="series per window, M (7)")
    parser.add_argument("--batch", type=_positive, default=32, help="windows per batch, B (32)")
    parser.add_argument("--seq-len", type=_positive, default=96, help="look-back L (96)")
    parser.add_argument("--pred-len", type=_positive, default=96, help="horizon P (96)")
    parser.add_argument("--n-principal-words", type=_positive, default=500, help="K (500)")
    parser.add_argument("--repeats", type=_positive, default=5)
    parser.add_argument("--threads", type=_positive, default=2)
    parser.add_argument("--out", default=None, help="also write the Markdown report here")
    parser.add_argument(
        "--tiny",
        action="store_true",
        help="tiny shapes of the same families, L = P = 24, K = 8, 1 repeat: smoke tests only",
    )
    args = parser.parse_args(argv)
    chosen = args.backbone or [backbone(name) for name in DEFAULT_BACKBONES]
    backbones = dict(chosen)  # hub id -> fields, in order, each once
    if args.tiny:
        backbones = {label: tiny_shape(fields) for label, fields in backbones.items()}
        for key, value in TINY_RUN.items():
            setattr(args, key, value)
    for label, fields in backbones.items():
        # GPT-2's names, or every other family's.
        layers = fields.get("num_hidden_layers", fields.get("n_layer"))
        width = fields.get("hidden_size", fields.get("n_embd"))
        if args.n_layers > layers:
            parser.error(f"--n-layers {args.n_layers}: {label} has {layers} layers")
        if args.n_principal_words > width:
            parser.error(
                f"--n-principal-words {args.n_principal_words}: at most the width, {width} for {label}"
            )

    started = time.perf_counter()
    # Its imports (seconds) run while this process reads the configurations.
    context = start_fork_server()
    configs = {label: backbone_config(fields) for label, fields in backbones.items()}

    results = {}
    for label, fields in backbones.items():
        spec = {
            "fields": fields,
            **{key: getattr(args, key) for key in ("n_layers", "n_principal_words", "seq_len", "pred_len")},
            **{key: getattr(args, key) for key in ("series", "batch", "repeats", "threads")},
        }
        try:
            results[label] = result = in_fresh_process(context, measure_backbone, spec)
        except Exception as error:
            raise RuntimeError(f"measuring {label} failed: {error}") from error
        print(
            f"{label}: train step {_median(result['train']):.3f} s, "
            f"forecast {_median(result['forecast']):.3f} s, "
            f"training peak {_mb(result['train_peak'] - result['baseline']):.0f} MB "
            f"({time.perf_counter() - started:.0f} s so far)",
            flush=True,
        )
    publish(render(args, backbones, configs, results), started, args.out)


if __name__ == "__main__":
    main()
