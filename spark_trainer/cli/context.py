"""What every command handler gets: the data home, output mode, and a lazily opened store."""

from __future__ import annotations

import argparse
import errno
import json
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from spark_trainer import home_record
from spark_trainer.errors import BadInput
from spark_trainer.paths import DataHome
from spark_trainer.store.entities import to_jsonable
from spark_trainer.store.store import Store

OUTPUT_LOST = 3  # exit code: the command's output (stdout) could not be written; what it did is done


class OutputLost(Exception):
    """stdout could not be written (`> file` on a full disk, a terminal gone): not a reader gone (a broken
    pipe), which is quietly fine."""

    def __init__(self, error: OSError) -> None:
        super().__init__(f"I/O error while writing the command's output (stdout): {error.strerror or error}")


def write_stdout(text: str) -> None:
    """Write and flush `text` now (a followed log, a streamed answer), a failure raising OutputLost."""
    if sys.stdout is None:  # started with stdout closed (`>&-`): Python has no stream to write to
        raise OutputLost(OSError(errno.EBADF, "stdout is closed"))
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except BrokenPipeError:
        raise
    except OSError as exc:
        raise OutputLost(exc) from exc


@dataclass
class Streamed:
    """Output too long to hold whole (a long run's metric points, gigabytes as one string): `pieces()`
    yields it in pieces, each written as it comes, so memory holds one piece. The pieces joined are what
    a text or a JSON document would be (the line break after it is added as after those)."""

    pieces: Callable[[], Iterator[str]]


@dataclass
class Result:
    """A command's outcome: `data` for --json, `text` (or a function making it) for people; either may be
    Streamed, written piece by piece (a failure halfway leaves the pieces already written)."""

    data: Any
    text: str | Callable[[], str] | Streamed | None = None
    exit_code: int = 0

    def render_text(self) -> str:
        if isinstance(self.text, Streamed):
            return "".join(self.text.pieces())
        if callable(self.text):
            return self.text()
        if self.text is not None:
            return self.text
        return json.dumps(to_jsonable(self.data), indent=2)


@dataclass
class Context:
    args: argparse.Namespace
    json: bool = False
    debug: bool = False
    _store: Store | None = field(default=None, repr=False)

    @property
    def chosen(self) -> home_record.ChosenHome:
        """The data home and why (--home, $SPARK_TRAINER_HOME, the chosen home, the default)."""
        return home_record.choose_home(getattr(self.args, "home", None))

    @property
    def home(self) -> DataHome:
        return self.chosen.home

    @property
    def store(self) -> Store:
        if self._store is None:
            chosen = self.chosen
            missing = home_record.missing_home(chosen)
            if missing is not None:  # never an empty home in place of one that moved or is not mounted
                raise BadInput(home_record.missing_line(missing, chosen.source))
            home_record.refuse_moved_away(chosen)  # --home naming the place a move took the home from
            self._store = Store.open(chosen.home)
            if not chosen.explicit:
                home_record.set_opened(chosen.home.root)
            if self._store.moved is not None:
                self.info(f"note: {self._store.moved.describe()}")
            from spark_trainer.disk import network_home_warning

            warning = network_home_warning(self._store.home.root)
            if warning is not None:
                self.info(f"warning: {warning}")
        return self._store

    def warn_if_only_reading(self) -> None:
        """Said once the command is done, not at open: a write it tried has either found room (nothing to
        say) or failed with the disk-full line, which would then have been said twice."""
        line = self._store.reading_line() if self._store is not None else None
        if line is not None:
            self.info(f"warning: {line}")

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None

    def info(self, message: str) -> None:
        """Progress or notes for people, on stderr so --json output stays one document."""
        print(message, file=sys.stderr)
