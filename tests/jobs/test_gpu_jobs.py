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


# The worker caps its allocations at SPARK_TRAINER_CUDA_MEMORY_FRACTION of the GPU: 160 MiB here, where
# a micro-batch of 512 rows of 512 tokens surely does not fit (its activations alone are several times
# that) and 64 rows surely do. A cap, unlike a tensor hogging the rest of the GPU, does not depend on
# how much memory the GPU has.
CAP_BYTES = 160 * 2**20


@pytest.fixture
def capped(monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    monkeypatch.setenv("SPARK_TRAINER_CUDA_MEMORY_FRACTION", f"{CAP_BYTES / torch.cuda.get_device_properties(0).total_memory:.6f}")


def test_auto_batch_halves_the_micro_batch_on_out_of_memory(store: Store, run_file, capped) -> None:
    path = run_file(steps=4, ckpt_every=100, gpus="0,", batch_size=512, seq_len=512, grad_accum=1, auto_batch=True)
    run = submit_config(store, load_config(path), base_dir=path.parent).run
    schedule_once(store, machine=[0])
    done = wait_until(store, run.id, finished, timeout_s=300)
    log = (Path(done.run_dir) / "worker.log").read_text()
    assert done.status == RunStatus.COMPLETED, log
    retries = [e.reason for e in runs.events(store, run.id) if "out of memory at micro-batch" in e.reason]
    assert retries and retries[0].startswith("out of memory at micro-batch 512; retrying with micro-batch 256")
    final = load_config(Path(done.run_dir) / "config.yaml").train
    assert final.batch_size < 512 and final.batch_size * final.grad_accum == 512
    peaks = [m.value for m in metrics.read(store, run.id, keys=["gpu_mem_gb"])]
    assert peaks and max(peaks) * 2**30 <= CAP_BYTES  # the cap held


def test_out_of_memory_without_auto_batch_fails_with_advice(store: Store, run_file, capped) -> None:
    path = run_file(name="oom", steps=2, gpus="0,", batch_size=512, seq_len=512)
    run = submit_config(store, load_config(path), base_dir=path.parent).run
    schedule_once(store, machine=[0])
    done = wait_until(store, run.id, finished, timeout_s=300)
    assert done.status == RunStatus.FAILED
    assert "micro-batch 512" in done.error and "train.auto_batch" in done.error
