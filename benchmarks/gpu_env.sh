# Sourced by the GPU check scripts: offline env, $OUT, carried wheels from .whl/, $PY.
# Usage: OUT_DEFAULT=name on its own line, then: . benchmarks/gpu_env.sh
export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
OUT=${OUT:-$PWD/${OUT_DEFAULT:-gpu-out}}
mkdir -p "$OUT"
if [ -n "${GPU_ENV_DONE:-}" ]; then
  :  # a script started by another that sourced this: the wheels are in /tmp/site and PYTHONPATH says so
elif [ -d .whl ] && ls .whl/*.whl >/dev/null 2>&1; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 3
  export PYTHONPATH=/tmp/site:$PWD
else
  export PYTHONPATH=$PWD
fi
PY=${PY:-python3}
export GPU_ENV_DONE=1
