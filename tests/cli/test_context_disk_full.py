"""What the CLI says on a home whose disk is full (a real, small tmpfs): a list works and says once that
only reading works; a write fails with one disk-full line, not a warning of the same text before it."""

from __future__ import annotations

import subprocess
from pathlib import Path

from spark_trainer.store import projects
from spark_trainer.store.store import Store
from tests.conftest import spark_trainer_exe, subprocess_env
from tests.tmpfs import fill, tmpfs  # noqa: F401 - the fixture


def _cli(home: Path, *words: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([spark_trainer_exe(), "--home", str(home), *words], env=subprocess_env(),
                          capture_output=True, text=True, timeout=120, check=False)


def test_a_write_on_a_full_disk_says_so_once_and_a_read_says_only_reading_works(tmpfs, tmp_path: Path) -> None:  # noqa: F811
    home = tmpfs(tmp_path / "home", 4 * 2**20)
    with Store.open(home) as store:
        projects.create(store, "p")
    fill(home)
    done = _cli(home, "project", "create", "q")
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("error: disk full at "), done.stderr
    done = _cli(home, "project", "list")
    assert done.returncode == 0 and " p " in done.stdout, done.stderr
    assert done.stderr.count("\n") == 1, done.stderr
    assert done.stderr.startswith(f"warning: the disk is full ({home}: 0.0 MiB free): only reading works until "
                                  "there is room"), done.stderr
