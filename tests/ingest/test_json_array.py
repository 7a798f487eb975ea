"""A JSON array read as a stream gives what `json.loads` gives, wherever its chunks are cut."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from spark_trainer.ingest.json_array import NotAStreamableArray, array_elements, is_json_array

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
        assert list(array_elements(path, chunk_chars=chunk)) == json.loads(text.lstrip("\ufeff")), text
    for text in BROKEN:
        path.write_text(text, encoding="utf-8")
        with pytest.raises(NotAStreamableArray):
            list(array_elements(path, chunk_chars=chunk))
        assert not is_json_array(path)
