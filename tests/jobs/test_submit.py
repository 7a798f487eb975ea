"""Submitting a run when its folder cannot be written (the runs folder on a full disk; a real tmpfs,
needs root): one line naming the place, and the run recorded failed with that line as its error."""

from __future__ import annotations

from pathlib import Path

from spark_trainer.store import runs
from spark_trainer.store.entities import RunStatus
from spark_trainer.store.store import Store
from tests.tmpfs import fill, fill_when_run_is_written, tmpfs  # noqa: F401 - the fixture


def test_a_run_folder_on_a_full_disk_is_one_line_naming_it(store: Store, cli, run_file, tmpfs) -> None:  # noqa: F811
    full = tmpfs(store.home.runs_dir, 64 * 1024)
    fill(full)
    result = cli("train", run_file("full"))
    assert result.code == 1, result.err
    assert result.err.count("\n") == 1 and result.err.startswith(f"error: disk full at {full}"), result.err
    [run] = runs.list_all(store)
    assert run.status == RunStatus.FAILED and run.error == result.err.removeprefix("error: ").strip()
    assert not Path(run.run_dir).exists()  # nothing half-written: no run.json.tmp, no empty config.yaml


def test_a_run_folder_on_a_full_home_names_the_folder_not_the_database(home, cli, run_file, tmpfs,  # noqa: F811
                                                                        monkeypatch) -> None:
    """The database on the full disk too: recording the run failed was a database write that failed,
    and its error (naming the database) replaced the folder's. The folder's line is said; the run stays
    queued without a folder, which the scheduler fails in one line."""
    full = tmpfs(home, 32 * 2**20)
    fill_when_run_is_written(monkeypatch, full, 1)
    result = cli("train", run_file("full"))
    assert result.code == 1, result.err
    assert result.err.count("\n") == 1 and result.err.startswith(f"error: disk full at {full / 'runs'}:"), result.err
    assert not (full / "runs" / "1").exists()
