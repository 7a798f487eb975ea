"""Start the app again at another data home, after a move or a change of home in Settings.

The window holds one store from start to close (every view, the model, the scheduler, the GPU
monitor and the playground read it), so going on at a new place is a new app process: the window
closes as the user closes it (state saved, pollers, scheduler and playground server stopped; runs
keep training in their own processes) and the same program starts again, detached, with the same
--theme. The home is left to the home record (the chosen home, which Settings and a move of the chosen
home set) when it opens the new place; else (a move of a home this start was given with --home, or
$SPARK_TRAINER_HOME set: it wins over the record) the new process gets `--home NEW`. The
first view, run and prompt of this start (--view, --run, --prompt) are not repeated: the new window
opens where this one was left.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

from spark_trainer.paths import HOME_ENV


class RelaunchFailed(Exception):
    """The new app process could not be started; the message is one line saying so."""


def app_program() -> tuple[str, ...]:
    """The command that starts the app: the frozen executable itself (its launcher takes GUI options
    as they are; an AppImage's image file), or this Python with `-m app.main`."""
    if getattr(sys, "frozen", False):
        # An AppImage runs from a mount that goes when this process exits: start the image file again.
        return (os.environ.get("APPIMAGE") or sys.executable,)
    return (sys.executable, "-m", "app.main")


def env_home_overrides(home: Path) -> Path | None:
    """Where $SPARK_TRAINER_HOME points when it is set to another place than `home`: it wins over
    the chosen home, so opening `home` takes --home. Else None."""
    value = os.environ.get(HOME_ENV)
    if not value:
        return None
    where = Path(value).expanduser().resolve()
    return None if where == Path(home).expanduser().resolve() else where


def env_home_line(home: Path) -> str | None:
    """What a restart at `home` does about $SPARK_TRAINER_HOME, for the dialog and Settings; None when
    it is not set (or already points there)."""
    where = env_home_overrides(home)
    if where is None:
        return None
    return (f"${HOME_ENV} is set to {where} and wins over the chosen home, so the restart opens {home} with "
            f"--home {home}; set ${HOME_ENV} to the new place (or unset it) for later starts.")


def _plain_start_opens(home: Path) -> bool:
    """A start without --home opens `home` ($SPARK_TRAINER_HOME, else the chosen home, else the default)."""
    from spark_trainer.errors import BadInput
    from spark_trainer.home_record import choose_home

    try:
        return choose_home().home.root == Path(home).expanduser().resolve()
    except BadInput:  # a damaged record: say where, rather than leave it to the record
        return False


@dataclass(frozen=True)
class Relaunch:
    """How to start this app again: the program and the options of this start that carry over."""

    program: tuple[str, ...] = field(default_factory=app_program)
    theme: str | None = None

    def arguments(self, home: Path) -> list[str]:
        """The new process's options: --theme kept; --home only when a plain start would open another
        home ($SPARK_TRAINER_HOME, or a chosen home that is not `home`)."""
        args = ["--theme", self.theme] if self.theme else []
        if not _plain_start_opens(home):
            args += ["--home", str(home)]
        return args

    def command(self, home: Path) -> list[str]:
        return [*self.program, *self.arguments(home)]

    def start(self, home: Path) -> int:
        """Start the new app process detached (its own session, so it outlives this one, which exits
        next); returns its process id. Raises RelaunchFailed with one line."""
        from PySide6.QtCore import QProcess

        program, *args = self.command(home)
        ok, pid = QProcess.startDetached(program, args)  # in this process's working folder
        if not ok:
            raise RelaunchFailed(f"Could not start SparkTrainer again ({program} did not start): close it and start "
                                 "it again by hand.")
        return int(pid)
