"""Moving a whole data home (spark_trainer/jobs/home_move.py, `spark-trainer home move`): across
filesystems (real tmpfs mounts) by copy, verify, record, follow and delete; refused for room, for a
non-empty destination and while a run trains; an interrupted copy leaves the old home as it was."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from spark_trainer import home_record
from spark_trainer.errors import OperationFailed
from spark_trainer.jobs import home_move, home_users
from spark_trainer.store import projects, runs
from spark_trainer.store.entities import RunStatus
from spark_trainer.store.store import Store
from tests.jobs.conftest import running_here
from tests.tmpfs import fill, tmpfs  # noqa: F401 - the fixture
from tests.worker_here import queued_only, work_here


@pytest.fixture
def chosen(home: Path, monkeypatch) -> Path:
    """`home` as the chosen home (no $SPARK_TRAINER_HOME), holding one project and 3 MB of models."""
    monkeypatch.delenv("SPARK_TRAINER_HOME")
    with Store.open(home) as store:
        projects.create(store, "kept")
    (home / "models" / "weights.bin").write_bytes(os.urandom(3 * 2**20))
    home_record.set_chosen(home)
    return home.resolve()


def _plan(dest: Path, **kwargs) -> home_move.MovePlan:
    with Store.open(None) as store:
        return home_move.plan_move(store, dest, **kwargs)


def test_a_trained_run_moves_to_another_filesystem_and_logs_show_and_extend_work_there(
        cli, home: Path, tmp_path: Path, run_file, tmpfs, monkeypatch) -> None:  # noqa: F811
    """The run is trained by the worker's code in this process; its extension after the move by a worker
    process, which opens the home at its new place."""
    with queued_only():
        trained = cli("--json", "train", str(run_file("moved", steps=4, ckpt_every=2)))
    assert trained.code == 0, trained.err
    run_id = trained.json()["id"]
    with Store.open(home) as store:
        assert work_here(store, run_id) == 0
    monkeypatch.delenv("SPARK_TRAINER_HOME")
    assert cli("home", "set", str(home), use_home=False).code == 0
    dest = tmpfs(tmp_path / "disk", 256 * 2**20) / "spark"

    moved = cli("--json", "home", "move", str(dest), use_home=False)
    assert moved.code == 0, moved.err
    result = moved.json()
    assert result["method"] == "copy" and result["dest"] == str(dest) and result["files"] > 10
    assert "stored path(s)" in result["moved"] and "100%" in moved.err
    assert not home.exists()  # deleted only after the copy was verified and opened
    assert home_record.read_record() == home_record.HomeRecord(str(dest), str(dest), ((str(home), str(dest)),))

    shown = cli("--json", "run", "show", str(run_id), use_home=False)
    assert shown.code == 0 and shown.json()["run"]["run_dir"] == str(dest / "runs" / str(run_id))
    logs = cli("run", "logs", str(run_id), use_home=False)
    assert logs.code == 0 and "step" in logs.out
    extended = cli("--json", "run", "extend", str(run_id), "--steps", "2", "--wait", use_home=False)
    assert extended.code == 0, extended.err
    with Store.open(dest) as store:
        run = runs.get(store, run_id)
    assert run.status == RunStatus.COMPLETED and run.step == 6
    assert (dest / "runs" / str(run_id) / "worker.log").read_text().count("resum") >= 1
    assert not home.exists()  # the resume wrote nothing at the old place


def test_a_move_without_room_is_refused_before_copying(chosen: Path, tmp_path: Path, tmpfs, cli) -> None:  # noqa: F811
    small = tmpfs(tmp_path / "small", 2 * 2**20)
    refused = cli("home", "move", str(small / "spark"), use_home=False)
    assert refused.code == 1 and refused.err.count("\n") == 1
    assert f"not enough room at {small / 'spark'}" in refused.err and "nothing was copied" in refused.err
    assert list(small.iterdir()) == [] and (chosen / "models" / "weights.bin").stat().st_size == 3 * 2**20


def test_a_copy_that_fills_the_disk_midway_leaves_the_old_home_intact(chosen: Path, tmp_path: Path,
                                                                       tmpfs) -> None:  # noqa: F811
    disk = tmpfs(tmp_path / "disk", 64 * 2**20)
    plan = _plan(disk / "spark")  # room enough when checked...
    ballast = fill(disk)  # ...and, when copied, room for the database but not the 3 MB of weights
    os.truncate(ballast, ballast.stat().st_size - 2**20)
    with pytest.raises(OperationFailed, match=f"failed at models/weights.bin \\(the disk at {disk / 'spark'} is full\\)"
                                              f".*still at {chosen}"):
        home_move.carry_out(plan)
    ballast.unlink()
    assert list(disk.iterdir()) == []  # the partial copy was removed
    assert home_record.read_record().chosen == str(chosen)
    with Store.open(None) as store:  # the old home opens and holds everything
        assert store.home.root == chosen and [p.name for p in projects.list_all(store)] == ["kept"]


def test_a_copy_interrupted_midway_leaves_the_old_home_intact(chosen: Path, tmp_path: Path, tmpfs) -> None:  # noqa: F811
    disk = tmpfs(tmp_path / "disk", 64 * 2**20)
    plan = _plan(disk / "spark")
    copied: list[str] = []

    def failing_copy(src: Path, dst: Path, advanced) -> None:
        if copied:
            raise OSError(errno.EIO, "Input/output error", str(src))
        home_move.copy_with_progress(src, dst, advanced)
        copied.append(src.name)

    with pytest.raises(OperationFailed, match="failed at .*Input/output error.*the partial copy was removed"):
        home_move.carry_out(plan, copy_file=failing_copy)
    assert copied and not (disk / "spark").exists()
    with Store.open(None) as store:
        assert store.home.root == chosen and projects.list_all(store)


def test_same_filesystem_is_a_rename_and_keep_old_a_copy(chosen: Path, tmp_path: Path, cli) -> None:
    kept = cli("--json", "home", "move", str(tmp_path / "copy"), "--keep-old", use_home=False)
    assert kept.code == 0 and kept.json()["method"] == "copy" and kept.json()["kept_old"]
    assert (chosen / "sparktrainer.db").is_file() and home_record.read_record().chosen == str(tmp_path / "copy")
    assert cli("home", "set", str(chosen), use_home=False).code == 0
    renamed = cli("--json", "home", "move", str(tmp_path / "renamed"), use_home=False)
    assert renamed.code == 0 and renamed.json()["method"] == "rename" and not chosen.exists()
    assert "kept" in cli("project", "list", use_home=False).out


def test_bad_destinations_are_refused_in_one_line(chosen: Path, tmp_path: Path, cli) -> None:
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("x")
    for dest, says in ((tmp_path / "full", "is not empty"), (chosen / "runs" / "x", "is inside the data home"),
                       (chosen, "already at")):
        refused = cli("home", "move", str(dest), use_home=False)
        assert refused.code == 2 and says in refused.err and refused.err.count("\n") == 1, refused.err
    (tmp_path / "empty").mkdir()
    assert cli("home", "move", str(tmp_path / "empty"), use_home=False).code == 0  # an empty folder is fine


def test_queued_runs_are_fine_and_said_to_start_from_the_new_place(chosen: Path, tmp_path: Path, cli) -> None:
    from spark_trainer.store import experiments

    with Store.open(None) as store:
        experiments.create(store, project="kept", name="e", recipe="causal-lm", base_model="m", dataset=None,
                           config={})
        run = runs.create(store, experiments.get(store, "e").id, requested_gpus="cpu")
    moved = cli("home", "move", str(tmp_path / "new"), use_home=False)
    assert moved.code == 0 and moved.err.count(f"queued run(s) {run.id} will start from {tmp_path / 'new'}") == 1


def test_a_move_is_refused_while_a_run_trains(cli, home: Path, tmp_path: Path, run_file, monkeypatch) -> None:
    """The run is marked running with this process as its live worker: the move reads the store and the
    worker's liveness (reconcile), not its training."""
    with queued_only():
        started = cli("--json", "train", str(run_file("busy", steps=400, ckpt_every=50)))
    assert started.code == 0, started.err
    run_id = started.json()["id"]
    with Store.open(home) as store:
        running_here(store, run_id)
        try:
            refused = cli("home", "move", str(tmp_path / "new"))
            assert refused.code == 2 and refused.err.count("\n") == 1, refused.err
            assert f"run {run_id} is running; pause it (spark-trainer run pause {run_id})" in refused.err
            assert not (tmp_path / "new").exists()
        finally:
            runs.transition(store, run_id, RunStatus.PAUSED, "test: paused")
        assert runs.get(store, run_id).status == RunStatus.PAUSED
    paused = cli("--json", "home", "move", str(tmp_path / "new"))  # paused is fine
    assert paused.code == 0, paused.err


HOLD_OPEN = """
import sys, time
from spark_trainer.store import projects
from spark_trainer.store.store import Store
store = Store.open(sys.argv[1])
projects.list_all(store)
print("open", flush=True)
time.sleep(120)
"""


def test_a_move_is_refused_while_another_process_has_the_home_open(chosen: Path, tmp_path: Path, cli) -> None:
    import subprocess
    import sys

    holder = subprocess.Popen([sys.executable, "-c", HOLD_OPEN, str(chosen)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "open"
        refused = cli("home", "move", str(tmp_path / "new"), use_home=False)
        assert refused.code == 2 and refused.err.count("\n") == 1, refused.err
        assert f"the data home is open in another process (pid {holder.pid} (python" in refused.err
        assert not (tmp_path / "new").exists()
    finally:
        holder.kill()
        holder.wait()
    assert cli("home", "move", str(tmp_path / "new"), use_home=False).code == 0


def test_another_process_is_seen_without_proc_locks(chosen: Path, tmp_path: Path, cli, monkeypatch) -> None:
    """On macOS and Windows there is no /proc/locks: the store's own open-mark still tells."""
    import subprocess
    import sys

    monkeypatch.setattr(home_users, "sqlite_holders", lambda root: set())  # what another OS sees of SQLite's locks
    holder = subprocess.Popen([sys.executable, "-c", HOLD_OPEN, str(chosen)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "open"
        refused = cli("home", "move", str(tmp_path / "new"), use_home=False)
        assert refused.code == 2, refused.err
        assert f"the data home is open in another process (pid {holder.pid} (python" in refused.err
    finally:
        holder.kill()
        holder.wait()
    assert cli("home", "move", str(tmp_path / "new"), use_home=False).code == 0


def test_a_process_that_opened_the_home_after_the_plan_stops_the_move(chosen: Path, tmp_path: Path) -> None:
    """The dialog plans, then waits for the user's click: what opened the home meanwhile counts."""
    import subprocess
    import sys

    from spark_trainer.errors import Conflict

    plan = _plan(tmp_path / "new")
    holder = subprocess.Popen([sys.executable, "-c", HOLD_OPEN, str(chosen)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "open"
        with pytest.raises(Conflict, match=rf"the data home is open in another process \(pid {holder.pid} "):
            home_move.carry_out(plan)
    finally:
        holder.kill()
        holder.wait()
    assert (chosen / "sparktrainer.db").is_file() and not (tmp_path / "new").exists()


def test_a_copy_leaves_the_open_marks_behind(chosen: Path, tmp_path: Path) -> None:
    """The marks say who has *that* folder open; copied, one would claim the new place for this process."""
    plan = _plan(tmp_path / "copy", keep_old=True)
    with Store.open(chosen):  # a store this process still has open there: its mark is in the folder
        assert any((chosen / ".open").iterdir())
        home_move.carry_out(plan)
    assert (tmp_path / "copy" / "models" / "weights.bin").is_file()
    assert list((tmp_path / "copy").glob(".open/*")) == []  # the folder is there: the move opened the copy once


def test_a_run_started_elsewhere_during_the_copy_undoes_the_move(chosen: Path, tmp_path: Path, tmpfs) -> None:  # noqa: F811
    import sqlite3

    from spark_trainer.store import experiments

    with Store.open(None) as store:
        experiments.create(store, project="kept", name="e", recipe="causal-lm", base_model="m", dataset=None,
                           config={})
        run = runs.create(store, experiments.get(store, "e").id, requested_gpus="cpu")
    plan = _plan(tmpfs(tmp_path / "disk", 64 * 2**20) / "spark")

    def copy_while_a_scheduler_starts_the_run(src: Path, dst: Path, advanced) -> None:
        with sqlite3.connect(chosen / "sparktrainer.db") as conn:  # as another process's scheduler would
            conn.execute("UPDATE runs SET status = 'starting' WHERE id = ?", (run.id,))
        conn.close()
        home_move.copy_with_progress(src, dst, advanced)

    with pytest.raises(OperationFailed, match=f"failed at the check \\(run {run.id} became starting during the copy"):
        home_move.carry_out(plan, copy_file=copy_while_a_scheduler_starts_the_run)
    assert not plan.dest.exists() and (chosen / "sparktrainer.db").is_file()
    assert home_record.read_record().chosen == str(chosen)


def test_a_write_to_the_home_during_the_copy_stops_the_move_and_is_kept(chosen: Path, tmp_path: Path,
                                                                         tmpfs) -> None:  # noqa: F811
    """A walk: three `project create` run during a long copy each said "created project" and exited 0; the
    move then deleted the old home, and the new one did not have them. Nothing is lost now: the move stops."""
    import sqlite3

    with Store.open(None) as store:
        projects.create(store, "before")
        (store.home.models_dir / "weights.bin").write_bytes(b"w" * 4096)
    plan = _plan(tmpfs(tmp_path / "disk", 64 * 2**20) / "spark")

    wrote = []

    def copy_while_a_command_writes(src: Path, dst: Path, advanced) -> None:
        if not wrote:  # once, as `project create` in another process during the copy
            with sqlite3.connect(chosen / "sparktrainer.db") as conn:
                conn.execute("INSERT INTO projects (name, description, created_at, updated_at) VALUES "
                             "('during', '', '2026-12-03', '2026-12-03')")
            conn.close()
            wrote.append(src)
        home_move.copy_with_progress(src, dst, advanced)

    with pytest.raises(OperationFailed, match="written to while it was copied"):
        home_move.carry_out(plan, copy_file=copy_while_a_command_writes)
    assert not plan.dest.exists()
    with Store.open(None) as store:
        assert {"before", "during"} <= {p.name for p in projects.list_all(store)}  # the write is kept
    assert home_record.read_record().chosen == str(chosen)


def test_a_move_says_when_the_environment_still_points_at_the_old_place(chosen: Path, tmp_path: Path, cli,
                                                                        monkeypatch) -> None:
    monkeypatch.setenv("SPARK_TRAINER_HOME", str(chosen))
    moved = cli("--json", "home", "move", str(tmp_path / "moved"), use_home=False)
    assert moved.code == 0, moved.err
    note = (f"$SPARK_TRAINER_HOME still points at {chosen}; set it to {tmp_path / 'moved'} (it wins over the "
            "chosen home)")
    assert f"note: {note}" in moved.err.splitlines() and moved.json()["env_note"] == note
    assert moved.json()["notes"] == []  # the note is data of its own, not one of the others


def test_a_copy_leaves_pins_and_stagings_behind(chosen: Path, tmp_path: Path) -> None:
    """Seen: a killed export's pin (`runs/<id>/.pinned-*`, hard links to a checkpoint) was copied as
    files, taking the checkpoint's space twice on the new disk (and a pin removed during the walk would
    fail the move); half-written stagings too. They are a process's own, never the home's data."""
    run_dir = chosen / "runs" / "3"
    for leftover in (run_dir / ".pinned-@box-12-34-abcd1234" / "step-00000002",
                     run_dir / "checkpoints" / ".staging-00000004", chosen / "exports" / ".staging-3-1-@box-1-2-ab"):
        leftover.mkdir(parents=True)
        (leftover / "weights.bin").write_bytes(b"x" * 100)
    (run_dir / "checkpoints" / "step-00000002").mkdir()
    (run_dir / "checkpoints" / "step-00000002" / "weights.bin").write_bytes(b"x" * 100)
    home_move.carry_out(_plan(tmp_path / "copy", keep_old=True))
    copied = tmp_path / "copy"
    assert (copied / "runs" / "3" / "checkpoints" / "step-00000002" / "weights.bin").is_file()
    assert [p.name for p in copied.rglob(".pinned-*")] + [p.name for p in copied.rglob(".staging-*")] == []


def test_moving_a_home_named_with_home_leaves_the_chosen_home_chosen(chosen: Path, tmp_path: Path, cli) -> None:
    """Seen: `--home B home move C` made C the machine's chosen home, so the next plain start opened C
    instead of the home the user had chosen."""
    other = (tmp_path / "other").resolve()
    with Store.open(other) as store:
        projects.create(store, "elsewhere")
    before = home_record.read_record()
    moved = cli("--json", "--home", str(other), "home", "move", str(tmp_path / "other-moved"), use_home=False)
    assert moved.code == 0, moved.err
    after = home_record.read_record()  # neither the choice nor the home opened last changed
    assert (after.chosen, after.opened) == (before.chosen, before.opened) and len(after.moved) == 1
    assert not moved.json()["chosen"] and f"the chosen home is still {chosen}" in moved.err
    with Store.open(None) as store:
        assert [p.name for p in projects.list_all(store)] == ["kept"]
    listed = cli("project", "list", "--home", str(tmp_path / "other-moved"), use_home=False)
    assert listed.code == 0 and "elsewhere" in listed.out


def test_moving_the_chosen_home_named_with_home_keeps_it_chosen_at_its_new_place(chosen: Path, tmp_path: Path,
                                                                                  cli) -> None:
    moved = cli("--json", "--home", str(chosen), "home", "move", str(tmp_path / "moved"), use_home=False)
    assert moved.code == 0, moved.err
    dest = str((tmp_path / "moved").resolve())
    assert home_record.read_record() == home_record.HomeRecord(dest, dest, ((str(chosen.resolve()), dest),))
    assert moved.json()["chosen"] and "the chosen home is still" not in moved.err
    assert "kept" in cli("project", "list", use_home=False).out


def test_moving_the_default_home_makes_its_new_place_the_chosen_home(cli, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("SPARK_TRAINER_HOME")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert cli("project", "create", "kept", use_home=False).code == 0  # the default home: nothing chosen yet
    moved = cli("home", "move", str(tmp_path / "moved"), use_home=False)
    assert moved.code == 0, moved.err
    assert home_record.read_record().chosen == str((tmp_path / "moved").resolve())
    listed = cli("project", "list", use_home=False)  # not "the data home opened last time is gone"
    assert listed.code == 0 and "kept" in listed.out


def test_a_move_waits_for_an_evaluation_whose_worker_is_still_starting(chosen: Path, tmp_path: Path, cli) -> None:
    """An evaluation is 'queued' from its start until its worker (importing torch for seconds) opens the
    store and says 'running': the move looked at running ones only, so it went ahead under a worker that
    then opened the home at its old place. A queued one with a live worker now stops the move too."""
    import subprocess
    import sys

    from spark_trainer.jobs.process import identity
    from spark_trainer.store import evaluations, experiments

    with Store.open(chosen) as store:
        exp = experiments.create(store, project="kept", name="e", recipe="causal-lm", base_model="m", dataset=None,
                                 config={})
        run = runs.create(store, exp.id)
        runs.transition(store, run.id, RunStatus.CANCELLED, "test: a stopped run is evaluated")
        ev = evaluations.create(store, run.id, task="perplexity", data_path="/x.txt", base=True, checkpoint="base",
                                gpus=[])
    worker = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])  # not in the store yet
    try:
        with Store.open(chosen) as store:
            evaluations.update(store, ev.id, pid=worker.pid, pid_start_time=identity(worker.pid).start_time)
        refused = cli("home", "move", str(tmp_path / "new"), use_home=False)
        assert refused.code == 2 and refused.err.count("\n") == 1, refused.err
        assert f"evaluation {ev.id} of run {run.id} is running; let it finish" in refused.err
    finally:
        worker.kill()
        worker.wait()
    moved = cli("home", "move", str(tmp_path / "new"), use_home=False)  # its worker gone: failed, not in the way
    assert moved.code == 0, moved.err
    with Store.open(tmp_path / "new") as store:
        assert evaluations.get(store, ev.id).status == "failed"
