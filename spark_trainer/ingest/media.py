"""Images, audio and video files for `ingest_paths`: gates, labels from class folders, sidecar text."""

from __future__ import annotations

import threading
import wave
from collections.abc import Callable
from pathlib import Path

from spark_trainer.images import decode_problem
from spark_trainer.ingest.detect import InputFile
from spark_trainer.ingest.splits import split_of_file
from spark_trainer.ingest.staging import DatasetBuilder, Item
from spark_trainer.ingest.types import IngestOptions, IngestReport
from spark_trainer.ingest.video.checks import check_video
from spark_trainer.ingest.video.probe import file_sha256
from spark_trainer.manifest_fields import FieldTally
from spark_trainer.visible import visible


def _sidecar_text(f: InputFile, report: IngestReport) -> tuple[bool, str | None]:
    """(ok, text of `name.txt` beside the file or None). A caption that is not UTF-8 is left out with a
    note naming its file and line: the item is kept (a classifier reads no caption; a diffusion run
    then finds it uncaptioned), not rejected whole."""
    # Windows tools write IMG_0001.TXT beside IMG_0001.JPG; on a case-sensitive disk only the exact name opens.
    sidecar = next((c for c in (f.path.with_suffix(s) for s in (".txt", ".TXT", ".Txt")) if c.is_file()), None)
    if sidecar is None:
        return True, None
    try:
        return True, sidecar.read_text(encoding="utf-8-sig").strip() or None
    except UnicodeDecodeError as exc:
        line = sidecar.read_bytes().count(b"\n", 0, exc.start) + 1
        report.notes.append(f"{visible(f.source)}: {visible(sidecar.name)} is not valid UTF-8 at line {line}; kept without its "
                            f"caption (save {sidecar.name} as UTF-8 to use it)")
        return True, None


def _dest(f: InputFile) -> str:
    return "/".join(f.rel)


def ingest_image(f: InputFile, builder: DatasetBuilder, options: IngestOptions, report: IngestReport,
                 cancel: threading.Event | None = None, tick: Callable[[str], None] | None = None,
                 *, captions: dict[Path, str] | None = None) -> None:
    """One image; its caption is `name.txt` beside it, else its row in a caption manifest (`captions`)."""
    size = f.path.stat().st_size
    if size < options.min_file_bytes:
        report.reject(f.source, None, "empty file (0 bytes)")
        return
    (width, height), problem = decode_problem(f.path, quick=True, verify=True, max_pixels=options.max_image_pixels)
    if problem:
        report.reject(f.source, None, problem)
        return
    if min(width, height) < options.min_image_side:
        report.reject(f.source, None, f"image too small: {width}x{height}; the minimum side is {options.min_image_side}px")
        return
    ok, caption = _sidecar_text(f, report)
    if not ok:
        return
    if caption is None and captions:
        caption = captions.get(f.path.resolve()) or None
    row = {"path": "", "label": f.folder_label, "caption": caption, "width": width, "height": height,
           "source": f.source}
    builder.add(Item(file_sha256(f.path), f.source, None, row, copy_from=f.path, size=size, split=split_of_file(f)), _dest(f))


def _audio_duration(path: Path) -> float:
    if path.suffix.lower() == ".wav":
        with wave.open(str(path), "rb") as wav:
            return wav.getnframes() / float(wav.getframerate())
    import av

    with av.open(str(path)) as container:
        if not container.streams.audio:
            raise ValueError("no audio stream")
        stream = container.streams.audio[0]
        if stream.duration is not None and stream.time_base is not None:
            return float(stream.duration * stream.time_base)
        return float(container.duration or 0) / 1_000_000


def ingest_audio(f: InputFile, builder: DatasetBuilder, options: IngestOptions, report: IngestReport,
                 cancel: threading.Event | None = None, tick: Callable[[str], None] | None = None) -> None:
    size = f.path.stat().st_size
    if size < options.min_file_bytes:
        report.reject(f.source, None, "empty file (0 bytes)")
        return
    try:
        duration = _audio_duration(f.path)
    except (wave.Error, EOFError, OSError, ValueError, ImportError) as exc:
        report.reject(f.source, None, f"unreadable audio: {exc}")
        return
    ok, transcript = _sidecar_text(f, report)
    if not ok:
        return
    row = {"path": "", "label": f.folder_label, "transcript": transcript, "duration": round(duration, 3),
           "source": f.source}
    builder.add(Item(file_sha256(f.path), f.source, None, row, copy_from=f.path, size=size, split=split_of_file(f)), _dest(f))


def ingest_video_file(f: InputFile, builder: DatasetBuilder, options: IngestOptions, report: IngestReport,
                      cancel: threading.Event | None = None, tick: Callable[[str], None] | None = None) -> None:
    probe = check_video(f.path, f.source, report, options.min_image_side, decode_test=options.check_video_decode)
    if probe.problems:
        report.reject(f.source, None, "; ".join(probe.problems))
        return
    row = {"path": "", "label": f.folder_label, "duration": round(probe.duration, 3), "fps": probe.fps,
           "frame_count": probe.frame_count, "width": probe.width, "height": probe.height,
           "codec": probe.codec, "has_audio": probe.has_audio, "source": f.source}
    builder.add(Item(probe.sha256, f.source, None, row, copy_from=f.path, size=probe.size_bytes,
                     split=split_of_file(f)), _dest(f))


def unlabelled_note(files: list[InputFile], kept: set[str]) -> str | None:
    """The report's note when some kept images sit in class folders and others do not: those others
    have no label, and image classification refuses a dataset holding them (a photo left beside the
    class folders, unsaid until a run was started)."""
    kept_files = [f for f in files if f.source in kept]
    loose = [f.source for f in kept_files if f.folder_label is None]
    if not loose or len(loose) == len(kept_files):
        return None
    return (f"{len(loose)} of {len(kept_files)} items are not in a class sub-folder and have no label "
            f"(first: {loose[0]}); classification refuses unlabelled items: move them into a class folder, "
            "or leave them out")



def uncaptioned_note(fields: FieldTally) -> str | None:
    """The report's note when some kept images have a caption and others do not (`fields`: the kept
    rows' counts): a diffusion run refuses such a dataset by default, which was first said at `exp
    create`, the report having said every file passed. A note, not a rejection: a run may set
    `missing_captions: skip` (or `empty`). None when every image has one, or none does (a classification
    folder), or the fields were too many to count."""
    captioned = fields.filled.get("caption", 0)
    if fields.overflow or not 0 < captioned < fields.rows:
        return None
    missing, named = fields.rows - captioned, fields.lacking.get("caption", [])
    more = missing - len(named)
    shown = ", ".join(named) + (f" and {more:,} more" if more > 0 else "")
    return (f"{missing:,} of {fields.rows:,} images {'has' if missing == 1 else 'have'} no caption ({shown}): kept, "
            "but a diffusion run refuses the dataset unless recipe_config.missing_captions is skip or empty; add "
            "a name.txt caption beside each (or a metadata.jsonl row)")
