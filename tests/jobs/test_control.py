"""Stopping a run (spark_trainer/jobs/control.py) while its worker writes the checkpoint it stops with:
a full fine-tune's checkpoint takes longer than the grace period, and killing the worker mid-write
lost every step since the checkpoint before."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from spark_trainer.config import load_config
from spark_trainer.jobs import control, process
from spark_trainer.jobs.scheduler import make_picker, schedule_once
from spark_trainer.jobs.submit import submit_config
from spark_trainer.store import runs, settings
from spark_trainer.store.entities import Run, RunStatus
from spark_trainer.store.store import Store
from tests.jobs.conftest import finished, wait_until

# A worker that ignores SIGTERM and saves: it writes a staging folder a chunk at a time (for
# `chunks` x 0.2 s), then publishes it as step-00000010 and exits, or with "stall" stops writing
# and hangs, or with "die" is killed (-9) before publishing; with chunks -1 it writes nothing (busy elsewhere).
# With a delay it first finishes its step in flight for that many seconds.
SAVING = """
import os, signal, sys, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
folder, chunks, then, delay = sys.argv[1], int(sys.argv[2]), sys.argv[3], float(sys.argv[4])
if chunks < 0:
    print("saving", flush=True)
    time.sleep(120)
if delay:
    print("saving", flush=True)
    time.sleep(delay)
staging = os.path.join(folder, ".staging-step-00000010")
os.makedirs(staging)
if not delay:
    print("saving", flush=True)
with open(os.path.join(staging, "optimizer.pt"), "wb") as f:
    for _ in range(chunks):
        f.write(b"x" * 4096)
        f.flush()
        time.sleep(0.2)
if then == "stall":
    time.sleep(120)
if then == "die":
    os.kill(os.getpid(), signal.SIGKILL)
os.replace(staging, os.path.join(folder, "step-00000010"))
"""


def _saving_worker(store: Store, experiment, chunks: int, then: str = "publish",
                   stale: bool = False, delay: float = 0.0) -> tuple[Run, subprocess.Popen, Path]:
    run = runs.create(store, experiment.id, requested_gpus="cpu")
    runs.claim(store, make_picker([], 4, False))
    run = runs.transition(store, run.id, RunStatus.RUNNING, "test worker started")
    folder = Path(run.run_dir) / "checkpoints"
    folder.mkdir(parents=True, exist_ok=True)  # a test may have put a complete checkpoint there
    if stale:  # left by a worker killed in the middle of a save, long ago
        (folder / ".staging-step-00000004").mkdir()
        (folder / ".staging-step-00000004" / "optimizer.pt").write_bytes(b"x" * 4096)
    worker = subprocess.Popen([sys.executable, "-c", SAVING, str(folder), str(chunks), then, str(delay)], stdout=subprocess.PIPE,
                              text=True, start_new_session=True)
    assert worker.stdout.readline().strip() == "saving"
    me = process.identity(worker.pid)
    runs.update(store, run.id, pid=me.pid, pid_start_time=me.start_time)
    return run, worker, folder


def test_a_pause_waits_past_the_grace_period_for_a_checkpoint_still_being_written(store: Store, experiment) -> None:
    # 6 s of writing: with 3 s, a loaded fresh-clone suite once reached the pause after the save was nearly
    # done, so nothing waited past the grace period.
    run, worker, folder = _saving_worker(store, experiment, chunks=30)
    try:
        paused = control.pause(store, run.id, grace_s=0.5)
        assert paused.status == RunStatus.PAUSED
        saved = folder / "step-00000010" / "optimizer.pt"
        assert saved.stat().st_size == 30 * 4096  # published whole: the worker was not killed mid-write
        reason = runs.events(store, run.id)[-1].reason
        assert reason.startswith("pause requested; worker stopped (its checkpoint took ")
        assert "past the 0.5 s grace period" in reason
    finally:
        worker.kill()
        worker.wait()


def test_a_save_that_stops_progressing_is_killed_after_the_quiet_period(store: Store, experiment) -> None:
    settings.set_value(store, "heartbeat_timeout_seconds", 1)
    run, worker, folder = _saving_worker(store, experiment, chunks=10, then="stall")  # grows for 2 s, then hangs
    try:
        cancelled = control.cancel(store, run.id, grace_s=0.5)
        assert cancelled.status == RunStatus.CANCELLED
        assert not process.is_alive(worker.pid, None) or worker.poll() is not None
        assert runs.events(store, run.id)[-1].reason == ("cancel requested; worker killed after the 0.5 s grace period "
                                                         "and its checkpoint save; no checkpoint: a resume starts from "
                                                         "step 0")
        assert not (folder / "step-00000010").exists()
    finally:
        worker.kill()
        worker.wait()


def test_a_worker_not_saving_is_killed_at_the_end_of_the_grace_period(store: Store, experiment) -> None:
    # Nothing being saved, only a staging folder a killed worker left long ago: the grace is all it gets.
    run, worker, _folder = _saving_worker(store, experiment, chunks=-1, stale=True)
    try:
        cancelled = control.cancel(store, run.id, grace_s=0.5)
        assert runs.events(store, cancelled.id)[-1].reason == ("cancel requested; worker killed after the 0.5 s grace "
                                                               "period; no checkpoint: a resume starts from step 0")
    finally:
        worker.kill()
        worker.wait()


def _steps_of(store: Store, run: Run, seconds: float, n: int = 4) -> None:
    """The run's per-step metric points: `n` steps `seconds` apart in the worker's spell."""
    import time

    from spark_trainer.store import metrics

    now = time.time()
    metrics.add_batch(store, run.id, [("lr", s, 1e-4, now + s * seconds) for s in range(1, n + 1)])


def test_a_stop_waits_for_the_step_in_flight_when_the_run_s_steps_outlast_the_grace_period(
        store: Store, experiment) -> None:
    # A worker saves once its step in flight is done: a run whose steps took longer than the grace period
    # was killed before it could save, losing every step since its last checkpoint.
    run, worker, folder = _saving_worker(store, experiment, chunks=2, delay=2.0)  # saves 2 s after the request
    _steps_of(store, run, 2.0)  # so it waits 0.5 s + 1.5 x 2 s
    try:
        paused = control.pause(store, run.id, grace_s=0.5)
        assert paused.status == RunStatus.PAUSED and (folder / "step-00000010" / "optimizer.pt").is_file()
        assert runs.events(store, run.id)[-1].reason.startswith("pause requested; worker stopped;")  # not killed
    finally:
        worker.kill()
        worker.wait()


def test_a_worker_that_never_saves_is_killed_after_the_step_wait_and_says_how_long_it_was(
        store: Store, experiment) -> None:
    run, worker, _folder = _saving_worker(store, experiment, chunks=-1)
    _steps_of(store, run, 1.0)
    try:
        cancelled = control.cancel(store, run.id, grace_s=0.5)
        assert runs.events(store, cancelled.id)[-1].reason == (
            "cancel requested; worker killed after the 2 s wait (0.5 s grace, 1.5 x its longest recent step of 1 s); "
            "no checkpoint: a resume starts from step 0"), \
            runs.events(store, cancelled.id)[-1].reason
    finally:
        worker.kill()
        worker.wait()


def test_a_worker_dead_while_saving_its_pause_checkpoint_is_not_said_to_have_paused_with_one(
        store: Store, experiment) -> None:
    """Seen: a worker killed -9 while it wrote its pause checkpoint at step 9 (only its staging folder
    left); `run pause` said "run 29 paused" and the event "pause requested; worker stopped", and the resume
    started from step 0 unsaid (fault walk, item 3)."""
    run, worker, folder = _saving_worker(store, experiment, chunks=5, then="die")
    runs.update(store, run.id, step=10)  # the worker reports its step before it saves
    try:
        paused, said = control.stop_saying(store, run.id, control.StopKind.PAUSE, grace_s=0.5)
    finally:
        worker.kill()
        worker.wait()
    assert [p.name for p in folder.iterdir()] == [".staging-step-00000010"]  # it died before publishing
    truth = "no checkpoint was saved at step 10, and none is complete: a resume starts from step 0"
    assert paused.status == RunStatus.PAUSED and said == truth and paused.error == truth
    reason = runs.events(store, run.id)[-1].reason
    assert reason.startswith("pause requested; worker stopped") and reason.endswith(f"; {truth}")


def test_a_worker_dead_while_saving_says_which_complete_checkpoint_a_resume_starts_from(
        store: Store, experiment) -> None:
    run = runs.create(store, experiment.id)
    folder = Path(run.run_dir, "checkpoints", "step-00000005")
    folder.mkdir(parents=True)
    (folder / "state.json").write_text("{}")
    assert control.resume_point(Path(run.run_dir), 10) == (
        "no checkpoint was saved at step 10: a resume starts from step 5, the last complete one", True)
    assert control.resume_point(Path(run.run_dir), 5) == (
        "its checkpoint at step 5 is complete: a resume continues from there", False)


@pytest.mark.parametrize("kind", [control.StopKind.PAUSE, control.StopKind.CANCEL])
def test_a_stop_that_kills_its_worker_after_the_grace_period_starts_the_next_queued_run(store: Store, run_file,
                                                                                        kind) -> None:
    """Seen: a pause whose worker did not stop within the grace period killed it and marked the run
    paused; that worker started nothing, its keeper found the run paused (not interrupted) and left the
    queue alone, and with no scheduler alive the next run stayed queued until the morning."""
    settings.set_value(store, "max_concurrent_runs", 1)
    long = run_file("long", steps=400, ckpt_every=400)
    short = run_file("short", steps=3, ckpt_every=3)
    first = submit_config(store, load_config(long), base_dir=long.parent).run
    second = submit_config(store, load_config(short), base_dir=short.parent).run
    assert schedule_once(store) == [first.id]  # the test's last scheduler pass
    running = wait_until(store, first.id, lambda r: r.status == RunStatus.RUNNING and r.step > 0 and r.pid is not None)

    # Frozen first, so it cannot begin its checkpoint in the instant before the grace is up: a worker seen
    # saving is waited for (the stop's rule), and one whole suite's worker saved and recorded itself.
    os.kill(running.pid, signal.SIGSTOP)
    stopped = control.stop(store, first.id, kind, grace_s=0)  # no time to save: killed
    assert stopped.status == (RunStatus.PAUSED if kind == control.StopKind.PAUSE else RunStatus.CANCELLED)
    assert runs.events(store, first.id)[-1].reason.startswith(f"{kind.value} requested; worker killed after the 0 s")
    wait_until(store, second.id, lambda r: r.status != RunStatus.QUEUED, timeout_s=20)
    assert wait_until(store, second.id, finished, timeout_s=180).status == RunStatus.COMPLETED


def test_cancelling_a_cancelled_run_spells_cancelled_as_everything_else_does(store: Store, experiment) -> None:
    """`run cancel` of a cancelled run said "can be canceled" (one l)."""
    import pytest

    from spark_trainer.errors import BadInput

    run = runs.create(store, experiment.id)
    runs.transition(store, run.id, RunStatus.CANCELLED, "test")
    with pytest.raises(BadInput, match=r"only a queued, starting or running run can be cancelled$"):
        control.stop(store, run.id, control.StopKind.CANCEL)


def _run_with_exports(store: Store, experiment, user_dir: Path) -> tuple[Run, Path, Path]:
    """A stopped run with a folder, one export the app wrote in the home's exports/ folder (the default
    place) and one the user wrote to a folder of their own (`export --out`, the Export dialog's folder)."""
    from spark_trainer.store import exports

    run = runs.create(store, experiment.id)
    runs.transition(store, run.id, RunStatus.CANCELLED, "test: stopped")
    Path(run.run_dir, "checkpoints").mkdir(parents=True)
    made = store.home.export_dir(exports.next_id(store))
    made.mkdir(parents=True)
    (made / "adapter_model.safetensors").write_bytes(b"w" * 100)
    exports.add(store, run.id, step=4, options={}, path=str(made))
    user_dir.mkdir(parents=True)
    (user_dir / "adapter_model.safetensors").write_bytes(b"w" * 100)
    exports.add(store, run.id, step=4, options={"merge": True}, path=str(user_dir))
    return run, made, user_dir


def test_deleting_a_run_removes_its_exports_in_the_home_and_never_a_folder_the_user_chose(
        store: Store, experiment, tmp_path: Path) -> None:
    """The export rows went with the run (cascade), their folders stayed in exports/ recorded nowhere:
    gigabytes no view listed and nothing removed. The app's own go with the run; the user's stay."""
    run, made, chosen = _run_with_exports(store, experiment, tmp_path / "my-exports" / "model")
    control.delete(store, run.id)
    assert not Path(run.run_dir).exists() and not made.exists()
    assert (chosen / "adapter_model.safetensors").is_file()
    assert store.home.exports_dir.is_dir()  # only the export's own folder goes

    kept, made_kept, chosen_kept = _run_with_exports(store, experiment, tmp_path / "mine-too")
    control.delete(store, kept.id, keep_files=True)
    assert Path(kept.run_dir).is_dir() and made_kept.is_dir() and chosen_kept.is_dir()


def test_deleting_an_experiment_removes_its_runs_exports_in_the_home(store: Store, experiment, tmp_path: Path) -> None:
    first, made_1, chosen_1 = _run_with_exports(store, experiment, tmp_path / "a")
    second, made_2, chosen_2 = _run_with_exports(store, experiment, tmp_path / "b")
    _experiment, found = control.delete_experiment(store, experiment.id)
    assert sorted(found) == sorted([first.run_dir, second.run_dir])
    assert not made_1.exists() and not made_2.exists()
    assert chosen_1.is_dir() and chosen_2.is_dir()


def _pin_of(run_dir: Path, pid: int, by: str = "export", host: str | None = None) -> Path:
    """The pin an export (process `pid`) makes in the run's folder while it reads a checkpoint."""
    from spark_trainer.store.presence import host_tag

    found = process.identity(pid)
    start_ms = round(found.start_time * 1000) if found else 0
    pin = run_dir / f".pinned-{by}-@{host or host_tag()}-{pid}-{start_ms}-0a1b2c3d" / "step-00000004"
    pin.mkdir(parents=True)
    return pin.parent


def test_a_run_being_exported_is_not_deleted_until_its_export_is_gone(store: Store, experiment,
                                                                     tmp_path: Path) -> None:
    """`run delete` (and the app's Delete, the same control.delete) removed the run's folder under a running
    export, whose pin (`.pinned-export-…`) it never looked at: the export failed with a missing file. Refused
    in one line naming the export's process; the pin of an export since killed blocks nothing."""
    from spark_trainer.errors import Conflict
    from tests.conftest import spark_trainer_exe, subprocess_env

    run, _made, _chosen = _run_with_exports(store, experiment, tmp_path / "mine")
    exporter = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        _pin_of(Path(run.run_dir), exporter.pid)
        said = f"run {run.id} is being exported (process {exporter.pid}); let the export finish or stop it before deleting"
        with pytest.raises(Conflict) as refused:
            control.delete(store, run.id)
        assert str(refused.value) == said
        with pytest.raises(Conflict):
            control.delete_experiment(store, experiment.id)
        cli = subprocess.run([spark_trainer_exe(), "--home", str(store.home.root), "run", "delete", str(run.id), "--yes"],
                             env=subprocess_env(), capture_output=True, text=True, timeout=120)
        assert cli.returncode != 0 and said in cli.stderr and len(cli.stderr.strip().splitlines()) == 1, cli.stderr
        assert Path(run.run_dir, "checkpoints").is_dir() and runs.get(store, run.id).id == run.id
    finally:
        exporter.kill()
        exporter.wait()
    control.delete(store, run.id)  # its process is gone: the pin holds nothing
    assert not Path(run.run_dir).exists()


def test_a_pin_made_on_another_machine_holds_the_run_only_for_a_day(store: Store, experiment, tmp_path: Path) -> None:
    """A home shared by two machines: the other's export cannot be judged from here, so it holds the run; a
    machine that died mid-export must not keep the run from being deleted for good."""
    from spark_trainer.errors import Conflict

    run, _made, _chosen = _run_with_exports(store, experiment, tmp_path / "mine")
    pin = _pin_of(Path(run.run_dir), 4242, host="otherbox")
    with pytest.raises(Conflict, match=r"is being exported \(process 4242 on otherbox\)"):
        control.delete(store, run.id)
    old = pin.stat().st_mtime - 2 * 24 * 3600
    os.utime(pin, (old, old))
    control.delete(store, run.id)
    assert not Path(run.run_dir).exists()
