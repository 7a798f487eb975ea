"""How many rows of a dataset's manifest fill each field: what choosing a recipe needs to know of
the whole dataset (a caption on every image? a label on every row?) without reading it.

Ingestion counts as it accepts rows and stores the summary with the dataset (`Dataset.meta["fields"]`);
a dataset ingested before that, or whose manifest changed since, is counted by reading at most
`SCAN_ROWS` rows or `SCAN_BYTES` bytes of its manifest (a bounded scan: the setup form stays quick).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BOOKKEEPING = ("split", "sha256", "source", "path", "width", "height")  # every image row has these
MAX_FIELDS = 256  # distinct fields counted; more (keys that are ids...) and no summary is kept
SCAN_ROWS = 1000  # about 25 ms on a busy 2-core machine: the setup form stays quick with many old datasets
SCAN_BYTES = 2**20
NAMED = 5  # rows named per field that some rows leave empty


def is_filled(value: Any) -> bool:
    """A value a recipe can use: not None or NaN, not blank text, not an empty list or mapping."""
    if value is None:
        return False
    if type(value) is str:  # the common case first: ingestion asks this of every value of every row
        return bool(value) and not value.isspace()
    if isinstance(value, float):
        return value == value
    if isinstance(value, str):
        return bool(value.strip())
    if isinstance(value, (list, dict)):
        return bool(value)
    return True


def filled_fields(row: Mapping[str, Any]) -> Iterator[str]:
    """The fields a manifest row fills: a text row's record keys with a value, a media row's filled
    fields other than the bookkeeping every row has (so an image row gives `label`, `caption`)."""
    record = row.get("record")
    if isinstance(record, dict):
        return (str(k) for k, v in record.items() if is_filled(v))
    return (k for k, v in row.items() if k not in BOOKKEEPING and is_filled(v))


@dataclass
class FieldTally:
    """Per-field counts of filled rows, added a row at a time, and for each field the first rows
    (their `source`) that leave it empty: a refusal can name them."""

    rows: int = 0
    filled: Counter[str] = field(default_factory=Counter)
    lacking: dict[str, list[str]] = field(default_factory=dict)  # field -> up to NAMED sources without it
    overflow: bool = False  # more than MAX_FIELDS distinct fields: counts incomplete, no summary
    _first: list[tuple[str, set[str]]] = field(default_factory=list)  # the first NAMED rows: (source, fields)
    _naming: set[str] = field(default_factory=set)  # fields with fewer than NAMED rows named yet

    def add(self, row: Mapping[str, Any]) -> None:
        self.rows += 1
        names = list(filled_fields(row))
        new = [name for name in names if name not in self.filled]  # empty for all but a few rows
        for name in new:
            if len(self.lacking) >= MAX_FIELDS:  # every field counted has its entry there
                self.overflow = True
                names.remove(name)
                continue
            # Rows before the field first appeared lack it: the first of them are remembered.
            self.lacking[name] = [src for src, had in self._first if name not in had][:NAMED]
            if len(self.lacking[name]) < NAMED:
                self._naming.add(name)
        self.filled.update(names)
        # A row filling every field seen lacks none (most rows): only the others are looked at.
        if len(self._first) < NAMED or (self._naming and len(names) < len(self.filled)):
            self._name_lacking(row, set(names))

    def _name_lacking(self, row: Mapping[str, Any], names: set[str]) -> None:
        source = str(row.get("source") or f"row {self.rows}")
        for name in [n for n in self._naming if n not in names]:
            self.lacking[name].append(source)
            if len(self.lacking[name]) >= NAMED:
                self._naming.discard(name)
        if len(self._first) < NAMED:
            self._first.append((source, names))

    def summary(self, manifest_bytes: int) -> dict[str, Any] | None:
        """What the dataset keeps: the counts, the first rows lacking each field some rows lack, and
        the manifest's size they describe (a manifest edited since is counted again). None when there
        were too many fields to count."""
        if self.overflow:
            return None
        lacking = {k: v for k, v in sorted(self.lacking.items()) if v and self.filled[k] < self.rows}
        return {"rows": self.rows, "filled": dict(sorted(self.filled.items())), "lacking": lacking,
                "manifest_bytes": manifest_bytes}


@dataclass(frozen=True)
class Counted:
    """Counts over `rows` rows; `whole` False: only the first `rows` rows of a longer manifest."""

    rows: int
    filled: dict[str, int]
    whole: bool = True
    lacking: dict[str, list[str]] = field(default_factory=dict)  # the first rows without a field


def stored_counts(summary: Any, manifest_bytes: int) -> Counted | None:
    """The counts a dataset stored at ingestion, if they still describe its manifest."""
    if not isinstance(summary, Mapping) or summary.get("manifest_bytes") != manifest_bytes:
        return None
    rows, filled = summary.get("rows"), summary.get("filled")
    if not isinstance(rows, int) or not isinstance(filled, Mapping):
        return None
    lacking = summary.get("lacking")
    named = {str(k): [str(s) for s in v] for k, v in lacking.items() if isinstance(v, list)} \
        if isinstance(lacking, Mapping) else {}
    return Counted(rows, {str(k): int(v) for k, v in filled.items() if isinstance(v, int)}, lacking=named)


def scan_counts(manifest: Path, max_rows: int = SCAN_ROWS, max_bytes: int = SCAN_BYTES) -> Counted | None:
    """Counts over the manifest's first `max_rows` rows (or `max_bytes` bytes); None when a row read
    is not a JSON object (the recipe's full data check says what is wrong)."""
    tally = FieldTally()
    read = 0
    with open(manifest, encoding="utf-8") as fh:
        for line in fh:
            if tally.rows >= max_rows or read >= max_bytes:
                return Counted(tally.rows, dict(tally.filled), whole=False, lacking=tally.lacking)
            read += len(line)
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                return None
            if not isinstance(row, dict):
                return None
            tally.add(row)
    return Counted(tally.rows, dict(tally.filled), lacking=tally.lacking)
