"""The marker of an unfinished home move's copy (spark_trainer/store/partial_copy.py): Store.open refuses a
folder holding it, and `used_since` tells a copy only the move wrote to from one used since. The copies
made by a real, killed move: tests/jobs/test_home_move_kills.py."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from spark_trainer.errors import BadInput
from spark_trainer.store import partial_copy, presence, projects
from spark_trainer.store.store import Store


@pytest.fixture
def copied(tmp_path: Path) -> tuple[Path, Path]:
    """(source home, its copy as a killed move leaves it: the database copied and recorded, a file more)."""
    source = tmp_path / "home"
    with Store.open(source) as store:
        projects.create(store, "kept")
    (source / "models" / "a.bin").write_bytes(b"a" * 100)
    dest = tmp_path / "copy"
    (dest / "models").mkdir(parents=True)
    partial_copy.write(dest, source)
    (dest / "sparktrainer.db").write_bytes((source / "sparktrainer.db").read_bytes())
    partial_copy.write(dest, source, partial_copy.fingerprint(dest / "sparktrainer.db"))
    (dest / "models" / "a.bin").write_bytes(b"a" * 40)  # cut short by the kill
    return source, dest


def test_a_folder_holding_the_marker_is_never_opened(copied: tuple[Path, Path]) -> None:
    source, dest = copied
    with pytest.raises(BadInput, match=f"is the unfinished copy of an interrupted move of the data home at {source}"):
        Store.open(dest)
    assert sorted(p.name for p in dest.iterdir()) == [partial_copy.MARKER, "models", "sparktrainer.db"]


def test_an_unreadable_marker_is_refused_too(tmp_path: Path) -> None:
    (tmp_path / "copy").mkdir()
    (tmp_path / "copy" / partial_copy.MARKER).write_text("{half")
    with pytest.raises(BadInput, match="unfinished copy of an interrupted data home move"):
        Store.open(tmp_path / "copy")


def test_a_copy_as_the_move_left_it_is_untouched(copied: tuple[Path, Path]) -> None:
    source, dest = copied
    (dest / ".spark-move-x.tmp").write_text("{}")  # the marker's own temporary file, left by a kill
    assert partial_copy.used_since(dest, partial_copy.read(dest), source) is None


@pytest.mark.parametrize(("change", "why"), [
    (lambda dest: (dest / "sparktrainer.db-wal").write_bytes(b""), "its database was opened"),
    (lambda dest: (dest / "sparktrainer.db").write_bytes(b"x" * 4096), "its database is not the one the move copied"),
    (lambda dest: (dest / "models" / "a.bin").write_bytes(b"a" * 200), "its models/a.bin is larger than the home's"),
    (lambda dest: (dest / "datasets").mkdir(), "it holds datasets, which the home at"),
])
def test_a_copy_changed_since_is_told(copied: tuple[Path, Path], change, why: str) -> None:
    source, dest = copied
    (source / "datasets").rename(source / "gone")  # the home no longer has it (deleted meanwhile)
    change(dest)
    assert why in partial_copy.used_since(dest, partial_copy.read(dest), source)


def test_an_older_versions_marker_never_vouches_for_a_database(copied: tuple[Path, Path]) -> None:
    source, dest = copied
    (dest / partial_copy.MARKER).write_text(f'{{"source": "{source}"}}')
    assert partial_copy.used_since(dest, partial_copy.read(dest), source) == \
        "its database is not the one the move copied"


def _opening_by_a_process_gone(dest: Path, source: Path) -> int:
    """The marker as a move killed while it opened its copy leaves it; its pid (a process that has ended)."""
    ended = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    pid = int(ended.stdout)
    (dest / partial_copy.MARKER).write_text(json.dumps({
        "source": str(source), "database": None, "phase": partial_copy.OPENING, "pid": pid,
        "host": presence.host_tag()}))
    (dest / ".open").mkdir()
    (dest / ".open" / f"{pid}@{presence.host_tag()}-00aa{presence.SUFFIX}").write_text("")
    (dest / "sparktrainer.db-wal").write_bytes(b"")
    return pid


def test_what_the_move_wrote_opening_its_copy_is_the_moves(copied: tuple[Path, Path]) -> None:
    source, dest = copied
    _opening_by_a_process_gone(dest, source)
    with pytest.raises(BadInput, match="unfinished copy"):
        Store.open(dest)
    assert partial_copy.used_since(dest, partial_copy.read(dest), source) is None


def test_another_process_opening_the_copy_is_still_told(copied: tuple[Path, Path]) -> None:
    source, dest = copied
    pid = _opening_by_a_process_gone(dest, source)
    (dest / ".open" / f"{pid + 1}@{presence.host_tag()}-00bb{presence.SUFFIX}").write_text("")
    assert "a SparkTrainer process opened it" in partial_copy.used_since(dest, partial_copy.read(dest), source)
