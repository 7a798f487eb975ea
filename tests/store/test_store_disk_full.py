"""A database write on a full disk (a real, small tmpfs as the data home) is one line naming the
folder and its free space, changes nothing, and works again once there is room."""

from __future__ import annotations

from pathlib import Path

import pytest

from spark_trainer.errors import DiskFull, StoreError
from spark_trainer.store import projects
from spark_trainer.store.store import Store
from tests.tmpfs import fill, free, tmpfs  # noqa: F401 - the fixture


def _dump(store: Store) -> list[str]:
    raw = store.engine.raw_connection()
    try:
        return list(raw.driver_connection.iterdump())
    finally:
        raw.close()


def test_a_write_on_a_full_disk_names_the_folder_and_changes_nothing(tmpfs, tmp_path: Path) -> None:  # noqa: F811
    home = tmpfs(tmp_path / "home", 4 * 2**20)
    with Store.open(home) as store:
        projects.create(store, "p")
        before = _dump(store)
        fill(home)
        with pytest.raises(DiskFull) as caught:
            projects.create(store, "q")
        message = str(caught.value)
        assert isinstance(caught.value, StoreError)  # callers that handle store errors still do
        assert message.startswith(f"disk full at {home}: 0.0 MiB free; the database sparktrainer.db could not be "
                                  "written"), message
        assert "\n" not in message and "database or disk is full" not in message
        assert [p.name for p in projects.list_all(store)] == ["p"]
        free(home)
        assert _dump(store) == before
        projects.create(store, "q")
        assert [p.name for p in projects.list_all(store)] == ["p", "q"]
