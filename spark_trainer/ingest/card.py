"""The dataset card (README.md): counts, sizes, label distribution, length/resolution histograms."""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from spark_trainer.ingest.staging import Item
    from spark_trainer.ingest.types import IngestReport


def histogram(values: list[int], bins: int = 10) -> list[tuple[int, int, int]]:
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


def _human(n: int) -> str:
    value = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024:
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TB"


def write_card(*, name: str, kind: str, version: str, rows: list[dict[str, Any]], items: list[Item],
               report: IngestReport, size_bytes: int, linked: bool) -> str:
    """The card text. `version` is the SHA-256 of manifest.jsonl: same content, same version."""
    train = sum(r["split"] == "train" for r in rows)
    lines = [
        f"# {name}", "",
        f"- kind: {kind}",
        f"- version (SHA-256 of manifest.jsonl): `{version}`",
        f"- items: {len(rows)} (train {train}, val {len(rows) - train})",
        f"- rejected: {report.num_rejected} (see report.json for every item and reason)",
        f"- exact duplicates removed: {report.num_duplicates}",
        f"- size: {_human(size_bytes)}" + (" (files referenced in place)" if linked else ""),
        f"- sources: {', '.join(report.sources) or '-'}", "",
    ]
    if kind == "text":
        lines.append("Records are stored verbatim in manifest.jsonl (`record`); no text files are copied.")
        lines.append("")
    labels = Counter(r.get("label") for r in rows if r.get("label") is not None)
    lines += _bar_table("Label distribution", ("label", "items"), sorted(labels.items()))
    lengths = [i.stats["chars"] for i in items if "chars" in i.stats]
    lines += _bar_table("Text length (characters)", ("length", "records"),
                        [(f"{lo}-{hi}", c) for lo, hi, c in histogram(lengths)])
    resolutions = Counter(f"{r['width']}x{r['height']}" for r in rows if "width" in r and "height" in r)
    res_rows = sorted(resolutions.items(), key=lambda kv: -kv[1])
    if len(res_rows) > 12:
        sides = [max(r["width"], r["height"]) for r in rows if "width" in r]
        res_rows = [(f"longest side {lo}-{hi}px", c) for lo, hi, c in histogram(sides)]
    lines += _bar_table("Resolution", ("resolution", "items"), res_rows)
    reasons = Counter(r.reason.split(":")[0] for r in report.rejected)
    lines += _bar_table("Rejection reasons", ("reason", "items"), sorted(reasons.items()))
    for note in report.notes:
        lines.append(f"> {note}")
    return "\n".join(lines).rstrip() + "\n"
