"""The CLI's shared context (spark_trainer/cli/context.py): what it tells people when it opens the store."""

from __future__ import annotations

import json
import shutil
from pathlib import Path


def test_a_command_on_a_moved_home_says_once_that_its_paths_now_point_here(cli, home: Path, tmp_path: Path) -> None:
    assert cli("project", "create", "p").code == 0
    assert cli("dataset", "ingest", _rows(tmp_path), "--project", "p", "--name", "train").code == 0
    moved = tmp_path / "moved"
    shutil.move(home, moved)

    first = cli("--home", moved, "--json", "dataset", "list", use_home=False)
    assert first.code == 0
    assert first.err.strip() == f"note: data home moved here from {home}: 1 stored path(s) and 0 run config(s) now point here"
    assert json.loads(first.out)[0]["path"] == str(moved / "datasets" / "1")  # --json output stays one document
    again = cli("--home", moved, "dataset", "list", use_home=False)
    assert again.code == 0 and again.err == ""


def _rows(folder: Path) -> Path:
    path = folder / "rows.jsonl"
    path.write_text("".join(json.dumps({"text": f"row {i}"}) + "\n" for i in range(4)), encoding="utf-8")
    return path
