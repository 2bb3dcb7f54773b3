"""bfloat16 against float32: time and accuracy on this machine
===========================================================

``precision="bfloat16"`` trains under ``torch.autocast`` (weights,
gradients and Adam's state stay float32) and forecasts with bfloat16
weights, so the saved model is about half the size. Whether it is faster
depends on the hardware: GPUs from Ampere on and CPUs with AMX or
AVX512-BF16 compute bfloat16 natively; elsewhere the CPU converts to
float32 and back around every product, and bfloat16 is *slower*. This
script fits the same model in both precisions on the machine that runs it,
from the same initial weights, and compares fit time, forecast time, test
error and size. The figures are this machine's: the documentation build
prints which CPU it ran on.

The backbone is a **randomly initialised** GPT-2 of width 192 (2 blocks),
so the script runs offline; it is not the paper's pre-trained model. For the
pre-trained GPT-2, replace ``llm=GPT2_192, pretrained=False, n_layers=2``
with ``llm="gpt2", n_layers=6``.

Run it from the repository root::

    python examples/precision.py           # 2,000 steps, 5 epochs
    python examples/precision.py --quick   # 800 steps, 1 epoch on every 2nd window (tests, docs build)
"""

# %%
# Options, the machine and the data
# ---------------------------------
# ``has_native_bfloat16`` says whether this device computes bfloat16 itself;
# torch's CPU capability names the vector instructions its kernels use.
import argparse
import io
import platform
import textwrap
import time
import warnings
from pathlib import Path

import joblib
import matplotlib.pyplot as plt
import numpy as np
import torch

from calf_sklearn import CALFForecaster
from calf_sklearn.datasets import make_synthetic_series
from calf_sklearn.precision import ReducedPrecisionWarning, has_native_bfloat16
from calf_sklearn.windows import WindowedSeries

parser = argparse.ArgumentParser(description="bfloat16 against float32: time and accuracy on this machine")
parser.add_argument(
    "--quick", action="store_true", help="shorter series, 1 epoch on every 2nd window (for tests)"
)
args = parser.parse_args()
QUICK = args.quick


def cpu_name():
    """The CPU's model name (Linux), else what the platform module knows."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


CPU = f"{cpu_name()}, {torch.get_num_threads()} torch threads, {torch.backends.cpu.get_cpu_capability()}"
print(f"CPU: {CPU}")
print(f"native bfloat16 on this CPU: {has_native_bfloat16('cpu')}")

# Width 192, a 4,096-word vocabulary, randomly initialised (pretrained=False below): not the paper's model.
GPT2_192 = {"n_embd": 192, "n_layer": 2, "n_head": 4, "n_positions": 64, "vocab_size": 4096}
data = make_synthetic_series(n_steps=800 if QUICK else 2000, n_series=4, random_state=0)
train, test = data.iloc[:-240], data.iloc[-240:]

# %%
# The same fit in both precisions
# -------------------------------
# The same ``random_state`` gives both fits the same initial weights and the
# same batches. Where bfloat16 is not native, ``fit`` warns; the warning is
# caught here to print it. Both forecast the same test windows: every 4th.
windows, _ = WindowedSeries(test.to_numpy(), 48, 24).batch(np.arange(0, len(test) - 48 - 24 + 1, 4))
results = {}
for precision in ("float32", "bfloat16"):
    model = CALFForecaster(
        pred_len=24,
        seq_len=48,
        llm=GPT2_192,
        pretrained=False,  # random initialisation, said explicitly
        n_layers=2,
        n_principal_words=64,
        window_stride=2 if QUICK else 1,
        max_epochs=1 if QUICK else 5,
        validation_size=0,
        device="cpu",
        precision=precision,
        random_state=0,
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ReducedPrecisionWarning)
        started = time.perf_counter()
        model.fit(train)
        fit_s = time.perf_counter() - started
    for warning in caught:
        if issubclass(warning.category, ReducedPrecisionWarning):
            print(textwrap.fill(f"{precision}: ReducedPrecisionWarning: {warning.message}", width=100))
    timings = []
    for _ in range(3):  # best of three: the first call also warms up the kernels
        started = time.perf_counter()
        forecasts = model.predict(windows)
        timings.append(time.perf_counter() - started)
    buffer = io.BytesIO()
    joblib.dump(model, buffer)
    results[precision] = {
        "fit_s": fit_s,
        "train_s": sum(epoch["seconds"] for epoch in model.history_),
        "forecast_ms": 1000 * min(timings) / len(windows),
        "mse": -model.score(test),
        "size_mb": buffer.getbuffer().nbytes / 2**20,
        "forecasts": forecasts,
    }
print("Backbone: randomly initialised GPT-2 (width 192, 2 blocks), NOT the paper's pre-trained model.")

# %%
# What it cost and what it changed
# --------------------------------
# The test error is the rolling-window MSE over the last 240 rows, on the
# fitted scale. The last line compares the two models' forecasts of the same
# windows: the rounding of bfloat16 (8 bits of mantissa) moves them, and
# training in bfloat16 takes another path through the weights.
print(
    f"\n{'precision':<10}{'fit s':>7}{'epochs s':>10}{'forecast ms/window':>20}"
    f"{'test MSE':>10}{'model MB':>10}"
)
for precision, result in results.items():
    print(
        f"{precision:<10}{result['fit_s']:>7.1f}{result['train_s']:>10.1f}{result['forecast_ms']:>20.2f}"
        f"{result['mse']:>10.4f}{result['size_mb']:>10.1f}"
    )
for key, label in [("train_s", "training epochs"), ("forecast_ms", "forecasting")]:
    print(f"bfloat16 / float32, {label}: {results['bfloat16'][key] / results['float32'][key]:.2f}x the time")
gap = np.abs(results["bfloat16"]["forecasts"] - results["float32"]["forecasts"]).max()
print(f"largest difference between the two models' forecasts: {gap:.4f}")
if QUICK:
    print(
        "QUICK MODE: 1 epoch on every 2nd window of a short series; one run of each, so the times are noisy."
    )

fig, axes = plt.subplots(1, 3, figsize=(9, 3.2))
precisions = list(results)
for ax, key, label in zip(
    axes, ["train_s", "forecast_ms", "mse"], ["training epochs (s)", "forecast (ms per window)", "test MSE"]
):
    ax.bar(precisions, [results[p][key] for p in precisions], color=["C0", "C1"])
    ax.set_title(label, fontsize="medium")
fig.suptitle(
    f"float32 vs bfloat16: synthetic series, random GPT-2 of width 192"
    f"{', quick run' if QUICK else ''}\n{CPU}",
    fontsize="small",
)
fig.tight_layout()
plt.show()  # a window where matplotlib has a screen; the gallery and the tests skip it
