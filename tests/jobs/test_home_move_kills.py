"""A data home move (spark_trainer/jobs/home_move.py) killed outright, by SIGKILL in a real process: in the
copy, the partial copy is never opened as a home and is removed by the next move only while untouched
(spark_trainer/store/partial_copy.py); while the old folder is deleted, the move is already recorded, so
the old path is refused and what is left of the old folder is reported."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from spark_trainer import home_record
from spark_trainer.errors import BadInput
from spark_trainer.jobs import home_move
from spark_trainer.store import partial_copy, projects
from spark_trainer.store.store import Store
from tests.tmpfs import tmpfs  # noqa: F401 - the fixture

# Moves the chosen home to argv[1] and SIGKILLs itself: after the first model file copied ("copy"), when the
# old folder is being deleted ("remove"), in the middle of the database's copy ("database"), once the move
# has opened its copy ("opened"), before the move is recorded ("unrecorded") or right after ("recorded").
KILLED_MOVE = """
import os, signal, sys
from spark_trainer.jobs import home_move
from spark_trainer.store.store import Store

def die(*_args, **_kwargs):
    os.kill(os.getpid(), signal.SIGKILL)

def then_die(step):
    def wrapped(*args, **kwargs):
        step(*args, **kwargs)
        die()
    return wrapped

class Stepped:  # the backup a page at a time, killed after the first
    def __init__(self, conn):
        self.conn = conn
    def backup(self, target):
        self.conn.backup(target, pages=1, progress=die)
    def close(self):
        self.conn.close()

where = sys.argv[2]
if where == "database":
    connect = home_move.connect_read_only
    home_move.connect_read_only = lambda path: Stepped(connect(path))
elif where == "opened":
    home_move._opened_at_new_place = then_die(home_move._opened_at_new_place)
elif where == "unrecorded":
    home_move._record = die
elif where == "recorded":
    home_move._record = then_die(home_move._record)

def copy_then_die(src, dst, advanced):
    home_move.copy_with_progress(src, dst, advanced)
    if src.parent.name == "models":  # the home's own files, the database first, are copied
        die()

with Store.open(None) as store:
    plan = home_move.plan_move(store, sys.argv[1])
if where == "remove":
    home_move.shutil.rmtree = die
home_move.carry_out(plan, copy_file=copy_then_die if where == "copy" else None)
"""


@pytest.fixture
def chosen(home: Path, monkeypatch) -> Path:
    """`home` as the chosen home (no $SPARK_TRAINER_HOME), holding one project and two model files."""
    monkeypatch.delenv("SPARK_TRAINER_HOME")
    with Store.open(home) as store:
        projects.create(store, "kept")
    (home / "models" / "a.bin").write_bytes(os.urandom(2**20))
    (home / "models" / "b.bin").write_bytes(os.urandom(2**20))
    home_record.set_chosen(home)
    return home.resolve()


def _killed_move(dest: Path, where: str) -> None:
    done = subprocess.run([sys.executable, "-c", KILLED_MOVE, str(dest), where], capture_output=True, text=True)
    assert done.returncode == -9, done.stderr


def test_a_partial_copy_is_refused_when_opened_and_removed_by_the_next_move(
        chosen: Path, tmp_path: Path, cli, tmpfs) -> None:  # noqa: F811
    dest = tmpfs(tmp_path / "disk", 64 * 2**20) / "spark"
    _killed_move(dest, "copy")
    assert (dest / partial_copy.MARKER).is_file() and (dest / "sparktrainer.db").is_file()

    for args in (("home", "show"), ("project", "list"), ("project", "create", "precious")):
        refused = cli("--home", str(dest), *args, use_home=False)
        assert refused.code == 2 and refused.err.count("\n") == 1, refused.err
        assert (f"{dest} is the unfinished copy of an interrupted move of the data home at {chosen} (that home is "
                f"intact)") in refused.err
        assert f"run `spark-trainer --home {chosen} home move {dest}` again, or delete the folder" in refused.err
    with pytest.raises(BadInput, match="unfinished copy"):
        Store.open(dest)
    assert not (dest / ".open").exists()  # nothing opened it: the next move may remove it

    moved = cli("home", "move", str(dest), use_home=False)
    assert moved.code == 0, moved.err
    assert "removed the partial copy an interrupted move had left there" in moved.err
    assert not (dest / partial_copy.MARKER).exists() and not chosen.exists()
    assert "kept" in cli("project", "list", use_home=False).out


@pytest.mark.parametrize("where", ["database", "opened", "unrecorded"])
def test_a_move_killed_before_it_is_recorded_leaves_a_copy_never_opened_and_removed_by_a_retry(
        chosen: Path, tmp_path: Path, cli, tmpfs, where: str) -> None:  # noqa: F811
    """A walk: a kill in the database's copy left the backup's own -journal, which the retry took for an open
    and refused; a kill after the copy was checked left no marker: the copy opened as a second home, and the
    retry refused the folder as not empty."""
    dest = tmpfs(tmp_path / "disk", 64 * 2**20) / "spark"
    _killed_move(dest, where)
    left = {path.name for path in dest.iterdir()}
    assert partial_copy.MARKER in left
    if where == "database":  # killed with the backup's journal there
        assert any(name.endswith("-journal") for name in left), left
    if where == "opened":  # the move's own open-marks and SQLite files: its store was open there
        assert ".open" in left
    refused = cli("--home", str(dest), "project", "list", use_home=False)
    assert refused.code == 2 and "is the unfinished copy of an interrupted move" in refused.err, refused.err
    assert home_record.read_record().chosen == str(chosen) and home_record.read_record().moved == ()

    moved = cli("home", "move", str(dest), use_home=False)
    assert moved.code == 0, moved.err
    assert "removed the partial copy an interrupted move had left there" in moved.err
    assert not (dest / partial_copy.MARKER).exists() and not chosen.exists()
    assert "kept" in cli("project", "list", use_home=False).out


def test_a_move_killed_once_recorded_opens_at_its_new_place(chosen: Path, tmp_path: Path, cli, tmpfs) -> None:  # noqa: F811
    dest = tmpfs(tmp_path / "disk", 64 * 2**20) / "spark"
    _killed_move(dest, "recorded")
    assert (dest / partial_copy.MARKER).is_file() and home_record.read_record().chosen == str(dest)
    listed = cli("project", "list", use_home=False)
    assert listed.code == 0 and "kept" in listed.out, listed.err
    assert not (dest / partial_copy.MARKER).exists()
    # The old folder, refused as moved away, was named nowhere: it would have taken its room forever.
    shown = cli("--json", "home", "show", use_home=False)
    assert shown.json()["old_homes_left"] == [{"folder": str(chosen), "moved_to": str(dest)}]
    assert (f"{chosen} is what is left of the old data home moved to {dest}: the move was interrupted before "
            "deleting it") in cli("doctor", use_home=False).out


def _used_by_an_older_version(dest: Path) -> None:
    """What an older SparkTrainer (no refusal) did with the partial copy: opened it and added a project."""
    marker = (dest / partial_copy.MARKER).read_bytes()
    (dest / partial_copy.MARKER).unlink()
    with Store.open(dest) as store:
        projects.create(store, "precious")
    (dest / partial_copy.MARKER).write_bytes(marker)


@pytest.mark.parametrize("trace", ["open_marks", "database_only", "new_file"])
def test_a_partial_copy_used_since_is_never_removed(chosen: Path, tmp_path: Path, cli, tmpfs, trace) -> None:  # noqa: F811
    """A walk: a dataset ingested into a partial copy was deleted with it by the next move."""
    dest = tmpfs(tmp_path / "disk", 64 * 2**20) / "spark"
    _killed_move(dest, "copy")
    if trace == "new_file":  # put there by hand: the database is as the move left it
        (dest / "models" / "mine.txt").write_text("precious")
    else:
        _used_by_an_older_version(dest)
        if trace == "database_only":  # the open-marks cleared too: the database alone tells
            for mark in (dest / ".open").iterdir():
                mark.unlink()
            (dest / ".open").rmdir()

    refused = cli("home", "move", str(dest), use_home=False)
    assert refused.code == 2 and refused.err.count("\n") == 1, refused.err
    assert f"{dest} holds the unfinished copy of an interrupted move of this home, and " in refused.err
    assert "it was left as it is" in refused.err
    assert (dest / partial_copy.MARKER).is_file() and (chosen / "sparktrainer.db").is_file()
    if trace == "new_file":
        assert "it holds models/mine.txt, which the home at" in refused.err
        assert (dest / "models" / "mine.txt").read_text() == "precious"
    else:
        (dest / partial_copy.MARKER).unlink()
        with Store.open(dest) as store:
            assert "precious" in [p.name for p in projects.list_all(store)]


def test_a_move_killed_while_deleting_the_old_folder_is_recorded_and_the_leftover_reported(
        chosen: Path, tmp_path: Path, cli, tmpfs) -> None:  # noqa: F811
    """A walk: the old home sat in a hidden `.NAME.moved-PID`, no move was recorded, and the old path then
    opened as a new, empty home."""
    dest = tmpfs(tmp_path / "disk", 64 * 2**20) / "spark"
    _killed_move(dest, "remove")
    aside = list(chosen.parent.glob(f".{chosen.name}.moved-*"))
    assert len(aside) == 1 and not chosen.exists() and not (dest / partial_copy.MARKER).exists()
    record = home_record.read_record()
    assert record.chosen == str(dest) and record.moved == ((str(chosen), str(dest)),)

    old = cli("--home", str(chosen), "project", "list", use_home=False)
    assert old.code == 2 and f"the data home that was at {chosen} was moved to {dest}" in old.err
    assert not chosen.exists()  # no empty home started there
    assert "kept" in cli("project", "list", use_home=False).out  # the chosen home is the new place

    shown = cli("--json", "home", "show", use_home=False)
    assert shown.code == 0 and shown.json()["old_homes_left"] == [{"folder": str(aside[0]), "moved_to": str(dest)}]
    text = cli("home", "show", use_home=False).out
    assert f"{aside[0]} is what is left of the old data home moved to {dest}" in text
    assert "delete that folder by hand" in text


def test_a_folder_set_aside_by_a_move_still_running_is_not_reported(chosen: Path, tmp_path: Path) -> None:
    aside = home_record.set_aside_name(chosen, os.getpid())  # this process: a move deleting it right now
    chosen.rename(aside)
    home_record.note_moved(chosen, tmp_path / "elsewhere")
    assert home_record.set_aside_leftovers() == []


def test_the_home_move_marker_is_the_partial_copy_marker() -> None:
    assert home_move.MARKER == partial_copy.MARKER == ".spark-move-incomplete"  # older versions' copies keep theirs
