"""A window over a night of runs with known times (`tests.jobs.queue_history.a_night`), its queue's end
estimated at a fixed time and on a clock the test moves: no sleeps."""

from __future__ import annotations

from datetime import timedelta

import pytest

from spark_trainer.jobs import queue_eta
from spark_trainer.store import runs, settings
from spark_trainer.store.entities import utcnow
from tests.jobs.queue_history import NOW, Clock, a_night


class Estimates:
    """`queue_eta.estimate` at NOW, counted."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls = 0
        real = queue_eta.estimate

        def counted(store, **kwargs):  # noqa: ANN001, ANN202
            self.calls += 1
            return real(store, now=NOW, machine=[], **kwargs)

        monkeypatch.setattr(queue_eta, "estimate", counted)


def night(store, monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """`a_night` with one slot: run a ends at NOW + 1040 s, b at NOW + 1150 s, c is not counted. The
    store's clock is the real one again afterwards, so the poller reads what the test writes next."""
    ids = a_night(store, Clock(monkeypatch))
    monkeypatch.setattr(runs, "utcnow", utcnow)
    settings.set_value(store, "max_concurrent_runs", 1)
    return ids


def at(seconds: float, *, held: bool = False) -> str:
    """NOW + `seconds` as the app says it: "about 22:19" on this computer's clock."""
    return queue_eta.about(queue_eta.when_text(NOW + timedelta(seconds=seconds),
                                               queue_eta.QueueEstimate(NOW, held, None)))


def estimated_window(store, qsettings, qtbot, monkeypatch: pytest.MonkeyPatch):  # noqa: ANN001, ANN201
    """`night`'s runs, estimated at NOW, and an app context whose first read has landed: (ids, ctx)."""
    from app.context import AppContext
    from tests.app.conftest import first_read_landed

    ids = night(store, monkeypatch)
    Estimates(monkeypatch)
    ctx = AppContext(store, qsettings, poll_gpus=False)
    first_read_landed(qtbot, ctx)
    return ids, ctx
