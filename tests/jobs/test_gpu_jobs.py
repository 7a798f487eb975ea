"""GPU paths (run on a machine with an NVIDIA GPU): placement with CUDA_VISIBLE_DEVICES, and the
out-of-memory retry of `train.auto_batch`."""

from __future__ import annotations

from pathlib import Path

import pytest

from spark_trainer.config import load_config
from spark_trainer.jobs.scheduler import machine_gpus, schedule_once
from spark_trainer.jobs.submit import submit_config
from spark_trainer.store import metrics, runs
from spark_trainer.store.entities import RunStatus
from spark_trainer.store.store import Store
from tests.jobs.conftest import finished, wait_until

pytestmark = pytest.mark.gpu


@pytest.fixture(autouse=True)
def _needs_gpu() -> None:
    if not machine_gpus():
        pytest.skip("no NVIDIA GPU")


def test_auto_run_is_placed_on_a_gpu_and_trains_there(store: Store, run_file) -> None:
    path = run_file(steps=20, ckpt_every=10, gpus="auto")
    run = submit_config(store, load_config(path), base_dir=path.parent).run
    assert schedule_once(store) == [run.id]
    done = wait_until(store, run.id, finished, timeout_s=300)
    log = (Path(done.run_dir) / "worker.log").read_text()
    assert done.status == RunStatus.COMPLETED, log
    assert done.gpus == [machine_gpus()[0]]
    assert "cuda" in log
    assert metrics.read(store, run.id, keys=["gpu_mem_gb"])


def test_auto_batch_halves_the_micro_batch_on_out_of_memory(store: Store, run_file) -> None:
    import torch

    # Leave about 1.5 GiB free on the GPU, so a micro-batch of 512 rows of 512 tokens cannot fit
    # but a small one can.
    free, _total = torch.cuda.mem_get_info(0)
    hog = torch.empty(max(0, free - int(1.5 * 2**30)), dtype=torch.uint8, device="cuda:0")
    try:
        path = run_file(steps=4, ckpt_every=100, gpus="0,", batch_size=512, seq_len=512, grad_accum=1,
                        auto_batch=True)
        run = submit_config(store, load_config(path), base_dir=path.parent).run
        schedule_once(store, machine=[0])
        done = wait_until(store, run.id, finished, timeout_s=300)
    finally:
        del hog
        torch.cuda.empty_cache()
    log = (Path(done.run_dir) / "worker.log").read_text()
    assert done.status == RunStatus.COMPLETED, log
    retries = [e.reason for e in runs.events(store, run.id) if "out of memory at micro-batch" in e.reason]
    assert retries and retries[0].startswith("out of memory at micro-batch 512; retrying with micro-batch 256")
    final = load_config(Path(done.run_dir) / "config.yaml").train
    assert final.batch_size < 512 and final.batch_size * final.grad_accum == 512


def test_out_of_memory_without_auto_batch_fails_with_advice(store: Store, run_file) -> None:
    import torch

    free, _total = torch.cuda.mem_get_info(0)
    hog = torch.empty(max(0, free - int(1.5 * 2**30)), dtype=torch.uint8, device="cuda:0")
    try:
        path = run_file(name="oom", steps=2, gpus="0,", batch_size=512, seq_len=512)
        run = submit_config(store, load_config(path), base_dir=path.parent).run
        schedule_once(store, machine=[0])
        done = wait_until(store, run.id, finished, timeout_s=300)
    finally:
        del hog
        torch.cuda.empty_cache()
    assert done.status == RunStatus.FAILED
    assert "micro-batch 512" in done.error and "train.auto_batch" in done.error
