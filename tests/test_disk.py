"""The shared free-space helpers: paths not created yet are measured at their nearest existing parent."""

from __future__ import annotations

from pathlib import Path

from spark_trainer import disk


def test_a_folder_not_created_yet_is_measured_where_it_will_be(tmp_path: Path) -> None:
    future = tmp_path / "not" / "yet" / "here"
    assert disk.nearest_existing(future) == tmp_path
    assert disk.free_bytes(future) > 0  # not an error for a path that does not exist
    assert disk.same_filesystem(future, tmp_path)


def test_folder_bytes_counts_files_below_and_an_unreadable_folder_is_zero(tmp_path: Path) -> None:
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / "x.bin").write_bytes(b"1" * 100)
    (tmp_path / "a" / "b" / "y.bin").write_bytes(b"2" * 23)
    assert disk.folder_bytes(tmp_path) == 123
    assert disk.folder_bytes(tmp_path / "missing") == 0
