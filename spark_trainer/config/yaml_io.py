"""YAML load and save for run files, with errors that name the file and line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from spark_trainer.disk import replace_bytes
from spark_trainer.errors import ConfigError


def load_yaml(path: str | Path) -> tuple[dict[str, Any], yaml.Node | None]:
    """Parse a YAML mapping; return it and its node tree (for line numbers in later errors)."""
    source = Path(path)
    try:
        text = source.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{source}: file not found") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{source}: not UTF-8 text (byte {exc.start})") from None
    except OSError as exc:
        raise ConfigError(f"{source}: cannot read: {exc.strerror}") from None
    return parse_yaml(text, str(source))


# libyaml's parser when PyYAML was built with it (the wheels are): one run file parses in about 1.5 ms
# against 22 ms for the pure-Python one, and every worker reads its frozen config three times.
_FAST_LOADER = getattr(yaml, "CSafeLoader", None)


def _compose_and_construct(text: str, loader_class: type) -> tuple[Any, yaml.Node | None]:
    """The document's node tree (for line numbers) and its data, from one parse."""
    loader = loader_class(text)
    try:
        node = loader.get_single_node()
        return (loader.construct_document(node) if node is not None else None), node
    finally:
        loader.dispose()


def parse_yaml(text: str, name: str = "<config>") -> tuple[dict[str, Any], yaml.Node | None]:
    try:
        try:
            data, node = _compose_and_construct(text, _FAST_LOADER or yaml.SafeLoader)
        except yaml.YAMLError:  # the pure-Python parser words the error (line, column, problem) as before
            data, node = _compose_and_construct(text, yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f" line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = exc.problem or exc.context or "invalid YAML"
        raise ConfigError(f"{name}{where}: {problem}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{name}: invalid YAML: {exc}") from None
    _refuse_repeated_keys(node, name)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{name}: expected a mapping of keys to values at the top, got {type(data).__name__}")
    return data, node


def _refuse_repeated_keys(root: yaml.Node | None, name: str) -> None:
    """ConfigError for a key given twice in one mapping: YAML keeps the last silently, so a
    `learning_rate:` added at the end of `train:` undid the one above it, unsaid."""
    todo: list[tuple[yaml.Node | None, str]] = [(root, "")]
    seen: set[int] = set()  # an anchor's node once (`&a [*a]` refers to itself)
    while todo:
        node, path = todo.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, yaml.SequenceNode):
            todo += [(item, f"{path}[{i}]") for i, item in enumerate(node.value)]
        if not isinstance(node, yaml.MappingNode):
            continue
        first: dict[str, int] = {}
        for key_node, value_node in node.value:
            key = getattr(key_node, "value", None)
            dotted = f"{path}.{key}" if path else str(key)
            if isinstance(key, str) and key != "<<":  # "<<" merges, and may be repeated
                line = key_node.start_mark.line + 1
                if key in first:
                    raise ConfigError(f"{name} line {line}: {dotted} is given twice (also on line "
                                      f"{first[key]}); keep one")
                first[key] = line
            todo.append((value_node, dotted))


def line_of(node: yaml.Node | None, path: list[str]) -> int | None:
    """1-based line of the value at `path` (dotted keys) in a composed YAML tree, if found."""
    current = node
    line = None
    for key in path:
        if not isinstance(current, yaml.MappingNode):
            return line
        for key_node, value_node in current.value:
            if getattr(key_node, "value", None) == key:
                line = key_node.start_mark.line + 1
                current = value_node
                break
        else:
            return line
    return line


def dump_yaml(data: dict[str, Any]) -> str:
    return yaml.safe_dump(data, sort_keys=False, default_flow_style=False, allow_unicode=True)


def save_yaml(data: dict[str, Any], path: str | Path) -> Path:
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    replace_bytes(target, dump_yaml(data).encode("utf-8"))  # whole or not at all; a full disk names the file
    return target
