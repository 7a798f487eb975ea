"""Text rows that name images (a CSV/JSONL of image paths with labels or captions), read the same way
by every image recipe: image-classification (`image_column` + `label_column`) and diffusion-lora
(`image_column` + `caption_column`).

Rows come from an ingested text dataset (its manifest's `record` rows), or from the CSV/TSV/JSONL
file itself. A relative image path is relative to the file's folder (for an ingested dataset: the
folder of the first path it was ingested from, as its report.json records). Whether an image
exists and decodes is checked later, while preparing (`images.decode_problem`): one that does not is
skipped and listed in the run's report, never a crash mid-epoch.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from spark_trainer.delimited import dict_reader, row_error
from spark_trainer.errors import BadInput


@dataclass(frozen=True)
class TextRow:
    record: dict[str, Any]  # the user's row
    source: str  # where it came from, for messages: "images.csv:3"
    split: str  # "train" or "val"


def holds_text_rows(data_path: Path) -> bool:
    """Whether `data_path` is text rows (a file, or an ingested dataset whose manifest rows are text
    records) rather than an ingested image dataset (rows with a copied image's `path`)."""
    data_path = Path(data_path)
    manifest = data_path / "manifest.jsonl"
    if not data_path.is_dir() or not manifest.is_file():
        return True  # a file; or a folder without a manifest, which the text reader says in one line
    try:
        with manifest.open(encoding="utf-8") as fh:
            line = next((line for line in fh if line.strip()), "")
        first = json.loads(line) if line else {}
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return False  # the image reader names what is wrong with the manifest
    return isinstance(first, dict) and isinstance(first.get("record"), dict)


def manifest_rows(dataset_dir: Path) -> list[dict[str, Any]]:
    """An ingested image dataset's manifest rows (each with its copied image's `path`, its `label`
    and `split`); what training and evaluation both read."""
    from spark_trainer.training.data import manifest_objects

    return [row for _number, row in manifest_objects(Path(dataset_dir) / "manifest.jsonl")]


def read_text_rows(data_path: Path, val_fraction: float) -> tuple[list[TextRow], Path]:
    """(the rows, the folder their relative image paths are relative to).

    Raises:
        BadInput: an unreadable file, a line that is not JSON (naming it), no rows.
    """
    from spark_trainer.training.data import hash_split, read_records

    data_path = Path(data_path)
    if data_path.suffix.lower() in (".csv", ".tsv") and data_path.is_file():
        try:
            with data_path.open(encoding="utf-8-sig", newline="") as fh:
                reader, first = dict_reader(fh, data_path.suffix)
                table = []
                for row in reader:
                    table.append(row)
        except csv.Error as exc:
            raise BadInput(f"{data_path}: line {first + len(table)}: {row_error(exc)}") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise BadInput(f"cannot read {data_path}: {exc}") from None
        rows = [TextRow(row, f"{data_path.name}:{n + first}", hash_split(row, val_fraction, ascii_escaped=True))
                for n, row in enumerate(table)]
        return rows, data_path.parent
    base = source_folder(data_path) if data_path.is_dir() else data_path.parent
    return [TextRow(r.data, r.source, r.split) for r in read_records(data_path, val_fraction)], base


def require_columns(rows: list[TextRow], data_path: Path, columns: dict[str, str]) -> None:
    """BadInput unless every row has each column (`{setting: column}`), naming the setting, the first
    row without it and the fields found."""
    found = sorted({str(k) for row in rows for k in row.record})
    for setting, column in columns.items():
        missing = next((row.source for row in rows if column not in row.record), None)
        if missing is not None:
            raise BadInput(f"dataset {data_path}: recipe_config.{setting} {column!r} is not a field of {missing}; "
                           f"fields found: {', '.join(found) or 'none'}")


def image_path(base: Path, value: Any) -> str:
    """The absolute path an image column's value names (relative to `base`; `~` expanded)."""
    candidate = Path(str(value)).expanduser()
    return str(candidate if candidate.is_absolute() else base / candidate)


def source_folder(dataset_dir: Path) -> Path:
    """Where an ingested manifest came from (its relative image paths are relative to it)."""
    try:
        sources = json.loads((dataset_dir / "report.json").read_text(encoding="utf-8")).get("sources") or []
    except (OSError, ValueError):
        sources = []
    if sources:
        first = Path(sources[0])
        return first if first.is_dir() else first.parent
    return dataset_dir
