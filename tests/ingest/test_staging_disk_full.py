"""Ingestion into a data home on a full disk (a real tmpfs as the home): one line saying where, how
much is free and how much the dataset needs, exit code 1, the database exactly as it was and no
file of the attempt left behind. Checked before copying; met while copying (someone else filled
the disk meanwhile); a per-file size limit in a real process; frames from the video wizard."""

from __future__ import annotations

import os
import resource
import subprocess
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from spark_trainer.ingest.staging import DatasetBuilder
from spark_trainer.store import projects
from spark_trainer.store.store import Store
from tests.conftest import spark_trainer_exe, subprocess_env
from tests.ingest.media import write_video
from tests.tmpfs import fill, tmpfs  # noqa: F401 - the fixture

MiB = 2**20


def _noise_images(folder: Path, n: int, side: int = 600) -> int:
    """PNGs of random pixels (they do not compress): about 1 MiB each; returns their total size."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for i in range(n):
        Image.fromarray(rng.integers(0, 255, (side, side, 3), dtype=np.uint8)).save(folder / f"{i}.png")
    return sum(p.stat().st_size for p in folder.iterdir())


def _state(home: Path) -> tuple[list[str], list[str]]:
    """The database's full content and every file (and non-empty folder) under datasets/ and cache/
    (the wizard's empty cache/video folder may stay: it is where its cache lives)."""
    with Store.open(home) as store:
        raw = store.engine.raw_connection()
        try:
            dump = list(raw.driver_connection.iterdump())
        finally:
            raw.close()
    files = sorted(str(p.relative_to(home)) for top in ("datasets", "cache") if (home / top).exists()
                   for p in (home / top).rglob("*") if p.is_file() or any(p.iterdir()))
    return dump, files


@pytest.fixture
def full_home(tmpfs, home: Path, cli) -> Iterator[Path]:  # noqa: F811
    """A 6 MiB home with project "p". A store stays open meanwhile, as the app would be: with no
    connection open SQLite removes its -shm file, and on a full disk could not create it again."""
    tmpfs(home, 6 * MiB)
    assert cli("project", "create", "p").code == 0
    with Store.open(home) as kept_open:
        projects.list_all(kept_open)
        yield home


def test_too_little_space_is_refused_before_copying(full_home: Path, cli, tmp_path: Path) -> None:
    size = _noise_images(tmp_path / "imgs", 3)
    before = _state(full_home)
    out = cli("dataset", "ingest", tmp_path / "imgs", "--project", "p")
    assert out.code == 1, out.err
    line = out.err.strip()
    assert line.startswith(f"error: disk full at {full_home / 'datasets'}: ") and "\n" not in line, line
    assert f", the dataset needs about {(size + 4 * MiB) / MiB:.1f} MB; nothing was saved" in line, line
    assert _state(full_home) == before


def test_the_disk_filling_during_the_copy_leaves_nothing(full_home: Path, cli, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    size = _noise_images(tmp_path / "imgs", 3)
    before = _state(full_home)
    # The check passed, then another program took the space: the copy itself meets the full disk.
    monkeypatch.setattr(DatasetBuilder, "check_space", lambda self, needed: setattr(self, "needed_bytes", needed))
    fill(full_home)
    out = cli("dataset", "ingest", tmp_path / "imgs", "--project", "p")
    assert out.code == 1, out.err
    line = out.err.strip().splitlines()[-1]  # after the progress lines
    assert line == (f"error: disk full at {full_home / 'datasets'}: 0.0 MB free, the dataset needs about "
                    f"{(size + 4 * MiB) / MiB:.1f} MB; nothing was saved"), line
    (full_home / ".ballast").unlink()
    assert _state(full_home) == before


def test_a_file_size_limit_in_a_real_process_is_an_io_error_and_leaves_nothing(full_home: Path,
                                                                               tmp_path: Path) -> None:
    _noise_images(tmp_path / "imgs", 2, side=400)  # about 0.5 MiB each: room enough, but each past the limit
    before = _state(full_home)

    def limit() -> None:  # `ulimit -f 256`: writing a file past 256 KiB fails with EFBIG
        resource.setrlimit(resource.RLIMIT_FSIZE, (256 * 1024, resource.RLIM_INFINITY))

    done = subprocess.run([spark_trainer_exe(), "--home", str(full_home), "dataset", "ingest",
                           str(tmp_path / "imgs"), "--project", "p"], env=subprocess_env(), preexec_fn=limit,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 1, done.stderr
    lines = [ln for ln in done.stderr.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    assert lines[0].startswith("error: I/O error writing ") and "File too large" in lines[0], lines[0]
    assert lines[0].endswith("; nothing was saved"), lines[0]
    assert _state(full_home) == before


def test_video_frames_on_a_full_disk_fail_the_whole_dataset(full_home: Path, cli, tmp_path: Path) -> None:
    video = write_video(tmp_path / "clip.mp4", 30)
    before = _state(full_home)
    fill(full_home)
    out = cli("dataset", "video", video, "--project", "p", "--every-n", "5")
    assert out.code == 1, out.err  # was: the video "rejected", then "no frames extracted" (exit 2)
    line = out.err.strip().splitlines()[-1]
    assert line == (f"error: disk full at {full_home / 'cache'}: 0.0 MB free, cannot write the frames of "
                    f"clip.mp4; nothing was saved"), out.err
    os.unlink(full_home / ".ballast")
    assert _state(full_home) == before
