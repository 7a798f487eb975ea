"""The data home: one folder holding the database, datasets, runs, models and exports."""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from spark_trainer.errors import BadInput

HOME_ENV = "SPARK_TRAINER_HOME"
DB_NAME = "sparktrainer.db"
# SQLite's unix VFS opens no database whose full path (symlinks resolved) is over 512 - 8 bytes (room for
# its "-journal" name); the longest file it opens in a home is a migration's backup beside the database,
# `sparktrainer.db.backup-<UTC time>-rev<NNNN>` (53 bytes): so a home's own path is at most this long.
MAX_NAME_BYTES = 255  # one folder name (NAME_MAX of Linux, macOS and Windows filesystems)
MAX_HOME_PATH_BYTES = 504 - len("/sparktrainer.db.backup-20260101T120000000000Z-rev0000")


@dataclass(frozen=True)
class DataHome:
    """Paths inside one data home. Creating it does not touch the disk; `ensure()` does."""

    root: Path

    @property
    def db_path(self) -> Path:
        return self.root / DB_NAME

    @property
    def datasets_dir(self) -> Path:
        return self.root / "datasets"

    @property
    def runs_dir(self) -> Path:
        return self.root / "runs"

    @property
    def models_dir(self) -> Path:
        return self.root / "models"

    @property
    def exports_dir(self) -> Path:
        return self.root / "exports"

    @property
    def video_cache_dir(self) -> Path:
        """The video wizard's per-video work (ingest/video/wizard.py)."""
        return self.root / "cache" / "video"

    def dataset_dir(self, dataset_id: int) -> Path:
        return self.datasets_dir / str(dataset_id)

    def run_dir(self, run_id: int) -> Path:
        return self.runs_dir / str(run_id)

    def export_dir(self, export_id: int | str) -> Path:
        return self.exports_dir / str(export_id)

    def ensure(self) -> DataHome:
        """Create the home and its folders; raise BadInput naming the path if it is too long for SQLite
        (nothing made) or not writable."""
        check_path_length(self.root)
        try:
            for folder in (self.root, self.datasets_dir, self.runs_dir, self.models_dir, self.exports_dir):
                folder.mkdir(parents=True, exist_ok=True)
            # A unique probe name: several processes may open the same home at once.
            with tempfile.NamedTemporaryFile(dir=self.root, prefix=".write-test-"):
                pass
        except OSError as exc:
            blocker = next((p for p in (self.root, *self.root.parents) if p.exists() and not p.is_dir()), None)
            if blocker is not None:
                raise BadInput(f"data home {self.root} cannot be made: {blocker} is a file, not a folder") from exc
            reason = exc.strerror or str(exc)
            raise BadInput(f"data home {self.root} is not writable: {reason}") from exc
        return self


def check_path_length(root: Path) -> None:
    """Refuse a home whose database SQLite could not open for its path's length: it said only "unable to
    open database file", after the home's folders were made."""
    longest = max((os.fsencode(part) for part in Path(root).parts), key=len, default=b"")
    if len(longest) > MAX_NAME_BYTES:  # the filesystem refuses it: "File name too long", naming nothing else
        raise BadInput(f"data home path has a folder name of {len(longest)} bytes, at most {MAX_NAME_BYTES} "
                       f"(choose a shorter folder): {root}")
    length = len(os.fsencode(os.path.realpath(root)))
    if length > MAX_HOME_PATH_BYTES:
        raise BadInput(f"data home path is too long for SQLite: {length} bytes, at most {MAX_HOME_PATH_BYTES} "
                       f"(choose a shorter folder): {root}")


def resolve_home(home: str | os.PathLike[str] | None = None) -> DataHome:
    """The data home from an explicit path, else $SPARK_TRAINER_HOME, else the chosen home, else the
    platform default (spark_trainer.home_record.choose_home, which also says why)."""
    from spark_trainer.home_record import choose_home

    return choose_home(home).home


def disk_free_bytes(path: Path) -> int:
    """Free bytes on the filesystem holding `path` (or its nearest existing parent)."""
    from spark_trainer.disk import nearest_existing

    return shutil.disk_usage(nearest_existing(path)).free
