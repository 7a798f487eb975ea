#!/usr/bin/env bash
# Our side of `bench lora --preset 1b` alone on an NVIDIA GPU, as a default run and with each named variant,
# one after another inside a deadline (GPU_VARIANTS_S, default 330 s):
#   bash benchmarks/gpu_variants.sh [VARIANT...]     (default: read_back_each_step expandable_segments)
# Variants (environment a run honours):
#   read_back_each_step   SPARK_TRAINER_READ_BACK_EACH_STEP=1: every step read back before the next is
#                         queued (the engine's loop before 2026-12-04's fourth session): what queuing gains
#   expandable_segments   PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True: the caching allocator grows its
#                         segments instead of freeing its cache when no block fits (see alloc_retries)
#   no_activation_budget  SPARK_TRAINER_ACTIVATION_BUDGET=1: every activation kept (before the third lease)
#   liger_layers          SPARK_TRAINER_LIGER_KERNELS=rms_norm,swiglu,rope (opt-in: 0.92x on the second lease)
# BASE_JSON=FILE compares against a default run already measured (gpu_check.sh's phase 1) instead of
# measuring one first. That one compiled cold and these from its inductor cache, so the figure to compare
# is the median step (`step`), which leaves out the warm-up's after-effects and the evaluation; without
# BASE_JSON every run here shares the cache. Each run is a fresh process (a variant's environment is read
# at start-up). Writes $OUT/bench_variants.jsonl (a line a run: {"variant": NAME, ...bench JSON}),
# $OUT/variants.log and $OUT/variants.err. The device tool's call: carry [".whl"] (gpu_wheels.py fills it).
set -u
OUT_DEFAULT=gpu-variants-out
. "$(dirname "$0")/gpu_env.sh"
# VARIANTS_LOG= (empty) and VARIANTS_ERR=FILE: gpu_check.sh's phase 3, whose $OUT holds 8 files at most.
LOG=${VARIANTS_LOG-$OUT/variants.log}
ERR=${VARIANTS_ERR:-$OUT/variants.err}
[ -n "$LOG" ] && exec > >(tee -a "$LOG") 2>&1
V_DEADLINE=$(( $(date +%s) + ${GPU_VARIANTS_S:-330} ))
v_left() { echo $(( V_DEADLINE - $(date +%s) )); }
[ $# -gt 0 ] || set -- read_back_each_step expandable_segments

env_of() {
  case $1 in
    default) echo "SPARK_TRAINER_VARIANT=default" ;;
    read_back_each_step) echo "SPARK_TRAINER_READ_BACK_EACH_STEP=1" ;;
    expandable_segments) echo "PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True" ;;
    no_activation_budget) echo "SPARK_TRAINER_ACTIVATION_BUDGET=1" ;;
    liger_layers) echo "SPARK_TRAINER_LIGER_KERNELS=rms_norm,swiglu,rope" ;;
    *) return 1 ;;
  esac
}

run_one() {  # name: our side with the variant's environment; appends its JSON line; prints its figures
  local name=$1 setting limit
  setting=$(env_of "$name") || { echo "unknown variant $name"; return 1; }
  limit=$(v_left)
  echo "== ours, $name ($setting), $limit s left =="
  if [ "$limit" -lt 60 ]; then echo "skipped: too little time left"; return 1; fi
  [ "$limit" -gt 200 ] && limit=200
  env "$setting" timeout "$limit" $PY -m spark_trainer --json bench lora --preset 1b --engines ours \
    >"/tmp/bench_$name.json" 2>>"$ERR" \
    && $PY -c "import json,sys; print(json.dumps({'variant': sys.argv[2], **json.load(open(sys.argv[1]))}))" \
      "/tmp/bench_$name.json" "$name" >>"$OUT/bench_variants.jsonl" \
    || { echo "$name failed or ran out of time; see $(basename "$ERR")"; return 1; }
}

compare() {  # base JSON, variant JSON, name
  $PY - "$@" <<'PY'
import json, sys
a, b = (json.load(open(f))["engines"]["ours"] for f in sys.argv[1:3])
print(f"default {a['tokens_per_s']:,.0f} tokens/s, step {a['step_s_median']:.4f} s, retries {a.get('alloc_retries')}; "
      f"{sys.argv[3]} {b['tokens_per_s']:,.0f} ({b['tokens_per_s'] / a['tokens_per_s']:.3f}x), step "
      f"{b['step_s_median']:.4f} s (the default's step is {b['step_s_median'] / a['step_s_median']:.3f}x faster), "
      f"retries {b.get('alloc_retries')}, slowest {b['slowest_steps'][:2]}, peak {a['peak_bytes'] / 2**30:.1f} vs "
      f"{b['peak_bytes'] / 2**30:.1f} GiB")
PY
}

BASE=${BASE_JSON:-}
if [ -z "$BASE" ]; then
  run_one default && BASE=/tmp/bench_default.json
fi
[ -n "$BASE" ] && [ -f "$BASE" ] || { echo "no default run to compare with"; exit 1; }
for name in "$@"; do
  if [ "$name" = liger_layers ] && ! $PY -c "import liger_kernel" 2>/dev/null; then
    echo "== liger-kernel not installed: liger_layers skipped (python3 benchmarks/gpu_wheels.py carries it) =="
    continue
  fi
  run_one "$name" && compare "$BASE" "/tmp/bench_$name.json" "$name"
done
echo "gpu_variants done, $(v_left) s before its deadline"
