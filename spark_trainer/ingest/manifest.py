"""Read a dataset folder's manifest and report (previews page through them)."""

from __future__ import annotations

import json
import sys
from itertools import islice
from pathlib import Path
from typing import Any

from spark_trainer.errors import BadInput
from spark_trainer.ingest.manifest_index import seek_line
from spark_trainer.ingest.staging import MANIFEST, REPORT


def read_manifest(dataset_path: Path, offset: int = 0, limit: int | None = None) -> list[dict[str, Any]]:
    """Manifest rows `offset` .. `offset + limit` (all remaining when `limit` is None). A far page
    starts from the manifest's line index (`manifest_index`), not from its first row: page 20,000 of
    a 1M-row manifest read (and decoded) the 999,000 rows before it."""
    path = Path(dataset_path) / MANIFEST
    if offset < 0 or (limit is not None and limit < 0):
        raise BadInput("offset and limit must not be negative")
    try:
        with open(path, "rb") as fh:
            first = seek_line(fh, path, offset)
            stop = None if limit is None else min(offset + limit - first, sys.maxsize)  # islice's bound
            return [json.loads(line.decode("utf-8")) for line in islice(fh, offset - first, stop)]
    except FileNotFoundError:
        raise BadInput(f"{path}: no manifest (is {dataset_path} a dataset folder?)") from None
    except json.JSONDecodeError as exc:
        raise BadInput(f"{path}: corrupt manifest line ({exc.msg})") from exc
    except UnicodeDecodeError as exc:
        raise BadInput(f"{path}: corrupt manifest line (not UTF-8: {exc.reason})") from exc


def read_report(dataset_path: Path) -> dict[str, Any]:
    path = Path(dataset_path) / REPORT
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BadInput(f"{path}: no report (is {dataset_path} a dataset folder?)") from None
    except json.JSONDecodeError as exc:
        raise BadInput(f"{path}: corrupt report ({exc.msg})") from exc
