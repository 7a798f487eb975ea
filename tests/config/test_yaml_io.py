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


def test_a_key_given_twice_is_refused_naming_both_lines() -> None:
    # YAML keeps the last of two keys: a learning_rate added at the end of train: undid the first, unsaid.
    text = "name: x\ntrain:\n  learning_rate: 0.003\n  batch_size: 2\n  learning_rate: 0.5\n"
    with pytest.raises(ConfigError) as refused:
        yaml_io.parse_yaml(text, "run.yaml")
    assert str(refused.value) == "run.yaml line 5: train.learning_rate is given twice (also on line 3); keep one"
    with pytest.raises(ConfigError, match=r"^run.yaml line 3: name is given twice \(also on line 1\)"):
        yaml_io.parse_yaml("name: a\nrecipe: b\nname: c\n", "run.yaml")
    with pytest.raises(ConfigError, match=r"line 4: sample_prompts\[1\].x is given twice \(also on line 3\)"):
        yaml_io.parse_yaml("sample_prompts:\n- {x: 1}\n- {x: 1,\n   x: 2}\n", "run.yaml")
    # The same key in different mappings, a merge key, and an anchor that refers to itself are fine.
    data, _ = yaml_io.parse_yaml("train: {seed: 1}\neval: {seed: 1}\nbase: &b {a: 1}\nuse: {<<: *b, c: 2}\nloop: &l [*l]\n")
    assert data["use"] == {"a": 1, "c": 2} and data["train"] == {"seed": 1}
