"""`dataset rename DATASET NEW_NAME`: the command contract (JSON, exit 2 and one line on bad input,
nothing changed), by name or id, and what the old name says afterwards."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.test_cli import _dump, _one_line_error


@pytest.fixture
def ingested(cli, tmp_path: Path) -> dict:
    source = tmp_path / "imgs-v2-final.jsonl"
    source.write_text('{"text": "a rose"}\n{"text": "a tulip"}\n{"text": "a daisy"}\n')
    assert cli("project", "create", "demo").code == 0
    return cli("--json", "dataset", "ingest", str(source), "--project", "demo").json()["dataset"]


def test_rename_by_name_prints_the_dataset_as_show_does(cli, ingested) -> None:
    assert ingested["name"] == "imgs-v2-final"
    result = cli("--json", "dataset", "rename", "imgs-v2-final", "flowers")
    assert result.code == 0, result.err
    renamed = result.json()
    assert renamed == cli("--json", "dataset", "show", "flowers").json()
    assert (renamed["id"], renamed["name"], renamed["path"]) == (ingested["id"], "flowers", ingested["path"])
    # The folder is datasets/<id>: it stays; its card's heading follows the name.
    assert Path(renamed["path"]).name == str(ingested["id"])
    assert (Path(renamed["path"]) / "README.md").read_text().startswith("# flowers\n")
    text = cli("dataset", "rename", str(ingested["id"]), "roses")  # by id
    assert text.code == 0 and text.out.strip() == (f"renamed dataset 'flowers' to 'roses' (id {ingested['id']}, "
                                                   "project 'demo')")
    assert "roses" in cli("dataset", "card", "roses").out.splitlines()[0]


@pytest.mark.parametrize(("new_name", "message"), [
    ("", "error: dataset name must not be empty"),
    ("123", "error: dataset name '123' is all digits"),
    ("texts", "error: project 'demo' already has a dataset named 'texts'"),
])
def test_a_bad_or_taken_name_exits_2_in_one_line_and_changes_nothing(cli, home, ingested, tmp_path, new_name,
                                                                     message) -> None:
    other = tmp_path / "texts.jsonl"
    other.write_text('{"text": "x"}\n')
    assert cli("dataset", "ingest", str(other), "--project", "demo").code == 0
    card = Path(ingested["path"]) / "README.md"
    before, card_before = _dump(home), card.read_text()
    result = cli("dataset", "rename", "imgs-v2-final", new_name)
    assert result.code == 2
    _one_line_error(result.err)
    assert result.err.startswith(message)
    assert _dump(home) == before and card.read_text() == card_before


def test_the_old_name_is_not_found_and_says_the_new_one(cli, home, ingested) -> None:
    cli("dataset", "rename", "imgs-v2-final", "flowers")
    before = _dump(home)
    for args in (["dataset", "show", "imgs-v2-final"],
                 ["exp", "create", "--project", "demo", "--recipe", "causal-lm", "--dataset", "imgs-v2-final",
                  "--base-model", "m", "--name", "x"]):
        result = cli(*args)
        assert result.code == 2
        _one_line_error(result.err)
        assert "no dataset named or numbered 'imgs-v2-final'" in result.err
        assert result.err.rstrip().endswith("it was renamed to 'flowers'")
    assert _dump(home) == before


@pytest.mark.parametrize("same", ["imgs-v2-final", " imgs-v2-final "])
def test_renaming_to_its_own_name_says_nothing_changed(cli, home, ingested, same) -> None:
    # Seen: `dataset rename X X` printed "renamed dataset 'X' to 'X'".
    before = _dump(home)
    result = cli("dataset", "rename", "imgs-v2-final", same)
    assert result.code == 0, result.err
    assert result.out.strip() == f"dataset 'imgs-v2-final' (id {ingested['id']}) already has that name: nothing changed"
    assert len(result.out.strip().splitlines()) == 1
    assert _dump(home) == before
    shown = cli("--json", "dataset", "show", "imgs-v2-final").json()
    assert "renamed_from" not in (shown.get("meta") or {})


def test_an_empty_project_s_list_names_the_project(cli) -> None:
    assert cli("project", "create", "empty").code == 0
    assert cli("dataset", "list", "--project", "empty").out.strip() == (
        "no datasets in project 'empty' yet; add one with `spark-trainer dataset ingest PATH --project empty`")
