"""Dataset ingestion: files and folders in, a verified, versioned dataset folder and row out.

A dataset folder (`<home>/datasets/<id>/`) holds:
    manifest.jsonl   one JSON row per accepted item, in input order
    README.md        the dataset card (counts, sizes, label/length/resolution histograms, version)
    report.json      counts, every rejected item (source, line, reason), duplicates, notes
    files/           copied images/audio/video/frames (absent with link=True: paths are absolute)

Manifest rows (all have "split" ("train"|"val", from the content hash) and "sha256"):
    text   {"source": "data.jsonl:3", "record": {...the original object or CSV/Parquet row...}}
           .txt files give {"text": line} per non-empty line (IngestOptions.txt_mode="file": per file)
    image  {"path", "label" (class subfolder or None), "caption" (sidecar .txt or None), "width",
            "height", "source"}
    frame  image fields + {"video", "timestamp", "frame_index", "scene", "transcript"}
    audio  {"path", "label", "transcript" (sidecar .txt), "duration", "source"}
    video  {"path", "label", "duration", "fps", "frame_count", "width", "height", "codec",
            "has_audio", "source"}
The version is the SHA-256 of manifest.jsonl: the same input gives the same version.
The dataset's row keeps, in `meta["fields"]`, how many rows fill each field (and the first rows
that leave one empty): what the recipes' fit rules read instead of the manifest (`manifest_fields`).

The video wizard lives in `spark_trainer.ingest.video` (its datasets have kind "image").
Heavy libraries (cv2, PIL, pyarrow, av, transformers) are imported inside the functions that use them.
"""

from __future__ import annotations

from spark_trainer.ingest.core import ingest_paths
from spark_trainer.ingest.detect import detect_kind
from spark_trainer.ingest.manifest import read_manifest, read_report
from spark_trainer.ingest.types import (
    Duplicate,
    IngestCancelled,
    IngestOptions,
    IngestReport,
    IngestResult,
    Progress,
    Rejection,
)

__all__ = [
    "Duplicate", "IngestCancelled", "IngestOptions", "IngestReport", "IngestResult", "Progress", "Rejection",
    "detect_kind", "ingest_paths", "read_manifest", "read_report",
]
