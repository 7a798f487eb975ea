"""Read a dataset folder's manifest and report (previews page through them)."""

from __future__ import annotations

import json
from itertools import islice
from pathlib import Path
from typing import Any

from spark_trainer.errors import BadInput
from spark_trainer.ingest.staging import MANIFEST, REPORT


def read_manifest(dataset_path: Path, offset: int = 0, limit: int | None = None) -> list[dict[str, Any]]:
    """Manifest rows `offset` .. `offset + limit` (all remaining when `limit` is None)."""
    path = Path(dataset_path) / MANIFEST
    if offset < 0 or (limit is not None and limit < 0):
        raise BadInput("offset and limit must not be negative")
    try:
        with open(path, encoding="utf-8") as fh:
            stop = None if limit is None else offset + limit
            return [json.loads(line) for line in islice(fh, offset, stop)]
    except FileNotFoundError:
        raise BadInput(f"{path}: no manifest (is {dataset_path} a dataset folder?)") from None
    except json.JSONDecodeError as exc:
        raise BadInput(f"{path}: corrupt manifest line ({exc.msg})") from exc


def read_report(dataset_path: Path) -> dict[str, Any]:
    path = Path(dataset_path) / REPORT
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BadInput(f"{path}: no report (is {dataset_path} a dataset folder?)") from None
    except json.JSONDecodeError as exc:
        raise BadInput(f"{path}: corrupt report ({exc.msg})") from exc
