#!/usr/bin/env bash
# Every check that needs a CUDA GPU: the CUDA tests, speed and memory against the faithful path
# in float32, bfloat16 and float16 (compiled forecasting too), issue 24's process-by-process
# figures in float32 and bfloat16, and a 2-process torchrun fit where two GPUs are present. Each
# part has a time limit; each report lands in $OUT (default ./gpu-check). Paste the figures into
# docs/performance.md with the device line each report starts with.
#
#   bash benchmarks/gpu_check.sh [PART ...]   # from the repository root; PART: tests speed_memory
#                                             # training_step torchrun (default: all four)
#
# Where one command may run at most 10 minutes, run it as two: "tests speed_memory" (limits of
# 450 s, about 8 minutes with the device probe) and "training_step torchrun" (350 s, about 6).
#
# It uses the Python that holds a CUDA torch (PYTHON, default python3) and the checkout on
# PYTHONPATH, so it needs no installation where torch, transformers and peft already exist.
set -uo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
OUT=${OUT:-gpu-check}
mkdir -p "$OUT"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1
status=0

step() {  # step NAME SECONDS COMMAND...: run with a time limit, log to $OUT/NAME.log, keep going
    local name=$1 limit=$2
    shift 2
    echo "== $name (at most ${limit} s)"
    timeout "$limit" "$@" 2>&1 | tee "$OUT/$name.log"
    local rc=${PIPESTATUS[0]}
    echo "== $name: exit $rc"
    [ "$rc" -eq 0 ] || status=1
}

parts=" ${*:-tests speed_memory training_step torchrun} "
wanted() { [[ $parts == *" $1 "* ]]; }
for part in "$@"; do
    case $part in
        tests | speed_memory | training_step | torchrun) ;;
        *) echo "unknown part '$part': choose from tests speed_memory training_step torchrun" >&2; exit 2 ;;
    esac
done

"$PYTHON" - <<'EOF' | tee "$OUT/device.txt"
import torch
assert torch.cuda.is_available(), "no CUDA device: this script is for a GPU machine"
p = torch.cuda.get_device_properties(0)
print(f"torch {torch.__version__}, CUDA {torch.version.cuda}, {torch.cuda.device_count()} GPU(s): "
      f"{p.name}, {p.total_memory / 2**30:.0f} GiB, compute capability {p.major}.{p.minor}")
EOF
[ "${PIPESTATUS[0]}" -eq 0 ] || exit 1


wanted tests && step tests 150 "$PYTHON" -m pytest -m cuda tests/test_cuda.py -q -p no:cacheprovider
wanted speed_memory && step speed_memory 300 "$PYTHON" benchmarks/speed_memory.py --device cuda \
    --cases 7:32 --precision float32 bfloat16 float16 --compile --repeats 10 --out "$OUT/speed_memory.md"
wanted training_step && step training_step 200 "$PYTHON" benchmarks/training_step.py --device cuda \
    --precision float32 bfloat16 --processes 4 --repeats 10 --out "$OUT/training_step.md"
if ! wanted torchrun; then
    :
elif [ "$("$PYTHON" -c 'import torch; print(torch.cuda.device_count())')" -ge 2 ]; then
    # Synthetic series: the benchmark data sets do not travel with the checkout.
    "$PYTHON" -c 'import numpy as np, pandas as pd; t = np.arange(3000); pd.DataFrame(
        {f"s{k}": np.sin(t / (6 + k)) + 0.1 * np.random.default_rng(k).normal(size=t.size)
         for k in range(7)}).to_csv("'"$OUT"'/series.csv", index=False)'
    step torchrun 150 "$PYTHON" -m torch.distributed.run --standalone --nproc-per-node 2 \
        -m calf_sklearn fit "$OUT/series.csv" --pred-len 96 --backbone-random --max-epochs 2 \
        --device cuda -o "$OUT/torchrun.safetensors"
else
    echo "== torchrun: skipped, one GPU" | tee "$OUT/torchrun.log"
fi
exit $status
