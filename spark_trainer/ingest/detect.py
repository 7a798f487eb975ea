"""Find the files behind the paths a user dropped, and decide what kind of dataset they make."""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from spark_trainer.errors import BadInput
from spark_trainer.visible import visible

TEXT_EXTS = {".jsonl", ".json", ".csv", ".tsv", ".txt", ".parquet"}
IMAGE_EXTS = {".png", ".jpg", ".jpeg", ".bmp", ".webp", ".gif", ".tif", ".tiff", ".avif"}
# Photos users have that Pillow cannot decode here: said so by name, not "for another kind, choose it".
UNSUPPORTED_IMAGES = {
    **dict.fromkeys((".heic", ".heif"), "HEIC photo (iPhone): not supported; convert it to JPEG first "
                                         "(or set the camera to Most Compatible)"),
    **dict.fromkeys((".dng", ".cr2", ".cr3", ".nef", ".arw", ".raf", ".orf", ".rw2"),
                    "camera raw file: not supported; export it as JPEG or PNG first"),
    # Archives are what datasets are downloaded as: say what to do, not only "no supported files".
    **dict.fromkeys((".zip", ".tar", ".tgz", ".gz", ".bz2", ".xz", ".7z", ".rar"),
                    "an archive: not read; extract it and ingest the folder it holds"),
}
VIDEO_EXTS = {".mp4", ".mov", ".avi", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg"}
AUDIO_EXTS = {".wav", ".mp3", ".flac", ".ogg", ".m4a", ".opus"}
KIND_EXTS = {"text": TEXT_EXTS, "image": IMAGE_EXTS, "video": VIDEO_EXTS, "audio": AUDIO_EXTS}
KINDS = ("text", "image", "video", "audio")
# Where a user chooses the kind: messages reach both the app and the command line ("choose one with
# --kind" was shown to someone who had dropped a folder on the Datasets view).
CHOOSE_KIND = "Kind in the app's Datasets view, --kind on the command line"
# Folder and file names that say a split (`ingest.splits`): such a folder holds classes or items, it is
# not a class itself.
SPLIT_NAMES = {
    **dict.fromkeys(("train", "training"), "train"),
    **dict.fromkeys(("val", "valid", "validation", "dev"), "val"),
    **dict.fromkeys(("test", "testing"), "val"),
}


@dataclass(frozen=True)
class InputFile:
    """A file to ingest. `source` is what reports and manifests call it; `rel` is its path below the
    folder the user gave (empty parts when the user named the file itself)."""

    path: Path
    source: str
    rel: tuple[str, ...]

    @property
    def ext(self) -> str:
        return self.path.suffix.lower()

    @property
    def folder_label(self) -> str | None:
        """The class-subfolder name: the folder directly holding the file, when below the given root
        and not the root's split folder (train/1.jpg has no class; train/cat/1.jpg is a cat)."""
        if len(self.rel) < 2 or (len(self.rel) == 2 and self.rel[0].lower() in SPLIT_NAMES):
            return None
        return self.rel[-2]


def display(text: str) -> str:
    """A file name fit for JSON: undecodable bytes in names (surrogate escapes) become U+FFFD."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def kind_of(path: Path) -> str | None:
    ext = path.suffix.lower()
    for kind, exts in KIND_EXTS.items():
        if ext in exts:
            return kind
    return None


def _broken_link(full: Path) -> str | None:
    """Why a symlink found in a folder cannot be read (a loop, or a target that is gone), else None."""
    if not full.is_symlink():
        return None
    try:
        target = full.resolve(strict=True)
    except RuntimeError:  # Python < 3.13 reports a loop this way
        return "symbolic link loop"
    except OSError as exc:
        if exc.errno == 40:  # ELOOP
            return "symbolic link loop"
        return f"dangling symbolic link (its target {os.readlink(full)!r} does not exist)"
    return None if target.is_file() else "symbolic link to something that is not a file"


# Files and folders operating systems leave in a user's folders (and zips made from them): never data.
SYSTEM_FILES = {"thumbs.db", "ehthumbs.db", "desktop.ini", "icon\r"}
SYSTEM_FOLDERS = {"__macosx", "$recycle.bin", "system volume information"}


def left_out(name: str, folder: bool = False) -> bool:
    """Whether a name found inside a folder is hidden (a dot-name: .DS_Store, macOS's ._photo.jpg
    AppleDouble files) or operating-system clutter (Thumbs.db, desktop.ini, a zip's __MACOSX/)."""
    return name.startswith(".") or name.lower() in (SYSTEM_FOLDERS if folder else SYSTEM_FILES)


def describe_left_out(names: list[str]) -> str:
    """A report note for what `gather` left out: "left out 5 hidden or system files: .DS_Store (2), ..."."""
    groups = Counter("._* (macOS AppleDouble)" if n.startswith("._") else n for n in names)
    shown = [f"{name} ({count})" if count > 1 else name for name, count in sorted(groups.items())]
    more = f" and {len(shown) - 8} more" if len(shown) > 8 else ""
    return (f"left out {len(names)} hidden or system {'entry' if len(names) == 1 else 'entries'} (not data): "
            + ", ".join(shown[:8]) + more)


LINKED_INTO_HOME = "inside SparkTrainer's data folder (through a link): not read"


def gather(paths: list[Path], broken: list[tuple[str, str]] | None = None,
           skipped: list[str] | None = None, avoid: Path | None = None) -> list[InputFile]:
    """Every visible file under `paths`, sorted; BadInput for missing, unreadable or empty input.

    A symlink inside a folder that cannot be followed (a loop, a dangling link) is left out and,
    with `broken`, recorded there as (source, reason): one bad entry must not sink the folder.
    Hidden and system files and folders (`left_out`) are skipped; with `skipped`, their names
    (folders with a trailing "/") are recorded there, so the report can say so. A link leading into
    `avoid` (the data home) is not followed either, from a given path outside it: a folder holding a
    link to the home read 452 of its paths and copied 68 of its dataset images into a new dataset.
    """
    if not paths:
        raise BadInput("no paths given to ingest")
    found: list[InputFile] = []
    first: dict[Path, Path | str] = {}  # a path given twice is read once
    for raw in paths:
        first.setdefault(Path(raw).expanduser().resolve(), raw)
    for raw in first.values():
        path = Path(raw).expanduser()
        if not path.exists():
            raise BadInput(f"{visible(str(path))}: no such file or folder")
        if not os.access(path, os.R_OK) or (path.is_dir() and not os.access(path, os.X_OK)):
            raise BadInput(f"{visible(str(path))}: not readable (permission denied)")
        if path.is_file():
            found.append(InputFile(path.resolve(), display(path.name), (display(path.name),)))
            continue
        files = []
        hidden: list[str] = []
        into_home = 0  # links into `avoid` not followed
        root_name = display(path.resolve().name)  # once, not per file: a realpath each, half of gather's time
        fenced = avoid if avoid is not None and not path.resolve().is_relative_to(avoid) else None
        own = _own_folders(path)
        visited = set(own)
        # Linked folders are followed (a class folder linked in from elsewhere holds data like any
        # other); one that leads back to a folder already read is a loop, reported like a file loop.
        # A link to a folder of the given folder's own is not followed: that folder is read in its
        # own place, under its own name (the link may sort first and would lend it its name).
        for dirpath, dirnames, filenames in os.walk(path, onerror=_raise_walk_error, followlinks=True):
            hidden += [d + "/" for d in dirnames if left_out(d, folder=True)]
            hidden += [f for f in filenames if left_out(f)]
            kept = []
            for d in sorted(d for d in dirnames if not left_out(d, folder=True)):
                link = Path(dirpath) / d
                real = link.resolve()
                if link.is_symlink() and (real in visited or (fenced is not None and real.is_relative_to(fenced))):
                    why = _why_not_followed(path, link, real, own) if real in visited else LINKED_INTO_HOME
                    into_home += why == LINKED_INTO_HOME
                    if broken is not None:
                        broken.append((_source_of(path, link, root_name)[0], why))
                    continue
                visited.add(real)
                kept.append(d)
            dirnames[:] = kept
            for name in sorted(filenames):
                if not left_out(name):
                    full = Path(dirpath) / name
                    source, rel = _source_of(path, full, root_name)
                    problem = _broken_link(full)
                    real = full.resolve() if problem is None else full  # a loop cannot be resolved
                    if problem is None and fenced is not None and real.is_relative_to(fenced):
                        problem = LINKED_INTO_HOME
                        into_home += 1
                    if problem is not None:
                        if broken is not None:
                            broken.append((source, problem))
                        continue
                    files.append(InputFile(real, source, rel))
        if not files and into_home:
            raise BadInput(f"{visible(str(path))}: every file in it lies inside SparkTrainer's data folder ({avoid}), through a "
                           "link; ingest a folder or file of your data")
        if not files:
            raise BadInput(f"{visible(str(path))}: folder is empty" + (f"; it holds only hidden or system files ({visible(', '.join(sorted(set(hidden))[:4]))})" if hidden else ""))
        if skipped is not None:
            skipped += hidden
        found.extend(files)
    return found


def _own_folders(root: Path) -> set[Path]:
    """`root` and every visible folder below it reached without following a link (resolved)."""
    own = {root.resolve()}
    for dirpath, dirnames, _files in os.walk(root, onerror=_raise_walk_error):  # links are listed, not entered
        dirnames[:] = [d for d in dirnames if not left_out(d, folder=True)]
        own.update((Path(dirpath) / d).resolve() for d in dirnames if not (Path(dirpath) / d).is_symlink())
    return own


def _why_not_followed(root: Path, link: Path, real: Path, own: set[Path]) -> str:
    parent = link.parent.resolve()
    if real == parent or real in parent.parents or real not in own:  # back up the tree, or a folder met twice
        return "symbolic link loop (a folder already read)"
    return f"symbolic link to {_source_of(root.resolve(), real)[0]}, a folder read in its own place"


def _source_of(root: Path, full: Path, name: str | None = None) -> tuple[str, tuple[str, ...]]:
    """What reports call `full` found under the given folder `root` (whose resolved, displayable
    `name` the caller may know), and its path below `root`."""
    rel = tuple(display(part) for part in full.relative_to(root).parts)
    return "/".join((name if name is not None else display(root.resolve().name), *rel)), rel


def _raise_walk_error(exc: OSError) -> None:
    raise BadInput(f"{exc.filename}: not readable ({exc.strerror or exc})")


def sidecar_stems(files: list[InputFile]) -> set[Path]:
    """Paths (without suffix) of images: a .txt with the same stem is a caption, not text data."""
    return {f.path.with_suffix("") for f in files if f.ext in IMAGE_EXTS or f.ext in AUDIO_EXTS}


def is_sidecar(f: InputFile, stems: set[Path]) -> bool:
    return f.ext == ".txt" and f.path.with_suffix("") in stems


def detect_kind(paths: list[Path] | list[InputFile]) -> str:
    """"text", "image", "video" or "audio": the kind most files have (.txt captions beside images
    count as images). BadInput when nothing is supported or two kinds tie."""
    files = [p for p in paths if isinstance(p, InputFile)] or gather([Path(p) for p in paths])  # type: ignore[arg-type]
    stems = sidecar_stems(files)
    counts = Counter(k for f in files if not is_sidecar(f, stems) and (k := kind_of(f.path)))
    if not counts:
        photos = dict.fromkeys(UNSUPPORTED_IMAGES[f.ext] for f in files if f.ext in UNSUPPORTED_IMAGES)
        if photos:
            named = f"{visible(files[0].source)}: " if len(files) == 1 else ""  # one file given: say which
            raise BadInput(f"no supported files found: {named}{'; '.join(photos)}")
        exts = sorted({f.ext or f.path.name for f in files})[:8]
        raise BadInput(f"no supported files found (saw: {', '.join(exts)}); supported: "
                       + ", ".join(sorted(set().union(*KIND_EXTS.values()))))
    ranked = counts.most_common()
    if len(ranked) > 1 and ranked[0][1] == ranked[1][1]:
        raise BadInput(f"as many {ranked[0][0]} as {ranked[1][0]} files; choose one: {CHOOSE_KIND}")
    return ranked[0][0]
