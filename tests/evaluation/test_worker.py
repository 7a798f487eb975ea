"""The evaluation worker's last step: an evaluation's metrics, artifact and status are one write."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from spark_trainer.evaluation.worker import _record
from spark_trainer.store import artifacts, evaluations, experiments, metrics, projects, runs


def test_metrics_artifact_and_status_land_together_or_not_at_all(store) -> None:
    """They were three transactions: a worker killed (or failing) after the first left metrics and an
    artifact on the run for an evaluation that then showed failed. A real SQLite trigger makes the
    status write fail, as a kill at that moment would leave it unwritten."""
    projects.create(store, "p")
    exp = experiments.create(store, project="p", name="e", recipe="causal-lm", base_model="m", dataset=None, config={})
    run = runs.create(store, exp.id, requested_gpus="cpu")
    ev = evaluations.create(store, run.id, task="perplexity", data_path="held.jsonl", base=False,
                            checkpoint="last", gpus=[])
    result = {"metrics": {"perplexity": 3.5, "loss": 1.25}}
    with sqlite3.connect(store.home.db_path) as db:
        db.execute("CREATE TRIGGER no_completion BEFORE UPDATE ON evaluations WHEN NEW.status = 'completed' "
                   "BEGIN SELECT RAISE(ABORT, 'the worker was killed here'); END")
    with pytest.raises(Exception, match="killed here"):
        _record(store, ev, Path(run.run_dir), result, 7)
    assert metrics.series(store, run.id) == {}
    assert artifacts.list_for(store, run.id, "evaluation") == []
    assert evaluations.get(store, ev.id).status == "queued"

    with sqlite3.connect(store.home.db_path) as db:
        db.execute("DROP TRIGGER no_completion")
    _record(store, ev, Path(run.run_dir), result, 7)
    assert sorted(metrics.series(store, run.id)) == ["evals/perplexity", "evals/perplexity_loss"]
    assert [a.meta["evaluation"] for a in artifacts.list_for(store, run.id, "evaluation")] == [ev.id]
    assert evaluations.get(store, ev.id).status == "completed"


# An evaluation worker's stop handling as `main` sets it up, then waiting for a stop as between items.
STOPPABLE = """
import sys
from pathlib import Path
from spark_trainer.evaluation.worker import stop_event
stop = stop_event(Path(sys.argv[1]), int(sys.argv[2]))
print("ready", flush=True)
sys.exit(0 if stop.wait(120) else 3)
"""


def test_an_evaluation_is_cancelled_by_its_stop_file_alone(store, windows_like) -> None:
    """Where there is no SIGTERM (Windows, simulated: see tests/conftest.py) the worker stops by
    its stop file within the grace period: never killed, never signalled."""
    import subprocess
    import sys

    from spark_trainer.evaluation import jobs
    from spark_trainer.evaluation.worker import stop_path
    from spark_trainer.jobs import process

    projects.create(store, "p")
    exp = experiments.create(store, project="p", name="e", recipe="causal-lm", base_model="m", dataset=None, config={})
    run = runs.create(store, exp.id, requested_gpus="cpu")
    ev = evaluations.create(store, run.id, task="perplexity", data_path="held.jsonl", base=False,
                            checkpoint="last", gpus=[])
    worker = subprocess.Popen([sys.executable, "-c", STOPPABLE, run.run_dir, str(ev.id)], stdout=subprocess.PIPE,
                              text=True)
    try:
        assert worker.stdout.readline().strip() == "ready"
        me = process.identity(worker.pid)
        evaluations.update(store, ev.id, status="running", pid=me.pid, pid_start_time=me.start_time)
        ended = jobs.cancel(store, ev.id, grace_s=60)
        assert worker.wait() == 0  # it saw the file: not killed (-9) after the grace, not timed out (3)
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
    assert ended.status == "cancelled"
    assert windows_like.sent == []
    assert not stop_path(Path(run.run_dir), ev.id).exists()  # the request is not left behind
