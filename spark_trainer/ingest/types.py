"""Plain data passed in and out of ingestion: options, progress, the rejection report, the result."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from spark_trainer.errors import BadInput, SparkError
from spark_trainer.store.entities import Dataset

MIN_IMAGE_SIDE = 32  # px: smaller images (and the video wizard's frames) are rejected


class IngestCancelled(SparkError):
    """The caller set the cancel event; nothing was written to the store or the data home."""

    exit_code = 130


@dataclass
class IngestOptions:
    """Quality gates and layout choices for `ingest_paths`. Every gate is configurable.

    `txt_mode`: "line" makes each non-empty line of a .txt file one record (empty lines are
    skipped, not rejected, because they separate paragraphs); "file" makes each .txt file one record.
    """

    val_fraction: float = 0.1
    max_text_chars: int = 100_000
    min_text_chars: int = 1
    txt_mode: str = "line"
    min_image_side: int = MIN_IMAGE_SIDE
    max_image_pixels: int = 100_000_000
    min_file_bytes: int = 1
    check_video_decode: bool = True
    seed: str = ""
    # The field of a text row that names its class (a run file's `recipe_config.label_column`): every class
    # gets items in both splits. Images take their class folder's name.
    label_field: str = "label"

    def __post_init__(self) -> None:
        from spark_trainer.errors import BadInput

        if not 0.0 <= self.val_fraction < 1.0:
            raise BadInput(f"val_fraction must be in [0, 1), got {self.val_fraction}")
        if self.txt_mode not in ("line", "file"):
            raise BadInput(f"txt_mode must be 'line' or 'file', got {self.txt_mode!r}")
        if self.max_text_chars < 1 or self.min_image_side < 0:
            raise BadInput("max_text_chars must be >= 1 and min_image_side >= 0")


@dataclass(frozen=True)
class Progress:
    """One progress tick. `current` names the file or video being worked on (may be empty)."""

    done: int
    total: int
    message: str
    current: str = ""


ProgressFn = Callable[[Progress], None]


@dataclass(frozen=True, slots=True)  # one per rejected row: no __dict__ each
class Rejection:
    source: str
    line: int | None
    reason: str


@dataclass(frozen=True, slots=True)
class Duplicate:
    source: str
    line: int | None
    duplicate_of: str


@dataclass
class IngestReport:
    """Everything ingestion saw: accepted counts, every rejected item with its reason, duplicates."""

    kind: str = ""
    accepted: int = 0
    train: int = 0
    val: int = 0
    rejected: list[Rejection] = field(default_factory=list)
    duplicates: list[Duplicate] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def num_rejected(self) -> int:
        return len(self.rejected)

    @property
    def num_duplicates(self) -> int:
        return len(self.duplicates)

    @property
    def total_seen(self) -> int:
        return self.accepted + self.num_rejected + self.num_duplicates

    def reject(self, source: str, line: int | None, reason: str) -> None:
        self.rejected.append(Rejection(source, line, reason))

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "counts": {"accepted": self.accepted, "train": self.train, "val": self.val,
                       "rejected": self.num_rejected, "duplicates": self.num_duplicates,
                       "seen": self.total_seen},
            "rejected": [asdict(r) for r in self.rejected],
            "duplicates": [asdict(d) for d in self.duplicates],
            "notes": list(self.notes),
            "sources": list(self.sources),
            **({"extra": self.extra} if self.extra else {}),
        }


@dataclass
class IngestResult:
    dataset: Dataset
    report: IngestReport


def check_cancel(cancel: threading.Event | None) -> None:
    if cancel is not None and cancel.is_set():
        raise IngestCancelled("ingestion cancelled; nothing was saved")


def emit(progress: ProgressFn | None, done: int, total: int, message: str, current: str = "") -> None:
    if progress is not None:
        progress(Progress(done, total, message, current))


class NothingIngested(BadInput):
    """Every item was rejected: no dataset. `report` says why, item by item (the app's Report tab)."""

    def __init__(self, message: str, report: IngestReport) -> None:
        super().__init__(message)
        self.report = report
