#!/usr/bin/env bash
# The GPU check of issue 12, sized for one lease of under 8 minutes on an NVIDIA H100/H200:
#   1. `spark-trainer bench lora --preset 1b`: a default run (no flags: compile auto, chunked/fused loss,
#      best-fit packing, run-file eval/checkpoint cadence, through worker.train) vs HF Trainer + PEFT
#      (naively packed, padded) in one process; real tokens/s, MFU, peak memory, packing efficiency,
#      compile warm-up; TORCH_LOGS=recompiles shows any recompilation in bench.err.
#   2. benchmarks/measure_peaks.py (1b LoRA batch 8 and 2, 1b QLoRA, 0.5B full fine-tune; compile on)
#      then benchmarks/calibrate_estimate.py --write: estimate vs measured peaks, fitted constants.
#   3. in parallel with 2 (memory figures are per process; these tests only use tiny models):
#      the GPU tests: out-of-memory with auto_batch on and off (memory cap), placement, QLoRA, fp16,
#      gradient checkpointing, compile-once, liger vs chunked loss.
# Figures land in benchmarks/results/ and in $OUT (or ./gpu-check-out). The device has no network:
# carry wheels the image lacks in .whl/ (gpu_env.sh installs them), e.g. liger-kernel:
#   pip download liger-kernel --no-deps -d .whl     (and bitsandbytes for the QLoRA parts)
set -u
OUT_DEFAULT=gpu-check-out
. "$(dirname "$0")/gpu_env.sh"
RESULTS=benchmarks/results
mkdir -p "$RESULTS"
STAMP=$(date -u +%Y%m%d-%H%M)
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
$PY -c "import torch, transformers, peft, accelerate, importlib.util as u; print('torch', torch.__version__, 'transformers', transformers.__version__, 'peft', peft.__version__, 'accelerate', accelerate.__version__, 'liger-kernel', bool(u.find_spec('liger_kernel')), 'bitsandbytes', bool(u.find_spec('bitsandbytes')))"

echo "== 1. bench lora --preset 1b (default run) =="
TORCH_LOGS=recompiles timeout "${BENCH_S:-270}" $PY -m spark_trainer --json bench lora --preset 1b >"$OUT/bench.json" 2>"$OUT/bench.err"
rc=$?
grep -i "recompil" "$OUT/bench.err" | head -5
grep -v -i "warn" "$OUT/bench.err" | tail -12
if [ $rc -eq 0 ]; then
  cp "$OUT/bench.json" "$RESULTS/bench_lora_1b_default_$STAMP.json"
  $PY -c "import json,sys; from spark_trainer.bench.lora import format_report; print(format_report(json.load(open(sys.argv[1]))))" "$OUT/bench.json"
else
  echo "bench failed (rc $rc)"
fi

echo "== 1b. liger RMSNorm/SwiGLU/RoPE kernels on our side (opt-in until they pay off) =="
if $PY -c "import liger_kernel" 2>/dev/null; then
  SPARK_TRAINER_LIGER_KERNELS=rms_norm,swiglu,rope timeout "${LIGER_S:-150}" $PY -m spark_trainer --json bench lora \
    --preset 1b --engines ours >"$OUT/bench_liger.json" 2>"$OUT/bench_liger.err" \
    && $PY -c "import json,sys; a,b=(json.load(open(f))['engines']['ours'] for f in sys.argv[1:]); print(f\"ours {a['tokens_per_s']:,.0f} tokens/s, with liger rms_norm+swiglu+rope {b['tokens_per_s']:,.0f} ({b['tokens_per_s']/a['tokens_per_s']:.2f}x), peak {a['peak_bytes']/2**30:.1f} vs {b['peak_bytes']/2**30:.1f} GiB\")" "$OUT/bench.json" "$OUT/bench_liger.json" \
    || echo "liger kernels bench failed; see bench_liger.err"
  cp "$OUT/bench_liger.json" "$RESULTS/bench_lora_1b_liger_layers_$STAMP.json" 2>/dev/null
else
  echo "liger-kernel not installed: skipped (carry its wheel in .whl/)"
fi

echo "== 2+3. measured peaks and calibration, GPU tests in parallel =="
timeout "${TESTS_S:-300}" $PY -m pytest tests/jobs/test_gpu_jobs.py tests/training/test_gpu_training.py tests/training/test_fp16_resume.py -m gpu -q \
  -p no:cacheprovider -rA >"$OUT/gpu_tests.log" 2>&1 &
tests_pid=$!
timeout "${PEAKS_S:-300}" $PY benchmarks/measure_peaks.py --timeout "${PEAK_ONE_S:-110}" 2>&1 | grep -v -i "warn" | tee "$OUT/peaks.log"
$PY benchmarks/calibrate_estimate.py --write 2>&1 | tee "$OUT/calibration.log"
wait $tests_pid
echo "GPU tests exit code $?"
grep -E "PASSED|FAILED|SKIPPED|ERROR|passed|failed" "$OUT/gpu_tests.log" | tail -20
cp "$OUT/gpu_tests.log" "$RESULTS/gpu_tests_$STAMP.log" 2>/dev/null
cp "$OUT/calibration.log" "$RESULTS/calibration_$STAMP.log" 2>/dev/null
