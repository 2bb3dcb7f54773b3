"""Size of a saved forecaster for the paper's GPT-2 shape, and what is in it.

Fits a forecaster with a randomly initialised GPT-2 of the paper's shape
(width 768, 12 heads, vocabulary 50257, first 6 of 12 blocks kept) for one
short epoch on synthetic data, saves it with joblib and with
``save_forecaster`` (safetensors, no pickle) and prints the figures.
The size does not depend on the weights' values, so a random backbone gives
the same figure as the pre-trained one.

    python benchmarks/artifact_size.py [--series 7]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import joblib
import numpy as np

from calf_sklearn import CALFForecaster, load_forecaster, save_forecaster
from calf_sklearn.datasets import make_synthetic_series

GPT2_SHAPE = {"n_embd": 768, "n_layer": 12, "n_head": 12, "vocab_size": 50257, "n_positions": 1024}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, default=7)
    args = parser.parse_args()
    data = make_synthetic_series(n_steps=400, n_series=args.series)
    model = CALFForecaster(
        pred_len=96,
        seq_len=96,
        llm=GPT2_SHAPE,
        pretrained=False,
        max_epochs=1,
        batch_size=32,
        validation_size=0,
        random_state=0,
    )
    started = time.perf_counter()
    model.fit(data)
    fitted = time.perf_counter() - started
    state = model.__getstate__()["module_"]["state_dict"]
    n_params = sum(t.numel() for t in state.values())
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "model.joblib")
        joblib.dump(model, path)
        size = os.path.getsize(path)
        started = time.perf_counter()
        loaded = joblib.load(path)
        load_seconds = time.perf_counter() - started
        safe_path = save_forecaster(model, os.path.join(folder, "model.safetensors"))
        safe_size = os.path.getsize(safe_path)
        started = time.perf_counter()
        safe_loaded = load_forecaster(safe_path)
        safe_seconds = time.perf_counter() - started
    assert np.array_equal(loaded.predict(), model.predict())
    assert np.array_equal(safe_loaded.predict(), model.predict())
    print(f"GPT-2 shape, 6 blocks, M={args.series}, L=P=96 (random backbone; size independent of values)")
    print(f"  saved tensors:     {n_params / 1e6:.2f} M values ({len(state)} tensors)")
    print(f"  joblib artifact:   {size / 2**20:.1f} MiB")
    print(f"  load time:         {load_seconds:.2f} s")
    print(f"  safetensors file:  {safe_size / 2**20:.1f} MiB, loads in {safe_seconds:.2f} s")
    print(f"  fit (1 epoch):     {fitted:.1f} s")


if __name__ == "__main__":
    main()
