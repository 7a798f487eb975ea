"""The space a worker holds back (a real tmpfs): really allocated, so deleting it gives a full disk
room again; on a disk with no room it is simply not held."""

from __future__ import annotations

import shutil
from pathlib import Path

from spark_trainer.jobs import space_reserve
from tests.tmpfs import fill, tmpfs  # noqa: F401 - the fixture


def test_the_reserve_is_real_space_that_release_gives_back(tmpfs, tmp_path: Path) -> None:  # noqa: F811
    run_dir = tmpfs(tmp_path / "run", 8 * 2**20)
    before = shutil.disk_usage(run_dir).free
    assert space_reserve.hold(run_dir)
    assert before - shutil.disk_usage(run_dir).free >= space_reserve.RESERVE_BYTES  # not a sparse file
    assert space_reserve.hold(run_dir)  # held already: kept as it is
    fill(run_dir)
    assert shutil.disk_usage(run_dir).free == 0
    assert space_reserve.release(run_dir)
    assert shutil.disk_usage(run_dir).free >= space_reserve.RESERVE_BYTES
    assert not space_reserve.release(run_dir)  # released already


def test_no_room_for_the_reserve_leaves_no_file(tmpfs, tmp_path: Path) -> None:  # noqa: F811
    run_dir = tmpfs(tmp_path / "run", 1 * 2**20)
    assert not space_reserve.hold(run_dir)
    assert not (run_dir / space_reserve.RESERVE_NAME).exists()
