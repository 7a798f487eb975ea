"""A queued run's estimated start in `run list` as `queue show` gives it: `run list` said why a queued run
waits but not when it should start, which `queue show` and the app both say."""

from __future__ import annotations

import pytest

from spark_trainer.store import queue_hold, settings


@pytest.fixture
def night(store, monkeypatch, new_york) -> dict[str, int]:
    """`a_night` estimated at NOW (22:00 UTC, 17:00 in New York) with one slot and no GPUs."""
    from spark_trainer.jobs import queue_eta, scheduler
    from tests.jobs.queue_history import NOW, Clock, a_night

    ids = a_night(store, Clock(monkeypatch))
    monkeypatch.setattr(queue_eta, "utcnow", lambda: NOW)
    monkeypatch.setattr(scheduler, "machine_gpus", lambda: [])
    settings.set_value(store, "max_concurrent_runs", 1)
    return ids


def _starts(out: str) -> dict[int, str]:
    """Run id -> its STARTS cell in `run list`'s table."""
    header, *rows = out.splitlines()
    begin, end = header.index("STARTS"), header.index("NOTE")
    return {int(row.split()[0]): row[begin:end].strip() for row in rows}


def test_run_list_says_when_each_queued_run_should_start_as_queue_show_does(store, cli, night) -> None:
    listed = cli("run", "list")
    assert listed.code == 0, listed.err
    starts = _starts(listed.out)
    assert [starts[night[name]] for name in ("a", "b", "c")] == ["about 17:10", "about 17:17", "about 17:19"]
    assert [starts[run_id] for run_id in starts if run_id not in (night["a"], night["b"], night["c"])] == ["", "", ""]
    table = cli("queue", "show").out.split("\n\n")[1].splitlines()
    column = table[0].index("STARTS")
    assert [" ".join(row[column:].split()[:2]) for row in table[1:]] == [starts[night[name]] for name in ("a", "b", "c")]

    keys = ("estimated_start", "estimated_start_in_s", "estimated_end", "estimated_end_in_s", "estimated_from")
    queue = {item["id"]: item for item in cli("--json", "queue", "show").json()["queued"]}
    runs = {item["id"]: item for item in cli("--json", "run", "list").json()}
    for run_id, item in queue.items():  # the same keys, in UTC, as queue show's
        assert {k: runs[run_id][k] for k in keys} == {k: item[k] for k in keys}
    assert runs[night["a"]]["estimated_start"] == "2026-01-05T22:10:00+00:00"
    assert "estimated_start" not in runs[night["active"]]  # not queued: no estimated start

    queue_hold.hold(store)
    held = cli("run", "list")
    assert _starts(held.out)[night["a"]] == "about 10 min after release"
    first = next(item for item in cli("--json", "run", "list").json() if item["id"] == night["a"])
    assert (first["estimated_start"], first["estimated_start_in_s"]) == (None, 600)


def test_with_no_queued_run_listed_nothing_is_estimated(store, cli, night, monkeypatch) -> None:
    from spark_trainer.jobs import queue_eta

    monkeypatch.setattr(queue_eta, "estimate", lambda *_a, **_k: pytest.fail("estimated with nothing queued"))
    listed = cli("run", "list", "--status", "completed")
    assert listed.code == 0, listed.err
    assert "STARTS" not in listed.out.splitlines()[0]
    assert all("estimated_start" not in item for item in cli("--json", "run", "list", "--status", "running").json())



def test_run_show_says_when_a_queued_run_should_start(store, cli, night) -> None:
    shown = cli("run", "show", str(night["b"]))
    assert shown.code == 0, shown.err
    assert [line.split(None, 1)[1] for line in shown.out.splitlines() if line.startswith("starts ")] == ["about 17:17"]
    data = cli("--json", "run", "show", str(night["b"])).json()
    queued = next(item for item in cli("--json", "queue", "show").json()["queued"] if item["id"] == night["b"])
    assert data["estimated_start"] == queued["estimated_start"] == "2026-01-05T22:17:20+00:00"
    active = cli("run", "show", str(night["active"]))
    assert "\nstarts " not in active.out and "estimated_start" not in cli("--json", "run", "show",
                                                                         str(night["active"])).json()
