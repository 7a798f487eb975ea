"""Evaluation data files: read and check them before any model is loaded (bad input is exit 2).

- perplexity: a .txt file (one document), or JSONL rows with `text` (or `prompt` + `completion`,
  instruction rows: Alpaca's `instruction` + `output`..., read through the run's prompt template, or
  chat rows: `messages`, ShareGPT `conversations`).
- mcq: CSV or JSONL with columns subject, question, A, B, C, D, answer (a letter A-D, or 0-3).
- classification: CSV or JSONL with a text column and a label column (names configurable); for
  image runs, a manifest of image paths and labels, or a folder of class sub-folders.
An ingested dataset (its folder, or its manifest.jsonl) is read as training reads it, and only its
held-out (validation) rows are evaluated: a run trained on the others. A dataset with no held-out
rows is evaluated whole.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from spark_trainer.delimited import (
    dict_reader,
    first_utf8_error,
    row_error,
    unclosed_quote,
    unclosed_quote_problem,
    with_last,
)
from spark_trainer.errors import BadInput
from spark_trainer.manifest_fields import is_filled
from spark_trainer.recipes.causal_lm_formats import row_format, to_trainable, uses_template
from spark_trainer.recipes.classification import label_name
from spark_trainer.recipes.image_rows import holds_text_rows, image_path, manifest_rows, read_text_rows

MCQ_COLUMNS = ("subject", "question", "A", "B", "C", "D", "answer")
LETTERS = ("A", "B", "C", "D")
T = TypeVar("T")


@dataclass(frozen=True)
class McqItem:
    subject: str
    question: str
    choices: tuple[str, str, str, str]
    answer: int  # index into choices
    source: str


@dataclass(frozen=True)
class LabelledText:
    text: str
    label: str
    source: str


@dataclass(frozen=True)
class LabelledImage:
    path: str  # absolute
    label: str
    source: str


def dataset_folder(path: Path) -> Path | None:
    """The ingested dataset folder `path` is, or whose manifest.jsonl it is; None for any other path."""
    path = Path(path).expanduser()
    folder = path.parent if path.name == "manifest.jsonl" else path
    return folder if (folder / "manifest.jsonl").is_file() else None


def held_out(rows: list[T], split_of: Callable[[T], object]) -> list[T]:
    """An ingested dataset's validation rows, those no run trained on; all rows when it holds none."""
    val = [r for r in rows if split_of(r) == "val"]
    return val or rows


def _check_file(path: Path) -> Path:
    path = Path(path).expanduser()
    if dataset_folder(path) is not None:
        return dataset_folder(path)  # type: ignore[return-value]
    if path.is_dir():
        raise BadInput(f"evaluation data {path}: a folder; this task reads a CSV or JSONL file")
    if not path.is_file():
        raise BadInput(f"evaluation data {path}: no such file")
    return path


def _rows(path: Path) -> Iterator[tuple[int, dict[str, Any], list[str]]]:
    """(line number, row, column names) from a CSV (header line) or JSONL file, or an ingested
    dataset's records (numbered by their manifest line)."""
    if path.is_dir():
        from spark_trainer.training.data import read_records

        numbered = held_out(list(enumerate(read_records(path, 0.0), start=1)), lambda r: r[1].split)
        for number, record in numbered:
            yield number, record.data, list(record.data)
        return
    try:
        if path.suffix.lower() == ".csv":
            with open(path, newline="", encoding="utf-8-sig") as fh:  # Excel writes a BOM
                reader, first = dict_reader(fh)
                columns = list(reader.fieldnames or [])
                read = [0]  # rows csv has given: the next is the one named if csv cannot read it

                def counted() -> Iterator[dict[str, Any]]:
                    for row in reader:
                        read[0] += 1
                        yield row

                try:
                    for number, (row, last) in enumerate(with_last(counted()), start=first):
                        if unclosed_quote(list(row.values()), len(columns), last):
                            raise BadInput(f"{path}: {unclosed_quote_problem(number)}")
                        yield number, row, columns
                except csv.Error as exc:
                    raise BadInput(f"{path}: line {first + read[0]}: {row_error(exc)}") from None
            return
        with open(path, encoding="utf-8-sig") as fh:
            for number, line in enumerate(fh, start=1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise BadInput(f"{path}: line {number} is not valid JSON ({exc.msg})") from None
                if not isinstance(row, dict):
                    raise BadInput(f"{path}: line {number} is not a JSON object")
                yield number, row, list(row)
    except UnicodeDecodeError:
        bad = first_utf8_error(path)  # the line, as ingestion names it
        raise BadInput(f"{path}: {bad[0]}" if bad else f"{path} is not UTF-8 text") from None
    except OSError as exc:
        raise BadInput(f"cannot read {path}: {exc.strerror or exc}") from None


def _require(path: Path, number: int, columns: list[str], wanted: tuple[str, ...]) -> None:
    for name in wanted:
        if name not in columns:
            where = "" if path.suffix.lower() == ".csv" else f" (line {number})"
            raise BadInput(f"{path} has no {name!r} column{where}; columns are: {', '.join(columns) or 'none'}")


def read_mcq(path: Path) -> list[McqItem]:
    path = _check_file(path)
    items = []
    for number, row, columns in _rows(path):
        _require(path, number, columns, MCQ_COLUMNS)
        answer = str(row["answer"]).strip()
        if answer.upper() in LETTERS:
            index = LETTERS.index(answer.upper())
        elif answer in ("0", "1", "2", "3"):
            index = int(answer)
        else:
            raise BadInput(f"{path}: line {number}: answer {answer!r} must be one of A, B, C, D")
        items.append(McqItem(str(row["subject"]).strip() or "(none)", str(row["question"]),
                             tuple(str(row[c]) for c in LETTERS), index, f"{path.name}:{number}"))  # type: ignore[arg-type]
    if not items:
        raise BadInput(f"{path} has no questions")
    return items


def read_documents(path: Path, template: Any = None, fmt: str = "auto") -> list[dict[str, Any]]:
    """Rows for perplexity, as the run's training reads them (`causal_lm_formats.to_trainable`):
    {"text"} (a .txt file is one), {"prompt", "completion"} (an instruction row's (Alpaca...) prompt
    in `template`, a `PromptTemplate`) or {"messages"} (chat rows). `fmt`: the run's
    `recipe_config.format`; `auto` and `mixed` read each row by its own fields."""
    path = _check_file(path)
    if path.suffix.lower() in (".txt", ".md", ".text"):
        try:
            text = path.read_text(encoding="utf-8-sig")
        except UnicodeDecodeError:
            raise BadInput(f"{path} is not UTF-8 text") from None
        if not text.strip():
            raise BadInput(f"{path} is empty")
        return [{"text": text}]
    docs = []
    for number, row, columns in _rows(path):
        found = row_format(row) if fmt in ("auto", "mixed") else fmt
        if found is None or (template is None and uses_template(found)):
            raise BadInput(f"{path}: line {number} has no 'text' column (nor 'prompt' and 'completion', "
                           f"'instruction' and 'output', or chat 'messages'); columns are: "
                           f"{', '.join(columns) or 'none'}")
        docs.append(to_trainable(row, found, f"{path}:{number}", template))
    if not docs:
        raise BadInput(f"{path} has no rows")
    return docs


def _labelled_rows(path: Path, column: str, label_column: str) -> Iterator[tuple[int, dict[str, Any], str]]:
    """(line number, row, label) of each row of a checked file; a row without `column` or a label, or
    a file with no rows, is a BadInput naming the line."""
    found = False
    for number, row, columns in _rows(path):
        _require(path, number, columns, (column, label_column))
        if not is_filled(row[label_column]):
            raise BadInput(f"{path}: line {number} has an empty {label_column!r}")
        found = True
        yield number, row, label_name(row[label_column])  # as training named the classes (1.0 is "1")
    if not found:
        raise BadInput(f"{path} has no rows")


def read_labelled(path: Path, text_column: str = "text", label_column: str = "label") -> list[LabelledText]:
    path = _check_file(path)
    return [LabelledText(str(row[text_column]), label, f"{path.name}:{number}")
            for number, row, label in _labelled_rows(path, text_column, label_column)]


def read_labelled_images(path: Path, image_column: str = "path", label_column: str = "label") -> list[LabelledImage]:
    """Images and labels from a CSV/JSONL manifest (relative image paths are relative to the manifest),
    or from a folder of class sub-folders, each image labelled with the folder holding it."""
    folder = dataset_folder(path)
    if folder is not None and not holds_text_rows(folder):
        return [LabelledImage(image_path(folder, row.get("path", "")), label_name(row["label"]),
                              f"{folder.name}/manifest.jsonl:{number}")
                for number, row in held_out(list(enumerate(manifest_rows(folder), start=1)), lambda r: r[1].get("split"))
                if is_filled(row.get("label"))]
    if folder is None and Path(path).expanduser().is_dir():
        return _class_folder_images(Path(path).expanduser())
    path = _check_file(path)
    base = path.parent if folder is None else read_text_rows(folder, 0.0)[1]  # where its relative paths start
    items = []
    for number, row, label in _labelled_rows(path, image_column, label_column):
        image = Path(str(row[image_column])).expanduser()
        image = image if image.is_absolute() else base / image
        if not image.is_file():
            raise BadInput(f"{path}: line {number}: image {image} does not exist")
        items.append(LabelledImage(str(image.resolve()), label, f"{path.name}:{number}"))
    return items


def _class_folder_images(root: Path) -> list[LabelledImage]:
    """A folder read as dataset ingestion reads one (`ingest.detect.gather`: hidden files left out,
    the label is the folder directly holding the image); an image outside a class folder is refused."""
    from spark_trainer.ingest.detect import IMAGE_EXTS, gather

    try:
        files = [f for f in gather([root]) if f.ext in IMAGE_EXTS]
    except BadInput as exc:
        raise BadInput(f"evaluation data {exc}") from None
    if not files:
        raise BadInput(f"evaluation data {root} has no images (looked for {', '.join(sorted(IMAGE_EXTS))})")
    for f in files:
        if f.folder_label is None:
            raise BadInput(f"evaluation data {root}: image {'/'.join(f.rel)} is not in a class sub-folder; put each "
                           "class's images in a sub-folder named after the class")
    return [LabelledImage(str(f.path), str(f.folder_label), f.source) for f in files]
