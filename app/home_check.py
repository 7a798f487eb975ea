"""A data home the app opened before and that is gone now: moved by hand, renamed, or on a drive
that is not mounted.

Opening it anyway would create a new, empty home in its place, and the user would find every
project gone (and, for an unmounted drive, a stray home on the mount point). So, before opening,
the app asks: where is it now (the folder becomes the Settings choice; its stored paths follow the
move, see spark_trainer.store.home_moves), start a new one there, or quit. Only the home the app
picks itself (the Settings choice, or the default) is checked: `--home` and $SPARK_TRAINER_HOME are
the user's explicit word, and scripts rely on them creating a home.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtWidgets import QFileDialog, QMessageBox, QWidget

from spark_trainer.paths import DB_NAME, resolve_home

OPENED_KEY = "data_home_opened"  # QSettings: the root the app last opened
CHOSEN_KEY = "data_home"  # QSettings: the Settings choice (app.views.settings_view.DATA_HOME_KEY)


def missing_home(home: str | None, qsettings: object) -> Path | None:
    """The root `home` resolves to, if the app opened it before and its database is gone; else None."""
    opened = qsettings.value(OPENED_KEY)  # type: ignore[attr-defined]
    root = resolve_home(home).root
    if not opened or Path(str(opened)) != root:
        return None
    return None if (root / DB_NAME).exists() else root


def remember_opened(qsettings: object, root: Path) -> None:
    qsettings.setValue(OPENED_KEY, str(root))  # type: ignore[attr-defined]


class MissingHomeDialog(QMessageBox):
    """Where is it now / start a new one there / quit. Calls `open_home` with the folder to open,
    or `quit`; a chosen folder without a database is refused and the question asked again."""

    def __init__(self, root: Path, qsettings: object, open_home: Callable[[str], None], quit: Callable[[], None],
                 parent: QWidget | None = None) -> None:
        super().__init__(QMessageBox.Icon.Warning, "Data home not found",
                         f"The data home SparkTrainer opened last time is not at {root} any more: moved, renamed, "
                         "or on a drive that is not mounted?\n\nChoose the folder it is in now, or start a new, "
                         "empty data home there.", QMessageBox.StandardButton.NoButton, parent)
        self.root, self.qsettings, self.open_home, self.quit = root, qsettings, open_home, quit
        self.choose = self.addButton("Choose its folder…", QMessageBox.ButtonRole.ActionRole)
        self.create = self.addButton("Start a new one there", QMessageBox.ButtonRole.AcceptRole)
        self.leave = self.addButton("Quit", QMessageBox.ButtonRole.RejectRole)
        self.setDefaultButton(self.choose)
        self.buttonClicked.connect(self._clicked)

    def _clicked(self, button: object) -> None:
        if button is self.create:
            self.open_home(str(self.root))
        elif button is self.choose:
            self.choose_folder(QFileDialog.getExistingDirectory(self.parentWidget(), "Where is the data home now?",
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
        self.qsettings.setValue(CHOSEN_KEY, str(root))  # type: ignore[attr-defined]
        self.open_home(str(root))
