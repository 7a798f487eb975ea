"""A per-user desktop menu entry (Linux) for the install this code runs from.

A source install (`make run`) has no menu entry: the .deb alone installs one. `install` writes
$XDG_DATA_HOME/applications/sparktrainer.desktop (default ~/.local/share) from the .deb's own template,
installers/linux/sparktrainer.desktop, with Exec the absolute path of this install's app (the venv's
`spark-trainer-gui`, or the frozen executable), and the two icons the .deb installs, into the user's
hicolor theme. The entry carries MARKER, so `remove` deletes only an entry this wrote (and its icons).
Not the keep-awake helper: that is spark_trainer.desktop.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from dataclasses import dataclass, field
from pathlib import Path

from spark_trainer.errors import BadInput, Conflict, OperationFailed
from spark_trainer.shipped import roots, shipped_file

APP_ID = "sparktrainer"
TEMPLATE = Path("installers", "linux", f"{APP_ID}.desktop")
# (file under resources/, hicolor size folder): the two icons build_deb.sh installs.
ICONS = ((Path("icons", f"{APP_ID}.png"), "256x256"), (Path("icons", f"{APP_ID}.svg"), "scalable"))
MARKER_KEY = "X-SparkTrainer-Installed-By"
MARKER = "spark-trainer desktop-entry"
ELSEWHERE = ("desktop-entry is Linux-only: on Windows the installer (installers/windows/sparktrainer.iss) adds "
             "the Start menu entry; on macOS put SparkTrainer.app in Applications (installers/macos/README.md)")
# Characters that make an Exec argument need quotes (Desktop Entry spec, "The Exec key").
_RESERVED = set(" \t\n\"'\\><~|&;$*?#()`")


@dataclass
class Placement:
    """Where the entry and its icons go for this user."""

    data_home: Path

    @property
    def desktop(self) -> Path:
        return self.data_home / "applications" / f"{APP_ID}.desktop"

    def icon(self, source: Path, size: str) -> Path:
        return self.data_home / "icons" / "hicolor" / size / "apps" / source.name

    @property
    def icons(self) -> list[Path]:
        return [self.icon(source, size) for source, size in ICONS]


@dataclass
class Status:
    desktop: Path
    installed: bool
    ours: bool = False
    exec: str | None = None  # the program the entry starts
    exec_exists: bool = False
    this_install: str | None = None  # this install's app, where it has one
    icons: list[Path] = field(default_factory=list)  # those present

    @property
    def stale(self) -> bool:
        return self.installed and self.exec is not None and not self.exec_exists


@dataclass
class Written:
    desktop: Path
    exec: str
    icons: list[Path]
    replaced: bool
    refreshed: list[str]


@dataclass
class Removed:
    desktop: Path
    removed: list[Path]


def require_linux() -> None:
    if not sys.platform.startswith("linux"):
        raise BadInput(ELSEWHERE)


def placement(env: dict[str, str] | None = None) -> Placement:
    """$XDG_DATA_HOME, else ~/.local/share (a relative value is invalid per the XDG spec: ignored)."""
    value = (os.environ if env is None else env).get("XDG_DATA_HOME", "")
    return Placement(Path(value) if value and Path(value).is_absolute() else Path.home() / ".local" / "share")


def app_path() -> Path:
    """This install's desktop app: the frozen executable, or the `spark-trainer-gui` script of the
    environment running this (the venv's bin folder)."""
    if getattr(sys, "frozen", False):
        return Path(sys.executable).resolve()
    return Path(sysconfig.get_path("scripts")) / "spark-trainer-gui"


def shipped(relative: Path) -> Path:
    """A file the app ships (the template, an icon): the frozen app's copy first, then the checkout's."""
    found = shipped_file(relative)
    if found is None:
        raise OperationFailed(f"{roots()[-1] / relative} not found: this install does not carry the menu entry's "
                              "files (install from the source folder with `make install`)")
    return found


def quote_exec(path: str) -> str:
    """`path` as the program of an Exec value: quoted where it holds a reserved character, `%` doubled,
    then escaped as a string value (a backslash doubled), as the Desktop Entry spec reads it back."""
    if any(ord(c) < 32 for c in path):
        raise BadInput(f"{path!r}: a path with control characters cannot be written in a menu entry")
    if _RESERVED & set(path):
        path = '"' + "".join("\\" + c if c in '"`$\\' else c for c in path) + '"'
    return path.replace("%", "%%").replace("\\", "\\\\")


def exec_program(value: str) -> str:
    """The program of an Exec value (the inverse of quote_exec)."""
    unescaped, i = [], 0
    while i < len(value):  # the string-value escapes first
        if value[i] == "\\" and i + 1 < len(value):
            unescaped.append({"s": " ", "n": "\n", "t": "\t", "r": "\r"}.get(value[i + 1], value[i + 1]))
            i += 2
        else:
            unescaped.append(value[i])
            i += 1
    text = "".join(unescaped)
    if not text.startswith('"'):
        return text.split(" ", 1)[0].replace("%%", "%")
    program, i = [], 1
    while i < len(text) and text[i] != '"':
        if text[i] == "\\" and i + 1 < len(text):
            i += 1
        program.append(text[i])
        i += 1
    return "".join(program).replace("%%", "%")


def render(template: str, program: Path) -> str:
    """The template with Exec (and TryExec, so a menu hides an entry whose app is gone) naming `program`."""
    lines = template.splitlines()
    execs = [i for i, line in enumerate(lines) if line.startswith("Exec=")]
    if len(execs) != 1:
        raise OperationFailed(f"{TEMPLATE}: expected one Exec= line, found {len(execs)}")
    plain = str(program).replace("\\", "\\\\")
    lines[execs[0]:execs[0] + 1] = [f"Exec={quote_exec(str(program))}", f"TryExec={plain}", f"{MARKER_KEY}={MARKER}"]
    return "\n".join(lines) + "\n"


def _keys(path: Path) -> dict[str, str]:
    keys: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        key, sep, value = line.partition("=")
        if sep and not line.startswith("#"):
            keys.setdefault(key.strip(), value.strip())
    return keys


def status(where: Placement | None = None) -> Status:
    where = where or placement()
    mine = app_path()
    state = Status(where.desktop, where.desktop.is_file(), this_install=str(mine) if mine.exists() else None,
                   icons=[p for p in where.icons if p.is_file()])
    if state.installed:
        keys = _keys(where.desktop)
        state.ours = keys.get(MARKER_KEY) == MARKER
        if "Exec" in keys:
            state.exec = exec_program(keys["Exec"])
            state.exec_exists = Path(state.exec).is_file() if os.sep in state.exec else bool(shutil.which(state.exec))
    return state


def install(where: Placement | None = None) -> Written:
    where = where or placement()
    program = app_path()
    if not program.is_file():
        raise OperationFailed(f"{program} not found: this environment has no desktop app to start; install the "
                              "project first (`make install`)")
    text = render(shipped(TEMPLATE).read_text(encoding="utf-8"), program)
    replaced = where.desktop.exists()
    if replaced and not status(where).ours:
        raise Conflict(f"{where.desktop} is a menu entry this command did not write; move it away, then install")
    where.desktop.parent.mkdir(parents=True, exist_ok=True)
    partial = where.desktop.with_name(f".{where.desktop.name}.partial")
    partial.write_text(text, encoding="utf-8")
    partial.chmod(0o644)
    os.replace(partial, where.desktop)  # a menu never reads half an entry
    icons = []
    for (source, _size), target in zip(ICONS, where.icons, strict=True):
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shipped(Path("resources") / source), target)
        icons.append(target)
    return Written(where.desktop, str(program), icons, replaced, refresh(where))


def remove(where: Placement | None = None) -> Removed:
    """Delete the entry and its icons where this command wrote them. With no entry, only icons identical
    to this install's (left by an entry deleted by hand) go; nothing else is touched."""
    where = where or placement()
    state = status(where)
    if state.installed and not state.ours:
        raise Conflict(f"{where.desktop} is a menu entry this command did not write; left as it is")
    removed = [where.desktop] if state.installed else []
    for (source, _size), icon in zip(ICONS, where.icons, strict=True):
        if icon.is_file() and (state.installed or _same(icon, source)):
            removed.append(icon)
    for path in removed:
        path.unlink()
    if removed:
        refresh(where)
    return Removed(where.desktop, removed)


def _same(icon: Path, source: Path) -> bool:
    try:
        return icon.read_bytes() == shipped(Path("resources") / source).read_bytes()
    except OperationFailed:
        return False


def refresh(where: Placement) -> list[str]:
    """Refresh the menu and icon caches of the user's folders, where their tools exist (never required;
    failures ignored). A cache is only refreshed, never made: a cache made here would be a file that
    `remove` leaves behind, and a hicolor cache nobody refreshes hides the icons other apps add later
    (menus watch the folder itself; the entry needs no cache)."""
    hicolor = where.data_home / "icons" / "hicolor"
    steps = [(where.desktop.parent / "mimeinfo.cache", ["update-desktop-database", "-q", str(where.desktop.parent)]),
             (hicolor / "icon-theme.cache", ["gtk-update-icon-cache", "-q", "-t", str(hicolor)])]
    ran = []
    for cache, step in steps:
        if not cache.is_file() or shutil.which(step[0]) is None:
            continue
        try:
            subprocess.run(step, capture_output=True, timeout=60, check=False)
            ran.append(step[0])
        except (OSError, subprocess.SubprocessError):
            pass
    return ran
