"""The queue hold: while the queue is held no scheduler starts a queued run; running runs go on.

A person queues a night's work in the order they choose and only then lets it start (`queue hold`,
several `train`s, `queue release`; the app's Runs view has the same switch). Without it the first
`train` starts at once whatever its priority, as nothing else is running. The hold is a row of the
settings table, so every scheduler sees it: the app's poller, `queue serve`, a `--wait` command, a
worker or keeper that just ended. It is not a preference and `settings` does not list it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from spark_trainer.store.entities import utcnow
from spark_trainer.store.models import SettingRow
from spark_trainer.store.store import Store

KEY = "queue_held_since"

# A held run's waiting reason, after "queued: " in `run show` and the app; `short_reason` cuts at " (".
REASON = "queue is held (it starts once the queue is released: `spark-trainer queue release` or the app's Runs view)"


def held_since(store: Store) -> datetime | None:
    """When the queue was held (naive UTC, as stored), or None while it is not."""
    with store.read() as session:
        row = session.get(SettingRow, KEY)
        if row is None or not row.value:
            return None
        try:
            return datetime.fromisoformat(str(row.value))
        except ValueError:  # a hand-edited row still holds: the person meant something by it
            return row.updated_at


def held_in(session: Session) -> bool:
    """The queue is held, read in a transaction of the caller's: `runs.claim` reads it inside its own, so
    a hold that lands after a scheduler's first look still stops that scheduler's claim."""
    row = session.get(SettingRow, KEY)
    return row is not None and bool(row.value)


def hold(store: Store) -> bool:
    """Hold the queue; False when it was held already (its time kept)."""
    with store.write() as session:
        row = session.get(SettingRow, KEY)
        if row is not None and row.value:
            return False
        now = utcnow()
        if row is None:
            session.add(SettingRow(key=KEY, value=now.isoformat(), updated_at=now))
        else:
            row.value, row.updated_at = now.isoformat(), now
        return True


def release(store: Store) -> bool:
    """Release the queue; False when it was not held."""
    with store.write() as session:
        row = session.get(SettingRow, KEY)
        if row is None or not row.value:
            return False
        session.delete(row)
        return True
