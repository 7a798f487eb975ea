"""Multi-process out of memory: one rank's OOM never leaves the others waiting (issue 14, item 5).

Two real rank processes (gloo on the CPU). Rank 1 alone runs out of memory at micro-batch 4: a
simulated torch.cuda.OutOfMemoryError inside its real training step, installed through a
`sitecustomize` module that only the rank processes pick up (PYTHONPATH), since the ranks are
separate interpreters that no monkeypatch in this process reaches.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from spark_trainer.config import load_config
from spark_trainer.jobs.scheduler import schedule_once
from spark_trainer.jobs.submit import frozen_config, submit_config
from spark_trainer.store import metrics, runs
from spark_trainer.store.entities import RunStatus
from spark_trainer.store.store import Store
from tests.jobs.conftest import finished, wait_until

INJECT = '''
import os

if os.environ.get("RANK") is not None and os.environ.get("RANK") == os.environ.get("SPARK_TEST_OOM_RANK"):
    import torch

    from spark_trainer.training import engine, steps

    limit = int(os.environ["SPARK_TEST_OOM_ABOVE"])
    real = engine._guarded_step

    def guarded(t, **step_args):
        if t.batch_size <= limit:
            return real(t, **step_args)

        def out_of_memory(**_):
            raise torch.cuda.OutOfMemoryError("CUDA out of memory (injected on rank %s)" % os.environ["RANK"])

        saved, steps.launch_step = steps.launch_step, out_of_memory
        try:
            return real(t, **step_args)
        finally:
            steps.launch_step = saved

    engine._guarded_step = guarded
    print(f"test: out-of-memory injection armed on rank {os.environ['RANK']} above micro-batch {limit}", flush=True)
'''


@pytest.fixture
def oom_on_rank_1(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    inject = tmp_path / "inject"
    inject.mkdir()
    (inject / "sitecustomize.py").write_text(INJECT)
    repo = Path(__file__).resolve().parents[2]
    monkeypatch.setenv("PYTHONPATH", f"{inject}:{repo}")
    monkeypatch.setenv("SPARK_TEST_OOM_RANK", "1")
    monkeypatch.setenv("SPARK_TEST_OOM_ABOVE", "2")


def _start(store: Store, run_file, **train) -> int:
    path = run_file(name="ddp-oom", steps=6, ckpt_every=3, gpus="cpu:2", batch_size=4, **train)
    run = submit_config(store, load_config(path), base_dir=path.parent).run
    schedule_once(store)
    return run.id


@pytest.mark.slow
def test_one_ranks_oom_restarts_every_rank_with_the_halved_batch(store: Store, run_file, oom_on_rank_1) -> None:
    run_id = _start(store, run_file, auto_batch=True)
    done = wait_until(store, run_id, finished, timeout_s=420)
    log = (Path(done.run_dir) / "worker.log").read_text()
    assert done.status == RunStatus.COMPLETED, log
    assert "injection armed on rank 1" in log, log[-3000:]
    assert "rank 1: the GPU ran out of memory with train.batch_size 4" in log, log[-3000:]
    assert "rank 0: the GPU ran out of memory" not in log  # rank 1 alone ran out
    assert "rank exit codes: [0, 0]" in log.split("retrying with micro-batch 2")[-1]
    notes = [e.reason for e in runs.events(store, run_id) if e.reason.startswith("out of memory")]
    assert notes == ["out of memory at micro-batch 4; retrying with micro-batch 2 and grad_accum 2 "
                     "(same effective batch)"]
    train = frozen_config(Path(done.run_dir)).train
    assert (train.batch_size, train.grad_accum) == (2, 2)
    assert [m.step for m in metrics.read(store, run_id, keys=["loss"])] == list(range(1, 7))
    assert not list(Path(done.run_dir).glob("oom-rank*.json"))


@pytest.mark.slow
def test_without_auto_batch_the_run_fails_and_no_rank_is_left_waiting(store: Store, run_file, oom_on_rank_1) -> None:
    run_id = _start(store, run_file)
    done = wait_until(store, run_id, finished, timeout_s=300)
    log = (Path(done.run_dir) / "worker.log").read_text()
    assert done.status == RunStatus.FAILED, log[-3000:]
    assert "rank 1: the GPU ran out of memory with train.batch_size 4" in log, log[-3000:]
    assert "micro-batch 4" in (done.error or "") and "train.auto_batch" in (done.error or "")
    assert frozen_config(Path(done.run_dir)).train.batch_size == 4  # nothing rewritten
