"""Captions for an image folder from a manifest beside the images: `metadata.jsonl` or
`metadata.csv` (Hugging Face imagefolder's layout), each row naming a `file_name` (relative to the
manifest's folder) and its caption in `text`, `caption` or `prompt`."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from spark_trainer.delimited import dict_reader, row_error
from spark_trainer.ingest.detect import InputFile
from spark_trainer.ingest.types import IngestReport

MANIFEST_NAMES = ("metadata.jsonl", "metadata.csv")
CAPTION_KEYS = ("text", "caption", "prompt")


def is_caption_manifest(f: InputFile) -> bool:
    return f.path.name.lower() in MANIFEST_NAMES


def manifest_captions(files: list[InputFile], report: IngestReport) -> dict[Path, str]:
    """Image path -> caption from every caption manifest among `files`; bad rows are rejected with
    their line (a missing file_name, no caption column, an image that is not there)."""
    captions: dict[Path, str] = {}
    for f in files:
        if not is_caption_manifest(f):
            continue
        for line, row in _rows(f, report):
            name = row.get("file_name")
            caption = next((row[k] for k in CAPTION_KEYS if isinstance(row.get(k), str)), None)
            if not isinstance(name, str) or not name:
                report.reject(f.source, line, "row has no file_name")
            elif caption is None:
                report.reject(f.source, line, f"row has no caption ({', '.join(CAPTION_KEYS)})")
            elif not (f.path.parent / name).is_file():
                report.reject(f.source, line, f"file_name {name!r} does not exist beside the manifest")
            else:
                captions[(f.path.parent / name).resolve()] = caption.strip()
    return captions


def _rows(f: InputFile, report: IngestReport) -> list[tuple[int, dict]]:
    try:
        text = f.path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        report.reject(f.source, None, "caption manifest is not valid UTF-8")
        return []
    if f.path.suffix.lower() == ".csv":  # a caption may span lines inside quotes: read the text as a file
        reader, start = dict_reader(io.StringIO(text, newline=""))
        rows = []
        try:
            for row in reader:
                rows.append((start, row))
                start = reader.line_num + 1
        except csv.Error as exc:
            report.reject(f.source, start, f"{row_error(exc)}; the rest of the file was skipped")
        return rows
    rows = []
    for i, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            row = json.loads(raw)
        except json.JSONDecodeError as exc:
            report.reject(f.source, i, f"not JSON ({exc.msg})")
            continue
        if isinstance(row, dict):
            rows.append((i, row))
        else:
            report.reject(f.source, i, "not a JSON object")
    return rows
