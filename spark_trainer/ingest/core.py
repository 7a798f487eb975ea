"""`ingest_paths`: any files or folders in, one verified, versioned dataset out (or nothing at all)."""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from pathlib import Path

from spark_trainer.errors import BadInput
from spark_trainer.ingest.captions import is_caption_manifest, manifest_captions
from spark_trainer.ingest.detect import (
    CHOOSE_KIND,
    KINDS,
    UNSUPPORTED_IMAGES,
    InputFile,
    describe_left_out,
    detect_kind,
    gather,
    is_sidecar,
    kind_of,
    left_out,
    sidecar_stems,
)
from spark_trainer.ingest.media import (
    ingest_audio,
    ingest_image,
    ingest_video_file,
    uncaptioned_note,
    unlabelled_note,
)
from spark_trainer.ingest.splits import settle_splits
from spark_trainer.ingest.staging import DatasetBuilder, dataset_name, estimate_bytes
from spark_trainer.ingest.text import ingest_text_file
from spark_trainer.ingest.types import (
    IngestOptions,
    IngestReport,
    IngestResult,
    NothingIngested,
    Progress,
    check_cancel,
    emit,
)
from spark_trainer.store import projects
from spark_trainer.store.store import Store
from spark_trainer.visible import visible

# Every handler takes (file, builder, options, report, cancel, tick); one-item-per-file kinds ignore the last two.
HANDLERS = {"text": ingest_text_file, "image": ingest_image, "audio": ingest_audio, "video": ingest_video_file}


def ingest_paths(store: Store, paths: list[Path], *, project: str | int, name: str | None = None,
                 kind: str = "auto", options: IngestOptions | None = None, link: bool = False,
                 progress: Callable[[Progress], None] | None = None,
                 cancel: threading.Event | None = None) -> IngestResult:
    """Ingest `paths` into a new dataset of `project`.

    Raises:
        BadInput: unsupported kind, empty folder, missing or unreadable path, unknown project
            (nothing is written); NothingIngested (a BadInput) when every item was rejected, with the report.
        IngestCancelled: `cancel` was set (nothing is left behind).
        DiskFull: the data home has no room for the dataset (checked before copying, or met while
            copying); nothing is left behind.
        OperationFailed: the dataset could not be written (nothing is left behind).
    """
    options = options or IngestOptions()
    projects.get(store, project)  # unknown project: BadInput before anything is written
    home = Path(store.home.root).resolve()
    _refuse_the_data_home(paths, home)
    broken: list[tuple[str, str]] = []
    hidden: list[str] = []
    # A link inside a given folder into the home (its datasets, runs, database) is not followed; a path
    # given inside the home is the user's word (the demo's sample data, a dataset's manifest).
    files = gather([Path(p) for p in paths], broken, hidden, avoid=home)
    if kind == "auto":
        kind = detect_kind(files)
    elif kind not in KINDS:
        raise BadInput(f"kind must be auto or one of {', '.join(KINDS)}, got {kind!r}")
    stems = sidecar_stems(files) if kind in ("image", "audio") else set()
    report = IngestReport(kind=kind)
    if hidden:
        report.notes.append(describe_left_out(hidden))
    handler = HANDLERS[kind]
    if kind == "image":  # captions may come from a metadata.jsonl/csv beside the images
        handler = functools.partial(ingest_image, captions=manifest_captions(files, report))
    chosen = [f for f in files if kind_of(f.path) == kind and not is_sidecar(f, stems) and not is_caption_manifest(f)]
    if not chosen:
        raise BadInput(f"no {kind} files among the {len(files)} files given")
    name = dataset_name(store, project, _contributing(paths, chosen), name)
    for source, reason in broken:
        report.reject(source, None, reason)
    picked = set(chosen)  # a set: a list searched once per file made 10,000 images 83 million comparisons
    captioned = kind == "image" and any(is_sidecar(f, stems) for f in files)  # once, not per file
    for f in files:
        if f not in picked and not is_sidecar(f, stems) and not (kind == "image" and is_caption_manifest(f)):
            report.reject(f.source, None, UNSUPPORTED_IMAGES.get(f.ext) or _orphan_caption(f, captioned)
                          or _other_kind(f, kind))
    builder = DatasetBuilder(store.home, kind, options, report, link=link)
    builder.check_space(estimate_bytes([f.path for f in chosen], kind, link))
    with builder.guard():
        _ingest_files(chosen, handler, builder, options, report, progress, cancel)
        check_cancel(cancel)
        if note := settle_splits(builder.items, chosen):
            report.notes.append(note)
        if kind == "image" and (note := unlabelled_note(chosen, {item.source for item in builder.items})):
            report.notes.append(note)
        if kind == "image" and (note := uncaptioned_note(builder.fields)):
            report.notes.append(note)
        if not builder.items:
            if report.total_seen == 0:  # a header-only CSV, a blank file: "all 0 items were rejected" said nothing
                names = ", ".join(visible(f.source) for f in chosen[:3]) + (" ..." if len(chosen) > 3 else "")
                verb = "holds" if len(chosen) == 1 else "hold"
                raise NothingIngested(f"nothing to ingest: {names} {verb} no rows (only a header, or blank lines)",
                                      report)
            seen = "the only item was" if report.total_seen == 1 else f"all {report.total_seen} items were"
            raise NothingIngested(f"nothing to ingest: {seen} rejected ({'' if seen[0] == 't' else 'first: '}"
                                  f"{_first_reason(report)})", report)
        emit(progress, len(chosen), len(chosen), "writing manifest and dataset card")
        dataset = builder.publish(store, project, name, [str(Path(p).expanduser().resolve()) for p in paths],
                                  meta={"options": _options_meta(options)})
    emit(progress, len(chosen), len(chosen), f"dataset {dataset.name!r} ready: {dataset.num_items} item{'' if dataset.num_items == 1 else 's'}")
    return IngestResult(dataset, report)


def _refuse_the_data_home(paths: list[Path], home: Path) -> None:
    """BadInput for a path that is the data home (`home`, resolved) or a folder whose reading would walk into it (not
    through a hidden folder: those are left out). Ingesting the home read its runs, logs and database
    into a dataset written inside the very folder being read."""
    for given in paths:
        path = Path(given).expanduser().resolve()
        if path == home:
            raise BadInput(f"{visible(str(given))}: this is SparkTrainer's data folder; ingest a folder or file of your data")
        if home.is_relative_to(path) and path.is_dir() and not any(
                left_out(part, folder=True) for part in home.relative_to(path).parts):
            raise BadInput(f"{visible(str(given))}: holds SparkTrainer's data folder ({home}); ingest a folder or file of your "
                           "data, not a folder around the data folder")


def _ingest_files(files: list[InputFile], handler: Callable[..., None], builder: DatasetBuilder,
                  options: IngestOptions, report: IngestReport, progress: Callable[[Progress], None] | None,
                  cancel: threading.Event | None) -> None:
    for done, f in enumerate(files):
        check_cancel(cancel)
        emit(progress, done, len(files), f"reading {visible(f.source)}", f.source)
        handler(f, builder, options, report, cancel,
                lambda message, done=done, f=f: emit(progress, done, len(files), message, f.source))


def _contributing(paths: list[Path], chosen: list[InputFile]) -> list[Path]:
    """The given paths from the first one that holds a chosen file on: the dataset is named after it,
    not after a file of another kind given first (`ingest a.csv photos/` made an image dataset 'a')."""
    picked = {f.path for f in chosen}
    for i, given in enumerate(paths):
        path = Path(given).expanduser().resolve()
        if path in picked or (path.is_dir() and any(p.is_relative_to(path) for p in picked)):
            return list(paths[i:])
    return list(paths)  # reached only through links: as before, the first path


def _orphan_caption(f: InputFile, captioned: bool) -> str | None:
    """A .txt among images whose other .txt files are their captions (`captioned`): a caption whose image
    is missing (renamed, deleted, left out), not text data given by mistake."""
    if not captioned or f.ext != ".txt":
        return None
    return f"a caption with no image named {f.path.stem!r} beside it (the other .txt files here are captions)"


def _other_kind(f: InputFile, kind: str) -> str:
    other = kind_of(f.path)
    if other:  # a supported file of the other kinds given: --kind would reject the rest instead
        return (f"{_a(other)} {other} file, and this is {_a(kind)} {kind} dataset: ingest {other} files as a "
                "dataset of their own")
    return f"not {_a(kind)} {kind} file (for another kind, choose it: {CHOOSE_KIND})"


def _a(word: str) -> str:
    return "an" if word[0] in "aeiou" else "a"


def _first_reason(report: IngestReport) -> str:
    if report.rejected:
        r = report.rejected[0]
        return f"{visible(r.source)}{'' if r.line is None else f':{r.line}'}: {r.reason}"
    return "all were duplicates"


def _options_meta(options: IngestOptions) -> dict[str, object]:
    from dataclasses import asdict

    return asdict(options)
