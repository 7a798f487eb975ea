"""A data home the app opened before and that is gone now: moved by hand, renamed, or on a drive
that is not mounted.

Opening it anyway would create a new, empty home in its place, and the user would find every
project gone (and, for an unmounted drive, a stray home on the mount point). So, before opening,
the app asks: where is it now (the folder becomes the Settings choice; its stored paths follow the
move, see spark_trainer.store.home_moves), start a new one there, or quit. Only the home the app
picks itself (the Settings choice, or the default) is checked: `--home` and $SPARK_TRAINER_HOME are
the user's explicit word, and scripts rely on them creating a home. The choice and the home last
opened are kept in spark_trainer.home_record, which `spark-trainer` reads too.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtWidgets import QMessageBox, QWidget

from app import file_dialogs
from spark_trainer import home_record
from spark_trainer.paths import DB_NAME, DataHome

# Where the app kept the home record before spark_trainer.home_record, in QSettings; moved once.
OLD_OPENED_KEY = "data_home_opened"
OLD_CHOSEN_KEY = "data_home"


def migrate_qsettings(qsettings: object) -> bool:
    """Move a Settings choice and "last opened" home kept in QSettings by earlier versions into the home
    record the command line shares (once: the keys are removed); True if anything moved."""
    chosen = qsettings.value(OLD_CHOSEN_KEY)  # type: ignore[attr-defined]
    opened = qsettings.value(OLD_OPENED_KEY)  # type: ignore[attr-defined]
    if not chosen and not opened:
        return False
    record = home_record.read_record()
    home_record.write_record(home_record.HomeRecord(record.chosen or (str(chosen) if chosen else None),
                                                    record.opened or (str(opened) if opened else None)))
    for key in (OLD_CHOSEN_KEY, OLD_OPENED_KEY):
        qsettings.remove(key)  # type: ignore[attr-defined]
    qsettings.sync()  # type: ignore[attr-defined]
    return True


def missing_home(home: str | None) -> Path | None:
    """The root of `home` (the app's own pick: the chosen home, or None for the default), if the app or
    the command line opened it before and its database is gone; else None."""
    if home is None:
        return home_record.missing_home(home_record.choose_home())
    return home_record.missing_home(home_record.ChosenHome(DataHome(Path(home).expanduser().resolve()), "chosen"))


def remember_opened(root: Path) -> None:
    home_record.set_opened(root)


class MissingHomeDialog(QMessageBox):
    """Where is it now / start a new one there / quit. Calls `open_home` with the folder to open,
    or `quit`; a chosen folder without a database is refused and the question asked again."""

    def __init__(self, root: Path, open_home: Callable[[str], None], quit: Callable[[], None],
                 parent: QWidget | None = None) -> None:
        super().__init__(QMessageBox.Icon.Warning, "Data home not found",
                         f"The data home SparkTrainer opened last time is not at {root} any more: moved, renamed, "
                         "or on a drive that is not mounted?\n\nChoose the folder it is in now, or start a new, "
                         "empty data home there.", QMessageBox.StandardButton.NoButton, parent)
        self.root, self.open_home, self.quit = root, open_home, quit
        self.choose = self.addButton("Choose its folder…", QMessageBox.ButtonRole.ActionRole)
        self.create = self.addButton("Start a new one there", QMessageBox.ButtonRole.AcceptRole)
        self.leave = self.addButton("Quit", QMessageBox.ButtonRole.RejectRole)
        self.setDefaultButton(self.choose)
        self.buttonClicked.connect(self._clicked)

    def _clicked(self, button: object) -> None:
        if button is self.create:
            self.open_home(str(self.root))
        elif button is self.choose:
            self.choose_folder(file_dialogs.existing_dir(self.parentWidget(), "Where is the data home now?",
                                                            str(self.root.parent)))
        else:
            self.quit()

    def choose_folder(self, folder: str) -> None:
        if not folder:
            self.open()  # cancelled: ask again
            return
        root = Path(folder).expanduser().resolve()
        if not (root / DB_NAME).exists():
            self.setInformativeText(f"{root} holds no data home ({DB_NAME} is not there).")
            self.open()
            return
        home_record.set_chosen(root)
        self.open_home(str(root))
