#!/usr/bin/env bash
# The GPU check for the training engine, sized for one short lease on an NVIDIA H100/H200:
#   1. `spark-trainer bench lora --preset 1b`: our engine vs HF Trainer + PEFT (packed, padded), one process;
#      if it fails (e.g. torch.compile trouble), the same without compile.
#   2. benchmarks/gpu_smoke.py: bf16 + flex-attention training, stop/resume, flex vs sdpa mask agreement.
# Wheels the machine's image lacks (pydantic, SQLAlchemy...) may be carried in .whl/ (see the device notes).
# Results land in $OUT (or ./gpu-check-out).
set -u
OUT_DEFAULT=gpu-check-out
. "$(dirname "$0")/gpu_env.sh"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
$PY -c "import torch, transformers, peft, accelerate; print('torch', torch.__version__, 'transformers', transformers.__version__, 'peft', peft.__version__, 'accelerate', accelerate.__version__)"

BENCH_S=${BENCH_S:-260}
TORCH_LOGS=recompiles timeout "$BENCH_S" $PY -m spark_trainer --json bench lora --preset 1b >"$OUT/bench.json" 2>"$OUT/bench.err"
rc=$?
grep -v -i "warn" "$OUT/bench.err" | tail -25
if [ $rc -eq 0 ]; then
  $PY -c "import json,sys; from spark_trainer.bench.lora import format_report; print(format_report(json.load(open(sys.argv[1]))))" "$OUT/bench.json"
else
  echo "bench with compile failed (rc $rc); running without compile"
  timeout 60 $PY -m spark_trainer bench lora --preset 1b --no-compile --steps 4 2>&1 | grep -v -i warn | tail -12
fi

timeout "${SMOKE_S:-150}" $PY benchmarks/gpu_smoke.py 2>&1 | grep -v -i "warn\|it/s" | tee "$OUT/smoke.log" | tail -12
