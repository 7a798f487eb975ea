"""Run files parse with libyaml where PyYAML has it, with the same data, line numbers and error lines
as the pure-Python parser gives."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from spark_trainer.config import yaml_io
from spark_trainer.errors import ConfigError
from tests.tmpfs import BALLAST, fill, tmpfs  # noqa: F401 - the fixture

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "tiny-lora.yaml"
BROKEN = {
    "a: [1, 2\nb: 3\n": "f.yaml line 2, column 2: expected ',' or ']', but got ':'",
    "a: b: c\n": "f.yaml line 1, column 5: mapping values are not allowed here",
    "\tx: 1\n": "f.yaml line 1, column 1: found character '\\t' that cannot start any token",
    "a: 1\n---\nb: 2\n": "f.yaml line 2, column 1: but found another document",
    "- 1\n- 2\n": "f.yaml: expected a mapping of keys to values at the top, got list",
}


def test_the_fast_parser_is_used_where_pyyaml_has_it() -> None:
    assert yaml_io._FAST_LOADER is (yaml.CSafeLoader if yaml.__with_libyaml__ else None)


@pytest.mark.parametrize("fast", [True, False], ids=["libyaml", "python"])
def test_data_and_line_numbers_match_the_pure_python_parser(fast: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    if not fast:
        monkeypatch.setattr(yaml_io, "_FAST_LOADER", None)
    text = EXAMPLE.read_text(encoding="utf-8")
    data, node = yaml_io.parse_yaml(text, str(EXAMPLE))
    assert data == yaml.safe_load(text)
    line = next(i for i, row in enumerate(text.splitlines(), 1) if "max_steps:" in row)
    assert yaml_io.line_of(node, ["train", "max_steps"]) == line
    assert yaml_io.parse_yaml("", "f.yaml") == ({}, None)


@pytest.mark.parametrize("fast", [True, False], ids=["libyaml", "python"])
@pytest.mark.parametrize("text", list(BROKEN))
def test_a_broken_file_names_the_same_line_and_problem(text: str, fast: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    if not fast:
        monkeypatch.setattr(yaml_io, "_FAST_LOADER", None)
    with pytest.raises(ConfigError) as caught:
        yaml_io.parse_yaml(text, "f.yaml")
    assert str(caught.value) == BROKEN[text]


def test_a_yaml_file_on_a_full_disk_is_an_error_naming_it_and_leaves_no_temporary(tmp_path: Path, tmpfs) -> None:  # noqa: F811
    """`run resume --gpus` rewrites config.yaml through save_yaml: on a full disk the write's error named
    no file (the command said 'I/O error on: No space left on device') and config.yaml.tmp stayed."""
    from spark_trainer.config.yaml_io import save_yaml

    folder = tmpfs(tmp_path / "run", 64 * 1024)
    target = folder / "config.yaml"
    target.write_text("gpus: cpu\n")
    fill(folder)
    with pytest.raises(OSError) as raised:
        save_yaml({"gpus": "cpu:2", "notes": "x" * 8192}, target)
    assert raised.value.filename == str(target)
    assert sorted(p.name for p in folder.iterdir()) == [BALLAST, "config.yaml"]
    assert target.read_text() == "gpus: cpu\n"
