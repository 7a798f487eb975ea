#!/usr/bin/env bash
# The GPU check for FSDP (issue 15, item 3), sized for a few minutes on 2+ NVIDIA GPUs:
#   1. benchmarks/fsdp_memory.py: a full fine-tune of a 2048-wide Llama (8 layers, ~0.5B parameters,
#      random weights from a config) on all GPUs with train.sharding none, then fsdp; peak memory per
#      GPU (nvidia-smi) and per rank (torch), losses compared; then an FSDP run killed after its first
#      checkpoint and resumed on GPU 0 alone (`run resume --gpus 0`), losses compared again.
#   2. the CPU (gloo) FSDP test, tests/jobs/test_fsdp.py, on this machine's cores.
# With one GPU the FSDP part cannot run (NCCL needs one GPU per rank): step 1 measures the unsharded
# run and says so; step 2 still runs. Wheels the image lacks may be carried in .whl/ (gpu_env.sh).
set -u
OUT_DEFAULT=gpu-fsdp-out
. "$(dirname "$0")/gpu_env.sh"
nvidia-smi --query-gpu=index,name,memory.total --format=csv,noheader
timeout "${FSDP_S:-420}" $PY benchmarks/fsdp_memory.py --steps "${STEPS:-12}" --layers "${LAYERS:-8}" 2>&1 \
  | grep -v -i "warn" | tee "$OUT/fsdp_memory.log" | tail -20
timeout "${TESTS_S:-240}" $PY -m pytest tests/jobs/test_fsdp.py tests/training/test_sharding.py -q -p no:cacheprovider -rA 2>&1 \
  | grep -E "PASSED|FAILED|ERROR|passed|failed" | tee "$OUT/fsdp_tests.log" | tail -10
