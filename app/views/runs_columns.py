"""The Runs list's columns: one row per run (its last key metrics, its project's name, its status line)."""

from __future__ import annotations

from typing import NamedTuple

from app.model.reads import KEY_METRICS
from app.views.sweep_filter import swept_cell, swept_sort, swept_tip
from app.views.table_models import NAME_WIDTH_PX, Column
from spark_trainer.numbers import metric_text
from spark_trainer.store.entities import Run, RunStatus, local_time


def format_eta(seconds: float | None) -> str:
    """`1h 05m`, `4m 09s`; "-" when unknown (the list's ETA column and the run page)."""
    if seconds is None:
        return "-"
    seconds = int(seconds)
    if seconds >= 3600:
        return f"{seconds // 3600}h {seconds % 3600 // 60:02d}m"
    return f"{seconds // 60}m {seconds % 60:02d}s"


def page_state_line(run: Run, waiting: list[str | None]) -> str:
    """The line beside a run page's progress bar: the ETA and devices while it trains, a queued run's
    devices and what it waits for (`waiting`: its place, start and reason, any of them None), else its
    devices."""
    starting = f" · {run.starting_text()}" if run.starting_text() else ""
    if run.status.is_active:
        return f"ETA {format_eta(run.eta_seconds)} · {run.devices}{starting}"
    said = " · ".join(filter(None, waiting))
    return f"{run.devices} · {said}" if said else run.devices


def page_reason(waiting: str) -> str:
    """Why a queued run waits, for its page's line: without a bracketed command (the page's width cut
    "`spark-tr…`"; its tooltip keeps it), while a bracketed fact ("max concurrent runs 1") stays."""
    return waiting.split(" (", 1)[0] if "`" in waiting else waiting


def badge_colour(status: RunStatus) -> str:
    """The status dot's colour in the list and the badge's on the run page."""
    return {RunStatus.RUNNING: "#2f81f7", RunStatus.STARTING: "#2f81f7", RunStatus.QUEUED: "#6e7681",
            RunStatus.COMPLETED: "#2da44e", RunStatus.FAILED: "#cf222e", RunStatus.INTERRUPTED: "#bf8700",
            RunStatus.PAUSED: "#8250df", RunStatus.CANCELLED: "#6e7681", RunStatus.STALLED: "#d1242f"}.get(status, "#6e7681")


class RunRow(NamedTuple):
    """One row of the table: a run, its last loss values and its project's name."""

    run: Run
    metrics: dict[str, float]
    project: object
    status: str  # "queued: waiting for run 3 to finish", or the status
    status_tip: str  # the same with its detail: "... (max concurrent runs 1)"
    place: str = ""  # a queued run's place in the queue: "priority 5, 1st of 3 queued to start"


def _progress(row: RunRow) -> tuple[int, int]:
    total = row.run.total_steps or max(row.run.step, 1)
    return min(row.run.step, total), total


def _not_started_tip(run: Run) -> str | None:
    """The GPUs and Ran on cells' tooltip for a run that never started ("asked auto", "-") or waits in
    the queue again (resumed: "asked auto", where it trained last time in the tooltip)."""
    if not run.never_started and run.status != RunStatus.QUEUED:
        return None
    if not run.never_started:
        last = ",".join(map(str, run.gpus)) if run.gpus else "the CPU"
        return f"asked for GPUs {run.requested_gpus}; it waits to start again (it trained on {last} before)"
    waits = "it has not started yet" if run.status == RunStatus.QUEUED else "it never started"
    return f"asked for GPUs {run.requested_gpus}; {waits}"


def _metric_column(key: str) -> Column:
    return Column(key, lambda r: metric_text(r.metrics[key]) if key in r.metrics else "-",
                  sort=lambda r: r.metrics.get(key))


RUN_COLUMNS = (
    Column("", lambda r: "●", sort=lambda r: r.run.status.value, colour=lambda r: badge_colour(r.run.status),
           tip=lambda r: r.run.status.value),
    Column("ID", lambda r: r.run.id, sort=lambda r: r.run.id),
    Column("Project", lambda r: r.project, sort=lambda r: str(r.project).lower(), widest=NAME_WIDTH_PX),
    Column("Experiment", lambda r: r.run.experiment, sort=lambda r: r.run.experiment.lower(), widest=NAME_WIDTH_PX),
    # Capped as the names are (the tooltips say it all): "queued: waiting for one of runs 3, 4, 5 to
    # finish" or four swept values pushed the last columns past a 1280-pixel window.
    Column("Sweep", lambda r: swept_cell(r.run), sort=lambda r: swept_sort(r.run), tip=lambda r: swept_tip(r.run),
           widest=NAME_WIDTH_PX),
    # A queued run's tooltip says its priority and place in the queue too: a Priority column pushed the
    # last columns past a 1280-pixel window (right-click ▸ Priority… changes it).
    Column("Status", lambda r: r.status, tip=lambda r: "\n".join(filter(None, (r.status_tip, r.place))),
           widest=NAME_WIDTH_PX),
    Column("Progress", lambda r: "", sort=lambda r: _progress(r)[0] / _progress(r)[1], progress=_progress),
    Column("ETA", lambda r: format_eta(r.run.eta_seconds) if r.run.status.is_active else "-",
           sort=lambda r: r.run.eta_seconds if r.run.status.is_active else None),
    Column("GPUs", lambda r: r.run.devices, tip=lambda r: _not_started_tip(r.run)),
    # "local", or a cluster job's "scheduler NxM" (nodes x processes per node); "-" for a run that never started
    Column("Ran on", lambda r: r.run.ran_on_text, tip=lambda r: _not_started_tip(r.run)),
    *(_metric_column(k) for k in KEY_METRICS),
    Column("Created", lambda r: f"{local_time(r.run.created_at):%Y-%m-%d %H:%M}", sort=lambda r: r.run.created_at),
)
COLUMNS = tuple(c.title for c in RUN_COLUMNS)
