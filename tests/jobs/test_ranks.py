"""A distributed run's rank processes (spark_trainer/jobs/ranks.py), with two real ranks on the CPU."""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml

from spark_trainer.config import load_config
from spark_trainer.jobs.scheduler import schedule_once
from spark_trainer.jobs.submit import submit_config
from spark_trainer.store import runs
from spark_trainer.store.entities import RunStatus
from spark_trainer.store.store import Store
from tests.jobs.conftest import finished, wait_until


def test_a_users_error_in_the_ranks_fails_the_run_with_its_one_line(store: Store, run_file, tmp_path: Path) -> None:
    """A user's error (the base model deleted since the submit) failed a distributed run as "a rank
    process failed", its error "rank exit codes [2, 2]" and a log tail; a one-process run says the
    error itself ("training failed: base_model: ... does not exist"), and so does this one now."""
    path = run_file(name="ddp-gone", steps=4, ckpt_every=4, gpus="cpu:2")
    data = yaml.safe_load(path.read_text())
    model = shutil.copytree(data["base_model"], tmp_path / "moved-model")
    path.write_text(yaml.safe_dump({**data, "base_model": str(model)}))
    run = submit_config(store, load_config(path), base_dir=path.parent).run
    shutil.rmtree(model)
    assert schedule_once(store) == [run.id]

    done = wait_until(store, run.id, finished, timeout_s=180)
    line = f"base_model: {model} does not exist"
    assert done.status == RunStatus.FAILED and done.error == line
    assert runs.events(store, run.id)[-1].reason == f"training failed: {line}"
    log = Path(done.run_dir, "worker.log").read_text()
    assert line in log and "Traceback" not in log
