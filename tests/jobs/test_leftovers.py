"""Private folders a process leaves in the data home (checkpoint pins `.pinned-*`, export and ingestion
stagings `.staging-*`): named by host, pid and process start time; only dead ones made on this host are removed."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

from spark_trainer.jobs import leftovers, process
from spark_trainer.jobs.reconcile import reconcile
from spark_trainer.paths import DataHome
from spark_trainer.store.store import Store


def _dead_pid() -> int:
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    return int(done.stdout)


def test_a_tag_names_this_host_and_this_process() -> None:
    tag = leftovers.tag()
    me = process.identity(__import__("os").getpid())
    assert me is not None
    assert tag == f"@{socket.gethostname().replace('-', '_')}-{me.pid}-{round(me.start_time * 1000)}"
    assert not leftovers.dead_here(f"{tag}-abcd1234")


def test_only_dead_leftovers_made_on_this_host_are_removed(tmp_path: Path) -> None:
    """A network home seen by two machines: a pin made by a live export on the other machine has a pid
    that may be free here; it must outlive this machine's sweep."""
    host = socket.gethostname().replace("-", "_")
    dead = _dead_pid()
    (tmp_path / f".pinned-@{host}-{dead}-1000-aaaa1111").mkdir()  # this host, process gone
    (tmp_path / f".pinned-@otherbox-{dead}-1000-bbbb2222").mkdir()  # another host: its process is not ours to judge
    (tmp_path / f".pinned-{leftovers.tag()}-cccc3333").mkdir()  # this live process
    leftovers.remove_dead(tmp_path, ".pinned-")
    assert sorted(p.name.split("-")[1] for p in tmp_path.iterdir()) == sorted(["@otherbox", f"@{host}"])
    assert not (tmp_path / f".pinned-@{host}-{dead}-1000-aaaa1111").exists()


def test_a_pid_reused_by_another_process_counts_as_dead(tmp_path: Path) -> None:
    import os

    host = socket.gethostname().replace("-", "_")
    (tmp_path / f".pinned-@{host}-{os.getpid()}-1000-aaaa1111").mkdir()  # our pid, another start time
    leftovers.remove_dead(tmp_path, ".pinned-")
    assert list(tmp_path.iterdir()) == []


def test_reconcile_removes_the_pins_a_killed_export_left(tmp_path: Path) -> None:
    """Seen: a SIGKILLed export's pins (hard links to a checkpoint) stayed until the next export of that
    run, holding the checkpoint's disk space; a SIGKILLed ingestion's staging folder stayed for good."""
    host = socket.gethostname().replace("-", "_")
    with Store.open(tmp_path / "home") as store:
        pin = store.home.runs_dir / "7" / f".pinned-@{host}-{_dead_pid()}-1000-aaaa1111" / "step-00000002"
        pin.mkdir(parents=True)
        (pin / "weights.bin").write_bytes(b"x" * 10)
        staging = store.home.exports_dir / f".staging-7-1-@{host}-{_dead_pid()}-1000-bbbb2222"
        staging.mkdir(parents=True)
        other = store.home.exports_dir / "7-1-12-abcd1234"  # an export folder, not a staging: never judged
        other.mkdir()
        ingesting = store.home.datasets_dir / f".staging-@{host}-{_dead_pid()}-1000-cccc3333"  # a killed ingestion
        ingesting.mkdir(parents=True)
        live = store.home.datasets_dir / f".staging-{leftovers.tag()}-dddd4444"
        live.mkdir()
        reconcile(store)
        assert not pin.parent.exists() and not staging.exists() and other.exists()
        assert not ingesting.exists() and live.exists()


def _aged(path: Path, hours: float) -> Path:
    import os
    import time

    path.mkdir()
    then = time.time() - hours * 3600
    os.utime(path, (then, then))
    return path


def test_an_older_version_s_pin_is_judged_by_its_age_never_by_its_pid(tmp_path: Path) -> None:
    """An older version named pins `<pid>-<random>`, without a host. Seen: judged by pid alone, a fresh pin
    of a live export on another machine sharing the home (its pid free here) was removed under it, and one
    whose pid a later process here reused was kept forever. Such a name now goes once it is older than
    LEGACY_MAX_AGE_S (no export or evaluation holds a checkpoint that long), whatever its pid."""
    import os

    dead = _dead_pid()
    young_dead = _aged(tmp_path / f".pinned-{dead}-aaaa1111", 1)  # maybe another machine's live export
    old_reused = _aged(tmp_path / f".pinned-{os.getpid()}-bbbb2222", 25)  # its pid now one of ours
    young_live = _aged(tmp_path / f".pinned-{os.getpid()}-cccc3333", 1)
    leftovers.remove_dead(tmp_path, ".pinned-")
    assert young_dead.exists() and young_live.exists()
    assert not old_reused.exists()
    assert leftovers.LEGACY_MAX_AGE_S == 24 * 3600


def test_the_app_s_periodic_scheduler_pass_removes_pins_killed_after_its_first_one(tmp_path: Path,
                                                                                  monkeypatch) -> None:
    """Seen: the app removed dead pins and stagings only at its first reconcile; a pin of an export killed
    later held its checkpoint's disk space until the app started again. The scheduler pass the app runs
    every poll (schedule_once, which reconciles) sweeps again once LEFTOVER_SWEEP_S has passed, not on every
    pass (a sweep lists every run's folder)."""
    import types

    from spark_trainer.jobs import reconcile as reconciling
    from spark_trainer.jobs.scheduler import schedule_once

    # The sweep's clock is the test's: a real 0.5 s interval swept again "right after" on a loaded machine.
    clock = types.SimpleNamespace(now=1000.0)
    monkeypatch.setattr(reconciling, "time", types.SimpleNamespace(monotonic=lambda: clock.now))
    monkeypatch.setattr(reconciling, "LEFTOVER_SWEEP_S", 300.0, raising=False)
    host = socket.gethostname().replace("-", "_")
    with Store.open(tmp_path / "home") as store:
        schedule_once(store, machine=[])  # the app's first pass
        pin = store.home.runs_dir / "7" / f".pinned-@{host}-{_dead_pid()}-1000-aaaa1111"
        pin.mkdir(parents=True)  # an export killed while the app runs
        clock.now += 299.0
        schedule_once(store, machine=[])
        assert pin.exists()  # the next pass, within LEFTOVER_SWEEP_S: not swept again yet
        clock.now += 1.0
        schedule_once(store, machine=[])
        assert not pin.exists()


def test_an_older_version_s_ingestion_staging_goes_by_the_same_age_rule(tmp_path: Path) -> None:
    """Versions before stagings were named for their process called them `datasets/.staging-<12 hex>`: one
    left by an ingestion killed outright stayed for good (nothing judged that name), a partial copy of the
    data. It now goes once older than LEGACY_MAX_AGE_S, as an older version's pin does; a younger one stays
    (an older version's ingestion may still be writing it)."""
    datasets = tmp_path / "datasets"
    datasets.mkdir()
    old = _aged(datasets / ".staging-0123456789ab", 25)
    young = _aged(datasets / ".staging-ba9876543210", 1)
    other = _aged(datasets / ".staging-not-ours", 25)  # neither format: never judged
    leftovers.sweep_home(tmp_path / "runs", tmp_path / "exports", datasets)
    assert not old.exists()
    assert young.exists() and other.exists()


def test_the_sweep_removes_a_killed_video_wizards_work_folder(tmp_path: Path) -> None:

    home = DataHome(tmp_path)
    work = home.video_cache_dir / f".work-@{socket.gethostname().replace('-', '_')}-{_dead_pid()}-1000-dddd4444"
    (work / "frames").mkdir(parents=True)
    assert leftovers.dead_in_home(home) == [work]
    with Store.open(tmp_path) as store:
        reconcile(store)
    assert not work.exists() and home.video_cache_dir.is_dir()


def test_a_staging_noted_outside_the_home_goes_at_the_sweep_and_nothing_else(tmp_path: Path) -> None:
    """An export (or launch) to a folder of the user's, killed while writing, left `.staging-<out>-@...`
    beside it: only a later export to that same folder removed it."""
    home, away = tmp_path / "home", tmp_path / "away"
    host = socket.gethostname().replace("-", "_")
    dead = f"@{host}-{_dead_pid()}-1000"
    staging = away / f".staging-out-{dead}-eeee5555"
    (staging / "weights").mkdir(parents=True)
    mine = away / "mine"  # a note edited to name another folder: never removed
    mine.mkdir()
    notes = home / leftovers.AWAY
    notes.mkdir(parents=True)
    (notes / f"{dead}-0000aaaa").write_text(str(staging))
    (notes / f"{dead}-0000bbbb").write_text(str(mine))
    with leftovers.noted_away(home, away / f".staging-live-{leftovers.tag()}-1"):
        assert leftovers.dead_in_home(DataHome(home)) == [staging]
        leftovers.sweep_home(home / "runs", home / "exports")
        assert not staging.exists() and mine.is_dir()
        assert len(list(notes.iterdir())) == 1  # this live process's own
    assert not list(notes.iterdir())


def test_a_killed_export_s_staging_in_the_home_is_named_once(tmp_path: Path) -> None:
    """The staging of an export killed in the home's exports/ is a dead folder there and its process's note
    names it too: `doctor` listed it twice and counted its size twice."""
    home = tmp_path / "home"
    dead = f"@{socket.gethostname().replace('-', '_')}-{_dead_pid()}-1000"
    staging = home / "exports" / f".staging-2-{dead}-eeee5555"
    (staging / "weights").mkdir(parents=True)
    notes = home / leftovers.AWAY
    notes.mkdir(parents=True)
    (notes / f"{dead}-0000aaaa").write_text(str(staging))
    assert leftovers.dead_in_home(DataHome(home)) == [staging]
