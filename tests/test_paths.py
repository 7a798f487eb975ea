"""The data home's paths (spark_trainer/paths.py): a home whose path SQLite cannot open for its length is
refused in one line before anything is made (it said "unable to open database file" after making the
home's folders)."""

from __future__ import annotations

from pathlib import Path

import pytest

from spark_trainer.errors import BadInput
from spark_trainer.paths import MAX_HOME_PATH_BYTES, DataHome
from spark_trainer.store import migrate, projects
from spark_trainer.store.store import Store


def _home_of(tmp_path: Path, length: int) -> Path:
    """A folder under `tmp_path` whose path is `length` bytes, in names of 100 (two-byte 'é's among them)."""
    path, left = tmp_path / ("é" * 50), length - len(str(tmp_path).encode()) - 101
    while left > 101:
        path, left = path / ("d" * 100), left - 101
    return path / ("e" * (left - 1))


def test_a_home_as_long_as_sqlite_allows_opens_and_backs_its_database_up(tmp_path: Path) -> None:
    home = _home_of(tmp_path, MAX_HOME_PATH_BYTES)
    assert len(str(home).encode()) == MAX_HOME_PATH_BYTES
    with Store.open(home) as store:
        projects.create(store, "x")
    backup = migrate.backup(home / "sparktrainer.db", migrate.HEAD_REVISION)  # the longest name it opens there
    assert backup.stat().st_size > 0


def test_a_longer_home_is_refused_in_one_line_before_anything_is_made(tmp_path: Path) -> None:
    home = _home_of(tmp_path, MAX_HOME_PATH_BYTES + 1)
    with pytest.raises(BadInput) as refused:
        Store.open(home)
    assert str(refused.value).startswith(f"data home path is too long for SQLite: {MAX_HOME_PATH_BYTES + 1} bytes, "
                                         f"at most {MAX_HOME_PATH_BYTES} ")
    assert "\n" not in str(refused.value) and list(tmp_path.iterdir()) == []


def test_the_length_is_of_the_path_sqlite_opens_with_links_followed(tmp_path: Path) -> None:
    deep = _home_of(tmp_path / "real", MAX_HOME_PATH_BYTES - 10).parent
    deep.mkdir(parents=True)
    (tmp_path / "l").symlink_to(deep)
    with pytest.raises(BadInput, match="too long for SQLite"):
        DataHome(tmp_path / "l" / ("h" * 120)).ensure()  # short here, long where the link points
