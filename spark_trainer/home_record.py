"""Which data home to use, and why: one record the app and the `spark-trainer` command share.

The record is a small JSON file in the platform's user config dir (`home.json` under
platformdirs' user_config_dir("SparkTrainer"); `$SPARK_TRAINER_CONFIG_DIR` replaces that folder,
which tests always do). It holds the home the user chose (the app's Settings, `spark-trainer home
set`, or a `home move`) and the home last opened at its own choosing (the chosen one or the
default). Resolution, for the app and the command alike: `--home`, then `$SPARK_TRAINER_HOME`,
then the chosen home, then the platform's user-data dir.

A home opened before whose database is gone (moved by hand, renamed, an unmounted drive) is
"missing": opening it would quietly create an empty home in its place. Only the chosen and default
homes are checked; `--home` and `$SPARK_TRAINER_HOME` are the user's explicit word, except where the
record says `home move` took the home away from that very place (`moved`): a script naming it then
learns where the home went instead of writing into a new, empty one (`home new` starts one on purpose).
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

from spark_trainer.disk import naming
from spark_trainer.errors import BadInput
from spark_trainer.paths import DB_NAME, HOME_ENV, DataHome, check_path_length

CONFIG_ENV = "SPARK_TRAINER_CONFIG_DIR"
RECORD_NAME = "home.json"
Source = Literal["flag", "env", "chosen", "default"]
WHY = {"flag": "--home", "env": f"${HOME_ENV}", "chosen": "the chosen home", "default": "the default"}


def config_dir() -> Path:
    """`$SPARK_TRAINER_CONFIG_DIR`, else the platform's user config dir for SparkTrainer."""
    env = os.environ.get(CONFIG_ENV)
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_config_dir("SparkTrainer", appauthor=False))


def record_path() -> Path:
    return config_dir() / RECORD_NAME


@dataclass(frozen=True)
class HomeRecord:
    """The chosen home and the home last opened at the app's or command's own choosing (absolute
    paths as text), either of them None."""

    chosen: str | None = None
    opened: str | None = None
    # Homes `home move` took away: (old root, new root), newest last. A command naming an old root found no
    # home there and quietly started an empty one (a walk: a script's writes went there after the move).
    moved: tuple[tuple[str, str], ...] = ()


def read_record() -> HomeRecord:
    """The record, or an empty one when there is none yet; a damaged file is one line naming it."""
    path = record_path()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return HomeRecord()
    except (OSError, ValueError) as exc:
        raise _folder_is_a_file(path) or BadInput(f"{path} could not be read ({exc}); fix or delete it (it only "
                                                  "records which data home to use)") from exc
    if not isinstance(data, dict):
        raise BadInput(f"{path} is not a JSON object; fix or delete it (it only records which data home to use)")
    moved = tuple((str(pair[0]), str(pair[1])) for pair in data.get("moved") or []
                  if isinstance(pair, list) and len(pair) == 2)
    return HomeRecord(*(str(data[key]) if data.get(key) else None for key in ("chosen", "opened")), moved)


def write_record(record: HomeRecord) -> None:
    """Write the record atomically (a temporary file in the same folder, fsynced, then renamed)."""
    path = record_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        blocked = _folder_is_a_file(path)
        if blocked is None:
            raise
        raise blocked from exc
    fields: dict[str, object] = {"chosen": record.chosen, "opened": record.opened}
    if record.moved:
        fields["moved"] = [list(pair) for pair in record.moved]
    text = json.dumps(fields, indent=2) + "\n"
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".home-", suffix=".tmp")
    try:
        with naming(path), os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _folder_is_a_file(path: Path) -> BadInput | None:
    """The config folder, or a folder above it, is a file (XDG_CONFIG_HOME set to one): said as such, not as
    a home.json to "fix or delete"."""
    blocker = next((p for p in path.parents if p.exists() and not p.is_dir()), None)
    if blocker is None:
        return None
    which = next((f"${name}" for name in (CONFIG_ENV, "XDG_CONFIG_HOME") if os.environ.get(name)), None)
    point = f"point {which} at a folder, or " if which else ""
    return BadInput(f"the config folder {path.parent} cannot hold {RECORD_NAME}: {blocker} is a file, not a folder; "
                    f"{point}move that file away")


def set_chosen(root: Path | str | None) -> None:
    """Record `root` as the chosen home (None forgets the choice)."""
    record = read_record()
    write_record(replace(record, chosen=None if root is None else str(Path(root).expanduser().resolve())))


def set_opened(root: Path | str) -> None:
    record = read_record()
    text = str(Path(root).resolve())
    if record.opened != text:
        write_record(replace(record, opened=text))


MOVES_KEPT = 20


def note_moved(old: Path | str, new: Path | str) -> None:
    """`home move` took the home at `old` to `new` (a move back to `old` clears its entry)."""
    record = read_record()
    old_text, new_text = str(Path(old).resolve()), str(Path(new).resolve())
    kept = tuple(pair for pair in record.moved if pair[0] not in (old_text, new_text))
    write_record(replace(record, moved=(*kept, (old_text, new_text))[-MOVES_KEPT:]))


def moved_to(root: Path | str) -> str | None:
    """Where `home move` took the home that was at `root`, if it did."""
    text = str(Path(root).resolve())
    return next((new for old, new in reversed(read_record().moved) if old == text), None)


def forget_moved(root: Path | str) -> None:
    """A home is started at `root` on purpose (`home new`, `home set --new`): it is no moved-away place now."""
    record = read_record()
    text = str(Path(root).resolve())
    if any(old == text for old, _new in record.moved):
        write_record(replace(record, moved=tuple(pair for pair in record.moved if pair[0] != text)))


def refuse_moved_away(chosen: ChosenHome) -> None:
    """BadInput when `chosen` names a place with no home that `home move` took the home from (the command's
    and the app's one check, before a store is opened there and an empty home started in its place)."""
    check_path_length(chosen.home.root)  # a name too long for the filesystem: said as such, not as an I/O error
    if not chosen.home.db_path.exists() and (moved := moved_to(chosen.home.root)):
        raise BadInput(moved_line(chosen.home.root, moved))


def set_aside_name(root: Path, pid: int) -> Path:
    """Where a move renames the old home before deleting it (a process opening the old path then finds none)."""
    return root.with_name(f".{root.name}.moved-{pid}")


def set_aside_leftovers() -> list[tuple[Path, str]]:
    """(folder, where its home went) for each old home a recorded move set aside and did not finish deleting
    (killed meanwhile), skipping one whose move is still running: hidden, they would take room forever.
    Also the old folder itself where a move was killed between recording itself and setting it aside:
    refused as a moved-away home, it was named nowhere. (A move runs that stretch in a few milliseconds.)"""
    import glob

    import psutil

    from spark_trainer.paths import DB_NAME

    found = []
    for old, new in read_record().moved:
        root = Path(old)
        if (root / DB_NAME).is_file() and not root.is_symlink():
            found.append((root, new))
        for folder in sorted(root.parent.glob(f".{glob.escape(root.name)}.moved-*")):
            pid = folder.name.rsplit("-", 1)[-1]
            if folder.is_dir() and not folder.is_symlink() and pid.isdigit() and not psutil.pid_exists(int(pid)):
                found.append((folder, new))
    return found


def set_aside_line(folder: Path, new: str) -> str:
    """The one line for an old home left set aside (or left in place) by an interrupted move."""
    when = "while deleting it" if ".moved-" in folder.name else "before deleting it"
    return (f"{folder} is what is left of the old data home moved to {new}: the move was interrupted {when}; "
            "delete that folder by hand if you do not need it")


def moved_line(root: Path, new: str) -> str:
    """The one line for a command naming a home `home move` took away."""
    return (f"the data home that was at {root} was moved to {new} (spark-trainer home move); use --home {new}, "
            f"or `spark-trainer --home {root} home new` to start an empty one here")


def platform_default() -> Path:
    import platformdirs

    return Path(platformdirs.user_data_dir("SparkTrainer", appauthor=False))


def is_own_home(root: Path) -> bool:
    """`root` is the home opened at the record's choosing: the chosen home, or the platform default when
    none is chosen (not a home named with --home or $SPARK_TRAINER_HOME, which are one command's word)."""
    chosen = read_record().chosen
    own = Path(chosen) if chosen else platform_default()
    return own.expanduser().resolve() == Path(root).resolve()


@dataclass(frozen=True)
class ChosenHome:
    """The home to open and why: `source` is flag, env, chosen or default."""

    home: DataHome
    source: Source

    @property
    def explicit(self) -> bool:
        """--home or $SPARK_TRAINER_HOME: taken as given, never checked for a missing home."""
        return self.source in ("flag", "env")

    @property
    def why(self) -> str:
        return WHY[self.source]


EMPTY_FLAG = ("--home is empty: give the data home's folder, or leave --home out for the usual one "
              "(an unset variable in a script?)")


def home_flag(text: str) -> str:
    """The `type` of --home in the command's and the app's parsers: an empty DIR (`--home "$UNSET"`) is
    refused, not taken as no --home (a script's writes went to the chosen home)."""
    if not text.strip():
        raise argparse.ArgumentTypeError(EMPTY_FLAG.removeprefix("--home "))
    return text


def choose_home(flag: str | os.PathLike[str] | None = None) -> ChosenHome:
    """`flag` (--home), else $SPARK_TRAINER_HOME, else the chosen home, else the platform default. An empty
    `flag` is refused; an empty $SPARK_TRAINER_HOME is unset, as an empty XDG_* variable is (`VAR= cmd`
    is how a shell unsets one for one command)."""
    if flag is not None:
        if not str(flag).strip():
            raise BadInput(EMPTY_FLAG)
        root, source = Path(flag).expanduser(), "flag"
    elif os.environ.get(HOME_ENV):
        root, source = Path(os.environ[HOME_ENV]).expanduser(), "env"
    else:
        chosen = read_record().chosen
        root, source = (Path(chosen), "chosen") if chosen else (platform_default(), "default")
    return ChosenHome(DataHome(root.resolve()), source)  # type: ignore[arg-type]


def missing_home(chosen: ChosenHome) -> Path | None:
    """The root of a chosen or default home that was opened before and whose database is gone; else None."""
    if chosen.explicit:
        return None
    opened = read_record().opened
    root = chosen.home.root
    if not opened or Path(opened) != root:
        return None
    return None if (root / DB_NAME).exists() else root


def missing_line(root: Path, source: Source) -> str:
    """The one line the command prints for a missing home: what happened and the three ways on."""
    return (f"the data home opened last time ({WHY[source]}) is gone from {root}: moved, renamed, or on a drive "
            "that is not mounted? Use --home NEW for one command, `spark-trainer home set DIR` to choose where "
            "it is now, or `spark-trainer home new` to start an empty one there")
