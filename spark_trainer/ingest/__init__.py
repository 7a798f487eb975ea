"""Dataset ingestion: files and folders in, a verified, versioned dataset folder and row out.

The video wizard lives in `spark_trainer.ingest.video`. Heavy libraries (cv2, PIL, pyarrow,
transformers) are imported inside the functions that use them.
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
