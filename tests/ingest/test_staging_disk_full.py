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
from spark_trainer.ingest.video import space
from spark_trainer.ingest.video.frames import extract_frames
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
    assert f", the dataset needs about {(size + 4 * MiB) / MiB:.1f} MiB; nothing was saved" in line, line
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
    assert line == (f"error: disk full at {full_home / 'datasets'}: 0.0 MiB free, the dataset needs about "
                    f"{(size + 4 * MiB) / MiB:.1f} MiB; nothing was saved"), line
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


def test_video_frames_on_a_full_disk_fail_the_whole_dataset(full_home: Path, cli, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    video = write_video(tmp_path / "clip.mp4", 30)
    before = _state(full_home)
    # The space check passed, then another program took the space: extraction meets the full disk.
    monkeypatch.setattr(space, "check_room", lambda *args: None)
    fill(full_home)
    out = cli("dataset", "video", video, "--project", "p", "--every-n", "5")
    assert out.code == 1, out.err  # was: the video "rejected", then "no frames extracted" (exit 2)
    line = out.err.strip().splitlines()[-1]
    assert line == (f"error: disk full at {full_home / 'cache'}: 0.0 MiB free, cannot write the frames of "
                    f"clip.mp4; nothing was saved"), out.err
    os.unlink(full_home / ".ballast")
    assert _state(full_home) == before


def _noise_video(path: Path, n_frames: int, size: tuple[int, int] = (480, 360)) -> Path:
    """Frames of random pixels: their images do not compress, so a few fill a small disk."""
    import cv2

    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 30, size)
    rng = np.random.default_rng(0)
    for _ in range(n_frames):
        writer.write(rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8))
    writer.release()
    return path


def test_video_frames_that_would_not_fit_are_refused_before_any_is_written(full_home: Path, cli,
                                                                           tmp_path: Path) -> None:
    video = _noise_video(tmp_path / "noise.avi", 30)
    before = _state(full_home)
    out = cli("dataset", "video", video, "--project", "p", "--fps", "15")  # every other frame: 15 frames
    assert out.code == 1, out.err
    line = out.err.strip().splitlines()[-1]
    prefix = f"error: disk full at {full_home / 'cache'}: "
    assert line.startswith(prefix) and line.endswith(" MiB; nothing was saved"), line
    assert _state(full_home) == before  # no frame, cache folder or dataset row
    # The estimate is honest: the 15 frames really written (to the cache, then copied into the
    # dataset) take at most what it said, and not far less.
    real = 2 * sum(f.path.stat().st_size for f in extract_frames(video, tmp_path / "frames", fps=15))
    needs = float(line.split("the frames need about ")[1].split(" MiB")[0]) * MiB - 4 * MiB  # less the margin
    assert real <= needs <= 1.5 * real, (real, needs)


def test_scene_frames_are_checked_once_the_scenes_are_known(full_home: Path, cli, tmp_path: Path) -> None:
    video = write_video(tmp_path / "cuts.mp4", 60, cuts=[20, 40])
    before = _state(full_home)
    fill(full_home)
    out = cli("dataset", "video", video, "--project", "p", "--scenes")
    assert out.code == 1, out.err
    line = out.err.strip().splitlines()[-1]
    assert line.startswith(f"error: disk full at {full_home / 'cache'}: 0.0 MiB free, the frames need about "), line
    assert line.endswith("; nothing was saved"), line
    os.unlink(full_home / ".ballast")
    assert _state(full_home) == before


def _jsonl(path: Path, rows: int) -> Path:
    rng = np.random.default_rng(1)
    with path.open("w") as fh:
        for i in range(rows):
            fh.write(f'{{"text": "row {i} {rng.integers(0, 2**62):x}{"y" * 60}", "label": "{i % 3}"}}\n')
    return path


def test_rows_meeting_a_full_disk_name_the_folder_and_leave_no_staging(full_home: Path, cli, tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """The accepted rows are written through a buffer: removing the staging closed it first, and its flush
    met the full disk again, so the folder stayed and the error was "I/O error ... No space left on device"."""
    data = _jsonl(tmp_path / "m.jsonl", 2000)
    before = _state(full_home)
    monkeypatch.setattr(DatasetBuilder, "check_space", lambda self, needed: setattr(self, "needed_bytes", needed))
    fill(full_home)
    out = cli("dataset", "ingest", data, "--project", "p")
    assert out.code == 1, out.err
    line = out.err.strip().splitlines()[-1]
    assert line.startswith(f"error: disk full at {full_home / 'datasets'}: 0.0 MiB free, the dataset needs about "), line
    assert line.endswith("; nothing was saved"), line
    (full_home / ".ballast").unlink()
    assert _state(full_home) == before
    assert not [p.name for p in (full_home / "datasets").iterdir()]  # no `.staging-*` either


def test_a_killed_ingestions_staging_does_not_take_the_room_of_the_next(tmpfs, home: Path, cli,  # noqa: F811
                                                                        tmp_path: Path) -> None:
    """An ingestion killed outright left its staging folder; the next one was refused for the space that
    folder held, since it was swept only once the space check had passed."""
    from tests.dead_process import dead_tag

    tmpfs(home, 12 * MiB)
    assert cli("project", "create", "p").code == 0
    left = home / "datasets" / f".staging-{dead_tag()}-abcd1234"
    left.mkdir(parents=True)
    (left / ".rows.jsonl").write_bytes(os.urandom(8 * MiB))
    data = _jsonl(tmp_path / "m.jsonl", 2000)
    out = cli("dataset", "ingest", data, "--project", "p")
    assert out.code == 0, out.err
    assert not left.exists()
