"""doctor's library versions: a frozen app (PyInstaller) keeps only some packages' metadata."""

from __future__ import annotations

import importlib.metadata
from pathlib import Path

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


def test_gpus_names_the_runs_on_the_cpu_as_the_gpus_view_does(store, cli) -> None:
    # The GPUs view says which runs hold each GPU, and which train on the CPU; `gpus` said neither.
    import subprocess
    import sys

    from spark_trainer.gpu import list_gpus
    from spark_trainer.jobs import process
    from spark_trainer.store import experiments, projects, runs
    from spark_trainer.store.entities import RunStatus

    if list_gpus():
        pytest.skip("this machine has NVIDIA GPUs: the runs column is checked through holders() below")
    projects.create(store, "p")
    exp = experiments.create(store, project="p", name="e", recipe="causal-lm", base_model="m", dataset=None, config={})
    run = runs.create(store, exp.id)
    alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])  # the run's worker, alive
    try:
        found = process.identity(alive.pid)
        for status in (RunStatus.STARTING, RunStatus.RUNNING):
            runs.transition(store, run.id, status, "test", pid=alive.pid, pid_start_time=found.start_time, step=3)
        shown = cli("gpus")
        assert shown.code == 0, shown.err
        assert shown.out.splitlines()[1] == f"runs on the CPU now: run {run.id} (e, step 3)"
        assert cli("--json", "gpus").json() == []  # the same list as before
    finally:
        alive.kill()
        alive.wait()
    assert cli("gpus").out.splitlines()[1] == "no run is using the CPU"  # its worker is gone: interrupted


def test_holders_lists_the_runs_on_each_gpu() -> None:
    from types import SimpleNamespace

    from spark_trainer.jobs.gpus import holders

    a, b = SimpleNamespace(id=1, gpus=[0, 1]), SimpleNamespace(id=2, gpus=[1])
    assert holders([a, b, SimpleNamespace(id=3, gpus=[])]) == {0: [a], 1: [a, b]}


def test_gpus_with_a_new_home_makes_no_home(cli, tmp_path) -> None:
    """Seen: `gpus --home NEW` created NEW/sparktrainer.db and its folders to list the runs column."""
    new = tmp_path / "new-home"
    done = cli("--home", str(new), "gpus", use_home=False)
    assert done.code == 0, done.err
    assert not new.exists()
    assert "runs" not in done.out.splitlines()[0].split() and "run" not in done.out.split("\n", 1)[-1]
    assert all("runs" not in gpu for gpu in cli("--home", str(new), "--json", "gpus", use_home=False).json())


def test_gpus_lists_gpus_where_the_chosen_home_is_not_mounted(cli, home, tmp_path, monkeypatch) -> None:
    """Seen: `gpus` refused ('the data home opened last time ... is gone') on a machine whose home drive
    was not mounted: listing the GPUs needs no home."""
    from spark_trainer import home_record
    from spark_trainer.store.store import Store

    monkeypatch.delenv("SPARK_TRAINER_HOME")
    gone = tmp_path / "drive" / "home"
    with Store.open(gone):
        pass
    home_record.set_chosen(gone)
    home_record.set_opened(gone)
    (gone / "sparktrainer.db").unlink()
    done = cli("gpus", use_home=False)
    assert done.code == 0 and "gone" not in done.err, done.err
    assert not (gone / "sparktrainer.db").exists()


def test_doctor_names_dataset_folders_that_hold_no_recorded_dataset(store, cli, home) -> None:
    """An ingestion killed between moving its folder to `datasets/<id>` and committing its record left that
    folder; the next ingestion given the same id renamed it `<id>.orphan-*` and it stayed for good, named by
    nothing (it may also be a folder `dataset delete` was told to keep, so nothing removes it on its own)."""
    from spark_trainer.store import datasets, projects

    projects.create(store, "p")
    kept = store.home.datasets_dir / "3.orphan-1a2b3c4d"
    kept.mkdir(parents=True)
    (kept / "manifest.jsonl").write_bytes(b"x" * 3000)
    unrecorded = store.home.datasets_dir / "9"
    unrecorded.mkdir()
    recorded = datasets.create(store, "p", datasets.NewDataset(name="d", kind="text", path=""))
    store.home.dataset_dir(recorded.id).mkdir(parents=True, exist_ok=True)
    done = cli("doctor")
    line = next((x for x in done.out.splitlines() if x.startswith("unrecorded")), "")
    assert line.endswith("2 folders in datasets/ hold no recorded dataset (2.9 KiB): 3.orphan-1a2b3c4d, 9; "
                         "delete them if you do not need them"), done.out
    data = cli("--json", "doctor").json()
    assert sorted(data["unrecorded_dataset_folders"]) == [str(kept), str(unrecorded)]


def test_doctor_names_run_and_export_folders_that_no_record_names_and_killed_commands_leftovers(
        store, cli) -> None:
    """A `run delete` killed after its records went left `runs/1` and `exports/1`; a video wizard killed
    outright left its work folder. doctor reported none of them ("unrecorded -")."""
    from spark_trainer.jobs import control
    from spark_trainer.store import experiments, exports, projects, runs
    from tests.dead_process import dead_tag

    projects.create(store, "p")
    exp = experiments.create(store, project="p", name="e", recipe="causal-lm", base_model="m", dataset=None, config={})
    run = runs.create(store, exp.id, requested_gpus="cpu")
    Path(run.run_dir, "train.log").write_bytes(b"x" * 2048)
    made = store.home.export_dir(exports.next_id(store))
    made.mkdir(parents=True)
    (made / "model.safetensors").write_bytes(b"w" * 4096)
    exports.add(store, run.id, step=1, options={}, path=str(made))
    control.delete(store, run.id, keep_files=True)
    work = store.home.root / "cache" / "video" / f".work-{dead_tag()}-abcd1234"
    work.mkdir(parents=True)
    (work / "000001.png").write_bytes(b"p" * 1024)
    done = cli("doctor")
    lines = done.out.splitlines()
    at = next(i for i, x in enumerate(lines) if x.startswith("unrecorded"))
    assert lines[at].endswith("1 folder in runs/ holds no recorded run (2.0 KiB): 1; delete it if you do not need it")
    assert lines[at + 1].strip() == ("1 folder in exports/ holds no recorded export (4.0 KiB): 1; delete it if you do "
                                     "not need it")
    left = next(x for x in lines if x.startswith("left behind"))
    assert left.endswith(f"1 folder of commands that were killed (1.0 KiB): cache/video/{work.name}; removed by the "
                         "next command that lists runs (`spark-trainer run list`)"), done.out
    data = cli("--json", "doctor").json()
    assert (data["unrecorded_run_folders"], data["unrecorded_export_folders"]) == ([run.run_dir], [str(made)])
    assert data["leftover_folders"] == [{"path": str(work), "bytes": 1024}]


def test_gpus_list_is_gpus(cli) -> None:
    assert cli("--json", "gpus", "list").json() == cli("--json", "gpus").json()
    refused = cli("gpus", "all")
    assert refused.code == 2 and "gpus all: expected `gpus [list]`" in refused.err


def test_doctor_names_the_copies_upgrades_made_of_the_database(home, cli) -> None:
    """Each upgrade copies the database first (store/migrate.py) and nothing removes the copies: doctor
    never named them, so they were found, if ever, by their size."""
    from spark_trainer.paths import DataHome
    from spark_trainer.store import migrate
    from spark_trainer.store.engine import make_engine

    db = DataHome(home).ensure().db_path
    engine = make_engine(db)
    migrate.upgrade(engine, "0010")
    engine.dispose()
    assert next(x for x in cli("doctor").out.splitlines() if x.startswith("backups")).endswith(
        f"1 copy of the database made before upgrades ({system.human_bytes(migrate.backups(db)[0].stat().st_size)}), "
        f"newest {migrate.backups(db)[0].name}; delete it once this version works for you")
    made = migrate.backups(db)[0]
    assert made.name.endswith("-rev0010")
    earlier = made.with_name(f"{db.name}.backup-20200101T000000000000Z-rev0004")  # an upgrade years ago
    earlier.write_bytes(b"x" * 1000)
    line = next(x for x in cli("doctor").out.splitlines() if x.startswith("backups"))
    size = system.human_bytes(made.stat().st_size + 1000)
    assert line.endswith(f"2 copies of the database made before upgrades ({size}), newest {made.name}; "
                         "delete the older ones once this version works for you"), line
    assert [b["path"] for b in cli("--json", "doctor").json()["database_backups"]] == [str(earlier), str(made)]
