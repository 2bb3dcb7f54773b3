"""Save a fitted CALFForecaster with joblib and with the safe format, reload it in a fresh process
===============================================================================================

What it shows
-------------
* ``joblib.dump`` / ``joblib.load``: the usual scikit-learn way;
* ``calf_sklearn.persistence.save_forecaster`` / ``load_forecaster``: one
  ``.safetensors`` file holding the weights as raw tensors and the
  parameters and fitted state as JSON;
* a fresh Python process (``subprocess``) that loads both files, with no
  network and no backbone download, and forecasts; the script checks that
  its forecasts (values, timestamps, columns) are identical to the original
  model's.

Security: a joblib or pickle file is a program. Loading it runs code named
in the file (it imports and calls whatever the file says), so a crafted file
can do anything your account can. **Only load joblib/pickle files from
sources you trust.** The ``.safetensors`` file is data: loading it parses a
JSON header and reads numbers, and executes nothing from the file. The fresh
process counts how many Python objects the unpickler looks up by name while
loading each file (the ``pickle.find_class`` audit event): many for joblib,
none for safetensors.

The backbone is a small **randomly initialised** GPT-2 (width 64, 2 blocks,
GPT-2's vocabulary), so the script runs offline. It is not the paper's
pre-trained model. For the pre-trained GPT-2, replace ``llm=SMALL_GPT2,
pretrained=False`` with ``llm="gpt2"``; the saved files then hold the
fine-tuned copy of its blocks, and loading still needs no download.

Run it from the repository root::

    python examples/save_load.py                 # 10 epochs, files in a temporary folder
    python examples/save_load.py --out models/   # keep the two files
    python examples/save_load.py --quick         # 2 epochs

The tests and the documentation build run it with ``--quick``.
"""

# %%
# Options
# -------
# The script takes its settings from the command line. Without ``--out`` the
# two files are written to a temporary folder and deleted at the end.

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import joblib
import numpy as np

from calf_sklearn import CALFForecaster
from calf_sklearn.datasets import make_synthetic_series
from calf_sklearn.persistence import load_forecaster, save_forecaster

parser = argparse.ArgumentParser(
    description="Save a fitted CALFForecaster with joblib and with the safe format, "
    "reload it in a fresh process"
)
parser.add_argument("--quick", action="store_true", help="shorter series, 2 epochs (for tests)")
parser.add_argument("--out", help="folder to keep calf.joblib and calf.safetensors in (default: temp)")
parser.add_argument("--seed", type=int, default=0, help="random_state (default 0)")
args = parser.parse_args()
QUICK = args.quick

# A small GPT-2, randomly initialised (pretrained=False below): not the paper's model.
SMALL_GPT2 = {"n_embd": 64, "n_layer": 2, "n_head": 4, "n_positions": 64}

# %%
# Fit a model
# -----------
# A forecaster fitted on a synthetic series, and the forecasts the reloaded
# copies must reproduce: the forecast after the training data and forecasts of
# 5 look-back windows.

data = make_synthetic_series(n_steps=600 if QUICK else 2000, n_series=3, random_state=args.seed)
model = CALFForecaster(
    pred_len=24,
    seq_len=48,
    # llm="gpt2", pretrained=True,  # <- the paper's pre-trained GPT-2 (needs it downloaded)
    llm=SMALL_GPT2,
    pretrained=False,  # random initialisation, said explicitly
    n_layers=2,
    n_principal_words=32,
    max_epochs=2 if QUICK else 10,
    random_state=args.seed,
).fit(data)
print(
    "Fitted CALF with a small randomly initialised GPT-2 (width 64, 2 blocks), NOT the paper's "
    f"pre-trained model: {len(model.history_)} epochs."
)
# What we will compare: the forecast after the training data, and forecasts of 5 look-backs.
expected_next = model.predict()
starts = np.linspace(0, len(data) - model.seq_len, 5).astype(int)
windows = np.stack([data.to_numpy()[s : s + model.seq_len] for s in starts])
expected_windows = model.predict(windows)

# %%
# Save it both ways
# -----------------
# ``joblib.dump`` pickles the model: loading that file runs code named in it,
# so load it only from sources you trust. ``save_forecaster`` writes tensors
# and a JSON header; loading it executes nothing from the file and gives back
# an ordinary fitted ``CALFForecaster``.

scratch = tempfile.TemporaryDirectory(prefix="calf-save-load-")
folder = Path(args.out) if args.out is not None else Path(scratch.name)
folder.mkdir(parents=True, exist_ok=True)
joblib_path = folder / "calf.joblib"
safe_path = folder / "calf.safetensors"

# 1. joblib (pickle inside). Loading RUNS CODE named in the file: trusted sources only.
joblib.dump(model, joblib_path)
# 2. The safe format: tensors + a JSON header; loading executes nothing from the file.
save_forecaster(model, safe_path)
for path in (joblib_path, safe_path):
    print(f"saved {path.name:<18} {path.stat().st_size / 2**20:6.2f} MiB")
# In this process too, load_forecaster gives back an ordinary fitted CALFForecaster.
here = load_forecaster(safe_path)
print(
    f"loaded back in this process: {type(here).__name__}, same forecast: "
    f"{here.predict().equals(expected_next)}"
)

# %%
# Load both files in a fresh process
# ----------------------------------
# A new Python interpreter, started with ``python -c``, loads each file,
# forecasts and writes the forecasts back. It also counts the objects the
# unpickler looks up by name while loading (the ``pickle.find_class`` audit
# event): each one is code that loading imports and may call.

# What the fresh process runs.
CHILD = r"""
import json, sys
import numpy as np

lookups = []
sys.addaudithook(lambda event, args: lookups.append(args) if event == "pickle.find_class" else None)

joblib_path, safe_path, windows_path, out_npz, out_json = sys.argv[1:]
windows = np.load(windows_path)

import joblib
from calf_sklearn.persistence import load_forecaster

results, info = {}, {}
for name, load, path in (("joblib", joblib.load, joblib_path), ("safetensors", load_forecaster, safe_path)):
    before = len(lookups)
    model = load(path)
    info[name] = {"lookups": len(lookups) - before}
    forecast = model.predict()
    results[name + "_next"] = forecast.to_numpy()
    results[name + "_windows"] = model.predict(windows)
    info[name]["index"] = [str(t) for t in forecast.index]
    info[name]["columns"] = [str(c) for c in forecast.columns]
np.savez(out_npz, **results)
with open(out_json, "w") as handle:
    json.dump(info, handle)
"""

scratch_path = Path(scratch.name)
np.save(scratch_path / "windows.npy", windows)
out_npz, out_json = scratch_path / "forecasts.npz", scratch_path / "info.json"
child_args = [joblib_path, safe_path, scratch_path / "windows.npy", out_npz, out_json]
subprocess.run([sys.executable, "-c", CHILD, *map(str, child_args)], check=True)
reloaded = dict(np.load(out_npz))
info = json.loads(out_json.read_text())
scratch.cleanup()  # the temporary folder (and the files, unless --out keeps them elsewhere)

# %%
# Compare the forecasts
# ---------------------
# Both reloaded models must give exactly the same values, timestamps and
# columns as the original. The unpickler's lookups show the difference between
# the two formats: many for joblib, none for safetensors.

print("\nReloaded in a fresh Python process (no network, no backbone download):")
identical = {}
for name in ("joblib", "safetensors"):
    identical[name] = (
        np.array_equal(reloaded[name + "_next"], expected_next.to_numpy())
        and np.array_equal(reloaded[name + "_windows"], expected_windows)
        and info[name]["index"] == [str(t) for t in expected_next.index]
        and info[name]["columns"] == [str(c) for c in expected_next.columns]
    )
    print(
        f"{name:<12} forecasts identical: {identical[name]}; objects the unpickler looked up "
        f"(code run by loading): {info[name]['lookups']}"
    )
print(
    "\nSecurity: joblib/pickle files execute code when loaded; only load them from sources you "
    "trust.\nThe .safetensors file holds only tensors and JSON: loading it executes no code from "
    "the file."
)
if args.out is not None:
    print(f"The files are kept in {Path(args.out).resolve()}")
