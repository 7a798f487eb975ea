#!/usr/bin/env bash
# The GPU check for the run lifecycle (issue 4), sized for a few minutes on one NVIDIA GPU:
#   1. tests/jobs/test_gpu_jobs.py: placement on a GPU with CUDA_VISIBLE_DEVICES, out-of-memory
#      retry with train.auto_batch, out-of-memory advice without it.
#   2. benchmarks/bench_supervisor_overhead.py on the GPU and on the CPU.
# Wheels the machine's image lacks (pydantic, SQLAlchemy, alembic...) may be carried in .whl/.
set -u
OUT_DEFAULT=gpu-jobs-out
. "$(dirname "$0")/gpu_env.sh"
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
timeout "${TESTS_S:-240}" $PY -m pytest tests/jobs/test_gpu_jobs.py -m gpu -q -p no:cacheprovider -rA 2>&1 \
  | grep -v -i "warn" | tee "$OUT/gpu_tests.log" | tail -25
for dev in 0 cpu; do
  timeout "${BENCH_S:-150}" $PY benchmarks/bench_supervisor_overhead.py --steps "${STEPS:-400}" --repeats "${REPEATS:-2}" --gpus $dev 2>&1 \
    | grep -v -i "warn\|it/s" | tee "$OUT/bench_$dev.log" | tail -8
done
