"""A JSON array read as a stream gives what `json.loads` gives, wherever its chunks are cut."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from spark_trainer.ingest.json_array import NotAStreamableArray, array_elements, array_numbering

WELL_FORMED = [
    "[]", " [ ]\n", "[1, 2, 3]", '\ufeff[{"a": 1}, "x"]', "[123456789, 1.5e10, -0.25, 2E-3, -0, true, false, null]",
    '["a\\"b", {"k": [1, {"z": "]"}]}, "\\u00e9\\ud83d\\ude00 \u00e9"]', "[NaN, Infinity, -Infinity]",
    "[[], {}, [[1]]]\n\n", '[\n  {\n    "instruction": "hi",\n    "output": "there"\n  },\n  1.25\n]',
]
BROKEN = ["[1,]", "[1 2]", "[1]x", "[1", "", "  ", "[tru]", "[1.]", "[01]", '{"a": [1]}', '"text"', "[1, 2.5e]"]


@pytest.mark.parametrize("chunk", [1, 2, 3, 7, 1 << 20])
def test_elements_match_json_loads_however_the_file_is_cut(tmp_path: Path, chunk: int) -> None:
    # "1." of "1.5" decodes as a number: a cut element must be read on, not taken as it stands.
    path = tmp_path / "data.json"
    for text in WELL_FORMED:
        path.write_text(text, encoding="utf-8")
        assert [v for _, v in array_elements(path, chunk_chars=chunk)] == json.loads(text.lstrip("\ufeff")), text
    for text in BROKEN:
        path.write_text(text, encoding="utf-8")
        with pytest.raises(NotAStreamableArray):
            list(array_elements(path, chunk_chars=chunk))
        assert array_numbering(path) is None


@pytest.mark.parametrize("chunk", [1, 5, 1 << 20])
def test_each_element_comes_with_the_line_it_starts_on(tmp_path: Path, chunk: int) -> None:
    # A report said "line 4" of an Alpaca file for its fourth element, which starts on line 14.
    rows = [{"instruction": f"q{i}", "output": "multi\nline" if i % 2 else "a"} for i in range(6)]
    path = tmp_path / "alpaca.json"
    path.write_text(json.dumps(rows, indent=2), encoding="utf-8")  # "[", then 4 lines per element
    assert list(array_elements(path, chunk_chars=chunk)) == [(2 + 4 * i, row) for i, row in enumerate(rows)]
    path.write_text('[1,\r\n\r\n  "x", {"a":\n"b"},\n\n[]]', encoding="utf-8")
    assert list(array_elements(path, chunk_chars=chunk)) == [(1, 1), (3, "x"), (3, {"a": "b"}), (6, [])]
    assert array_numbering(path) == "element"  # two elements on line 3
    path.write_text(json.dumps(rows, indent=2), encoding="utf-8")
    assert array_numbering(path) == "line"
