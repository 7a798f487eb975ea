"""`spark-trainer home` (spark_trainer/cli/home.py) and the command's use of the home record: the home
chosen in the app is the command's too, and a remembered home that is gone is refused, not replaced."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from spark_trainer import home_record
from spark_trainer.store import projects
from spark_trainer.store.store import Store
from tests.tmpfs import BALLAST, fill, tmpfs  # noqa: F401 - the fixture


@pytest.fixture
def no_env(monkeypatch, tmp_path: Path) -> Path:
    """No $SPARK_TRAINER_HOME: the chosen home, else the default (a temporary XDG data dir)."""
    monkeypatch.delenv("SPARK_TRAINER_HOME")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    return tmp_path / "xdg" / "SparkTrainer"


def test_the_chosen_home_is_used_and_shown_with_why(cli, no_env, tmp_path: Path) -> None:
    chosen = tmp_path / "chosen"
    with Store.open(chosen) as store:
        projects.create(store, "kept")
    home_record.set_chosen(chosen)  # what the app's Settings writes
    listed = cli("--json", "project", "list", use_home=False)
    assert listed.code == 0 and [p["name"] for p in listed.json()] == ["kept"]
    shown = cli("--json", "home", "show", use_home=False).json()
    assert shown["home"] == str(chosen) and shown["source"] == "chosen" and shown["runs"] == 0
    assert shown["bytes"] > 0 and shown["datasets"] == 0
    assert cli("--json", "home", "show").json()["source"] == "flag"
    doctor = cli("doctor", use_home=False)
    assert f"{chosen} (the chosen home)" in doctor.out


def test_a_remembered_home_that_is_gone_fails_with_exit_2_instead_of_an_empty_home(cli, no_env, tmp_path) -> None:
    assert cli("project", "create", "kept", use_home=False).code == 0  # the default home, remembered as opened
    shutil.move(no_env, tmp_path / "elsewhere")
    listed = cli("project", "list", use_home=False)
    assert listed.code == 2 and listed.err.count("\n") == 1
    assert f"is gone from {no_env}" in listed.err and "spark-trainer home set DIR" in listed.err
    assert "home new" in listed.err and "--home NEW" in listed.err
    assert not no_env.exists()  # nothing created in its place
    assert cli("home", "show", use_home=False).code == 2
    # --home is taken as given, as in the app
    assert cli("--home", str(tmp_path / "elsewhere"), "project", "list", use_home=False).code == 0

    refused = cli("home", "set", str(tmp_path), use_home=False)
    assert refused.code == 2 and "holds no data home" in refused.err and "--new" in refused.err
    assert cli("home", "set", str(tmp_path / "elsewhere"), use_home=False).code == 0
    assert "kept" in cli("project", "list", use_home=False).out
    assert home_record.read_record() == home_record.HomeRecord(str(tmp_path / "elsewhere"), str(tmp_path / "elsewhere"))


def test_home_new_starts_an_empty_home_where_the_remembered_one_was(cli, no_env, tmp_path) -> None:
    assert cli("project", "create", "kept", use_home=False).code == 0
    shutil.rmtree(no_env)
    assert cli("project", "list", use_home=False).code == 2
    started = cli("home", "new", use_home=False)
    assert started.code == 0 and str(no_env) in started.out
    assert cli("--json", "project", "list", use_home=False).json() == []
    assert cli("home", "new", use_home=False).code == 2  # there is one now


def test_home_set_new_starts_and_chooses_an_empty_home(cli, no_env, tmp_path) -> None:
    made = cli("--json", "home", "set", str(tmp_path / "fresh"), "--new", use_home=False)
    assert made.code == 0 and made.json() == {"home": str(tmp_path / "fresh"), "source": "chosen"}
    assert (tmp_path / "fresh" / "sparktrainer.db").is_file()
    assert cli("--json", "home", use_home=False).json()["home"] == str(tmp_path / "fresh")


def test_a_file_named_as_the_home_is_refused_as_a_file(cli, no_env, tmp_path) -> None:
    # `home set notes.jsonl` said "holds no data home ...; add --new to start an empty one there", and
    # with --new: "data home notes.jsonl is not writable: File exists". Neither said it is a file.
    notes = tmp_path / "notes.jsonl"
    notes.write_text("{}\n")
    for extra in ([], ["--new"]):
        refused = cli("home", "set", str(notes), *extra, use_home=False)
        assert refused.code == 2
        assert refused.err == f"error: {notes} is a file, not a folder: a data home is a folder; choose one\n"
    assert notes.read_text() == "{}\n" and home_record.read_record().chosen is None


def test_environment_and_flag_homes_are_never_recorded(cli, tmp_path) -> None:
    assert cli("project", "list").code == 0  # --home
    assert cli("project", "list", use_home=False).code == 0  # $SPARK_TRAINER_HOME (tests/conftest.py)
    assert home_record.read_record() == home_record.HomeRecord()


def test_a_home_choice_that_cannot_be_recorded_names_the_record(cli, no_env, tmp_path, tmpfs) -> None:  # noqa: F811
    """The config folder on a full disk: the record's write failed naming no file ('I/O error on: No space
    left on device'). The line names the record, and no temporary file is left beside it."""
    folder = tmpfs(home_record.record_path().parent, 64 * 1024)
    fill(folder)
    made = cli("home", "set", str(tmp_path / "fresh"), "--new", use_home=False)
    assert made.code == 1
    assert made.err == f"error: I/O error on {home_record.record_path()}: No space left on device\n", made.err
    assert sorted(p.name for p in folder.iterdir()) == [BALLAST]


def test_home_move_of_a_home_that_does_not_exist_is_refused_and_creates_nothing(cli, tmp_path) -> None:
    # Seen: `--home /tmp/x/nohome home move /tmp/x/dest` started an empty home at nohome, then said
    # "data home moved to /tmp/x/dest (rename)".
    gone, dest = tmp_path / "nohome", tmp_path / "dest"
    moved = cli("--home", gone, "home", "move", dest, use_home=False)
    assert moved.code == 2 and moved.err.strip() == (f"error: no data home at {gone} (sparktrainer.db is not there); "
                                                      "nothing to move")
    assert not gone.exists() and not dest.exists()


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs Linux's /proc")
def test_home_move_to_a_folder_that_cannot_be_written_or_to_no_folder_says_so(cli, home, store) -> None:
    # Seen: `home move /proc/foo` said "not enough room ... 0.0 MiB is free"; `home move ""` tried the
    # folder the command ran from and said it "is not empty".
    unwritable = cli("home", "move", "/proc/foo")
    assert unwritable.code == 2 and unwritable.err.startswith("error: /proc/foo cannot be written (/proc: ")
    assert "room" not in unwritable.err and len(unwritable.err.strip().splitlines()) == 1
    empty = cli("home", "move", "")
    assert empty.code == 2 and empty.err.strip() == "error: DEST is empty: give the folder to move the data home to"
    assert (home / "sparktrainer.db").is_file()


def test_a_command_naming_a_home_that_was_moved_away_is_told_where_it_went(cli, tmp_path) -> None:
    """A walk: after `home move`, `--home <old path> project create after` said "created project 'after'"
    into a brand-new empty home, with no hint the home had moved: a script or cron job kept writing there."""
    old, new = tmp_path / "old", tmp_path / "new"
    assert cli("--home", str(old), "project", "create", "kept", use_home=False).code == 0
    assert cli("--home", str(old), "home", "move", str(new), use_home=False).code == 0
    told = cli("--home", str(old), "project", "create", "after", use_home=False)
    assert told.code == 2 and told.err.count("\n") == 1
    assert f"the data home that was at {old} was moved to {new} (spark-trainer home move); use --home {new}" in told.err
    assert not old.exists()  # nothing created in its place
    assert cli("--json", "--home", str(new), "project", "list", use_home=False).json()[0]["name"] == "kept"
    # Started there on purpose: an empty home, and no longer a place a home moved away from.
    assert cli("--home", str(old), "home", "new", use_home=False).code == 0
    assert cli("--home", str(old), "project", "create", "after", use_home=False).code == 0
    # Moved back: the old place holds it again, and nothing is said.
    assert cli("--home", str(new), "home", "move", str(tmp_path / "back"), use_home=False).code == 0
    assert cli("--home", str(tmp_path / "back"), "home", "move", str(new), use_home=False).code == 0
    assert cli("--home", str(new), "project", "list", use_home=False).code == 0


def test_a_home_too_long_for_sqlite_is_refused_in_one_line_and_doctor_says_so(cli, store, tmp_path: Path) -> None:
    from spark_trainer.paths import MAX_HOME_PATH_BYTES

    deep = tmp_path / "long" / "/".join(["d" * 200] * 3)
    says = f"data home path is too long for SQLite: {len(str(deep))} bytes, at most {MAX_HOME_PATH_BYTES}"
    created = cli("--home", str(deep), "project", "create", "x", use_home=False)
    assert created.code == 2 and created.err.startswith(f"error: {says}") and created.err.count("\n") == 1
    doctor = cli("--home", str(deep), "doctor", use_home=False)
    assert doctor.code == 1 and f"PROBLEM: {says}" in doctor.out
    moved = cli("home", "move", str(deep))
    assert moved.code == 2 and says in moved.err and moved.err.count("\n") == 1
    assert not (tmp_path / "long").exists() and (store.home.db_path).is_file()


def test_an_empty_home_flag_is_refused_in_one_line_in_both_forms(cli, no_env, tmp_path: Path) -> None:
    home_record.set_chosen(tmp_path / "chosen")
    for words in (["--home", ""], ["--home="], ["project", "create", "x", "--home", " "]):
        refused = cli(*words, *(["project", "create", "x"] if words[0].startswith("--") else []), use_home=False)
        assert refused.code == 2 and "argument --home: is empty" in refused.err, refused.err
        assert refused.err.count("\n") == 1
    assert not (tmp_path / "chosen").exists() and not no_env.exists()


def test_a_home_whose_folder_name_is_too_long_for_the_filesystem_is_named_so(cli, tmp_path: Path) -> None:
    # A 300-byte folder name said "I/O error on <path>: File name too long" (the walk of this session's changes).
    deep = tmp_path / ("d" * 300)
    listed = cli("--home", str(deep), "project", "list", use_home=False)
    assert listed.code == 2 and listed.err == (f"error: data home path has a folder name of 300 bytes, at most 255 "
                                               f"(choose a shorter folder): {deep}\n")
    doctor = cli("--home", str(deep), "doctor", use_home=False)
    assert "PROBLEM: data home path has a folder name of 300 bytes" in doctor.out, doctor.out


def test_home_show_says_what_the_database_holds_unused_and_compact_gives_it_back(cli, store) -> None:
    from spark_trainer.store import runs
    from tests.jobs.test_compact import _run_with_metrics

    _run_with_metrics(store, 100)
    runs.delete(store, _run_with_metrics(store, 30000))
    shown = cli("home", "show")
    line = next(x for x in shown.out.splitlines() if x.startswith("database"))
    assert line.endswith("of it unused (`spark-trainer home compact` gives it back to the disk)"), line
    data = cli("--json", "home", "show").json()
    assert data["database_unused_bytes"] > 2**20 and data["database_bytes"] > data["database_unused_bytes"]

    done = cli("home", "compact")
    assert done.code == 0 and done.err.startswith(f"compacting {store.home.db_path}..."), done
    assert done.out.startswith(f"compacted {store.home.db_path}: ") and "given back to the disk" in done.out
    after = cli("--json", "home", "show").json()
    assert after["database_unused_bytes"] == 0 and after["database_bytes"] < data["database_bytes"]
    again = cli("--json", "home", "compact").json()
    assert again["bytes_before"] == after["database_bytes"] and not again["waits_in_log"]


def test_home_compact_refused_while_a_run_trains_is_one_line(cli, store) -> None:
    # It said "compacting ..." before the refusal: two lines where the README promises one.
    import os

    from spark_trainer.jobs import process
    from spark_trainer.jobs.scheduler import make_picker
    from spark_trainer.store import runs
    from spark_trainer.store.entities import RunStatus
    from tests.jobs.test_compact import _run_with_metrics

    training = _run_with_metrics(store, 10)
    runs.claim(store, make_picker([], 4, False))
    runs.transition(store, training, RunStatus.RUNNING, "test worker started")
    me = process.identity(os.getpid())
    runs.update(store, training, pid=me.pid, pid_start_time=me.start_time)
    refused = cli("home", "compact")
    assert refused.code != 0 and refused.out == ""
    assert refused.err == (f"error: run {training} is running; pause it (spark-trainer run pause {training}) or "
                           "let it finish, then compact the database\n")
