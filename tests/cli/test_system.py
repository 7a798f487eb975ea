"""doctor's library versions: a frozen app (PyInstaller) keeps only some packages' metadata."""

from __future__ import annotations

import importlib.metadata

import pytest

from spark_trainer.cli import system


def test_a_library_without_metadata_is_found_through_its_module(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_metadata(dist: str) -> str:
        raise importlib.metadata.PackageNotFoundError(dist)

    monkeypatch.setattr(importlib.metadata, "version", no_metadata)
    import PySide6

    assert system._version("PySide6-Essentials") == PySide6.__version__
    assert system._version("no-such-library-here") is None


def test_a_home_on_a_network_filesystem_is_warned_of_and_named_by_doctor(cli, home, tmp_path, monkeypatch) -> None:
    from spark_trainer import disk

    mounts = tmp_path / "mounts"
    mounts.write_text(f"/dev/sda1 / ext4 rw 0 0\nnas:/export/lab {home} nfs rw,vers=3 0 0\n")
    monkeypatch.setattr(disk, "MOUNTS", mounts)
    done = cli("doctor")
    assert f"filesystem     nfs at {home} from nas:/export/lab (network filesystem: not safe for the database)" \
        in done.out
    assert done.err.count(f"warning: data home {home} is on a network filesystem (nfs from nas:/export/lab)") == 1
    listed = cli("--json", "project", "list")  # every command that opens the database says it, on stderr
    assert listed.code == 0 and "network filesystem" in listed.err and "network" not in listed.out

    mounts.write_text(f"/dev/sda1 / ext4 rw 0 0\n/dev/sdb1 {home} xfs rw 0 0\n")
    done = cli("doctor")
    assert f"filesystem     xfs at {home}\n" in done.out and "warning" not in done.err
