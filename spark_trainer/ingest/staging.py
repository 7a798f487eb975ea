"""Build a dataset folder in a staging area and attach it to a store row only when complete.

A failure or a cancel at any point removes the staging folder, so neither a half folder nor a
half row is left behind. The folder is renamed to `datasets/<id>` inside the transaction that
creates the row (see `store.datasets.create_from_folder`).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import unicodedata
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from spark_trainer import disk
from spark_trainer.errors import Conflict, DiskFull, OperationFailed
from spark_trainer.ingest.card import CardTally, write_card
from spark_trainer.ingest.rename import retitle_card
from spark_trainer.ingest.splits import every_class_held_out, label_splits, untrained_note
from spark_trainer.ingest.types import Duplicate, IngestOptions, IngestReport
from spark_trainer.manifest_fields import FieldTally, ManifestStamp
from spark_trainer.paths import DataHome
from spark_trainer.recipes.classification import label_name
from spark_trainer.store import datasets, projects
from spark_trainer.store.entities import Dataset
from spark_trainer.store.store import Store

# Room kept free besides the dataset's files: manifest, card, report and the database's row.
MARGIN_BYTES = 4 * 2**20
MANIFEST = "manifest.jsonl"
REPORT = "report.json"
CARD = "README.md"
STAGING_PREFIX = ".staging-"
ROWS = ".rows.jsonl"  # accepted rows, written as they come (not kept in memory), until the manifest is


@dataclass
class Item:
    """One accepted candidate. `row` holds the manifest fields except split and sha256."""

    sha256: str
    source: str
    line: int | None
    row: dict[str, Any]
    copy_from: Path | None = None
    size: int = 0
    stats: dict[str, Any] = field(default_factory=dict)
    split: str | None = None  # set by the user's own split folders or files; else from the content hash


@dataclass(slots=True)
class Kept:
    """What the builder keeps of an accepted item until publishing: its row is on disk (`ROWS`)."""

    sha256: str
    source: str
    line: int | None
    split: str | None
    label: str | None = None  # its class (a class folder, a `label` field): splits keep every class in both

    @property
    def where(self) -> str:
        return self.source if self.line is None else f"{self.source}:{self.line}"


@dataclass(frozen=True, slots=True)
class DatasetName:
    """The name a new dataset will get: `text` as it stands now; `made_up_from` the base a made-up name
    came from (None for a name the user gave), so the record takes the next free one (`base-3`) should
    another ingest take `text` meanwhile, where a given name is refused."""

    text: str
    made_up_from: str | None = None


def dataset_name(store: Store, project: str | int, paths: list[Path], name: str | None) -> DatasetName:
    """The given name (which must be free), else one derived from the first path, made unique."""
    if name is not None:  # given, even empty: `--name ""` is refused, not replaced by a made-up name
        name = projects.validate_name(name, "dataset")
        if any(projects.nfc(d.name) == name for d in datasets.list_all(store, project)):
            raise Conflict(f"project {project!r} already has a dataset named {name!r}")
        return DatasetName(name)
    first = Path(paths[0]).expanduser().resolve()
    base = (first.stem if first.is_file() else first.name) or "dataset"
    cleaned = "".join(c if _kept_in_name(c) else "-" for c in projects.nfc(base)).strip("-.") or "dataset"
    if cleaned.isdigit():  # digits name ids: `2024.jsonl` or a folder `7/` must not be refused for it
        cleaned = f"dataset-{cleaned}"
    base = _cut(cleaned, 100)
    return DatasetName(datasets.unique_name(store, project, base), made_up_from=base)


def _kept_in_name(c: str) -> bool:
    """Letters, digits, the marks that belong to them (an accent left combining, Devanagari's vowel
    signs: `हिंदी` is mostly marks) and symbols (☃) stay in a name made from a file name; spaces,
    punctuation and invisible controls become dashes."""
    return c in "-_." or unicodedata.category(c)[0] in "LNMS"


def _cut(name: str, limit: int) -> str:
    """`name` cut to `limit` characters, not between a letter and its marks."""
    while len(name) > limit and unicodedata.category(name[limit])[0] == "M":
        limit -= 1
    return name[:limit] or name[:limit + 1]


def split_of(sha256: str, val_fraction: float, seed: str = "") -> str:
    """Deterministic split from the content hash: the same item always lands in the same split."""
    if val_fraction <= 0:
        return "train"
    key = hashlib.sha256((seed + sha256).encode()).digest() if seed else bytes.fromhex(sha256[:16])
    return "val" if int.from_bytes(key[:8], "big") / 2**64 < val_fraction else "train"


def json_line(row: dict[str, Any]) -> str:
    return json.dumps(row, ensure_ascii=False, sort_keys=False, default=str)


class DatasetBuilder:
    """Collects accepted items into a staging folder, then publishes it as one dataset."""

    def __init__(self, home: DataHome, kind: str, options: IngestOptions, report: IngestReport,
                 *, link: bool = False) -> None:
        self.home = home
        self.kind = kind
        self.options = options
        self.report = report
        self.link = link
        self.items: list[Kept] = []
        self._seen: dict[str, Kept] = {}
        self._rows: IO[bytes] | None = None
        self.tally = CardTally()
        self.fields = FieldTally()  # per-field counts: which recipes can use the dataset (recipes.fit)
        self.size_bytes = 0
        self._dests: set[str] = set()
        self._staging: Path | None = None
        self.needed_bytes: int | None = None  # the dataset's expected size, when known beforehand

    def check_space(self, needed: int) -> None:
        """Refuse (DiskFull, nothing written) unless the data home has room for `needed` bytes."""
        self.needed_bytes = needed
        folder = self.home.datasets_dir
        _sweep_dead(folder)  # an ingestion killed before (or failed on a full disk) must not take the room
        free = disk.free_bytes(folder)
        if free < needed + MARGIN_BYTES:
            raise DiskFull(f"disk full at {folder}: {disk.gb(free)} free, the dataset needs about "
                           f"{disk.gb(needed + MARGIN_BYTES)}; nothing was saved")

    @property
    def staging(self) -> Path:
        if self._staging is None:
            from spark_trainer.jobs import leftovers

            self.home.datasets_dir.mkdir(parents=True, exist_ok=True)
            # Named for its process (jobs/leftovers.py): one left by an ingestion killed outright goes
            # at the next ingestion, and in the reconcile sweep.
            _sweep_dead(self.home.datasets_dir)
            folder = self.home.datasets_dir / f"{STAGING_PREFIX}{leftovers.tag()}-{uuid.uuid4().hex[:8]}"
            folder.mkdir()
            self._staging = folder
        return self._staging

    def is_duplicate(self, sha256: str, source: str, line: int | None) -> bool:
        """Record `source` as a duplicate when its content was already accepted."""
        first = self._seen.get(sha256)
        if first is None:
            return False
        self.report.duplicates.append(Duplicate(source, line, first.where))
        return True

    def add(self, item: Item, dest_name: str | None = None) -> bool:
        """Accept an item (copying its file under files/ unless linking); False for a duplicate."""
        if self.link and item.copy_from is not None and not _utf8_name(item.copy_from):
            self.report.reject(item.source, item.line, "file name is not valid UTF-8, so it cannot be linked; "
                               "ingest without --link to copy it")
            return False
        if self.is_duplicate(item.sha256, item.source, item.line):
            return False
        if item.copy_from is not None:
            item.row["path"] = str(item.copy_from) if self.link else self._copy(item.copy_from, dest_name, item.sha256)
        if self._rows is None:
            self._rows = open(self.staging / ROWS, "wb")  # noqa: SIM115  # closed by publish or discard
        # The row goes to disk now; only its hash, source and split stay (a 150 MB JSONL held as
        # rows until publishing peaked at 3.3 times its size).
        self._rows.write((json_line(item.row) + "\n").encode("utf-8"))
        self.tally.add(item.row, item.stats)
        self.fields.add(item.row)
        self.size_bytes += item.size
        record = item.row.get("record")  # a text row's fields; an image's class is its row's own `label`
        label = (record if isinstance(record, dict) else item.row).get(self.options.label_field, item.row.get("label"))
        kept = Kept(item.sha256, item.source, item.line, item.split,
                    # the class as training names it: 'é' typed two ways, '1' and '1.0', are one class to hold out
                    label_name(label) or None if isinstance(label, str | int) and not isinstance(label, bool) else None)
        self._seen[item.sha256] = kept
        self.items.append(kept)
        return True

    def add_file(self, src: Path, rel_dest: str) -> str:
        """Place a produced file (an extracted frame) at `files/<rel_dest>`; returns the relative path."""
        target = self.staging / "files" / rel_dest
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, target)
        return f"files/{rel_dest}"

    def _copy(self, src: Path, dest_name: str | None, sha256: str) -> str:
        rel = f"files/{dest_name or src.name}"
        if rel in self._dests:
            stem, _, ext = rel.rpartition(".")
            rel = f"{stem}-{sha256[:8]}.{ext}" if stem else f"{rel}-{sha256[:8]}"
        self._dests.add(rel)
        target = self.staging / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, target)
        return rel

    def _settle_splits(self) -> None:
        """Each item's split: the user's, else from its content hash, with every class in both splits."""
        hashed = [item for item in self.items if item.split is None]
        for item in hashed:
            item.split = split_of(item.sha256, self.options.val_fraction, self.options.seed)
        if self.options.val_fraction > 0:
            every_class_held_out(hashed)
        # Small datasets: make sure validation is not empty when a fraction was asked for.
        if self.options.val_fraction > 0 and len(self.items) >= 2 and not any(i.split == "val" for i in self.items):
            min(self.items, key=lambda i: i.sha256).split = "val"
        if self.items and not any(i.split == "train" for i in self.items):  # and training is never empty
            max(self.items, key=lambda i: i.sha256).split = "train"

    def publish(self, store: Store, project: str | int, name: DatasetName, sources: list[str],
                meta: dict[str, Any] | None = None) -> Dataset:
        """Write manifest, report and card, then create the row and move the folder to datasets/<id>.
        A made-up name another ingest took meanwhile becomes the next free one, card heading too."""
        self._settle_splits()
        self.report.kind = self.kind
        self.report.accepted = len(self.items)
        self.report.train = sum(i.split == "train" for i in self.items)
        self.report.val = len(self.items) - self.report.train
        self.report.sources = sources
        labels = label_splits(self.items, text=self.kind == "text")
        if note := untrained_note(labels):
            self.report.notes.append(note)
        staging = self.staging
        size = self.size_bytes
        try:
            if self._rows is not None:
                self._rows.close()
            version = _write_manifest(staging / MANIFEST, staging / ROWS, self.items)
            stamp = ManifestStamp.of((staging / MANIFEST).stat())  # counts and version, as a recount stores them
            fields = self.fields.summary(stamp, val=self.report.val) | {"sha256": version}
            (staging / ROWS).unlink()
            twin = next((d for d in datasets.list_all(store, project) if d.version == version), None)
            if twin is not None:  # the same file ingested twice: say so rather than keep two silently
                self.report.notes.append(f"the same items as dataset {twin.name!r} (id {twin.id}): this one is a "
                                         "second copy; delete one of them if that was not meant")
            report = self.report.to_dict() | {"version": version}
            _write_json(staging / REPORT, report)
            card = write_card(name=name.text, kind=self.kind, version=version, tally=self.tally,
                              report=self.report, size_bytes=size, linked=self.link, label_splits=labels)
            _write_synced(staging / CARD, card.encode("utf-8"))
        except OSError as exc:
            if disk.is_write_error(exc):
                raise self.write_failure(exc) from exc
            raise OperationFailed(f"cannot write dataset files in {staging}: {exc.strerror or exc}") from exc
        new = datasets.NewDataset(
            name=name.text, free_name_from=name.made_up_from, kind=self.kind, path=str(staging), version=version, num_items=len(self.items),
            num_train=self.report.train, num_val=self.report.val, num_rejected=self.report.num_rejected,
            num_duplicates=self.report.num_duplicates, size_bytes=size, sources=sources,
            meta={"linked": self.link, "val_fraction": self.options.val_fraction, **(meta or {}), "fields": fields},
        )
        dataset = datasets.create_from_folder(store, project, new, staging)
        if dataset.name != name.text:
            retitle_card(Path(dataset.path), name.text, dataset.name)  # a card left as it was only misnames it
        return dataset

    @contextmanager
    def guard(self) -> Iterator[DatasetBuilder]:
        """Any failure inside (an error, a cancel) removes the staging folder; an I/O error becomes
        one OperationFailed line. Nothing half-built is ever left behind."""
        try:
            yield self
        except OSError as exc:
            failure = self.write_failure(exc) if disk.is_write_error(exc) else write_failure(exc)
            self.discard()
            raise failure from exc
        except BaseException:
            self.discard()
            raise

    def write_failure(self, exc: OSError) -> DiskFull:
        """One line for a full or failing disk while building (call before `discard`)."""
        written = getattr(exc, "filename2", None) or exc.filename  # a copy names its source first
        target = Path(written) if written else None
        folder = _home_folder(self.home, target)
        if self.needed_bytes is not None:
            needs = f"the dataset needs about {disk.gb(self.needed_bytes + MARGIN_BYTES)}"
        else:  # frames from videos: the size is known only once they are written
            written = disk.folder_bytes(self._staging) if self._staging is not None else 0
            needs = f"the dataset needs more than the {disk.gb(written)} written before the disk filled"
        return DiskFull(f"{disk.describe(exc, folder, target=target, needs=needs)}; nothing was saved",
                        disk.fault_of(exc))

    def discard(self) -> None:
        """Remove the staging folder (after a failure or a cancel)."""
        if self._rows is not None:
            try:
                self._rows.close()
            except OSError:
                # Its buffer could not be written (the disk that failed the ingestion is still full):
                # the file is closed all the same, and the folder it is in goes next.
                pass
        if self._staging is not None and self._staging.exists():
            shutil.rmtree(self._staging, ignore_errors=True)
        self._staging = None


def _sweep_dead(datasets_dir: Path) -> None:
    """Remove the staging folders of ingestions whose process is gone (jobs/leftovers.py)."""
    from spark_trainer.jobs import leftovers

    leftovers.remove_dead(datasets_dir, STAGING_PREFIX)


def _home_folder(home: DataHome, target: Path | None) -> Path:
    """The data-home folder a failed write was under (datasets/ or cache/), not the staging folder
    about to be removed; a path outside the home is named as it is."""
    if target is None:
        return home.datasets_dir
    try:
        return home.root / target.resolve().relative_to(home.root.resolve()).parts[0]
    except (ValueError, IndexError, OSError):
        return target.parent


def estimate_bytes(paths: list[Path], kind: str, link: bool) -> int:
    """What ingesting these files will write into the data home: a copy of each media file (or a
    manifest row per linked file), about the files' size again for text (its manifest rows)."""
    if link and kind != "text":
        return 4096 * len(paths)
    size = sum(p.stat().st_size for p in paths)
    return 2 * size if kind == "text" else size  # text: the accepted rows and the manifest made from them


def _utf8_name(path: Path) -> bool:
    try:
        str(path).encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def write_failure(exc: OSError) -> OperationFailed:
    """One line for an I/O error during ingestion (nothing was kept)."""
    where = f" {exc.filename}" if exc.filename else ""
    return OperationFailed(f"ingestion failed on{where}: {exc.strerror or exc}; nothing was saved")


def _write_manifest(path: Path, rows_path: Path, items: list[Kept]) -> str:
    """Write the manifest a line at a time from the accepted rows on disk, each line
    `{"split": ..., "sha256": ..., **row}`, and return its SHA-256, the dataset's version."""
    digest = hashlib.sha256()
    with open(rows_path, "rb") as rows, open(path, "wb") as fh:
        for item, body in zip(items, rows, strict=True):
            head = f'{{"split": {json.dumps(item.split)}, "sha256": {json.dumps(item.sha256)}'.encode()
            line = head + (b"}\n" if body == b"{}\n" else b", " + body[1:])
            digest.update(line)
            fh.write(line)
        fh.flush()
        os.fsync(fh.fileno())
    return digest.hexdigest()


def _write_json(path: Path, value: Any) -> None:
    """`json.dumps(value, indent=2, ensure_ascii=False)`'s bytes, written as they are encoded: a
    report listing 40,000 duplicates took nine times its size as one string (and the list of
    pieces it was joined from) and its bytes."""
    with open(path, "wb") as fh:
        pieces: list[str] = []
        for piece in json.JSONEncoder(indent=2, ensure_ascii=False).iterencode(value):
            pieces.append(piece)
            if len(pieces) >= 4096:
                fh.write("".join(pieces).encode("utf-8"))
                pieces.clear()
        fh.write("".join(pieces).encode("utf-8"))
        fh.flush()
        os.fsync(fh.fileno())


def _write_synced(path: Path, data: bytes) -> None:
    with open(path, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
