"""What `queue serve` says while it serves: a line whenever a run of the home starts, stalls (or
recovers) or stops, whoever started it (this scheduler, a finishing worker, the app, a `--wait` command), and at the end one line of
what ended meanwhile ("3 completed, 1 failed (run 10)"), for a queue left overnight and read in the
morning."""

from __future__ import annotations

from datetime import datetime, timedelta

from spark_trainer.store import runs
from spark_trainer.store.entities import Run, RunEvent, RunStatus, runs_named, utcnow
from spark_trainer.store.store import Store

# How a stopped run is said, in the order the summary counts them.
ENDED = {RunStatus.COMPLETED: "completed", RunStatus.FAILED: "failed", RunStatus.INTERRUPTED: "was interrupted",
         RunStatus.CANCELLED: "was cancelled", RunStatus.PAUSED: "was paused"}
# A write committed just after a read with an older time stamp is still read by the next one.
OVERLAP = timedelta(seconds=2)


class RunWatch:
    """Reads the runs that changed since the last `poll` (by `updated_at`, as the app's poller does)
    and says what started or stopped; `ended` keeps each run's last stop while it stays stopped."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.since = utcnow()
        self._read_from = self.since - OVERLAP
        found, _ids = runs.changed_since(store, None)
        self.status = {run.id: run.status for run in found}
        self.ended: dict[int, RunStatus] = {}

    @property
    def active(self) -> bool:
        """A run of the home is starting, running or stalled (as last read)."""
        return any(status.is_active for status in self.status.values())

    def poll(self) -> list[str]:
        """What started, stalled, recovered or ended since the last poll, in the order it happened (a run
        that ended and the one its worker then started, read in one pass, in that order)."""
        now = utcnow()
        read_from = self._read_from
        found, ids = runs.changed_since(self.store, read_from)
        self._read_from = now - OVERLAP
        said: list[tuple[datetime, int, str]] = []  # (when, run id, line)
        for run in found:
            before = self.status.get(run.id)
            self.status[run.id] = run.status
            if run.status == before:
                continue
            events = runs.events(self.store, run.id)
            if run.status in ENDED and (before is None or not before.is_active):
                start = self._started_at(events, read_from)
                if start is not None:  # started and ended between two polls: both are said
                    said.append((start, run.id, self._started(run)))
            line = self._line(run, before, events)
            if line:
                said.append((events[-1].created_at if events else now, run.id, line))
        self.status = {run_id: status for run_id, status in self.status.items() if run_id in ids}
        return [line for _when, _run, line in sorted(said, key=lambda said: said[:2])]

    def _started_at(self, events: list[RunEvent], read_from: datetime) -> datetime | None:
        """When the run became active after `read_from`, else None."""
        return next((event.created_at for event in events if event.created_at >= max(read_from, self.since)
                     and RunStatus(event.to_status).is_active), None)

    @staticmethod
    def _started(run: Run) -> str:
        where = run.devices if run.gpus or run.ran_on != "local" else "CPU"  # started, so placed: no GPUs is the CPU
        return f"run {run.id} ({run.experiment}) started on {where}"

    def _line(self, run: Run, before: RunStatus | None, events: list[RunEvent]) -> str | None:
        name = f"run {run.id} ({run.experiment})"
        if run.status.is_active and (before is None or not before.is_active):
            return self._started(run)
        if run.status == RunStatus.STALLED:  # its event says how long it was silent and what comes next
            reasons = [e.reason for e in events if e.to_status == RunStatus.STALLED.value]
            return f"{name} stalled" + (f": {reasons[-1]}" if reasons else "")
        if before == RunStatus.STALLED and run.status.is_active:
            return f"{name} recovered: its worker beats again"
        if run.status not in ENDED:
            self.ended.pop(run.id, None)  # queued again (resumed, extended): not ended any more
            return None
        if before is None and (run.finished_at is None or run.finished_at < self.since):
            return None  # recorded stopped before this watch began (an imported cluster job)
        self.ended[run.id] = run.status
        if run.status == RunStatus.COMPLETED:
            return f"{name} completed {run.step} step{'s' if run.step != 1 else ''}"
        return f"{name} {ENDED[run.status]}" + (f": {run.error_line}" if run.error_line else "")

    def summary(self) -> str:
        """What ended while it watched, one line: "3 completed, 1 failed (run 10), 1 was cancelled (run 4)"."""
        parts = []
        for status, words in ENDED.items():
            ids = sorted(run_id for run_id, ended in self.ended.items() if ended == status)
            if not ids:
                continue
            count = f"{len(ids)} {words.removeprefix('was ')}"
            which = "" if status == RunStatus.COMPLETED else \
                f" ({runs_named(ids)})"
            parts.append(count + which)
        return ", ".join(parts) or "no run ended"

    def ended_ids(self) -> dict[str, list[int]]:
        """`summary` for --json: {"completed": [3, 4], "failed": [10]}."""
        return {status.value: sorted(i for i, s in self.ended.items() if s == status)
                for status in ENDED if status in self.ended.values()}
