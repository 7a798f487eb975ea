"""File dialogs that never open the files they list.

SQLite's locks on Linux and macOS are POSIX advisory locks, which belong to the process, not to the
open file: when any code in the app opens one of the database's files (`sparktrainer.db`, `-wal`,
`-shm`) and closes it again, every lock the app's own connections held on that file is gone, without
SQLite knowing (see sqlite.org/howtocorrupt.html, "posix advisory locks canceled by a separate thread
doing close()"). Qt's file dialog does exactly that: to show each listed file's type and icon it reads
the first bytes of every file without a telling name (QMimeDatabase), the `-wal` and `-shm` included, as
soon as it shows the data home's folder. A worker or command closing its connection next then found
no other connection alive, checkpointed and deleted the `-wal` and `-shm` files the app was still
writing into: everything the app wrote afterwards was invisible to every other process and lost, and
the database was damaged when the app quit.

So every file dialog of the app is made here: Qt's own dialog (a platform's native one may run in this
process too and sniff the same way) with an icon provider that names types and picks icons from the
file name alone. Each dialog opens in the folder last chosen in any of them (else the user's home
folder), not the folder the app was started from.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QFileInfo
from PySide6.QtWidgets import QFileDialog, QFileIconProvider, QWidget

_last_folder: str | None = None  # where the last dialog's choice was, for the next one


class NameOnlyIconProvider(QFileIconProvider):
    """Icons and type names from the file name alone: a folder or a file, never its contents."""

    def icon(self, what):  # noqa: ANN001, ANN201 - Qt's two overloads: an IconType or a QFileInfo
        if isinstance(what, QFileInfo):
            kind = QFileIconProvider.IconType.Folder if what.isDir() else QFileIconProvider.IconType.File
            return super().icon(kind)
        return super().icon(what)

    def type(self, info: QFileInfo) -> str:
        if info.isDir():
            return "Folder"
        return f"{info.suffix().upper()} file" if info.suffix() else "File"


_PROVIDER: NameOnlyIconProvider | None = None  # one for every dialog: a dialog does not own its provider


def provider() -> NameOnlyIconProvider:
    global _PROVIDER
    if _PROVIDER is None:
        _PROVIDER = NameOnlyIconProvider()
    return _PROVIDER


def make_dialog(parent: QWidget | None, caption: str, directory: str = "", name_filter: str = "",
                mode: QFileDialog.FileMode = QFileDialog.FileMode.ExistingFile, *, save_as: str = "") -> QFileDialog:
    """The dialog every helper below shows (built apart so tests can show it without blocking); with
    `save_as`, a save dialog offering that file name."""
    dialog = QFileDialog(parent, caption, directory or _last_folder or str(Path.home()), name_filter)
    dialog.setOption(QFileDialog.Option.DontUseNativeDialog, True)
    dialog.setIconProvider(provider())
    dialog.setFileMode(mode)
    if mode == QFileDialog.FileMode.Directory:
        dialog.setOption(QFileDialog.Option.ShowDirsOnly, True)
    if save_as:
        dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
        dialog.selectFile(save_as)
    return dialog


def _chosen(dialog: QFileDialog) -> list[str]:
    global _last_folder
    if not dialog.exec():
        return []
    files = dialog.selectedFiles()
    if files:
        first = Path(files[0])
        _last_folder = str(first if dialog.fileMode() == QFileDialog.FileMode.Directory else first.parent)
    return files


def open_file(parent: QWidget | None, caption: str, directory: str = "", name_filter: str = "") -> str:
    """An existing file's path, or "" when cancelled."""
    return next(iter(_chosen(make_dialog(parent, caption, directory, name_filter))), "")


def open_files(parent: QWidget | None, caption: str, directory: str = "", name_filter: str = "") -> list[str]:
    """Existing files' paths, or [] when cancelled."""
    return _chosen(make_dialog(parent, caption, directory, name_filter, QFileDialog.FileMode.ExistingFiles))


def existing_dir(parent: QWidget | None, caption: str, directory: str = "") -> str:
    """An existing folder's path, or "" when cancelled."""
    return next(iter(_chosen(make_dialog(parent, caption, directory, mode=QFileDialog.FileMode.Directory))), "")


def save_file(parent: QWidget | None, caption: str, file_name: str, name_filter: str = "") -> str:
    """A path to save to, offering `file_name` in the last folder used; "" when cancelled."""
    return next(iter(_chosen(make_dialog(parent, caption, "", name_filter, QFileDialog.FileMode.AnyFile,
                                         save_as=file_name))), "")
