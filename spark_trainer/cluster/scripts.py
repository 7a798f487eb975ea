"""The launch scripts of a job folder, one set per scheduler.

Every script finds the job folder from its own location (or SLURM_SUBMIT_DIR under sbatch, which
runs a copy of the script) and the Python that has SparkTrainer installed from
SPARK_TRAINER_PYTHON (default `python3`). Every rank runs `python -m spark_trainer cluster-worker
JOB_DIR` (spark_trainer/cluster/rank.py).
"""

from __future__ import annotations

import shlex

from spark_trainer.cluster.layout import JobSpec

DEFAULT_PORT = 29500

_HEAD = """#!/usr/bin/env bash
# SparkTrainer cluster job {uuid} ({experiment}): {scheduler}, {nodes} node(s) x {procs} process(es).
# See README.md in this folder.
set -euo pipefail
"""

_NODE_ENV = """JOB_DIR="$(cd "$(dirname "${{BASH_SOURCE[0]}}")" && pwd)"
PY="${{SPARK_TRAINER_PYTHON:-python3}}"
{rank_env}MASTER_PORT="${{MASTER_PORT:-{port}}}"
case "$NODE_RANK" in
  ''|*[!0-9]*) echo "NODE_RANK must be a number 0..{last}, got '$NODE_RANK'" >&2; exit 2 ;;
esac
if [ "$NODE_RANK" -gt {last} ]; then
  echo "NODE_RANK must be 0..{last} (this job has {nodes} node(s)), got $NODE_RANK" >&2; exit 2
fi
{device_env}mkdir -p "$JOB_DIR/run/logs"
# This node's output, kept in the job folder (rank 0's node holds the run's log).
exec > >(tee -a "$JOB_DIR/run/logs/node-$NODE_RANK.log") 2>&1
echo "node $NODE_RANK of {nodes}: rendezvous at $MASTER_ADDR:$MASTER_PORT"
"""

_CPU_ENV = """# A CPU job: processes talk through gloo; one thread each unless you say otherwise.
export ACCELERATE_USE_CPU=true
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"
"""


def _head(spec: JobSpec) -> str:
    return _HEAD.format(uuid=spec.uuid, experiment=spec.experiment, scheduler=spec.scheduler, nodes=spec.nodes,
                        procs=spec.procs_per_node)


_RANK_REQUIRED = """: "${{NODE_RANK:?set NODE_RANK to the index of this node, 0..{last} (0 on the node at MASTER_ADDR)}}"
: "${{MASTER_ADDR:?set MASTER_ADDR to the address of node 0 (the same on every node)}}"
"""

# One machine: nothing to tell apart, so `bash launch.sh` alone runs it (rendezvous on this machine).
_ONE_NODE_DEFAULTS = """export NODE_RANK="${NODE_RANK:-0}"
export MASTER_ADDR="${MASTER_ADDR:-127.0.0.1}"
"""


def _node_env(spec: JobSpec) -> str:
    last = spec.nodes - 1
    return _NODE_ENV.format(last=last, nodes=spec.nodes, port=DEFAULT_PORT,
                            rank_env=_ONE_NODE_DEFAULTS if spec.nodes == 1 else _RANK_REQUIRED.format(last=last),
                            device_env=_CPU_ENV if spec.device == "cpu" else "")


def torchrun_launch(spec: JobSpec) -> str:
    """launch.sh for torchrun: static rendezvous, so NODE_RANK decides each node's ranks."""
    return _head(spec) + _node_env(spec) + f"""
"$PY" -m torch.distributed.run \\
  --nnodes={spec.nodes} --nproc-per-node={spec.procs_per_node} --node-rank="$NODE_RANK" \\
  --rdzv-backend=static --rdzv-endpoint="$MASTER_ADDR:$MASTER_PORT" --max-restarts=0 \\
  -m spark_trainer cluster-worker "$JOB_DIR"
"""


def accelerate_launch(spec: JobSpec) -> str:
    """launch.sh for accelerate: the config file holds the layout; this node's rank and the main
    process's address come from the environment."""
    return _head(spec) + _node_env(spec) + """
"$PY" -m accelerate.commands.launch --config_file "$JOB_DIR/accelerate_config.yaml" \\
  --machine_rank "$NODE_RANK" --main_process_ip "$MASTER_ADDR" --main_process_port "$MASTER_PORT" \\
  -m spark_trainer cluster-worker "$JOB_DIR"
"""


def accelerate_config(spec: JobSpec) -> str:
    cpu = spec.device == "cpu"
    return f"""# accelerate config for SparkTrainer job {spec.uuid}; launch.sh passes machine_rank,
# main_process_ip and main_process_port from NODE_RANK, MASTER_ADDR and MASTER_PORT.
compute_environment: LOCAL_MACHINE
distributed_type: {'MULTI_CPU' if cpu else 'MULTI_GPU'}
num_machines: {spec.nodes}
num_processes: {spec.world_size}
machine_rank: 0
main_process_ip: 127.0.0.1
main_process_port: {DEFAULT_PORT}
rdzv_backend: static
same_network: true
use_cpu: {'true' if cpu else 'false'}
gpu_ids: all
mixed_precision: 'no'  # the run's train.precision decides; the engine sets it
main_training_function: main
"""


def sbatch_script(spec: JobSpec, *, partition: str | None = None, time_limit: str | None = None) -> str:
    """job.sbatch: one task per rank (srun), rendezvous at the allocation's first node."""
    lines = [f"#SBATCH --job-name=spark-{_safe(spec.experiment)}",
             f"#SBATCH --nodes={spec.nodes}",
             f"#SBATCH --ntasks-per-node={spec.procs_per_node}",
             "#SBATCH --output=run/logs/slurm-%j.out"]
    if spec.device != "cpu":
        lines.append(f"#SBATCH --gpus-per-node={spec.procs_per_node}")
    if partition:
        lines.append(f"#SBATCH --partition={partition}")
    if time_limit:
        lines.append(f"#SBATCH --time={time_limit}")
    head = _head(spec).replace("set -euo pipefail\n", "") + "\n".join(lines) + "\nset -euo pipefail\n"
    return head + f"""
# sbatch runs a copy of this script: the job folder is where it was submitted from.
JOB_DIR="${{SPARK_TRAINER_JOB_DIR:-${{SLURM_SUBMIT_DIR:?run this with sbatch from the job folder}}}}"
export SPARK_TRAINER_PYTHON="${{SPARK_TRAINER_PYTHON:-python3}}"
# sed reads every line: `head` would end the pipe early and fail it (SIGPIPE) under pipefail.
MASTER_ADDR="$(scontrol show hostnames "$SLURM_JOB_NODELIST" | sed -n 1p)"
export MASTER_ADDR
export MASTER_PORT="${{MASTER_PORT:-$(( {DEFAULT_PORT} + ${{SLURM_JOB_ID:-0}} % 1000 ))}}"
{'export ACCELERATE_USE_CPU=true' + chr(10) if spec.device == 'cpu' else ''}mkdir -p "$JOB_DIR/run/logs"
echo "slurm job ${{SLURM_JOB_ID:-?}}: {spec.nodes} node(s) x {spec.procs_per_node}, rendezvous at $MASTER_ADDR:$MASTER_PORT"
srun --nodes={spec.nodes} --ntasks-per-node={spec.procs_per_node} --kill-on-bad-exit=1 \\
  --output="$JOB_DIR/run/logs/rank-%t.log" \\
  bash "$JOB_DIR/slurm_rank.sh"
"""


def slurm_rank(spec: JobSpec) -> str:
    """slurm_rank.sh: what srun starts once per rank; torch.distributed's variables from SLURM's."""
    return _head(spec) + f"""JOB_DIR="$(cd "$(dirname "${{BASH_SOURCE[0]}}")" && pwd)"
export RANK="$SLURM_PROCID"
export WORLD_SIZE="${{SLURM_NTASKS:-{spec.world_size}}}"
export LOCAL_RANK="$SLURM_LOCALID"
export LOCAL_WORLD_SIZE={spec.procs_per_node}
export NODE_RANK="${{SLURM_NODEID:-0}}"
: "${{MASTER_ADDR:?MASTER_ADDR is set by job.sbatch}}"
: "${{MASTER_PORT:?MASTER_PORT is set by job.sbatch}}"
exec "${{SPARK_TRAINER_PYTHON:-python3}}" -m spark_trainer cluster-worker "$JOB_DIR"
"""


def _safe(name: str) -> str:
    cleaned = "".join(c if c.isalnum() or c in "-_." else "-" for c in name)
    return shlex.quote(cleaned)[:60] or "run"


def readme(spec: JobSpec, files: list[str]) -> str:
    """How to run the job, and how to bring it back."""
    n, m, last = spec.nodes, spec.procs_per_node, spec.nodes - 1
    data = ("`data/` (a copy of the dataset)" if not _is_abs(spec.data_path)
            else f"`{spec.data_path}` (shared storage: every node must see it at this path)")
    model = ("`model/` (a copy of the base model)" if not _is_abs(spec.model_path)
             else f"`{spec.model_path}` (shared storage: every node must see it at this path)")
    if spec.scheduler == "slurm":
        how = f"""From this folder, on a login node of the cluster:

```bash
cd path/to/this/folder   # where you copied it on the cluster
SPARK_TRAINER_PYTHON=/path/to/venv/bin/python sbatch job.sbatch
```

`job.sbatch` asks for {n} node(s) with {m} task(s) each{' and as many GPUs' if spec.device != 'cpu' else ''};
`srun` starts `slurm_rank.sh` once per rank, which sets RANK, WORLD_SIZE and LOCAL_RANK from
SLURM_PROCID, SLURM_NTASKS and SLURM_LOCALID. The rendezvous is the allocation's first node
(`scontrol show hostnames $SLURM_JOB_NODELIST`), port `MASTER_PORT` (default 29500 + job id mod 1000).
Add `#SBATCH --partition=...`, `--time=...` or `--account=...` lines as your site needs.
Logs: `run/logs/slurm-<jobid>.out` and `run/logs/rank-<N>.log`."""
    else:
        tool = "torchrun (`python -m torch.distributed.run`, static rendezvous)" if spec.scheduler == "torchrun" \
            else "accelerate (`accelerate_config.yaml`; launch.sh passes machine_rank and main_process_ip)"
        if n == 1:
            how = """Run `launch.sh` on the machine (NODE_RANK defaults to 0 and MASTER_ADDR to 127.0.0.1 for a one-node
job; MASTER_PORT is optional, default 29500, and must be free):

```bash
SPARK_TRAINER_PYTHON=/path/to/venv/bin/python bash launch.sh
```

"""
        else:
            run = "NODE_RANK={k} MASTER_ADDR=<address of node 0> SPARK_TRAINER_PYTHON=/path/to/venv/bin/python bash launch.sh"
            others = "# on node 1" if n == 2 else f"# on node 1, and so on up to node {last} (NODE_RANK={last})"
            how = f"""Run the same `launch.sh` on each of the {n} nodes, with that node's index (0..{last}) and the
address of node 0 (MASTER_PORT is optional, default 29500, and must be free on node 0):

```bash
# on node 0
{run.format(k=0)}
{others}
{run.format(k=1)}
```

"""
        how += f"""It starts {m} process(es) per node through {tool}. Each node's output goes to its terminal and
to `run/logs/node-<NODE_RANK>.log`."""
    return f"""# SparkTrainer cluster job: {spec.experiment}

Project `{spec.project}`, recipe `{spec.recipe}`, {spec.scheduler}: {n} node(s) x {m} process(es)
= {spec.world_size} rank(s), on {'the CPU (gloo)' if spec.device == 'cpu' else 'GPUs (one process per GPU, NCCL)'}.
Job id `{spec.uuid}`.

## Before you start

- SparkTrainer must be installed on every node, in the same version as the desktop that exported
  this job (`pip install` the same wheel or checkout, with torch for the node's CUDA). Set
  `SPARK_TRAINER_PYTHON` to that environment's python (default: `python3` on the PATH); every rank
  runs `$SPARK_TRAINER_PYTHON -m spark_trainer cluster-worker <this folder>`.
- Every node needs this folder at the same path (shared storage), or its own copy of it. Rank 0
  (on node 0) writes the results into `run/`: that is the copy to bring back.
- Data: {data}. Base model: {model}. Nothing is downloaded.

## Run it

{how}

Stopping: SIGTERM (scancel, or Ctrl-C on the launcher) makes every rank save a checkpoint and
stop; running the same command again continues from the last checkpoint. To cancel instead of
pause, write `cancel` into `run/stop-request` before stopping it.

## Bring it back

Copy this folder (at least `job.json`, `config.yaml` and `run/`) to the desktop machine and run

```bash
spark-trainer run import <this folder>
```

It becomes a run of experiment `{spec.experiment}` (created if missing) with its metrics, events,
checkpoints and final model, shown as run on `{spec.ran_on}`. Import a running job again to
update the same run (refused once that run has been trained on the desktop: `--as-new` then
imports it as another run); a job that was killed becomes an interrupted run you can resume locally
(`spark-trainer run resume ID`, same global batch on one process).

## What rank 0 writes (`run/`, a local run's layout)

`status.json` (status, step, heartbeat), `metrics.jsonl`, `events.jsonl`, `artifacts.jsonl`,
`checkpoints/step-*/`, `final/`, `samples/`, `eval/`, `logs/`. No SQLite database is written on the
cluster: a database on network storage is not safe to share, and lines appended by one writer are.

## Files

{chr(10).join(f'- `{name}`' for name in files)}
"""


def _is_abs(path: str) -> bool:
    return path.startswith("/")
