"""The dataset card (README.md): counts, sizes, labels in each split, length/resolution histograms."""

from __future__ import annotations

from array import array
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from spark_trainer.disk import human_bytes

if TYPE_CHECKING:
    from spark_trainer.ingest.types import IngestReport


@dataclass
class CardTally:
    """What the card shows of the rows, counted as they are accepted (the rows themselves are not kept);
    the label table is counted from the kept items once their splits are settled (`label_splits`)."""

    lengths: array = field(default_factory=lambda: array("q"))  # 8 bytes a text, not a Python int each
    resolutions: Counter[tuple[int, int]] = field(default_factory=Counter)

    def add(self, row: dict[str, Any], stats: dict[str, Any]) -> None:
        if "chars" in stats:
            self.lengths.append(stats["chars"])
        if "width" in row and "height" in row:
            self.resolutions[(row["width"], row["height"])] += 1


def histogram(values: Sequence[int], bins: int = 10) -> list[tuple[int, int, int]]:
    """(low, high, count) buckets over `values`; equal-width, inclusive bounds."""
    if not values:
        return []
    low, high = min(values), max(values)
    if low == high:
        return [(low, high, len(values))]
    width = max(1, -(-(high - low + 1) // bins))
    counts = Counter((v - low) // width for v in values)
    return [(low + b * width, min(high, low + (b + 1) * width - 1), counts.get(b, 0))
            for b in range((high - low) // width + 1)]


def _bar_table(title: str, headers: tuple[str, str], rows: list[tuple[str, int]]) -> list[str]:
    if not rows:
        return []
    peak = max(c for _, c in rows) or 1
    out = [f"## {title}", "", f"| {headers[0]} | {headers[1]} | |", "|---|---:|---|"]
    out += [f"| {k} | {c} | {'#' * max(1 if c else 0, round(20 * c / peak))} |" for k, c in rows]
    return [*out, ""]


LABEL_ROWS = 100  # labels the card's table lists; the rest are counted in one line under it


def _label_table(splits: dict[str, tuple[int, int]]) -> list[str]:
    """Each label's items in training and in validation: a class only validation holds shows there, at
    ingestion (a classifier trained on the dataset never predicts it)."""
    if not splits:
        return []
    rows = sorted(splits.items())
    peak = max(train + val for _, (train, val) in rows) or 1
    out = ["## Label distribution", "", "| label | train | val | |", "|---|---:|---:|---|"]
    out += [f"| {label} | {train} | {val} | {'#' * max(1, round(20 * (train + val) / peak))} |"
            for label, (train, val) in rows[:LABEL_ROWS]]
    if len(rows) > LABEL_ROWS:
        out += ["", f"... and {len(rows) - LABEL_ROWS:,} more labels"]
    return [*out, ""]


def write_card(*, name: str, kind: str, version: str, tally: CardTally, report: IngestReport,
               size_bytes: int, linked: bool, label_splits: dict[str, tuple[int, int]] | None = None) -> str:
    """The card text. `version` is the SHA-256 of manifest.jsonl: same content, same version."""
    lines = [
        f"# {name}", "",
        f"- kind: {kind}",
        f"- version (SHA-256 of manifest.jsonl): `{version}`",
        f"- items: {report.accepted} (train {report.train}, val {report.val})",
        f"- rejected: {report.num_rejected} (see report.json for every item and reason)",
        f"- exact duplicates removed: {report.num_duplicates}",
        f"- size: {human_bytes(size_bytes)}" + (" (files referenced in place)" if linked else ""),
        f"- sources: {', '.join(report.sources) or '-'}", "",
    ]
    if kind == "text":
        lines.append("Records are stored verbatim in manifest.jsonl (`record`); no text files are copied.")
        lines.append("")
    lines += _label_table(label_splits or {})
    lines += _bar_table("Text length (characters)", ("length", "records"),
                        [(f"{lo}-{hi}", c) for lo, hi, c in histogram(tally.lengths)])
    res_rows = sorted(((f"{w}x{h}", c) for (w, h), c in tally.resolutions.items()), key=lambda kv: -kv[1])
    if len(res_rows) > 12:
        sides = [max(w, h) for (w, h), c in tally.resolutions.items() for _ in range(c)]
        res_rows = [(f"longest side {lo}-{hi}px", c) for lo, hi, c in histogram(sides)]
    lines += _bar_table("Resolution", ("resolution", "items"), res_rows)
    reasons = Counter(r.reason.split(":")[0] for r in report.rejected)
    lines += _bar_table("Rejection reasons", ("reason", "items"), sorted(reasons.items()))
    for note in report.notes:
        lines.append(f"> {note}")
    return "\n".join(lines).rstrip() + "\n"
