"""Honest command-line plumbing (issue 14, item 9): quiet broken pipes, JSON error documents,
validated numbers."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from spark_trainer.cli.context import OUTPUT_LOST
from spark_trainer.store.store import Store
from tests.conftest import spark_trainer_exe, subprocess_env


def _sh(command: str) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", "-o", "pipefail", "-c", command], capture_output=True, text=True,
                          env=subprocess_env(), timeout=120)


def test_output_piped_into_head_exits_quietly(home: Path) -> None:
    exe = spark_trainer_exe()
    with Store.open(home) as store:  # long rows, so the output (~400 kB) is several times a pipe buffer
        from spark_trainer.store import projects

        for i in range(1600):
            projects.create(store, f"project-{i:04d}-" + "x" * 180)
    done = _sh(f"{exe} --home {home} project list | head -1")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("ID") and done.stderr == ""


def test_json_failures_print_a_json_error_document(cli) -> None:
    missing = cli("--json", "run", "show", "99")
    assert missing.code == 2 and missing.err.startswith("error: no run with id '99'")
    assert missing.json() == {"error": "no run with id '99'; see `spark-trainer run list`", "code": 2}
    usage = cli("--json", "run", "logs", "1", "--tail", "-5")
    assert usage.code == 2 and usage.err.count("\n") == 1
    assert usage.json()["code"] == 2 and "--tail" in usage.json()["error"]
    # A run file with several problems: the line names the first (and how many more), --json every one
    # (seen in a CLI walk: fixing a file took one run per problem).
    several = cli("exp", "create", "--name", "x")
    assert several.code == 2 and several.err.strip() == (
        "error: recipe: required but missing (and 2 more problems); --json lists them all")
    listed = cli("--json", "exp", "create", "--name", "x")
    assert listed.json()["problems"] == ["recipe: required but missing", "base_model: required but missing",
                                         "dataset: required but missing"]
    assert "problems" not in missing.json()  # one problem: the error says it


def test_numeric_options_are_validated(cli) -> None:
    for args in (("run", "logs", "1", "--tail", "-5"), ("run", "cancel", "1", "--grace", "-1"),
                 ("queue", "serve", "--interval", "0"), ("run", "logs", "1", "--tail", "many")):
        result = cli(*args)
        assert result.code == 2 and result.err.count("\n") == 1, args
        assert "is not a" in result.err, result.err


def test_numbers_past_sqlites_integers_are_one_line_not_a_traceback(cli, store: Store) -> None:
    # Seen in a CLI walk: `run show 99999999999999999999` ended in "OverflowError: Python int too large to
    # convert to SQLite INTEGER" (exit 1), as did project show, export, compare and dataset rows --offset.
    big = str(2**64)
    for args, said in ((("run", "show", big), f"no run with id '{big}'"),
                       (("project", "show", big), f"no project named or numbered '{big}'"),
                       (("export", big), f"no run with id '{big}'"),
                       (("queue", "serve", "--interval", "inf"), "'inf' is too large"),
                       (("dataset", "rows", "1", "--offset", big), f"'{big}' is too large (at most {2**63 - 1})")):
        result = cli(*args)
        assert result.code == 2 and result.err.count("\n") == 1 and said in result.err, (args, result.err)


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full (Linux)")
def test_output_to_a_full_disk_says_so_in_one_line(home: Path) -> None:
    """`... > file` on a full disk (/dev/full: every write is ENOSPC): the error names no file, and the line
    was 'I/O error on: No space left on device'. It says the output could not be written, with --json
    too (whose error document cannot be written either)."""
    exe = spark_trainer_exe()
    with Store.open(home) as store:  # a long listing (~100 kB): written in several chunks, not at exit
        from spark_trainer.store import projects

        for i in range(500):
            projects.create(store, f"project-{i:04d}-" + "x" * 180)
    for json_flag in ("", " --json"):
        for command in ("project list", "project show 1"):
            done = _sh(f"{exe} --home {home}{json_flag} {command} > /dev/full")
            assert done.returncode == OUTPUT_LOST, (command, json_flag, done.returncode)
            assert done.stderr == ("error: I/O error while writing the command's output (stdout): No space left on "
                                   "device\n"), done.stderr


@pytest.mark.parametrize("json_flag", ["", " --json"])
def test_a_closed_stdout_says_so_in_one_line(home: Path, json_flag: str) -> None:
    """`... >&-`: Python starts with sys.stdout None, and the command ended in an AttributeError's traceback."""
    done = _sh(f"{spark_trainer_exe()} --home {home}{json_flag} project list >&-")
    assert done.returncode == OUTPUT_LOST, done.stderr
    assert done.stderr == "error: I/O error while writing the command's output (stdout): stdout is closed\n"


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full (Linux)")
@pytest.mark.parametrize("words", ["--help", "run --help", "--version"])
def test_help_that_cannot_be_written_says_so(words: str) -> None:
    """argparse drops a failed write of --help or --version: it exited 0 with nothing said."""
    done = _sh(f"{spark_trainer_exe()} {words} > /dev/full")
    assert done.returncode == OUTPUT_LOST
    assert done.stderr == "error: I/O error while writing the command's output (stdout): No space left on device\n"


def test_a_streamed_log_that_cannot_be_written_names_stdout(store: Store, cli, monkeypatch) -> None:
    """`run logs --follow` writes as the log grows, inside the command: the line named the command."""
    import errno
    import sys

    from spark_trainer.store import experiments, projects, runs
    from spark_trainer.store.entities import RunStatus

    projects.create(store, "p")
    run = runs.create(store, experiments.create(store, project="p", name="e", recipe="causal-lm", base_model="m",
                                                dataset=None, config={}).id)
    for status in (RunStatus.STARTING, RunStatus.RUNNING, RunStatus.COMPLETED):
        runs.transition(store, run.id, status, "test")
    (Path(run.run_dir) / "worker.log").write_text("step 1\n", encoding="utf-8")

    def full(_text: str) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(sys.stdout, "write", full)
    result = cli("run", "logs", str(run.id), "--follow")
    monkeypatch.undo()
    assert result.code == OUTPUT_LOST, result.err
    assert result.err == "error: I/O error while writing the command's output (stdout): No space left on device\n"


def test_an_io_error_naming_no_file_says_what_the_command_was_doing(cli, monkeypatch) -> None:
    """Any other OSError without a file name (a library's failed write or flush) names the command."""
    import errno

    from spark_trainer.jobs import extend

    def failing(*_args, **_kwargs):
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(extend, "extend", failing)
    result = cli("run", "extend", "1", "--steps", "4")
    assert result.code == 1
    assert result.err == "error: I/O error while running `spark-trainer run extend`: Input/output error\n"
