"""Free space, and one line for a write that failed for lack of it (or on an I/O error).

Shared by the store (a SQLite write that hit SQLITE_FULL / SQLITE_IOERR), ingestion (copying files
into the data home) and the training engine (checkpoints, see training/diskspace.py), so that every
one of them says "disk full at <folder>: N MiB free ..." instead of its library's own words.
"""

from __future__ import annotations

import errno
import os
import re
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from spark_trainer.errors import DiskFault

# errno values that mean "no room": the disk or a quota (the per-file size limit, `ulimit -f`, is EFBIG).
FULL_ERRNOS = frozenset({errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)})
IO_ERRNOS = frozenset({errno.EIO, errno.EFBIG, errno.EROFS})
# A library that reports the OS error in its own exception type, in words: safetensors writes
# "Error while serializing: I/O error: No space left on device (os error 28)".
_FULL_WORDS = re.compile(r"No space left on device|Disk quota exceeded|\(os error (?:28|122)\)")


# Every size the app and the CLI show is counted in 1024s, and labelled so (KiB, MiB, GiB): the GPU
# memory figures (NVML's, torch's), the estimates and the disk figures alike, so one size reads the same
# on every screen ("GB" over a 2**30 count said 1.07 times too little beside an estimate's GiB).
def gb(n: float) -> str:
    """Bytes as a short human figure: GiB from 256 MiB up, else MiB."""
    return f"{n / 2**30:.2f} GiB" if n >= 2**28 else f"{n / 2**20:.1f} MiB"


def human_bytes(n: float | None) -> str:
    """Bytes in the largest binary unit under 1024 of it ("2.8 KiB", "3.0 GiB"); "-" for None."""
    if n is None:
        return "-"
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(value) < 1024:
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TiB"


def nearest_existing(path: Path) -> Path:
    """`path`, or its nearest parent that exists (a folder about to be created lives there)."""
    probe = Path(path)
    while not _exists(probe) and probe != probe.parent:
        probe = probe.parent
    return probe


def _exists(path: Path) -> bool:
    """`path.exists()`, False where the name cannot be (a folder name over NAME_MAX raises, not False)."""
    try:
        return path.exists()
    except OSError:
        return False


def free_bytes(path: Path) -> int:
    """Free bytes on the filesystem holding `path` (or its nearest existing parent)."""
    return shutil.disk_usage(nearest_existing(path)).free


def same_filesystem(a: Path, b: Path) -> bool:
    """Whether `a` and `b` (or their nearest existing parents) are on one filesystem."""
    return os.stat(nearest_existing(a)).st_dev == os.stat(nearest_existing(b)).st_dev


def folder_bytes(folder: Path) -> int:
    """The size of the files under `folder`, links not followed (0 when it is missing); a file or folder
    that cannot be read is left out, not the whole count (a full disk's hint sizes a home's folders
    while other processes delete in them)."""
    total = 0
    stack = [Path(folder)]
    while stack:
        try:
            with os.scandir(stack.pop()) as entries:
                for entry in entries:
                    try:
                        if entry.is_dir(follow_symlinks=False):
                            stack.append(Path(entry.path))
                        elif entry.is_file(follow_symlinks=False):
                            total += entry.stat(follow_symlinks=False).st_size
                    except OSError:
                        continue
        except OSError:
            continue
    return total


def is_full(exc: BaseException) -> bool:
    """True for an OSError meaning no space (ENOSPC, EDQUOT), or a library's error saying so in words."""
    if isinstance(exc, OSError):
        return exc.errno in FULL_ERRNOS
    return isinstance(exc, Exception) and _FULL_WORDS.search(str(exc)) is not None


# The same errors as a library words them in its own exception type ("(os error 27)": safetensors).
_TOO_LARGE_WORDS = re.compile(r"File too large|\(os error 27\)")
_READ_ONLY_WORDS = re.compile(r"Read-only file system|Permission denied|\(os error (?:30|13|1)\)")
READ_ONLY_ERRNOS = frozenset({errno.EROFS, errno.EACCES, errno.EPERM})


def file_size_limit() -> int | None:
    """The process's file size limit in bytes (`ulimit -f`), None when there is none (or on Windows)."""
    try:
        import resource
    except ImportError:  # Windows
        return None
    soft, _hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    return None if soft == resource.RLIM_INFINITY else soft


def is_too_large(exc: BaseException) -> bool:
    """EFBIG: a file past the size limit, or past what its filesystem holds (said in words or not)."""
    if isinstance(exc, OSError) and exc.errno is not None:
        return exc.errno == errno.EFBIG
    return _TOO_LARGE_WORDS.search(str(exc)) is not None


def fault_of(exc: BaseException) -> DiskFault:
    """Why a write failed for its disk, from its errno (or a library's words for it): what `DiskFull.kind`
    holds, so the advice a user gets is chosen by cause, never by reading the final message."""
    if is_full(exc):
        return DiskFault.FULL
    if is_too_large(exc):
        return DiskFault.FILE_SIZE_LIMIT if file_size_limit() is not None else DiskFault.TOO_LARGE
    code = getattr(exc, "errno", None) if isinstance(exc, OSError) else None
    if code in READ_ONLY_ERRNOS or (code is None and _READ_ONLY_WORDS.search(str(exc)) is not None):
        return DiskFault.READ_ONLY
    return DiskFault.IO_ERROR


def is_write_error(exc: BaseException) -> bool:
    """True for an OSError a full or failing disk causes (what `describe` turns into one line)."""
    return (isinstance(exc, OSError) and exc.errno in FULL_ERRNOS | IO_ERRNOS) or is_full(exc)


def describe(exc: BaseException, folder: Path, *, target: Path | None = None, needs: str = "") -> str:
    """One line for a failed write under `folder`: "disk full at <folder>: N MiB free[, <needs>]" for
    no space, else "I/O error writing <target>: <reason> (N MiB free)". `needs` is e.g.
    "the dataset needs about 3.1 MiB"."""
    try:
        free = gb(free_bytes(folder))
    except OSError:
        free = "unknown space"
    if is_full(exc):
        return f"disk full at {folder}: {free} free" + (f", {needs}" if needs else "")
    reason = getattr(exc, "strerror", None) or str(exc).splitlines()[0]
    return f"I/O error writing {target or getattr(exc, 'filename', None) or folder}: {reason} ({free} free)"


# Filesystems whose files live on another machine. SQLite's WAL mode (the store's) keeps its locks in
# a shared-memory file that only works among processes of one machine, and its locking over these is
# only as good as the network's: sqlite.org, "WAL does not work over a network filesystem".
NETWORK_FILESYSTEMS = frozenset({
    "nfs", "nfs4", "cifs", "smb3", "smbfs", "ncpfs", "afs", "coda", "ceph", "glusterfs", "lustre", "gpfs",
    "beegfs", "ocfs2", "gfs2", "9p", "davfs", "fuse.sshfs", "fuse.glusterfs", "fuse.ceph", "fuse.s3fs",
    "fuse.gcsfuse", "fuse.rclone", "fuse.juicefs", "fuse.davfs", "fuse.cephfs", "fuse.smbnetfs",
})
MOUNTS = Path("/proc/self/mounts")


def write_whole(path: Path, write: Callable[[Path], object], not_written: str) -> None:
    """Write `path` whole or not at all: `write(aside)` into a hidden name beside it (same suffix, so
    an image writer picks its format from it), then rename. A full or failing disk is one DiskFull line,
    "disk full at <folder>: N MiB free; <not_written>", with nothing left behind."""
    from spark_trainer.errors import DiskFull

    aside = path.with_name(f".partial-{path.name}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write(aside)
        os.replace(aside, path)
    except OSError as exc:
        aside.unlink(missing_ok=True)
        if not is_write_error(exc):
            raise
        raise DiskFull(f"{describe(exc, path.parent, target=path)}; {not_written}", fault_of(exc)) from None


def replace_bytes(path: Path, content: bytes) -> None:
    """Write `path` whole or not at all: aside, then renamed over it (nothing left aside on failure).
    An OSError names `path` (see `naming`)."""
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        with naming(path):
            tmp.write_bytes(content)
            tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)


@contextmanager
def restoring(paths: list[Path]) -> Iterator[None]:
    """Put `paths` back as they were (a file's bytes; no file: none) when the block raises, then re-raise:
    a command that rewrites a run's files before the database takes the change (`run extend`, `run resume
    --gpus`) leaves them as they were when the database refuses it. A file that cannot be put back never
    hides the error that stopped the command."""
    kept = {path: path.read_bytes() if path.is_file() else None for path in paths}
    try:
        yield
    except BaseException:
        for path, content in kept.items():
            try:
                if content is None:
                    path.unlink(missing_ok=True)
                elif not path.is_file() or path.read_bytes() != content:
                    replace_bytes(path, content)
            except OSError:
                pass
        raise


@contextmanager
def naming(path: Path | str) -> Iterator[None]:
    """An OSError raised inside that names no file names `path`: a write or flush that fails (a full
    disk, an I/O error) says only "No space left on device", and the command's one line said no more."""
    try:
        yield
    except OSError as exc:
        if exc.filename is not None or exc.errno is None:
            raise
        raise OSError(exc.errno, exc.strerror or str(exc), str(path)) from exc


def _unescape(field: str) -> str:
    """A /proc/mounts field: spaces, tabs, newlines and backslashes come as octal escapes (\\040)."""
    return field.replace("\\040", " ").replace("\\011", "\t").replace("\\012", "\n").replace("\\134", "\\")


def mount_of(path: Path, mounts: str | None = None) -> tuple[str, str, str] | None:
    """(mount point, filesystem type, source) of the filesystem holding `path`, from /proc/self/mounts
    (`mounts`: its text); None where that cannot be read (not Linux)."""
    if mounts is None:
        try:
            mounts = MOUNTS.read_text()
        except OSError:
            return None
    where = os.path.realpath(nearest_existing(Path(path)))
    found = None
    for line in mounts.splitlines():
        fields = line.split()
        if len(fields) < 3:
            continue
        source, point, kind = _unescape(fields[0]), _unescape(fields[1]), fields[2]
        inside = where == point or where.startswith(point.rstrip("/") + "/")
        # The longest mount point holding the path; of equal ones the last (mounted over the others).
        if inside and (found is None or len(point) >= len(found[0])):
            found = (point, kind, source)
    return found


def network_filesystem(path: Path, mounts: str | None = None) -> str | None:
    """"<type> from <source>" when `path` lives on a network filesystem, else None."""
    mount = mount_of(path, mounts)
    if mount is None or mount[1] not in NETWORK_FILESYSTEMS:
        return None
    return f"{mount[1]} from {mount[2]}"


def network_home_warning(root: Path, mounts: str | None = None) -> str | None:
    """The one line saying that the data home `root` is on a network filesystem, else None."""
    found = network_filesystem(root, mounts)
    if found is None:
        return None
    return (f"data home {root} is on a network filesystem ({found}): its database is safe only while every "
            "SparkTrainer process using it runs on this one machine, and may still fail to lock; a folder on a "
            "local disk is safer (--home or SPARK_TRAINER_HOME)")


def current_umask() -> int:
    """The process's umask, read without changing it where Linux says it (`os.umask` sets it to read
    it, a race with any thread creating a file meanwhile)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def files_as_umask(folder: Path) -> None:
    """Give files under `folder` that a library wrote private (0600: safetensors writes through a
    temporary file) the mode an ordinary open() gives (0666 less the umask), as the files beside them
    have. Called on a finished staging folder before it is renamed into place."""
    mode = 0o666 & ~current_umask()
    if mode == 0o600:
        return
    for path in Path(folder).rglob("*"):
        if path.is_file() and not path.is_symlink() and (path.stat().st_mode & 0o777) == 0o600:
            path.chmod(mode)


def fsync_file(path: Path) -> None:
    """Make `path`'s content (a file's) or entries (a folder's) reach the disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dir(path: Path) -> None:
    """`fsync_file` for a folder: after a rename into it, so the new name survives a power loss."""
    if os.name == "nt":  # directories cannot be opened for fsync on Windows
        return
    fsync_file(path)


def finish_staging(folder: Path) -> None:
    """Ready a staging folder whose files are all written to be renamed into place: the files get the
    umask's mode (`files_as_umask`), then every file and folder under it reaches the disk, deepest first,
    `folder` last. Rename it, then `fsync_dir` its parent: a power loss never leaves the new name on empty
    or missing files (checkpoints do the same, file by file as they write)."""
    files_as_umask(folder)
    for path in sorted(Path(folder).rglob("*"), key=lambda p: len(p.parts), reverse=True):
        if path.is_file() and not path.is_symlink():
            fsync_file(path)
        elif path.is_dir() and not path.is_symlink():
            fsync_dir(path)
    fsync_dir(folder)
