"""`project delete --delete-files` removes the export folders the app made for the project's runs."""

from __future__ import annotations

from pathlib import Path

from spark_trainer.store import experiments, exports, projects, runs
from spark_trainer.store.entities import RunStatus
from spark_trainer.store.store import Store


def test_project_delete_with_files_removes_its_runs_exports_in_the_home_only(cli, store: Store, tmp_path: Path) -> None:
    projects.create(store, "p")
    exp = experiments.create(store, project="p", name="e", recipe="causal-lm", base_model="m", dataset=None, config={})
    run = runs.create(store, exp.id)
    runs.transition(store, run.id, RunStatus.CANCELLED, "test: stopped")
    made, chosen = store.home.export_dir(1), tmp_path / "mine"
    for folder in (made, chosen):
        folder.mkdir(parents=True)
        (folder / "model.safetensors").write_bytes(b"w")
        exports.add(store, run.id, step=1, options={}, path=str(folder))
    deleted = cli("--json", "project", "delete", "p", "--yes", "--delete-files")
    assert deleted.code == 0, deleted.err
    # The keys a run's or an experiment's delete gives (README, Deleting): a doc walk found only the first two.
    assert deleted.json()["removed_exports"] == [str(made)] and not made.exists()
    assert deleted.json()["user_exports"] == [str(chosen)] and chosen.is_dir()
    assert str(made) not in deleted.json()["removed_folders"] and str(chosen) not in deleted.json()["removed_folders"]
    assert deleted.json()["kept_exports"] == [] and deleted.json()["kept_folders"] == []


def test_project_delete_json_has_the_shape_of_run_and_exp_delete(cli, store: Store) -> None:
    # `project delete --json` said {"deleted": true, "project": {...}, ...}; `run delete` and `exp delete`
    # give the deleted record under "deleted" ({"deleted": false} when nothing was deleted).
    def one_run(project: str, name: str) -> tuple[int, int]:
        exp = experiments.create(store, project=project, name=name, recipe="causal-lm", base_model="m", dataset=None,
                                 config={})
        run = runs.create(store, exp.id)
        runs.transition(store, run.id, RunStatus.CANCELLED, "test: stopped")
        return exp.id, run.id

    for name in ("p", "q"):
        projects.create(store, name)
    _, run_id = one_run("q", "e1")
    exp_id, _ = one_run("q", "e2")
    project = projects.get(store, "p")
    run_deleted = cli("--json", "run", "delete", str(run_id), "--yes").json()
    exp_deleted = cli("--json", "exp", "delete", str(exp_id), "--yes").json()
    project_deleted = cli("--json", "project", "delete", "p", "--yes").json()
    assert set(project_deleted) == set(run_deleted) == set(exp_deleted)
    assert project_deleted["deleted"]["id"] == project.id and project_deleted["deleted"]["name"] == "p"
    assert run_deleted["deleted"]["id"] == run_id and exp_deleted["deleted"]["name"] == "e2"


def test_project_delete_asks_on_a_terminal_under_json_too(cli, store: Store, monkeypatch) -> None:
    # Seen in a docs walk: `--json project delete P` on a terminal said "refusing ... without --yes (no
    # terminal to ask on)"; run, exp and dataset delete ask there, on stderr.
    import io
    import sys

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    projects.create(store, "p")
    monkeypatch.setattr(sys, "stdin", Terminal("n\n"))
    said = cli("--json", "project", "delete", "p")
    assert said.code == 1 and "Delete project 'p'" in said.err and "refusing" not in said.err
    assert [q.name for q in projects.list_all(store)] == ["p"]


def test_a_search_that_matches_nothing_says_so_not_that_there_are_no_projects(cli) -> None:
    assert cli("project", "create", "demo").code == 0
    assert cli("project", "list", "--search", "zzz").out.strip() == "no project name contains 'zzz'"


def test_renaming_a_project_to_its_own_name_says_nothing_changed_and_writes_nothing(cli, store) -> None:
    # Seen in a CLI walk: "renamed project 'empty2' to 'empty2'" (`dataset rename X X` says nothing changed).
    from spark_trainer.store import projects

    assert cli("project", "create", "p1").code == 0
    before = projects.get(store, "p1")
    same = cli("project", "rename", str(before.id), "p1")
    assert same.code == 0 and same.out.strip() == f"project 'p1' (id {before.id}) already has that name: nothing changed"
    assert projects.get(store, "p1").last_activity == before.last_activity
    renamed = cli("project", "rename", str(before.id), "p2")
    assert renamed.out.strip() == "renamed project 'p1' to 'p2'"  # the name, where the id was given
