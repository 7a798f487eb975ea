"""`home move` to and from folders whose names hold `?`, `#` or `%XX` (SQLite URL and URI syntax): the
moved database is the one opened at the new place, and nothing is made beside the folders. A move to
`dest?x` once reported success, then `--home dest?x` opened a new empty database `dest`."""

from __future__ import annotations

from pathlib import Path

from spark_trainer.store import projects
from spark_trainer.store.store import Store


def _listed(cli, home: Path) -> str:
    return cli("--home", str(home), "project", "list", use_home=False).out


def _move(cli, home: Path, dest: Path, *keep_old: str) -> str:
    moved = cli("--json", "--home", str(home), "home", "move", str(dest), *keep_old, use_home=False)
    assert moved.code == 0, moved.err
    return moved.json()["method"]


def test_a_home_copied_and_renamed_to_and_from_odd_names_keeps_its_projects(tmp_path: Path, cli) -> None:
    source = tmp_path / "src"
    with Store.open(source) as store:
        projects.create(store, "kept")
    assert _move(cli, source, tmp_path / "dest?x", "--keep-old") == "copy"
    assert _move(cli, tmp_path / "dest?x", tmp_path / "d#z", "--keep-old") == "copy"  # read from an odd name too
    assert _move(cli, tmp_path / "d#z", tmp_path / "d%20w") == "rename"
    for name in ("src", "dest?x", "d%20w"):
        assert (tmp_path / name / "sparktrainer.db").is_file() and "kept" in _listed(cli, tmp_path / name)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d%20w", "dest?x", "src"]  # nothing beside them
