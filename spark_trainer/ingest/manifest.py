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
    """The rows of manifest lines `offset` .. `offset + limit` (all remaining when `limit` is None);
    a blank line (an editor's, at the end of a manifest edited by hand) gives none, as training skips
    it. A far page starts from the manifest's line index (`manifest_index`), not from its first row:
    page 20,000 of a 1M-row manifest read (and decoded) the 999,000 rows before it.

    Raises:
        BadInput: no manifest, or naming the line that is not UTF-8, not JSON or not a JSON object.
    """
    path = Path(dataset_path) / MANIFEST
    if offset < 0 or (limit is not None and limit < 0):
        raise BadInput("offset and limit must not be negative")
    rows: list[dict[str, Any]] = []
    number = offset
    try:
        with open(path, "rb") as fh:
            first = seek_line(fh, path, offset)
            stop = None if limit is None else min(offset + limit - first, sys.maxsize)  # islice's bound
            for number, line in enumerate(islice(fh, offset - first, stop), start=offset + 1):
                text = line.decode("utf-8")
                if not text.strip():
                    continue
                row = json.loads(text)
                if not isinstance(row, dict):
                    raise BadInput(f"{path}: line {number} is not a JSON object")
                rows.append(row)
    except FileNotFoundError:
        raise BadInput(f"{path}: no manifest (is {dataset_path} a dataset folder?)") from None
    except json.JSONDecodeError as exc:
        raise BadInput(f"{path}: line {number} is not JSON ({exc.msg})") from None
    except UnicodeDecodeError as exc:
        raise BadInput(f"{path}: line {number} is not UTF-8 text ({exc.reason})") from None
    return rows


def read_report(dataset_path: Path) -> dict[str, Any]:
    path = Path(dataset_path) / REPORT
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BadInput(f"{path}: no report (is {dataset_path} a dataset folder?)") from None
    except json.JSONDecodeError as exc:
        raise BadInput(f"{path}: corrupt report ({exc.msg})") from exc
