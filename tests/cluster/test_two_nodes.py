"""A two-node torchrun job simulated on this machine: both "nodes" run the generated launch.sh (CPU,
gloo); the imported run matches a single-process run of the same global batch; a job killed
mid-run imports as interrupted and resumes here. Slow (several real process trees): `make test-slow`
or `pytest -m slow tests/cluster`.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from spark_trainer.store import metrics, runs
from spark_trainer.store.entities import RunStatus
from spark_trainer.store.store import Store

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start_nodes(folder: Path, nodes: int = 2) -> list[subprocess.Popen]:
    port = str(_free_port())
    procs = []
    for node in range(nodes):
        env = {**os.environ, "NODE_RANK": str(node), "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": port,
               "SPARK_TRAINER_PYTHON": sys.executable, "PYTHONUNBUFFERED": "1"}
        procs.append(subprocess.Popen(["bash", "launch.sh"], cwd=folder, env=env, stdout=subprocess.DEVNULL,
                                      stderr=subprocess.DEVNULL, start_new_session=True))
    return procs


def _kill_tree(proc: subprocess.Popen) -> None:
    """SIGKILL a node and everything under it (torchrun may start its workers in their own sessions)."""
    try:
        family = [psutil.Process(proc.pid), *psutil.Process(proc.pid).children(recursive=True)]
    except psutil.NoSuchProcess:
        family = []
    for member in family:
        try:
            member.send_signal(signal.SIGKILL)
        except psutil.NoSuchProcess:
            pass
    proc.wait(timeout=30)
    psutil.wait_procs(family, timeout=30)  # SIGKILL is delivered, not yet done, when kill() returns


def _losses(store: Store, run_id: int) -> list[tuple[int, float]]:
    return sorted((m.step, m.value) for m in metrics.read(store, run_id, keys=["loss"]))


def test_two_node_torchrun_job_trains_and_imports_like_one_process(job, cli, store: Store, run_yaml,
                                                                   tiny_model: Path) -> None:
    folder = job("torchrun", 2, 1, name="two-nodes", model=tiny_model, steps=6, ckpt_every=3, batch_size=2)
    procs = _start_nodes(folder)
    try:
        codes = [p.wait(timeout=480) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                _kill_tree(p)
    log = (folder / "run" / "logs" / "node-0.log").read_text()
    assert codes == [0, 0], log
    assert "x2" in log  # the engine saw two processes
    assert json.loads((folder / "run" / "status.json").read_text())["status"] == "completed"

    imported = cli("--json", "run", "import", folder)
    assert imported.code == 0, imported.err
    run = runs.get(store, imported.json()["run"]["id"])
    assert (run.status, run.step, run.ran_on) == (RunStatus.COMPLETED, 6, "torchrun 2x1")
    assert (Path(run.run_dir) / "final").is_dir() and (Path(run.run_dir) / "checkpoints" / "step-00000006").is_dir()

    # The same config on one process with the same global batch (2 ranks x 2 = 4).
    single = cli("train", run_yaml("one-process", model=tiny_model, steps=6, ckpt_every=3, batch_size=4), "--wait")
    assert single.code == 0, single.err
    baseline = next(r for r in runs.list_all(store) if r.experiment == "one-process")
    assert baseline.ran_on == "local"
    ours, theirs = _losses(store, run.id), _losses(store, baseline.id)
    assert [s for s, _ in ours] == [s for s, _ in theirs] == list(range(1, 7))
    assert [v for _, v in ours] == pytest.approx([v for _, v in theirs], rel=1e-4, abs=1e-5)
    final_eval = [m.value for m in metrics.read(store, run.id, keys=["eval_loss"])]
    base_eval = [m.value for m in metrics.read(store, baseline.id, keys=["eval_loss"])]
    assert final_eval == pytest.approx(base_eval, rel=1e-4)


def test_a_job_killed_mid_run_imports_interrupted_and_resumes_here(job, cli, store: Store, tiny_model: Path) -> None:
    folder = job("torchrun", 2, 1, name="killed", model=tiny_model, steps=30, ckpt_every=2, batch_size=2)
    procs = _start_nodes(folder)
    status_file = folder / "run" / "status.json"
    try:
        deadline = time.monotonic() + 480
        while True:
            status = json.loads(status_file.read_text()) if status_file.exists() else {}
            if status.get("step", 0) >= 5 and list((folder / "run" / "checkpoints").glob("step-*")):
                break
            assert status.get("status") in (None, "starting", "running"), status
            assert time.monotonic() < deadline, "the job did not get going"
            time.sleep(0.05)
    finally:
        for p in procs:
            _kill_tree(p)
    imported = cli("--json", "run", "import", folder)
    assert imported.code == 0, imported.err
    run = runs.get(store, imported.json()["run"]["id"])
    assert run.status == RunStatus.INTERRUPTED and "killed" in run.error
    assert 5 <= run.step < 30

    resumed = cli("run", "resume", run.id, "--wait")
    assert resumed.code == 0, resumed.err + (Path(run.run_dir) / "worker.log").read_text()[-3000:]
    done = runs.get(store, run.id)
    assert (done.status, done.step) == (RunStatus.COMPLETED, 30)
    assert [s for s, _ in _losses(store, run.id)] == list(range(1, 31))  # each step once, none lost
    assert "resuming from step-" in (Path(run.run_dir) / "worker.log").read_text()
