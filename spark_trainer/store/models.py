"""SQLAlchemy ORM models. These never leave the store package: query functions return entities.

The schema here must match the Alembic migrations; `tests/store/test_migrations.py` checks it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# Ids are never reused (SQLite AUTOINCREMENT): a new run must never inherit a deleted run's id,
# and with it the deleted run's folder and checkpoints.
NEVER_REUSE = {"sqlite_autoincrement": True}


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}


class ProjectRow(Base):
    __tablename__ = "projects"
    __table_args__ = (NEVER_REUSE,)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class DatasetRow(Base):
    __tablename__ = "datasets"
    __table_args__ = (UniqueConstraint("project_id", "name", name="uq_datasets_project_name"), NEVER_REUSE)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20), default="ready")
    path: Mapped[str] = mapped_column(Text)
    version: Mapped[str] = mapped_column(String(80), default="")
    num_items: Mapped[int] = mapped_column(Integer, default=0)
    num_train: Mapped[int] = mapped_column(Integer, default=0)
    num_val: Mapped[int] = mapped_column(Integer, default=0)
    num_rejected: Mapped[int] = mapped_column(Integer, default=0)
    num_duplicates: Mapped[int] = mapped_column(Integer, default=0)
    size_bytes: Mapped[int] = mapped_column(Integer, default=0)
    sources: Mapped[list[Any]] = mapped_column(default=list)
    meta: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime]


class ExperimentRow(Base):
    __tablename__ = "experiments"
    __table_args__ = (UniqueConstraint("project_id", "name", name="uq_experiments_project_name"), NEVER_REUSE)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    dataset_id: Mapped[int | None] = mapped_column(
        ForeignKey("datasets.id", ondelete="SET NULL"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    recipe: Mapped[str] = mapped_column(String(80))
    base_model: Mapped[str] = mapped_column(Text)
    config: Mapped[dict[str, Any]] = mapped_column(default=dict)
    notes: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime]
    # The name its dataset had when that dataset was deleted (`dataset_id` is NULL then); else None.
    deleted_dataset: Mapped[str | None] = mapped_column(String(200))


class RunRow(Base):
    __tablename__ = "runs"
    __table_args__ = (Index("ix_runs_status", "status"), NEVER_REUSE)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    experiment_id: Mapped[int] = mapped_column(ForeignKey("experiments.id", ondelete="CASCADE"), index=True)
    resume_of_id: Mapped[int | None] = mapped_column(ForeignKey("runs.id", ondelete="SET NULL"))
    # The dataset this run trains on (its frozen config's `dataset`), which may not be its experiment's:
    # a run file whose data changed queues its run, on the new ingestion, under the same experiment.
    # Deletes ask this, not the experiment (store/in_use.py). NULL once that dataset is deleted.
    dataset_id: Mapped[int | None] = mapped_column(
        ForeignKey("datasets.id", ondelete="SET NULL", name="fk_runs_dataset_id"), index=True
    )
    # The name that dataset had when it was deleted (`dataset_id` is NULL then); else None.
    deleted_dataset: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20))
    requested_gpus: Mapped[str] = mapped_column(String(80), default="auto")
    gpus: Mapped[list[Any]] = mapped_column(default=list)
    priority: Mapped[int] = mapped_column(Integer, default=0)
    pid: Mapped[int | None] = mapped_column(Integer)
    pid_start_time: Mapped[float | None] = mapped_column(Float)
    step: Mapped[int] = mapped_column(Integer, default=0)
    total_steps: Mapped[int | None] = mapped_column(Integer)
    eta_seconds: Mapped[float | None] = mapped_column(Float)
    heartbeat_at: Mapped[datetime | None]
    # What a running worker's start-up is doing while the run sits at step 0 ("loading the model:
    # caching VAE latents 340/2600 images"); None once it trains, and whenever it is not running.
    phase: Mapped[str | None] = mapped_column(String(200))
    run_dir: Mapped[str] = mapped_column(Text, default="")
    uuid: Mapped[str] = mapped_column(String(32), default="", server_default="")
    # "local", or where an imported cluster job ran ("torchrun 2x1": scheduler, nodes x procs per node)
    ran_on: Mapped[str] = mapped_column(String(80), default="local", server_default="local")
    # The sweep that queued the run (`train --sweep`, the setup form's sweep) and the values it gave
    # the run ({"train.learning_rate": 0.001}); None and {} for a run queued on its own.
    sweep: Mapped[str | None] = mapped_column(String(200), index=True)
    sweep_values: Mapped[dict[str, Any]] = mapped_column(default=dict, server_default="{}")
    updated_at: Mapped[datetime | None] = mapped_column(index=True)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]


class RunEventRow(Base):
    __tablename__ = "run_events"
    __table_args__ = (NEVER_REUSE,)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), index=True)
    from_status: Mapped[str | None] = mapped_column(String(20))
    to_status: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime]


class MetricRow(Base):
    __tablename__ = "metrics"
    __table_args__ = (Index("ix_metrics_run_key_step", "run_id", "key", "step"), NEVER_REUSE)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(120))
    step: Mapped[int] = mapped_column(Integer)
    value: Mapped[float] = mapped_column(Float)
    wall_time: Mapped[float] = mapped_column(Float)


class MetricSeriesRow(Base):
    """One row per (run, key): what lists and rankings need, kept up to date by every metric write,
    so nothing that shows many runs ever reads their points."""

    __tablename__ = "metric_series"
    __table_args__ = (Index("ix_metric_series_key", "key"),)

    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True)
    key: Mapped[str] = mapped_column(String(120), primary_key=True)
    count: Mapped[int] = mapped_column(Integer)
    packed: Mapped[int] = mapped_column(Integer)  # how many of `count` live in metric_blocks
    min_value: Mapped[float | None] = mapped_column(Float)
    max_value: Mapped[float | None] = mapped_column(Float)
    last_step: Mapped[int] = mapped_column(Integer)  # the highest step; its value is last_value
    last_value: Mapped[float | None] = mapped_column(Float)
    last_id: Mapped[int] = mapped_column(Integer)  # the id of that point (the newest among equal steps)


class MetricBlockRow(Base):
    """Points of one series moved out of `metrics` into packed little-endian arrays (ids and steps
    int64, wall times and values float64), in id order: a million-point series is a few hundred
    rows to read instead of a million."""

    __tablename__ = "metric_blocks"
    __table_args__ = (Index("ix_metric_blocks_run_key_last", "run_id", "key", "last_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(120))
    count: Mapped[int] = mapped_column(Integer)
    first_id: Mapped[int] = mapped_column(Integer)
    last_id: Mapped[int] = mapped_column(Integer)
    max_step: Mapped[int] = mapped_column(Integer)
    ids: Mapped[bytes] = mapped_column(LargeBinary)
    steps: Mapped[bytes] = mapped_column(LargeBinary)
    wall_times: Mapped[bytes] = mapped_column(LargeBinary)
    values: Mapped[bytes] = mapped_column(LargeBinary)


class ArtifactRow(Base):
    __tablename__ = "artifacts"
    __table_args__ = (NEVER_REUSE,)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(40))
    path: Mapped[str] = mapped_column(Text)
    step: Mapped[int | None] = mapped_column(Integer)
    meta: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime]


class SweepPlanRow(Base):
    """What a sweep queued (migration 0012): every combination of its values, in order, so `sweep show`
    knows its size and which runs were deleted. Sweeps queued by an older SparkTrainer have none."""

    __tablename__ = "sweep_plans"

    name: Mapped[str] = mapped_column(String(200), primary_key=True)  # runs.sweep
    combinations: Mapped[list[Any]] = mapped_column(default=list)  # one dict of swept values per run
    created_at: Mapped[datetime]


class SettingRow(Base):
    __tablename__ = "settings"

    key: Mapped[str] = mapped_column(String(120), primary_key=True)
    value: Mapped[Any] = mapped_column(JSON, nullable=True)
    updated_at: Mapped[datetime]


class ExportRow(Base):
    __tablename__ = "exports"
    __table_args__ = (NEVER_REUSE,)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), index=True)
    step: Mapped[int] = mapped_column(Integer)
    options: Mapped[dict[str, Any]] = mapped_column(default=dict)
    path: Mapped[str] = mapped_column(Text)
    hub_repo: Mapped[str | None] = mapped_column(String(200))
    hub_url: Mapped[str | None] = mapped_column(Text)
    pushed_at: Mapped[datetime | None]
    created_at: Mapped[datetime]


class EvaluationRow(Base):
    __tablename__ = "evaluations"
    __table_args__ = (NEVER_REUSE,)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), index=True)
    task: Mapped[str] = mapped_column(String(40))
    data_path: Mapped[str] = mapped_column(Text)
    base: Mapped[bool] = mapped_column(Boolean)
    checkpoint: Mapped[str] = mapped_column(String(40))
    step: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20))
    gpus: Mapped[list[Any]] = mapped_column(default=list)
    pid: Mapped[int | None] = mapped_column(Integer)
    pid_start_time: Mapped[float | None] = mapped_column(Float)
    done: Mapped[int] = mapped_column(Integer, default=0)
    total: Mapped[int] = mapped_column(Integer, default=0)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
