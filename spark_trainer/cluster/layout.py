"""A cluster job folder: what `launch` writes, what every rank reads and what rank 0 writes back.

```
JOB/
  job.json            what was exported: job uuid, scheduler, nodes x processes, experiment, dataset
  config.yaml         the frozen run config (as `runs/<id>/config.yaml` of a local run)
  data/               the dataset folder, copied (absent with --shared-data: job.json names the path)
  model/              the base model, copied (absent with --shared-model)
  launch.sh           torchrun / accelerate: the same on every node (reads NODE_RANK, MASTER_ADDR)
  job.sbatch          slurm: `sbatch job.sbatch` (srun starts every rank)
  accelerate_config.yaml   accelerate only
  README.md           how to run it
  run/                the run folder, in a local run's layout; written by rank 0 only:
    run.json, checkpoints/step-*/, final/, samples/, eval/
    status.json       status, step, heartbeat, error (replaced atomically)
    metrics.jsonl     {"step", "values": {key: value}, "time"} per report
    events.jsonl      {"time", "from", "to", "reason"}: status changes and notes
    artifacts.jsonl   {"kind", "path" (relative to run/), "step", "meta", "time"}
    logs/node-<N>.log each node's output (launch scripts tee into it)
```

SQLite is never written on the cluster: rank 0 appends JSON lines in the job folder, which
`spark-trainer run import` reads into the local store in one transaction.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from spark_trainer.errors import BadInput

JOB_FILE = "job.json"
CONFIG_FILE = "config.yaml"
RUN_DIR = "run"
STATUS_FILE = "status.json"
METRICS_FILE = "metrics.jsonl"
EVENTS_FILE = "events.jsonl"
ARTIFACTS_FILE = "artifacts.jsonl"
LOGS_DIR = "logs"
FORMAT = 1
SCHEDULERS = ("slurm", "torchrun", "accelerate")


def job_device(gpus: str | None) -> str:
    """What a job's ranks train on, from the experiment's `gpus`: "cpu" for a CPU request, else "cuda"
    (the nodes' GPUs, whatever this machine has)."""
    return "cpu" if str(gpus or "auto").strip().lower().startswith("cpu") else "cuda"


@dataclass
class JobSpec:
    """job.json: everything `run import` needs to place the run, besides what rank 0 wrote."""

    uuid: str
    scheduler: str
    nodes: int
    procs_per_node: int
    project: str
    experiment: str
    recipe: str
    device: str  # "cpu" or "cuda"
    data_path: str  # relative to the job folder ("data"), or an absolute path on shared storage
    model_path: str  # likewise ("model"), or the shared path
    base_model: str  # the base model as the exporting machine knew it (a local folder or hub id)
    experiment_config: dict[str, Any]  # the experiment's stored config (to recreate it on import)
    dataset: dict[str, Any]  # the dataset's record on the exporting machine (name, kind, version...)
    created_at: str
    format: int = FORMAT
    notes: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def world_size(self) -> int:
        return self.nodes * self.procs_per_node

    @property
    def ran_on(self) -> str:
        """How the runs view names where it ran: "torchrun 2x1" (nodes x processes per node)."""
        return f"{self.scheduler} {self.nodes}x{self.procs_per_node}"

    def write(self, job_dir: Path) -> None:
        write_json_atomic(Path(job_dir) / JOB_FILE, asdict(self))

    @classmethod
    def read(cls, job_dir: Path) -> JobSpec:
        path = Path(job_dir) / JOB_FILE
        data = read_json(path, what="job description")
        if not isinstance(data, dict):
            raise BadInput(f"{path}: not a JSON object")
        if data.get("format") != FORMAT:
            raise BadInput(f"{path}: format {data.get('format')!r} is not one this version reads ({FORMAT})")
        names = set(cls.__dataclass_fields__)
        missing = sorted(n for n in names - set(data) if n not in ("notes", "extra", "format"))
        if missing:
            raise BadInput(f"{path}: missing field(s) {', '.join(missing)}")
        spec = cls(**{k: v for k, v in data.items() if k in names})
        if spec.scheduler not in SCHEDULERS:
            raise BadInput(f"{path}: scheduler {spec.scheduler!r} is not one of {', '.join(SCHEDULERS)}")
        if not (isinstance(spec.nodes, int) and isinstance(spec.procs_per_node, int)
                and spec.nodes >= 1 and spec.procs_per_node >= 1):
            raise BadInput(f"{path}: nodes and procs_per_node must be positive integers")
        return spec

    def resolve(self, job_dir: Path, relative: str) -> Path:
        """A path job.json names: relative to the job folder, or absolute (shared storage)."""
        path = Path(relative)
        return path if path.is_absolute() else Path(job_dir) / path


def read_json(path: Path, *, what: str) -> Any:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BadInput(f"{path}: no {what} (is {Path(path).parent} a complete job folder?)") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadInput(f"{path}: corrupt {what} ({exc})") from None


def write_json_atomic(path: Path, data: Any) -> None:
    tmp = Path(path).with_name(Path(path).name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False), encoding="utf-8")
    os.replace(tmp, path)


def read_jsonl(path: Path, *, allow_torn_tail: bool) -> list[dict[str, Any]]:
    """The objects of a JSON-lines file (none if it does not exist).

    A last line without its newline is a write the job was killed in the middle of: with
    `allow_torn_tail` it is dropped; any other bad line is corruption and names file and line.
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    except UnicodeDecodeError as exc:
        raise BadInput(f"{path}: not UTF-8 text ({exc.reason})") from None
    lines = text.split("\n")
    torn = lines.pop()  # "" when the file ends with a newline
    found = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except ValueError as exc:
            raise BadInput(f"{path}: line {number} is not JSON ({exc})") from None
        if not isinstance(item, dict):
            raise BadInput(f"{path}: line {number} is not a JSON object")
        found.append(item)
    if torn.strip() and not allow_torn_tail:
        raise BadInput(f"{path}: line {len(lines) + 1} is cut short (no newline) although the job has ended")
    return found
