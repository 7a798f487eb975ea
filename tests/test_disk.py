"""The shared free-space helpers: paths not created yet are measured at their nearest existing parent."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest

from spark_trainer import disk
from spark_trainer.errors import DiskFault, DiskFull


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


def _mounts(tmp_path: Path, kind: str) -> Path:
    """A /proc/self/mounts stand-in: tmp_path (a name with a space, escaped as the kernel does) mounted
    from a server, over an automounter's entry at the same point."""
    home = tmp_path / "lab share"
    (home / "spark").mkdir(parents=True)
    point = str(home).replace(" ", "\\040")
    mounts = tmp_path / "mounts"
    mounts.write_text(f"/dev/sda1 / ext4 rw 0 0\nauto.lab {point} autofs rw 0 0\n"
                      f"nas:/export/lab {point} {kind} rw,relatime 0 0\n")
    return mounts


def test_a_home_on_a_network_filesystem_is_told_with_its_server(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(disk, "MOUNTS", _mounts(tmp_path, "nfs4"))
    home = tmp_path / "lab share" / "spark"
    assert disk.mount_of(home / "not yet") == (str(tmp_path / "lab share"), "nfs4", "nas:/export/lab")
    warning = disk.network_home_warning(home)
    assert warning == (f"data home {home} is on a network filesystem (nfs4 from nas:/export/lab): its database is "
                       "safe only while every SparkTrainer process using it runs on this one machine, and may still "
                       "fail to lock; a folder on a local disk is safer (--home or SPARK_TRAINER_HOME)")
    assert disk.network_home_warning(tmp_path) is None  # on the root's ext4


def test_a_home_on_a_local_filesystem_has_no_warning(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(disk, "MOUNTS", _mounts(tmp_path, "ext4"))
    assert disk.network_home_warning(tmp_path / "lab share" / "spark") is None
    monkeypatch.setattr(disk, "MOUNTS", tmp_path / "no such file")  # not Linux: nothing can be told
    assert disk.mount_of(tmp_path) is None and disk.network_home_warning(tmp_path) is None


def test_files_a_library_wrote_private_get_the_mode_an_ordinary_open_gives(tmp_path) -> None:
    import os
    import stat

    from spark_trainer.disk import current_umask, files_as_umask

    before = os.umask(0o022)
    try:
        assert current_umask() == 0o022
        (tmp_path / "sub").mkdir()
        private, plain, kept = tmp_path / "sub" / "w.safetensors", tmp_path / "a.json", tmp_path / "run.sh"
        for path, mode in ((private, 0o600), (plain, 0o644), (kept, 0o700)):
            path.write_text("x")
            path.chmod(mode)
        files_as_umask(tmp_path)
        assert [oct(stat.S_IMODE(p.stat().st_mode)) for p in (private, plain, kept)] == ["0o644", "0o644", "0o700"]
    finally:
        os.umask(before)


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="reads fsync's file from /proc")
def test_a_finished_staging_folder_reaches_the_disk_to_its_deepest_file(tmp_path: Path, monkeypatch) -> None:
    """Subfolders too (a diffusers export's unet/, a tokenizer's): each file, each folder, the folder."""
    import os

    from spark_trainer.disk import finish_staging, fsync_dir
    from tests.synced import record_syncs, unsynced_before_publishing

    staging = tmp_path / ".staging-model"
    (staging / "unet" / "deeper").mkdir(parents=True)
    for name in ("config.json", "unet/weights.safetensors", "unet/deeper/a.txt"):
        (staging / name).write_text(name)
    events = record_syncs(monkeypatch)
    finish_staging(staging)
    os.replace(staging, tmp_path / "model")
    fsync_dir(tmp_path)
    assert unsynced_before_publishing(events, tmp_path / "model") == []
    synced = [Path(path) for kind, path, _ in events if kind == "fsync"]
    assert synced.index(staging / "unet" / "deeper" / "a.txt") < synced.index(staging / "unet" / "deeper") \
        < synced.index(staging / "unet") < synced.index(staging)  # a file before the folder holding it


def test_sizes_are_labelled_in_the_units_they_are_counted_in() -> None:
    # Seen: `gb` divided by 2**30 and said "GB" (and the CLI's sizes by 1024, "KB"/"MB"/"GB"), while the
    # app's estimates, memory charts and Playground said GiB: one size, two labels. Every size is 1024-based.
    from spark_trainer.disk import gb, human_bytes

    assert gb(3 * 2**30) == "3.00 GiB" and gb(2**20) == "1.0 MiB" and gb(0) == "0.0 MiB"
    assert [human_bytes(n) for n in (512, 2900, 2**20, 3 * 2**30, 5 * 2**40, None)] == [
        "512 B", "2.8 KiB", "1.0 MiB", "3.0 GiB", "5.0 TiB", "-"]


@pytest.mark.parametrize(("code", "limit", "kind"), [
    (errno.ENOSPC, None, DiskFault.FULL),
    (errno.EFBIG, 2**20, DiskFault.FILE_SIZE_LIMIT),
    (errno.EFBIG, None, DiskFault.TOO_LARGE),
    (errno.EIO, None, DiskFault.IO_ERROR),
    (errno.EROFS, None, DiskFault.READ_ONLY),
])
def test_a_whole_write_that_fails_says_why_by_its_errno(tmp_path: Path, monkeypatch, code: int,
                                                        limit: int | None, kind: DiskFault) -> None:
    """A sample or report write: its DiskFull's kind comes from the error's errno, which is what the
    run's advice is chosen by (it was chosen by the words of the line)."""
    monkeypatch.setattr(disk, "file_size_limit", lambda: limit)

    def write(path: Path) -> None:
        path.write_bytes(b"x")
        raise OSError(code, "x")

    with pytest.raises(DiskFull) as raised:
        disk.write_whole(tmp_path / "s.json", write, "the sample was not written")
    assert raised.value.kind == kind
    assert list(tmp_path.iterdir()) == []


def test_a_library_that_words_the_errno_is_told_apart_by_its_words() -> None:
    """safetensors raises its own type with the OS error in words ("(os error 28)")."""
    assert disk.fault_of(RuntimeError("I/O error: No space left on device (os error 28)")) == DiskFault.FULL
    assert disk.fault_of(RuntimeError("I/O error: Read-only file system (os error 30)")) == DiskFault.READ_ONLY
    assert disk.fault_of(RuntimeError("I/O error: Input/output error (os error 5)")) == DiskFault.IO_ERROR
