"""Reading a page of a dataset's manifest (`dataset rows`, the Preview): what a manifest edited by hand
may hold, read as training reads it, or refused in one line naming the line."""

from __future__ import annotations

from pathlib import Path

import pytest

from spark_trainer.errors import BadInput
from spark_trainer.ingest.manifest import read_manifest


def _manifest(folder: Path, text: str) -> Path:
    folder.mkdir()
    (folder / "manifest.jsonl").write_text(text)
    return folder / "manifest.jsonl"


def test_a_blank_line_gives_no_row_as_training_skips_it(tmp_path: Path) -> None:
    # An editor's newline at the end of a manifest cut by hand failed `dataset rows` and the Preview
    # ("corrupt manifest line"), while the counts and training read past it.
    _manifest(tmp_path / "d", '{"n": 1}\n\n{"n": 2}\n\n')
    assert read_manifest(tmp_path / "d") == [{"n": 1}, {"n": 2}]
    assert read_manifest(tmp_path / "d", 1, 2) == [{"n": 2}]  # lines 2 and 3


@pytest.mark.parametrize(("line", "said"), [
    ("[1, 2]", "line 3 is not a JSON object"),  # was a traceback: 'list' object has no attribute 'get'
    ("{oops", "line 3 is not JSON (Expecting property name enclosed in double quotes)"),
])
def test_a_line_that_is_not_a_json_object_is_named_in_one_line(tmp_path: Path, line: str, said: str) -> None:
    manifest = _manifest(tmp_path / "d", f'{{"n": 1}}\n{{"n": 2}}\n{line}\n')
    with pytest.raises(BadInput) as refused:
        read_manifest(tmp_path / "d", 1, 5)
    assert str(refused.value) == f"{manifest}: {said}"
    assert read_manifest(tmp_path / "d", 0, 2) == [{"n": 1}, {"n": 2}]  # the pages before it still read


def test_a_line_that_is_not_utf8_is_named(tmp_path: Path) -> None:
    manifest = tmp_path / "d" / "manifest.jsonl"
    manifest.parent.mkdir()
    manifest.write_bytes(b'{"n": 1}\n{"n": "\xff"}\n')
    with pytest.raises(BadInput, match=r"manifest.jsonl: line 2 is not UTF-8 text \(invalid start byte\)$"):
        read_manifest(tmp_path / "d")
