"""`dataset rows|report|card D`: the Datasets view's Preview, Report and Card tabs from the command line,
on a dataset ingested by `dataset ingest` (real files, the real store)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest


@pytest.fixture
def ingested(tmp_path: Path, cli) -> str:
    lines = [json.dumps({"text": f"row number {i}\nwith a second line", "label": i % 2}) for i in range(7)]
    lines.insert(3, lines[0])  # a duplicate
    lines.insert(5, "{not json")  # a rejected line
    data = tmp_path / "support.jsonl"
    data.write_text("\n".join(lines) + "\n")
    assert cli("project", "create", "p").code == 0
    done = cli("dataset", "ingest", str(data), "--project", "p", "--name", "support", "--val-fraction", "0")
    assert done.code == 0, done.err
    return "support"


def test_rows_pages_through_the_manifest_as_the_preview_does(ingested: str, cli) -> None:
    page = cli("dataset", "rows", ingested, "--offset", "2", "--limit", "3")
    assert page.code == 0, page.err
    head, *rows = page.out.splitlines()
    assert head.split() == ["SPLIT", "TEXT", "LABEL", "SOURCE"]
    assert len(rows) == 3 and rows[0].split()[:4] == ["train", "row", "number", "2"]
    assert "⏎ with a second line" in rows[0]  # one line per row, as the Preview's cells show it
    assert page.err == "rows 3-5 of 7\n"
    whole = cli("--json", "dataset", "rows", ingested).json()
    assert whole["total"] == 7 and len(whole["rows"]) == 7
    assert whole["rows"][0]["record"] == {"text": "row number 0\nwith a second line", "label": 0}
    past = cli("dataset", "rows", ingested, "--offset", "7")
    assert (past.code, past.out.strip()) == (0, "no rows after row 7 (dataset 'support' has 7)")
    bad = cli("dataset", "rows", ingested, "--limit", "0")
    assert bad.code == 2 and "--limit" in bad.err and bad.err.count("\n") == 1


def test_report_names_each_rejected_and_duplicate_item(ingested: str, cli) -> None:
    shown = cli("dataset", "report", ingested)
    assert shown.code == 0, shown.err
    lines = shown.out.splitlines()
    assert lines[0] == "7 kept (train 7, val 0) · 1 rejected · 1 duplicates removed"
    rejected = next(line for line in lines if line.startswith("rejected"))
    duplicate = next(line for line in lines if line.startswith("duplicate"))
    assert "support.jsonl" in rejected and rejected.split()[2] == "6"
    assert "same content as" in duplicate and duplicate.split()[2] == "4"
    assert cli("--json", "dataset", "report", ingested).json()["counts"]["rejected"] == 1


def test_card_prints_the_dataset_card(ingested: str, cli, home: Path) -> None:
    card = cli("dataset", "card", ingested)
    assert card.code == 0 and card.out.startswith("# support\n") and "- items: 7" in card.out
    (home / "datasets" / "1" / "README.md").unlink()
    gone = cli("dataset", "card", ingested)
    assert gone.code == 0 and gone.out == "" and "has no card" in gone.err
    assert cli("dataset", "card", "nope").code == 2


def test_report_of_images_missing_a_caption_shows_the_note_not_all_clear(tmp_path: Path, cli) -> None:
    # It said "nothing was rejected: every file and row passed the quality checks" and nothing else.
    from tests.ingest.media import write_image

    for i in range(8):
        write_image(tmp_path / "caps" / f"{i}.png", seed=i)
        if i != 3:
            (tmp_path / "caps" / f"{i}.txt").write_text(f"photo {i}")
    assert cli("project", "create", "p").code == 0
    assert cli("dataset", "ingest", tmp_path / "caps", "--project", "p").code == 0
    shown = cli("dataset", "report", "caps").out.splitlines()
    assert shown[0] == "8 kept (train 7, val 1) · 0 rejected · 0 duplicates removed"
    assert shown[1].startswith("1 of 8 images has no caption (caps/3.png): kept, but a diffusion run refuses")
    assert shown[-1] == "nothing was rejected; the notes above say what to look at"
    assert "every file and row passed" not in "\n".join(shown)
