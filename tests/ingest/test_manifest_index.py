"""Far pages of a manifest (`dataset rows --offset N`, the Preview's pager, the image grid as it scrolls)
start from the manifest's line index instead of reading every row before them: the same rows as a
read from the first line, also after the manifest changed under the index."""

from __future__ import annotations

import json
from itertools import islice
from pathlib import Path

import pytest

from spark_trainer.ingest import manifest_index, read_manifest

ROWS = 103  # with EVERY 8: 12 kept offsets and a short tail


def _write(folder: Path, rows: list[dict]) -> Path:
    folder.mkdir(exist_ok=True)
    manifest = folder / "manifest.jsonl"
    # ensure_ascii=False, as ingestion writes: line and paragraph separators and NEL stay raw in the
    # text, and must not end a line.
    manifest.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return manifest


def _rows(n: int, tag: str = "") -> list[dict]:
    return [{"record": {"text": f"{tag}row {i} é\u2028\u2029\x85 ünïcode " * (i % 7), "n": i}, "split": "train"}
            for i in range(n)]


def _scanned(folder: Path, offset: int, limit: int | None) -> list[dict]:
    """The page as read before the index: every line from the first."""
    with open(folder / "manifest.jsonl", encoding="utf-8") as fh:
        return [json.loads(line) for line in islice(fh, offset, None if limit is None else offset + limit)]


@pytest.fixture(autouse=True, params=[1 << 22, 100])
def every_8_lines(monkeypatch, request) -> None:
    """An offset kept every 8 lines; the manifest read whole, or 100 bytes at a time (lines across blocks)."""
    monkeypatch.setattr(manifest_index, "EVERY", 8)
    monkeypatch.setattr(manifest_index, "BLOCK", request.param)


@pytest.mark.parametrize(("rows", "last_line_break"), [(ROWS, True), (96, True), (96, False), (1, True)])
def test_every_page_is_the_page_read_from_the_first_line(tmp_path: Path, rows: int, last_line_break: bool) -> None:
    manifest = _write(tmp_path, _rows(rows))
    if not last_line_break:
        manifest.write_bytes(manifest.read_bytes()[:-1])
    for offset in [0, 1, 7, 8, 9, 15, 16, 17, 50, 95, 96, 100, 102, 103, 104, 500]:
        for limit in (None, 1, 3, 8, 50):
            assert read_manifest(tmp_path, offset, limit) == _scanned(tmp_path, offset, limit), (offset, limit)


def test_a_far_page_builds_the_index_once_and_later_pages_use_it(tmp_path: Path, monkeypatch) -> None:
    _write(tmp_path, _rows(ROWS))
    assert read_manifest(tmp_path, 3, 2) == _scanned(tmp_path, 3, 2)
    assert not (tmp_path / manifest_index.INDEX).exists()  # a first page needs none
    assert read_manifest(tmp_path, 90, 5) == _scanned(tmp_path, 90, 5)
    kept = json.loads((tmp_path / manifest_index.INDEX).read_text())
    assert kept["every"] == 8 and len(kept["starts"]) == 13

    def scanned_again(_fh):
        raise AssertionError("the manifest was scanned again")

    monkeypatch.setattr(manifest_index, "_build", scanned_again)
    for offset in (40, 99, 8):
        assert read_manifest(tmp_path, offset, 4) == _scanned(tmp_path, offset, 4)


def test_a_manifest_changed_under_its_index_is_indexed_again(tmp_path: Path) -> None:
    _write(tmp_path, _rows(ROWS))
    read_manifest(tmp_path, 60, 1)
    _write(tmp_path, _rows(70, tag="new "))  # another version written in place: other lines, another stamp
    assert read_manifest(tmp_path, 60, 5) == _scanned(tmp_path, 60, 5) and read_manifest(tmp_path, 60, 5)
    assert read_manifest(tmp_path, 80, 5) == []



def test_an_index_whose_offsets_do_not_start_lines_is_not_trusted(tmp_path: Path) -> None:
    """The same size and time as the index's stamp, other lines (say, a copy tool that kept the time):
    the offset used does not start a line, so the index is made again."""
    _write(tmp_path, _rows(ROWS))
    read_manifest(tmp_path, 60, 1)
    index = tmp_path / manifest_index.INDEX
    kept = json.loads(index.read_text())
    kept["starts"] = [0] + [s + 3 for s in kept["starts"][1:]]
    index.write_text(json.dumps(kept))
    assert read_manifest(tmp_path, 60, 5) == _scanned(tmp_path, 60, 5)
    assert json.loads(index.read_text())["starts"][7] == kept["starts"][7] - 3


def test_an_index_that_cannot_be_written_still_gives_far_pages(tmp_path: Path) -> None:
    """A folder the index cannot be written to (here its name is taken by a folder; a read-only
    dataset folder likewise): the index serves the read, nothing is left behind."""
    _write(tmp_path, _rows(ROWS))
    (tmp_path / manifest_index.INDEX).mkdir()
    assert read_manifest(tmp_path, 97, 10) == _scanned(tmp_path, 97, 10)
    assert sorted(p.name for p in tmp_path.iterdir()) == [manifest_index.INDEX, "manifest.jsonl"]
