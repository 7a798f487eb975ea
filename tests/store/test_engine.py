"""The engine and read-only connections open the file at the path given, whatever characters it holds:
`?`, `#` and `%XX` are URL and URI syntax, and a home named `h-q?x` once used the database `h-q` beside
it, shared with `h-q?y`."""

from __future__ import annotations

from pathlib import Path

import pytest

from spark_trainer.errors import StoreError
from spark_trainer.store import projects
from spark_trainer.store.engine import connect_read_only
from spark_trainer.store.store import Store, check_database_file

ODD_NAMES = ["h-q?x", "h-q?y", "h#x", "h#y", "h%20x", "h x", "h%2Fx", "h&mode=ro"]


def test_homes_with_url_characters_keep_their_own_database_inside(tmp_path: Path) -> None:
    for name in ODD_NAMES:
        with Store.open(tmp_path / name) as store:
            projects.create(store, f"of {name}")
    for name in ODD_NAMES:
        assert (tmp_path / name / "sparktrainer.db").is_file()
        with Store.open(tmp_path / name) as store:
            assert [p.name for p in projects.list_all(store)] == [f"of {name}"]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(ODD_NAMES)  # no database beside them


@pytest.mark.parametrize("name", ["h-q?x", "h#x", "h%41x"])
def test_a_file_that_is_not_a_database_is_refused_whatever_the_homes_name(tmp_path: Path, name: str) -> None:
    db = tmp_path / name / "sparktrainer.db"
    db.parent.mkdir()
    db.write_bytes(b"not a database at all, but long enough to be read as one" * 20)
    with pytest.raises(StoreError, match="is not a SQLite database"):
        check_database_file(db)
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]  # and nothing was made beside it


def test_a_read_only_connection_reads_that_file_and_never_makes_one(tmp_path: Path) -> None:
    with Store.open(tmp_path / "h?x") as store:
        projects.create(store, "alpha")
    conn = connect_read_only(tmp_path / "h?x" / "sparktrainer.db")
    try:
        assert conn.execute("SELECT name FROM projects").fetchall() == [("alpha",)]
    finally:
        conn.close()
    with pytest.raises(Exception, match="unable to open"):
        connect_read_only(tmp_path / "h#y" / "sparktrainer.db").execute("SELECT 1")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["h?x"]
