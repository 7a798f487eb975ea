"""Disk full on a real, small filesystem (issue 14, item 2): a tmpfs mounted over a run's
checkpoints folder. Needs root (or CAP_SYS_ADMIN) to mount; skipped where that is not allowed.

1. The free-space check before a checkpoint refuses on the real numbers: the run fails with
   "disk full at <checkpoints>: N MiB free, the checkpoint needs about M MiB", step 2 stays intact.
2. With that check switched off in the worker (so the write itself meets the full disk), the
   write fails with ENOSPC: the run fails with "disk full at ...; the last complete checkpoint is
   still step-00000002", no staging folder is left, the kept checkpoint is byte for byte intact.
3. Once there is room again, the run resumes and completes with every metric step once.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from spark_trainer.config import load_config
from spark_trainer.jobs import control, process
from spark_trainer.jobs.scheduler import schedule_once
from spark_trainer.jobs.submit import submit_config
from spark_trainer.store import metrics
from spark_trainer.store.entities import RunStatus
from spark_trainer.store.store import Store
from spark_trainer.training import diskspace
from spark_trainer.training.checkpoints import latest_checkpoint
from tests.jobs.conftest import finished, wait_until
from tests.tmpfs import tmpfs  # noqa: F401 - the fixture

pytestmark = [pytest.mark.slow, pytest.mark.skipif(not sys.platform.startswith("linux"), reason="tmpfs is Linux")]
MiB = 2**20
NO_CHECK = "from spark_trainer.training import diskspace\ndiskspace.check_free = lambda *args, **kwargs: None\n"


def _resize(path: Path, size: int) -> None:
    subprocess.run(["mount", "-o", f"remount,size={size}", str(path)], check=True)


def _exited(run) -> None:
    """Wait for the run's worker to exit: after recording the failure it drains the queue, and a run
    resumed before that would be started by it, with its environment (not the test's next one)."""
    deadline = time.monotonic() + 60
    while process.is_alive(run.pid, run.pid_start_time):
        assert time.monotonic() < deadline, f"worker {run.pid} still running"
        time.sleep(0.1)


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in folder.iterdir()}


def test_a_full_filesystem_fails_the_checkpoint_cleanly_and_the_run_resumes(
        store: Store, run_file, tmpfs, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811

    path = run_file("tmpfs", steps=6, ckpt_every=2)
    spec = yaml.safe_load(path.read_text())
    from spark_trainer.models.tiny import create_tiny_causal_lm

    spec["base_model"] = str(create_tiny_causal_lm(tmp_path / "wide", vocab_size=1000, hidden_size=128,
                                                   num_layers=1, num_heads=2))
    spec["recipe_config"] = {"method": "full"}
    spec["checkpoint"]["keep"] = 3
    path.write_text(yaml.safe_dump(spec))
    run = submit_config(store, load_config(path), base_dir=path.parent).run
    run_dir = Path(run.run_dir)
    ckpts = run_dir / "checkpoints"
    # Room for the first checkpoint (the check asks for the 16 MiB margin when there is none yet)
    # but not for the second (its size plus the margin).
    tmpfs(ckpts, diskspace.MARGIN_BYTES + MiB)

    schedule_once(store, machine=[])
    failed = wait_until(store, run.id, finished, timeout_s=300)
    log = process.log_tail(run_dir, 40)
    assert failed.status == RunStatus.FAILED, log
    assert failed.error.startswith(f"disk full at {ckpts}: ") and "Free some space, then resume the run" in \
        failed.error, failed.error
    kept = latest_checkpoint(run_dir)
    assert kept is not None and kept.name == "step-00000002", log
    kept_files = _snapshot(kept)
    size = sum(len(b) for b in kept_files.values())
    assert 2 * MiB < size < 5 * MiB, size  # the sizes below rely on it
    _exited(failed)

    # 2: the write itself meets the full disk (the worker's pre-check switched off).
    inject = tmp_path / "inject"
    inject.mkdir()
    (inject / "sitecustomize.py").write_text(NO_CHECK)
    monkeypatch.setenv("PYTHONPATH", f"{inject}:{Path(__file__).resolve().parents[2]}")
    _resize(ckpts, size + size // 2)
    control.resume(store, run.id)
    schedule_once(store, machine=[])
    failed = wait_until(store, run.id, finished, timeout_s=300)
    log = process.log_tail(run_dir, 40)
    assert failed.status == RunStatus.FAILED, log
    assert failed.error.startswith(f"disk full at {ckpts / '.staging-step-00000004'}: "), failed.error
    assert "the last complete checkpoint is still step-00000002. Free some space, then resume the run" in \
        failed.error, failed.error
    assert latest_checkpoint(run_dir) == kept and _snapshot(kept) == kept_files
    assert not list(ckpts.glob(".staging-*"))
    _exited(failed)

    # 3: room again; the run resumes from step 2 and completes.
    monkeypatch.setenv("PYTHONPATH", str(Path(__file__).resolve().parents[2]))
    _resize(ckpts, 64 * MiB)
    control.resume(store, run.id)
    schedule_once(store, machine=[])
    done = wait_until(store, run.id, finished, timeout_s=300, reconcile_too=True)
    assert done.status == RunStatus.COMPLETED and done.step == 6, done.error
    assert sorted(m.step for m in metrics.read(store, run.id, keys=["loss"])) == [1, 2, 3, 4, 5, 6]
