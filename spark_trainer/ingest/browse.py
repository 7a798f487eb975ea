"""A dataset as the Datasets view's tabs show it, without Qt: its manifest rows as table columns
(Preview), its ingestion report as rows and a summary (Report), its card's text (Card). The view and
`spark-trainer dataset rows|report|card` both read them here."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from spark_trainer.visible import visible

CARD = "README.md"


def text_columns(rows: list[dict[str, Any]]) -> tuple[list[str], list[tuple[Any, ...]]]:
    """Headers and cells for text manifest rows: split, each record field, source."""
    keys: list[str] = []
    for row in rows:
        record = row.get("record")
        for key in (record if isinstance(record, dict) else {"record": record}):
            if key not in keys:
                keys.append(key)
    cells = []
    for row in rows:
        record = row.get("record")
        record = record if isinstance(record, dict) else {"record": record}
        cells.append((row.get("split", ""), *(record.get(k) for k in keys), row.get("source", "")))
    return ["split", *keys, "source"], cells


def media_columns(rows: list[dict[str, Any]]) -> tuple[list[str], list[tuple[Any, ...]]]:
    """Headers and cells for image/audio/video manifest rows (file, label, caption, size, source)."""
    keys = ["split", "path", "label", "caption", "duration", "width", "height", "source"]
    present = [k for k in keys if any(row.get(k) is not None for row in rows)]
    return present, [tuple(row.get(k) for k in present) for row in rows]


def preview_columns(kind: str, rows: list[dict[str, Any]]) -> tuple[list[str], list[tuple[Any, ...]]]:
    """The Preview tab's columns for a dataset of `kind`."""
    return text_columns(rows) if kind == "text" else media_columns(rows)


def report_rows(report: dict[str, Any]) -> list[tuple[Any, ...]]:
    """One row per rejected or duplicate item: what, source, line, reason."""
    rows: list[tuple[Any, ...]] = [
        ("rejected", visible(r.get("source", "")), "" if r.get("line") is None else str(r["line"]), r.get("reason", ""))
        for r in report.get("rejected", [])
    ]
    rows += [
        ("duplicate", visible(d.get("source", "")), "" if d.get("line") is None else str(d["line"]),
         f"same content as {visible(d.get('duplicate_of', '?'))}")
        for d in report.get("duplicates", [])
    ]
    return rows


def report_summary(report: dict[str, Any]) -> str:
    counts = report.get("counts", {})
    parts = [f"{counts.get('accepted', 0):,} kept (train {counts.get('train', 0):,}, val {counts.get('val', 0):,})",
             f"{counts.get('rejected', len(report.get('rejected', []))):,} rejected",
             f"{counts.get('duplicates', len(report.get('duplicates', []))):,} duplicates removed"]
    return " · ".join(parts)


def with_note(report: dict[str, Any], note: str | None) -> dict[str, Any]:
    """`report` with `note` first among its notes (a manifest edited by hand since ingestion:
    `store.dataset_counts.manifest_note`); the report file is ingestion's and stays as it was."""
    return {**report, "notes": [note, *(report.get("notes") or [])]} if note else report


def noted_card(card: str, note: str | None) -> str:
    """The card's markdown, under `note` when there is one: the card gives ingestion's counts."""
    return f"> **Note:** {note}.\n\n{card}" if note and card else card


def nothing_rejected(report: dict[str, Any]) -> str:
    """What the Report tab and `dataset report` say where no item was rejected or a duplicate. With
    notes it does not say every file passed: a note (images without a caption...) is something to
    look at, and "every file passed the quality checks" under it read as all clear."""
    if report.get("notes"):
        return "nothing was rejected; the notes above say what to look at"
    return "nothing was rejected: every file and row passed the quality checks"


def read_card(dataset_path: str | Path) -> str:
    """The dataset card's markdown ('' when the folder has none)."""
    card = Path(dataset_path) / CARD
    return card.read_text(encoding="utf-8") if card.is_file() else ""
