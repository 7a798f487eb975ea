"""A queued run's estimated start as the commands give it (`jobs/queue_eta.py`): `queue show`'s STARTS
column, `run list`'s and `run show`'s, and the `estimated_*` keys they put in `--json`, made here once."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from spark_trainer.jobs.queue_eta import QueueEstimate, RunEstimate
    from spark_trainer.store.entities import Run
    from spark_trainer.store.store import Store


def _seconds_from(at: datetime | None, found: QueueEstimate) -> float | None:
    return None if at is None else round((at - found.now).total_seconds(), 1)


def end_data(found: QueueEstimate) -> dict[str, Any]:
    """`--json`'s estimate of the queue's end: UTC times (None while held), seconds from now (from the
    release while held), and the runs not counted."""
    return {"estimated_end": None if found.held else found.end,
            "estimated_end_in_s": _seconds_from(found.end, found),
            "not_counted": found.not_counted}


def estimate_data(guess: RunEstimate | None, found: QueueEstimate) -> dict[str, Any]:
    """`--json`'s estimate of one queued run (nothing for a run that is not queued): its start and end in
    UTC (None while held, or unknown) and in seconds from now, and the earlier run it was measured from."""
    if guess is None:
        return {}
    pace = guess.pace
    return {"estimated_start": None if found.held else guess.start,
            "estimated_start_in_s": _seconds_from(guess.start, found),
            "estimated_end": None if found.held or guess.end is None else guess.end,
            "estimated_end_in_s": _seconds_from(guess.end, found),
            "estimated_from": None if pace is None else {"run": pace.run_id, "same": pace.how,
                                                         "seconds_per_step": round(pace.seconds_per_step, 4),
                                                         "start_up_s": round(pace.start_up_s, 1),
                                                         "finish_s": round(pace.finish_s, 1)}}


def starts_text(guess: RunEstimate | None, found: QueueEstimate) -> str:
    """A queued run's estimated start for a table ("now", "about 01:20", "about 25 min after release",
    "at release"); "-" when it never starts (needs GPUs the machine does not have), its start is unknown
    (it waits behind a run with no estimate) or it is not in the estimate."""
    from spark_trainer.jobs.queue_eta import start_text

    return "-" if guess is None or guess.start is None else start_text(guess.start, found)


def run_start(store: Store, run: Run) -> tuple[str | None, dict[str, Any]]:
    """`run show`'s estimated start of a queued run: its STARTS text and its `estimated_*` keys;
    (None, {}) for a run that is not queued (nothing is estimated)."""
    from spark_trainer.jobs.queue_eta import estimate
    from spark_trainer.store.entities import RunStatus

    if run.status != RunStatus.QUEUED:
        return None, {}
    found = estimate(store)
    guess = next((e for e in found.queued if e.run_id == run.id), None)
    return starts_text(guess, found), estimate_data(guess, found)
