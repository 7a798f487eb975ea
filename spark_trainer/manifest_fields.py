"""How many rows of a dataset's manifest fill each field: what choosing a recipe needs to know of
the whole dataset (a caption on every image? a label on every row? images as large as the training
size?) without reading it.

Ingestion counts as it accepts rows and stores the summary with the dataset (`Dataset.meta["fields"]`);
a dataset ingested before that, or whose manifest changed since, is counted once, off the GUI
thread, and the summary stored with it then (`spark_trainer.recipes.fit.dataset_facts`).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BOOKKEEPING = ("split", "sha256", "source", "path", "width", "height")  # every image row has these
MAX_FIELDS = 256  # distinct fields counted; more (keys that are ids...) and no summary is kept
NAMED = 5  # rows named per field that some rows leave empty
SIDE_STEP = 8  # images' shorter sides are counted to this many pixels (resolutions are multiples of 8)
SIDE_CAP = 2048  # sides from here up count as one (no recipe trains larger): at most 257 counts kept


def side_of(width: Any, height: Any) -> int | None:
    """An image row's shorter side, rounded down to SIDE_STEP (a smaller one as it is) and capped at
    SIDE_CAP; None when the row gives no size (a text row)."""
    if type(width) is not int or type(height) is not int or min(width, height) <= 0:
        return None
    side = min(width, height)
    return min(SIDE_CAP, side if side < SIDE_STEP else side // SIDE_STEP * SIDE_STEP)


@dataclass(frozen=True)
class ManifestStamp:
    """Tells one version of a manifest from another without reading it: its size and modification time.

    The size alone missed a hand edit that kept it (a caption blanked with as many spaces). The time is
    the file system's, to the nanosecond it keeps; a moved data home keeps it (`home_move` copies it).
    """

    size: int
    mtime_ns: int

    @classmethod
    def of(cls, stat: os.stat_result) -> ManifestStamp:
        return cls(stat.st_size, stat.st_mtime_ns)

    def as_meta(self) -> dict[str, int]:
        """The keys a stored summary carries (`manifest_bytes` is the one stored before the time was)."""
        return {"manifest_bytes": self.size, "manifest_mtime_ns": self.mtime_ns}


def is_filled(value: Any) -> bool:
    """A value a recipe can use: not None or NaN, not blank text, not an empty list or mapping. The one
    rule for "empty": the counts here, and the classification recipes' and evaluation's empty label."""
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
    val: int = 0  # rows of the validation split (training reads any other split as "train")
    filled: Counter[str] = field(default_factory=Counter)
    lacking: dict[str, list[str]] = field(default_factory=dict)  # field -> up to NAMED sources without it
    overflow: bool = False  # more than MAX_FIELDS distinct fields: counts incomplete, no summary
    sides: Counter[int] = field(default_factory=Counter)  # images per shorter side (`side_of`)
    _first: list[tuple[str, set[str]]] = field(default_factory=list)  # the first NAMED rows: (source, fields)
    _naming: set[str] = field(default_factory=set)  # fields with fewer than NAMED rows named yet

    def add(self, row: Mapping[str, Any]) -> None:
        self.rows += 1
        self.val += row.get("split") == "val"  # a manifest's row; ingestion splits once all are in (`summary`)
        if "width" in row and (side := side_of(row["width"], row.get("height"))) is not None:
            self.sides[side] += 1
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

    def summary(self, stamp: ManifestStamp, val: int | None = None) -> dict[str, Any]:
        """What the dataset keeps: the counts, the first rows lacking each field some rows lack, the
        images' shorter sides (`sides`, {"64": 120}: JSON keys are text), and the manifest's stamp they
        describe (a manifest edited since is counted again). With too many fields to count, only that
        (`overflow`) and the sides: the fields are unknown, and known to be, so nothing counts the
        manifest again."""
        sides = {str(k): v for k, v in sorted(self.sides.items())}
        val = self.val if val is None else val  # ingestion's split, given once made
        splits = {"train": self.rows - val, "val": val}
        if self.overflow:
            return {"rows": self.rows, "overflow": True, "sides": sides, "splits": splits, **stamp.as_meta()}
        lacking = {k: v for k, v in sorted(self.lacking.items()) if v and self.filled[k] < self.rows}
        return {"rows": self.rows, "filled": dict(sorted(self.filled.items())), "lacking": lacking,
                "sides": sides, "splits": splits, **stamp.as_meta()}


def unreadable_summary(stamp: ManifestStamp, line: int | None = None, why: str = "") -> dict[str, Any]:
    """What a dataset keeps when a manifest row is not JSON or not a JSON object (`line`, 1-based, and
    `why`: "is not JSON (...)"): no counts, known to be none for this version, so the manifest is not
    read again until it is edited; training refuses the same line."""
    return {"rows": 0, "unreadable": True, "line": line, "why": why, **stamp.as_meta()}


def describes(summary: Any, stamp: ManifestStamp) -> bool:
    """Whether `summary` (what a dataset stored, `Dataset.meta["fields"]`) counts the manifest as it is
    now: well formed, and counted at its present stamp (a manifest edited since, a summary stored
    with its size alone, or one stored before the images' sides or the splits were counted, is counted
    again: that count also finds a manifest edited by hand before the splits were counted)."""
    if not isinstance(summary, Mapping) or any(summary.get(k) != v for k, v in stamp.as_meta().items()):
        return False
    if summary.get("unreadable") is True:
        return isinstance(summary.get("rows"), int)
    if not isinstance(summary.get("rows"), int) or not all(
            isinstance(summary.get(k), Mapping) for k in ("sides", "splits")):
        return False
    return summary.get("overflow") is True or isinstance(summary.get("filled"), Mapping)


def count_manifest(manifest: Path) -> dict[str, Any]:
    """The summary ingestion stores (`FieldTally.summary`), counted over every row of an existing
    manifest, with the SHA-256 of its bytes (`sha256`: the dataset's version, as ingestion computes
    it): for a dataset ingested before the counts were stored, or whose manifest changed since. Blank
    lines are skipped, as training skips them. A line that is not JSON or not a JSON object gives an
    `unreadable_summary` naming it.

    Raises:
        OSError, UnicodeDecodeError: the manifest cannot be read.
    """
    tally = FieldTally()
    digest = hashlib.sha256()
    with open(manifest, "rb") as fh:
        stamp = ManifestStamp.of(os.fstat(fh.fileno()))  # what is counted: a manifest edited meanwhile no longer matches
        for number, raw in enumerate(fh, start=1):
            digest.update(raw)
            line = raw.decode("utf-8")
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                return unreadable_summary(stamp, number, f"is not JSON ({exc.msg})")
            if not isinstance(row, dict):
                return unreadable_summary(stamp, number, "is not a JSON object")
            tally.add(row)
    return {**tally.summary(stamp), "sha256": digest.hexdigest()}
