"""Disk full / I/O error during a checkpoint (issue 14, item 2), for real: the worker runs under a
file-size limit (RLIMIT_FSIZE, SIGXFSZ ignored so writes fail with EFBIG instead of killing it).
The run fails with one message naming the file and the error, the previous checkpoint stays the latest complete
one, and the run resumes and completes once the limit is gone."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from spark_trainer.config import load_config
from spark_trainer.errors import DiskFull
from spark_trainer.jobs import control, process
from spark_trainer.jobs.scheduler import schedule_once
from spark_trainer.jobs.submit import submit_config
from spark_trainer.store import metrics, runs
from spark_trainer.store.entities import RunStatus
from spark_trainer.store.store import Store
from spark_trainer.training import diskspace
from spark_trainer.training.checkpoints import latest_checkpoint
from tests.jobs.conftest import finished, wait_until

resource = pytest.importorskip("resource")
LIMIT = 1_500_000  # above the weights file (~1.2 MB), below the optimizer state (~2.4 MB)


@pytest.fixture(scope="module")
def wide_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from spark_trainer.models.tiny import create_tiny_causal_lm

    return create_tiny_causal_lm(tmp_path_factory.mktemp("models") / "wide", vocab_size=1000, hidden_size=128,
                                 num_layers=1, num_heads=2)


def _limited_worker(run_id: int, run_dir: Path, home: Path) -> subprocess.Popen:
    def limit() -> None:
        import signal

        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (LIMIT, LIMIT))

    env = {**os.environ, "SPARK_TRAINER_HOME": str(home), "PYTHONUNBUFFERED": "1", "CUDA_VISIBLE_DEVICES": ""}
    with open(run_dir / process.LOG_NAME, "ab") as log:
        return subprocess.Popen([sys.executable, "-m", "spark_trainer", "worker", str(run_id)], stdout=log,
                                stderr=subprocess.STDOUT, env=env, cwd=str(run_dir), preexec_fn=limit)


def test_checkpoint_hitting_a_file_size_limit_fails_cleanly_and_resumes(store: Store, run_file, wide_model) -> None:
    # 20 steps: paused once its first checkpoint is seen, it must not have finished meanwhile (with 6,
    # the rest took about 0.4 s, a thin margin on a busy machine).
    path = run_file("df", steps=20, ckpt_every=2)
    spec = yaml.safe_load(path.read_text())
    spec["base_model"] = str(wide_model)
    spec["recipe_config"] = {"method": "full"}
    path.write_text(yaml.safe_dump(spec))
    run = submit_config(store, load_config(path), base_dir=path.parent).run
    run_dir = Path(run.run_dir)
    schedule_once(store, machine=[])
    wait_until(store, run.id, lambda r: latest_checkpoint(run_dir) is not None, timeout_s=180)
    paused = control.pause(store, run.id, grace_s=60)
    assert paused.status == RunStatus.PAUSED
    kept = latest_checkpoint(run_dir)
    kept_files = {p.name: p.stat().st_size for p in kept.iterdir()}
    assert max(kept_files.values()) > LIMIT  # so the next checkpoint cannot be written under the limit

    control.resume(store, run.id)
    db = sqlite3.connect(store.home.db_path)
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # the database's own files stay far below the limit
    db.close()
    claimed = runs.claim(store, lambda queued, _active: [(run.id, [], "disk-full test")])
    assert [r.id for r in claimed] == [run.id]
    worker = _limited_worker(run.id, run_dir, store.home.root)
    runs.update(store, run.id, pid=worker.pid)
    assert worker.wait(timeout=300) == 1
    failed = runs.get(store, run.id)
    assert failed.status == RunStatus.FAILED, process.log_tail(run_dir)
    # safetensors says EFBIG in words ("File too large (os error 27)"): it read "I/O error writing ...", then
    # named the kept checkpoint twice and said to free some space, which lifts no file-size limit.
    assert failed.error.startswith("could not write ") and "trainable.safetensors" in failed.error, failed.error
    assert failed.error.endswith(f": the file size limit ({LIMIT} bytes, `ulimit -f`) was reached; the last complete "
                                 f"checkpoint is still {kept.name}. Raise the file size limit (`ulimit -f`) of the "
                                 "shell or service that starts SparkTrainer, then resume the run"), failed.error
    assert latest_checkpoint(run_dir) == kept
    assert {p.name: p.stat().st_size for p in kept.iterdir()} == kept_files
    assert not list((run_dir / "checkpoints").glob(".staging-*"))

    control.resume(store, run.id)
    schedule_once(store, machine=[])
    done = wait_until(store, run.id, finished, timeout_s=300, reconcile_too=True)
    assert done.status == RunStatus.COMPLETED and done.step == 20, done.error
    assert sorted(m.step for m in metrics.read(store, run.id, keys=["loss"])) == list(range(1, 21))


def test_free_space_is_checked_before_writing(tmp_path: Path) -> None:
    free = diskspace.free_bytes(tmp_path)
    with pytest.raises(DiskFull, match=rf"disk full at {tmp_path}: .* free, the checkpoint needs about"):
        diskspace.check_free(tmp_path, free * 2)
    diskspace.check_free(tmp_path, 1024)
