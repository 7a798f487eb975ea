"""Plain entities handed out by the store. ORM rows never leave the store package."""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import PurePath
from typing import Any

MAX_ID = 2**63 - 1  # SQLite's INTEGER: a larger number names no row (and overflows the query)


def id_of(text: str) -> int | None:
    """The row id `text` names (all digits, within SQLite's integers), else None."""
    return int(text) if text.isdigit() and int(text) <= MAX_ID else None


def dataset_text(dataset_id: int | None, deleted: str | None, names: dict[int, str]) -> str | None:
    """An experiment's dataset as a person reads it: its name (`names`: id -> name), "NAME (deleted)"
    once `dataset delete --force` removed it, or None when it never had one."""
    if dataset_id is not None:
        return names.get(dataset_id, f"dataset {dataset_id}")
    return f"{deleted} (deleted)" if deleted else None


# What introduces the log's last lines in the error of a run whose worker ended without saying how
# (reconcile): the error's first line ends with it, the tail follows.
LOG_TAIL_INTRO = "; last lines of worker.log:"


def utcnow() -> datetime:
    """Naive UTC, as stored in SQLite."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


def local_time(stored: datetime) -> datetime:
    """A stored time (naive UTC) as this computer's clock shows it (naive), for people: the app's
    tables and lines, `run list`, `run show` and the other commands' text. `--json` keeps UTC, with its
    offset (`to_jsonable`). Every screen showed UTC, unsaid: hours off anywhere but in London."""
    aware = stored if stored.tzinfo is not None else stored.replace(tzinfo=timezone.utc)
    return aware.astimezone().replace(tzinfo=None)


def runs_named(ids: Sequence[int], verb: str = "") -> str:
    """Runs as a line names them, with a regular verb agreeing: "run 4 stays", "runs 4, 7 stay" (in
    the order given)."""
    if len(ids) == 1:
        return f"run {ids[0]}" + (f" {verb}s" if verb else "")
    return f"runs {', '.join(map(str, ids))}" + (f" {verb}" if verb else "")


class RunStatus(str, enum.Enum):
    QUEUED = "queued"
    STARTING = "starting"
    RUNNING = "running"
    PAUSED = "paused"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    INTERRUPTED = "interrupted"
    # Alive but silent: its heartbeat is older than the threshold. It still holds its GPUs; after
    # a grace period its process group is killed and it becomes interrupted.
    STALLED = "stalled"

    @property
    def is_active(self) -> bool:
        """A worker process is (or should be) alive for this run."""
        return self in (RunStatus.STARTING, RunStatus.RUNNING, RunStatus.STALLED)

    @property
    def is_finished(self) -> bool:
        return self in (RunStatus.COMPLETED, RunStatus.FAILED, RunStatus.CANCELLED)


# The statuses a run can have without ever leaving the queue (`runs.ALLOWED`: queued -> cancelled, failed).
_NEVER_STARTED = frozenset({RunStatus.QUEUED, RunStatus.CANCELLED, RunStatus.FAILED})


class DatasetKind(str, enum.Enum):
    TEXT = "text"
    IMAGE = "image"
    VIDEO = "video"
    AUDIO = "audio"


def to_jsonable(value: Any) -> Any:
    """Entities, lists and dicts of them, datetimes, enums and paths as JSON-ready values."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, datetime):
        return value.replace(tzinfo=timezone.utc).isoformat()
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, PurePath):
        return str(value)
    return value


@dataclass(frozen=True)
class Project:
    id: int
    name: str
    description: str
    created_at: datetime
    updated_at: datetime
    num_datasets: int = 0
    num_experiments: int = 0
    num_runs: int = 0
    last_activity: datetime | None = None


@dataclass(frozen=True)
class Dataset:
    id: int
    project_id: int
    project: str
    name: str
    kind: str
    status: str
    path: str
    version: str
    num_items: int
    num_train: int
    num_val: int
    num_rejected: int
    num_duplicates: int
    size_bytes: int
    sources: list[str]
    meta: dict[str, Any]
    created_at: datetime


@dataclass(frozen=True)
class Experiment:
    id: int
    project_id: int
    project: str
    dataset_id: int | None
    name: str
    recipe: str
    base_model: str
    config: dict[str, Any]
    notes: str
    created_at: datetime
    num_runs: int = 0
    deleted_dataset: str | None = None  # its dataset's name, once that dataset was deleted

    def dataset_text(self, names: dict[int, str]) -> str | None:
        """Its dataset as a person reads it: the name (from `names`, id -> name), "NAME (deleted)", or
        None when it never had one."""
        return dataset_text(self.dataset_id, self.deleted_dataset, names)


@dataclass(frozen=True)
class Run:
    id: int
    experiment_id: int
    experiment: str
    project_id: int
    recipe: str
    status: RunStatus
    requested_gpus: str
    gpus: list[int]
    priority: int
    pid: int | None
    pid_start_time: float | None
    step: int
    total_steps: int | None
    eta_seconds: float | None
    heartbeat_at: datetime | None
    run_dir: str
    error: str | None
    resume_of_id: int | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    uuid: str = ""
    updated_at: datetime | None = None
    ran_on: str = "local"  # or an imported cluster job's "scheduler NxM" (nodes x processes per node)
    sweep: str | None = None  # the sweep that queued it
    sweep_values: dict[str, Any] = field(default_factory=dict)  # {"train.learning_rate": 0.001}
    phase: str | None = None  # a running worker's start-up step ("loading the model"); None once it trains
    dataset_id: int | None = None  # the dataset it trains on (maybe not its experiment's); None once deleted
    deleted_dataset: str | None = None  # that dataset's name, once it was deleted

    def dataset_text(self, names: dict[int, str]) -> str | None:
        """The dataset it trains on as a person reads it (`dataset_text`): maybe not its experiment's."""
        return dataset_text(self.dataset_id, self.deleted_dataset, names)

    def starting_text(self, *, short: bool = False) -> str | None:
        """What a running run does before its first step, as every view words it after "running: "
        ("loading the model: caching VAE latents 340/2,600 images"; `short`, for a list's cell, the
        last part); None when it is not running or already trains."""
        if self.status != RunStatus.RUNNING or not self.phase:
            return None
        return self.phase.rsplit(": ", 1)[-1] if short else self.phase

    @property
    def error_line(self) -> str | None:
        """The first line of a stopped run's error (failed, interrupted, or paused or cancelled with no
        checkpoint saved), as the app's Status tooltip, `run list`'s NOTE and `queue serve` say it; None
        for a run that waits, trains or has no error."""
        if self.status == RunStatus.QUEUED or self.status.is_active:
            return None
        first = next((line.strip() for line in (self.error or "").splitlines() if line.strip()), None)
        # "...; last lines of worker.log:" introduces lines this one does not give: said without it.
        return first.removesuffix(LOG_TAIL_INTRO) if first else None

    @property
    def never_started(self) -> bool:
        """No scheduler ever took it from this machine's queue: queued, or cancelled or failed while
        queued. Taking it (`runs.claim`) sets its heartbeat and GPUs (its worker then its pid and
        started_at), and only a claim put back (`runs.unclaim`, before any worker) clears them again, so
        a run stopped after it started, or resumed and queued again, is not one. A cluster job is not
        (it runs on its nodes, not in this queue)."""
        return (self.ran_on == "local" and self.status in _NEVER_STARTED and self.started_at is None
                and self.heartbeat_at is None and self.pid is None and not self.gpus)

    @property
    def ran_on_text(self) -> str:
        """`ran_on` as the app's Runs list and `run list`/`run show` show it: "-" for a run that never
        started (it ran nowhere; `ran_on` keeps the "local" it was queued with)."""
        return "-" if self.never_started else self.ran_on

    @property
    def devices(self) -> str:
        """Where the run trains or trained, as the app's Runs list and run page and `run list` and `run
        show` show it: its GPU ids ("0,1"); "CPU" for a run placed or started without GPUs; a cluster
        job's "GPUs" or "CPU" (its GPUs were the nodes', not this machine's); for a run that never started
        (queued, or cancelled or failed while queued) or that waits in the queue again, what it asks for,
        said as a request so that it is
        not read as devices it got: "asked auto", "asked 0,1", "asked count:2", "asked CPU" (`cpu`,
        `cpu:N`)."""
        if self.ran_on != "local":
            return "CPU" if self.requested_gpus.startswith("cpu") else "GPUs"
        # A resumed run waiting in the queue keeps the GPUs it had last time until a scheduler places it
        # again, perhaps elsewhere (`run resume --gpus` moves it): it says what it asks for now.
        if self.never_started or self.status == RunStatus.QUEUED:
            return f"asked {'CPU' if self.requested_gpus.startswith('cpu') else self.requested_gpus}"
        if self.gpus:
            return ",".join(map(str, self.gpus))
        return "CPU"  # taken from the queue without GPUs: placed on the CPU


@dataclass(frozen=True)
class RunEvent:
    id: int
    run_id: int
    from_status: str | None
    to_status: str
    reason: str
    created_at: datetime


@dataclass(frozen=True)
class Metric:
    id: int
    run_id: int
    key: str
    step: int
    value: float
    wall_time: float


@dataclass(frozen=True)
class Artifact:
    id: int
    run_id: int
    kind: str
    path: str
    step: int | None
    meta: dict[str, Any] = field(default_factory=dict)
    created_at: datetime | None = None
