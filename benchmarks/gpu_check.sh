#!/usr/bin/env bash
# One command on a machine with a CUDA GPU: is the lab correct and fast there?
#   bash benchmarks/gpu_check.sh            (from the repository root, in an environment with requirements.txt installed)
# 1. environment; 2. the engine's unit tests (they train on CUDA when there is one: pick_device prefers it);
# 3. every notebook under nbval (03 and 04 train on CUDA); 4. the speed benchmark, (a) and (b) and their ratio;
# 5. the seeds study of notebook 04 (5 seeds x 3 activations x 5 epochs) from an empty cache, timed.
set -uo pipefail
cd "$(dirname "$0")/.."
status=0
step() { echo; echo "=== $1"; }
step "environment"
python - <<'PY' || exit 1
import platform, torch
print("python", platform.python_version(), "| torch", torch.__version__, "| CUDA available:", torch.cuda.is_available())
if not torch.cuda.is_available():
    raise SystemExit("no CUDA device: this script checks the GPU path")
print("device:", torch.cuda.get_device_name(0), "| CUDA", torch.version.cuda)
from helpers import pick_device
from helpers._machinery.engine import private_fast_paths
print("engine device:", pick_device(), "| private fast paths:", sorted(private_fast_paths()))
PY
step "unit tests that train (on CUDA)"
python -m pytest tests/test_train.py tests/test_practical.py tests/test_flow.py -q -p no:cacheprovider -o addopts="" || status=1
step "notebooks under nbval"
LAB_CACHE_DIR=$(mktemp -d) python -m pytest notebooks --nbval-lax --nbval-current-env -q -p no:cacheprovider -o addopts="" || status=1
step "speed benchmark: (a) the practical's script as written, (b) the engine, whole process and training"
python -m benchmarks.speed --pairs 1 --competitors || status=1  # (d), CPU contention, is not the question on a GPU
step "seeds study of notebook 04, empty cache"
LAB_CACHE_DIR=$(mktemp -d) python - <<'PY' || status=1
import time
from helpers import PRACTICAL_ACTIVATIONS, TrainConfig
from helpers.flow import sweep
start = time.perf_counter()
runs = {s: sweep("seeds, practical settings", PRACTICAL_ACTIVATIONS, TrainConfig(seed=s), progress=False) for s in range(5)}
print(f"5 seeds x 3 activations x 5 epochs: {time.perf_counter() - start:.1f} s")
print({s: {n: round(h.test_acc[-1], 4) for n, h in r.items()} for s, r in runs.items()})
PY
echo; [ $status -eq 0 ] && echo "GPU check: all steps passed" || echo "GPU check: some step FAILED"
exit $status
