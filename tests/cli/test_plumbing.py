"""Honest command-line plumbing (issue 14, item 9): quiet broken pipes, JSON error documents,
validated numbers."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

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


def test_numeric_options_are_validated(cli) -> None:
    for args in (("run", "logs", "1", "--tail", "-5"), ("run", "cancel", "1", "--grace", "-1"),
                 ("queue", "serve", "--interval", "0"), ("run", "logs", "1", "--tail", "many")):
        result = cli(*args)
        assert result.code == 2 and result.err.count("\n") == 1, args
        assert "is not a" in result.err, result.err


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full (Linux)")
def test_output_to_a_full_disk_says_so_in_one_line(home: Path) -> None:
    """`... > file` on a full disk (/dev/full: every write is ENOSPC): the error names no file, and the line
    was 'I/O error on: No space left on device'. It says the output could not be written, with --json
    too (whose error document cannot be written either)."""
    exe = spark_trainer_exe()
    for json_flag in ("", " --json"):
        done = _sh(f"{exe} --home {home}{json_flag} project list > /dev/full")
        assert done.returncode == 1
        assert done.stderr == ("error: I/O error while writing the command's output (stdout): No space left on "
                               "device\n"), done.stderr


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
