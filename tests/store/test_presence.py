"""store/presence.py: another process's open store is seen through an OS file lock (no /proc needed),
a process that ended is not, and the marks it left are cleaned up."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from spark_trainer.paths import DataHome
from spark_trainer.store import presence
from spark_trainer.store.store import Store

HOLD = """
import sys, time
from spark_trainer.store.store import Store
store = Store.open(sys.argv[1])
print("open", flush=True)
if sys.argv[2] == "close":
    sys.stdin.readline()
    store.close()
    print("closed", flush=True)
time.sleep(120)
"""


def _holder(home: Path, then: str = "sleep") -> subprocess.Popen[str]:
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(home), then], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "open"
    return proc


def _marks(home: Path) -> list[str]:
    return sorted(p.name for p in (home / presence.FOLDER).glob("*" + presence.SUFFIX))


def test_a_store_open_in_another_process_is_seen_and_a_closed_one_is_not(tmp_path: Path) -> None:
    Store.open(DataHome(tmp_path)).close()
    holder = _holder(tmp_path, "close")
    try:
        assert presence.holders(tmp_path) == {holder.pid}
        assert holder.stdin is not None and holder.stdout is not None
        holder.stdin.write("\n")
        holder.stdin.flush()
        assert holder.stdout.readline().strip() == "closed"
        assert presence.holders(tmp_path) == set()
        assert _marks(tmp_path) == []  # close removed its own mark
    finally:
        holder.kill()
        holder.wait()


def test_a_killed_process_is_not_a_holder_and_its_mark_is_removed(tmp_path: Path) -> None:
    Store.open(DataHome(tmp_path)).close()
    holder = _holder(tmp_path)
    left = _marks(tmp_path)
    assert [name.split("-")[0] for name in left] == [f"{holder.pid}@{presence.host_tag()}"]
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    assert _marks(tmp_path) == left  # kill -9 ran no clean-up: the file stays, its lock went with the process
    assert presence.holders(tmp_path) == set()
    assert _marks(tmp_path) == []


def test_this_process_is_never_its_own_holder(tmp_path: Path) -> None:
    first = Store.open(DataHome(tmp_path))
    second = Store.open(DataHome(tmp_path))
    try:
        assert len(_marks(tmp_path)) == 2
        assert presence.holders(tmp_path) == set()
        assert len(_marks(tmp_path)) == 2  # its own marks are not mistaken for left-overs and removed
    finally:
        first.close()
        second.close()
    assert _marks(tmp_path) == []


def test_a_mark_taken_away_before_it_was_locked_is_made_again(tmp_path: Path, monkeypatch) -> None:
    """The race with a check: a check lists the new file before its lock is taken, finds it free and
    removes it. The process must not go on holding a lock on a file nobody can see."""
    import filelock

    real = filelock.lock_descriptor
    calls = []

    def check_wins_the_race(fd: int, *, blocking: bool = True) -> bool:
        calls.append(fd)
        if len(calls) == 1:
            for path in (tmp_path / presence.FOLDER).glob("*" + presence.SUFFIX):
                path.unlink()  # what holders() does to a file it could lock
        return real(fd, blocking=blocking)

    monkeypatch.setattr(filelock, "lock_descriptor", check_wins_the_race)
    mark = presence.announce(tmp_path)
    assert mark is not None and len(calls) == 2
    assert _marks(tmp_path) == [mark.path.name]
    mark.release()


def test_a_left_over_mark_is_removed_before_its_lock_is_let_go(tmp_path: Path, monkeypatch) -> None:
    """The other order of the race: a check takes the lock of a file a process has just made (and
    not yet locked). Were the file removed after the check lets go, the maker could lock it and find
    it still there in between, then be left holding a lock on a file nobody sees."""
    import filelock

    folder = tmp_path / presence.FOLDER
    folder.mkdir()
    made = folder / f"{os.getpid() + 1}@{presence.host_tag()}-0000abcd{presence.SUFFIX}"  # another process's, just made
    made.touch()
    seen_at_release = []
    real_unlock = filelock.unlock_descriptor

    def unlock(fd: int) -> None:
        seen_at_release.append(made.exists())  # what the maker would find, locking right after
        real_unlock(fd)

    monkeypatch.setattr(filelock, "unlock_descriptor", unlock)
    assert presence.holders(tmp_path) == set()
    assert seen_at_release == [False] and not made.exists()


FORKS = """
import os, sys, time
from spark_trainer.store.store import Store
store = Store.open(sys.argv[1])
child = os.fork()
if child == 0:  # a DataLoader worker, say: outlives its parent for a while
    # Said by the child: its after-fork hooks have run by now (said by the parent, the test could kill
    # the parent before the child had let go of its copy of the lock: seen once under load).
    print(os.getpid(), flush=True)
    time.sleep(60)
    os._exit(0)
time.sleep(120)
"""


def test_a_forked_child_does_not_keep_its_killed_parent_counted(tmp_path: Path) -> None:
    Store.open(DataHome(tmp_path)).close()
    parent = subprocess.Popen([sys.executable, "-c", FORKS, str(tmp_path)], stdout=subprocess.PIPE, text=True)
    assert parent.stdout is not None
    child = int(parent.stdout.readline())
    try:
        assert presence.holders(tmp_path) == {parent.pid}
        parent.kill()
        parent.wait()
        os.kill(child, 0)  # the child still runs
        assert presence.holders(tmp_path) == set()
    finally:
        parent.kill()
        parent.wait()
        try:
            os.kill(child, signal.SIGKILL)
        except ProcessLookupError:
            pass


def test_a_home_that_cannot_be_written_goes_without(tmp_path: Path) -> None:
    (tmp_path / presence.FOLDER).write_text("a file where the folder would be")
    assert presence.announce(tmp_path) is None
    assert presence.holders(tmp_path) == set()


def test_files_that_are_not_marks_are_left_alone(tmp_path: Path) -> None:
    folder = tmp_path / presence.FOLDER
    folder.mkdir()
    (folder / f"notes{presence.SUFFIX}").write_text("x")
    assert presence.holders(tmp_path) == set()
    assert (folder / f"notes{presence.SUFFIX}").exists()
    assert os.listdir(folder) == [f"notes{presence.SUFFIX}"]


def test_a_killed_process_s_mark_goes_at_the_next_open(tmp_path: Path) -> None:
    """Seen: a mark left by a process killed outright (OOM killer, a worker killed after its grace, power
    loss) stayed in HOME/.open until a home move's check, so a home used for months gathered one file per
    killed process (a move's check then took 1.3 s over 5,000 of them)."""
    Store.open(DataHome(tmp_path)).close()
    live = _holder(tmp_path)
    killed = _holder(tmp_path)
    killed.send_signal(signal.SIGKILL)
    killed.wait()
    try:
        assert len(_marks(tmp_path)) == 2
        with Store.open(DataHome(tmp_path)):
            pids = sorted(int(name.split("@")[0].split("-")[0]) for name in _marks(tmp_path))
            assert pids == sorted([live.pid, os.getpid()])  # the killed one's went; the live one's stays
    finally:
        live.kill()
        live.wait()


def test_the_next_open_leaves_another_host_s_marks_and_judges_old_names_by_pid_too(tmp_path: Path) -> None:
    """A home on a network share: a mark made on another machine is never judged here (its pid means
    nothing on this one, and its lock may not reach this machine). An older version's name (`<pid>-<random>`,
    no host) goes only when its lock is free and no process here has that pid."""
    folder = tmp_path / presence.FOLDER
    folder.mkdir()
    dead = _dead_pid()
    names = {"other host": f"{dead}@elsewhere-0123abcd{presence.SUFFIX}",
             "old, pid alive here": f"{os.getppid()}-0123abcd{presence.SUFFIX}",
             "old, pid dead": f"{dead}-4567abcd{presence.SUFFIX}"}
    for name in names.values():
        (folder / name).touch()  # no lock held on any: what a killed process (or another machine's) leaves
    with Store.open(DataHome(tmp_path)):
        left = set(os.listdir(folder))
    assert names["other host"] in left and names["old, pid alive here"] in left
    assert names["old, pid dead"] not in left


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid
