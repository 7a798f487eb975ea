"""Small widgets shared by the views: message banner, stat card, drop zone, empty state, fitted image,
record tables. The elided label and drop-down items are in app.elided (also importable from here)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QMimeData, QSize, Qt, Signal
from PySide6.QtGui import (
    QDragEnterEvent,
    QDragLeaveEvent,
    QDropEvent,
    QHideEvent,
    QPixmap,
    QResizeEvent,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDoubleSpinBox,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLayout,
    QProgressBar,
    QPushButton,
    QTableWidget,
    QVBoxLayout,
    QWidget,
)

from app.elided import ElidedLabel, add_elided_item, tip_chosen
from app.forms.cells import keep_room
from spark_trainer.disk import human_bytes

__all__ = ["ElidedLabel", "add_elided_item", "human_bytes", "tip_chosen"]  # re-exported for the views


def row_table(columns: list[str]) -> QTableWidget:
    """A read-only list of records, one selected at a time, whole rows (each cell carries its record's
    id, see `selected_row_id`); the columns fit their contents and the last one takes the rest."""
    table = QTableWidget(0, len(columns))
    table.setTabKeyNavigation(False)  # Tab leaves the table (Qt's tables keep it)
    table.setHorizontalHeaderLabels(columns)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.verticalHeader().setVisible(False)
    table.setAlternatingRowColors(True)
    table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    table.horizontalHeader().setStretchLastSection(True)
    cap_columns(table)
    return table


WIDEST_COLUMN = 360  # px: a name of 200 characters fitted to its contents pushed every other column off screen


def cap_columns(table: QTableWidget) -> None:
    """No column of `table` fitted wider than WIDEST_COLUMN (a longer text is elided, its whole text in
    the cell's tooltip); the stretched last column still takes the rest."""
    table.horizontalHeader().setMaximumSectionSize(WIDEST_COLUMN)


def table_texts(table: QTableWidget) -> list[list[str]]:
    """What a table shows, row by row (for tests and screenshots)."""
    return [[table.item(r, c).text() for c in range(table.columnCount())] for r in range(table.rowCount())]


def selected_row_id(table: QTableWidget) -> object | None:
    """The id stored (UserRole) in column 0 of the selected row, or None."""
    rows = table.selectionModel().selectedRows()
    return table.item(rows[0].row(), 0).data(Qt.ItemDataRole.UserRole) if rows else None


def select_row_id(table: QTableWidget, row_id: object) -> None:
    """Select the row whose column-0 id (UserRole) is `row_id`, if shown."""
    for row in range(table.rowCount()):
        if table.item(row, 0).data(Qt.ItemDataRole.UserRole) == row_id:
            table.selectRow(row)
            return


def paths_from_mime(mime: QMimeData) -> list[Path]:
    """Local files and folders carried by a drag (non-file URLs are ignored)."""
    if not mime.hasUrls():
        return []
    return [Path(url.toLocalFile()) for url in mime.urls() if url.isLocalFile() and url.toLocalFile()]


def back_keys(page: QWidget, button: QPushButton, name: str) -> None:
    """The keys of `app.shortcuts.SHORTCUTS[name]` anywhere in `page` press its back button (a run's page:
    Escape and Alt+Left back to the list)."""
    from app.shortcuts import SHORTCUTS, bind

    bind(name, page, button.click, Qt.ShortcutContext.WidgetWithChildrenShortcut)
    button.setToolTip(f"Back ({', '.join(SHORTCUTS[name].keys)})")


def grow_to_fit(dialog: QWidget) -> None:
    """Make a dialog tall enough for what it shows now. A window keeps its size when a child appears
    (an error line, a result), and Qt does not count wrapped labels' height in a window's minimum, so
    the rows were squeezed over each other instead; only dialogs grow (a main window has room)."""
    layout = dialog.layout()
    if not isinstance(dialog, QDialog) or layout is None or not dialog.isVisible():
        return
    layout.activate()
    needed = (layout.totalHeightForWidth(dialog.width()) if layout.hasHeightForWidth()
              else layout.totalMinimumSize().height())
    if dialog.height() < needed:
        dialog.resize(dialog.width(), needed)


def restyle(widget: QWidget) -> None:
    """Re-evaluate the stylesheet after a dynamic property changed."""
    widget.style().unpolish(widget)
    widget.style().polish(widget)


class MessageBanner(QLabel):
    """A one-line (wrapping) message: error, warning, ok or info. Hidden when empty."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWordWrap(True)
        self.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        # A role from the start: Qt's style sheet sets a label's padding only at its first polish
        # (when its window shows), never at a later restyle, so a role-less banner drew without it.
        self.setProperty("role", "info")
        self.about: object = None  # what the shown message is about (a project id...), if the view says
        self._forget_on_leave = False
        self.hide()

    def keep_room(self) -> None:
        """Hold a line's room while hidden, so a one-line message appearing (or going) moves nothing
        below it: on Settings, "Saved max concurrent runs." pushed the whole form 38 px down, under
        the mouse about to click the next field. A message longer than a line still takes its lines."""
        keep_room(self)

    def forget_on_leave(self) -> None:
        """An ok or info line goes when its view is left (hidden with it, not minimised): back on
        Projects much later, it still said "Created project 'gamma'." over a list without gamma."""
        self._forget_on_leave = True

    def show_message(self, text: str, role: str = "info", about: object = None) -> None:
        """Show `text`; `about` (a project id...) lets `moved_to` tell when it stops applying."""
        self.setProperty("role", role)
        restyle(self)
        self.setText(text)
        self.about = about
        self.show()
        grow_to_fit(self.window())

    def clear_message(self) -> None:
        self.setText("")
        self.about = None
        self.hide()

    @property
    def passing(self) -> bool:
        """An ok or info line is shown: news of something done, which goes when it stops applying
        (an error or a warning stays until the next action replaces it, so none goes unread)."""
        return bool(self.text()) and self.role in ("ok", "info")

    def moved_to(self, about: object) -> None:
        """The view now shows `about` (another project chosen...): an ok or info line about
        something else goes, as the Runs list's 'Run 2 is now queued' goes once run 2 moved on."""
        if self.passing and about != self.about:
            self.clear_message()

    def hideEvent(self, event: QHideEvent) -> None:  # noqa: N802 - Qt override
        super().hideEvent(event)
        # Hidden with its view (the banner itself is not hidden), and not by minimising the window.
        if self._forget_on_leave and not event.spontaneous() and not self.isHidden() and self.passing:
            self.clear_message()

    @property
    def role(self) -> str:
        return str(self.property("role") or "")


class StatCard(QFrame):
    """A number with a caption, e.g. '3' over 'datasets'."""

    def __init__(self, caption: str, value: str = "-", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("Card")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(14, 10, 14, 10)
        self.value = QLabel(value)
        self.value.setObjectName("CardValue")
        self.caption = QLabel(caption)
        self.caption.setObjectName("Muted")
        layout.addWidget(self.value)
        layout.addWidget(self.caption)

    def set_value(self, value: object) -> None:
        self.value.setText(str(value))


class EmptyState(QWidget):
    """A centred title and explanation, with optional action buttons under it."""

    def __init__(self, title: str, text: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.addStretch(1)
        self.title = QLabel(title)
        self.title.setObjectName("BigTitle")
        self.title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.title.setWordWrap(True)
        self.text = QLabel(text)
        self.text.setObjectName("Muted")
        self.text.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.text.setWordWrap(True)
        self.buttons = QHBoxLayout()
        self.buttons.addStretch(1)
        self.buttons.addStretch(1)
        layout.addWidget(self.title)
        layout.addWidget(self.text)
        layout.addSpacing(12)
        layout.addLayout(self.buttons)
        layout.addStretch(2)

    def add_button(self, text: str, primary: bool = False) -> QPushButton:
        button = QPushButton(text)
        if primary:
            button.setProperty("primary", True)
        self.buttons.insertWidget(self.buttons.count() - 1, button)
        return button


class DropZone(QFrame):
    """A dashed area that accepts files and folders from the file manager; emits their paths."""

    paths_dropped = Signal(list)

    def __init__(self, text: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("DropZone")
        self.setAcceptDrops(True)
        self.setMinimumHeight(90)
        layout = QVBoxLayout(self)
        self.label = QLabel(text)
        self.label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.label.setWordWrap(True)
        layout.addWidget(self.label)
        self.button_row = QHBoxLayout()
        self.button_row.addStretch(1)
        self.button_row.addStretch(1)
        layout.addLayout(self.button_row)

    def add_button(self, button: QPushButton) -> None:
        self.button_row.insertWidget(self.button_row.count() - 1, button)

    def set_active(self, active: bool) -> None:
        self.setProperty("active", active)
        restyle(self)

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802 - Qt override
        if paths_from_mime(event.mimeData()) and self.isEnabled():
            event.acceptProposedAction()
            self.set_active(True)

    def dragLeaveEvent(self, event: QDragLeaveEvent) -> None:  # noqa: N802 - Qt override
        self.set_active(False)

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802 - Qt override
        self.set_active(False)
        paths = paths_from_mime(event.mimeData())
        if paths and self.isEnabled():
            event.acceptProposedAction()
            self.paths_dropped.emit(paths)


class TaskProgressRow(QWidget):
    """A label, a progress bar and a Cancel button for one background task; hidden when idle."""

    cancel_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        self.label = QLabel("")
        self.label.setMinimumWidth(200)
        self.bar = QProgressBar()
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self.cancel_requested)
        row.addWidget(self.label, 2)
        row.addWidget(self.bar, 3)
        row.addWidget(self.cancel_button)
        self.cancelling = False
        self.hide()

    def begin(self, text: str) -> None:
        self.cancelling = False
        self.bar.setRange(0, 0)  # busy until the first report with a total
        self.label.setText(text)
        self.cancel_button.setEnabled(True)
        self.show()

    def report(self, progress: object) -> None:
        """Show a progress report with `done`, `total` and `message` (ignored once cancelling)."""
        if self.cancelling:
            return
        total = max(int(getattr(progress, "total", 0) or 0), 0)
        done = int(getattr(progress, "done", 0) or 0)
        if total and done > 0:
            self.bar.setRange(0, total)
            self.bar.setValue(min(done, total))
        else:  # none of the `total` done yet (a single file: until it is read): busy, not a bar stuck at 0%
            self.bar.setRange(0, 0)
        self.label.setText(str(getattr(progress, "message", progress))[:120])

    def mark_cancelling(self) -> None:
        self.cancelling = True
        self.cancel_button.setEnabled(False)
        self.label.setText("Cancelling…")


class FittedImage(QLabel):
    """An image scaled to the label's size as it changes (aspect kept, pixels kept sharp). It asks
    for no more room than its minimum size, so its layout can shrink (a label holding a pixmap asks
    for the pixmap's size: an image made in a large window was cut off in a smaller one)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.source: QPixmap | None = None

    def set_image(self, pixmap: QPixmap) -> None:
        self.source = pixmap
        self._fit()

    def clear(self) -> None:
        self.source = None
        super().clear()

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt's name
        return self.minimumSize() if self.source is not None else super().sizeHint()

    def minimumSizeHint(self) -> QSize:  # noqa: N802 - Qt's name
        return self.minimumSize() if self.source is not None else super().minimumSizeHint()

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 - Qt's name
        super().resizeEvent(event)
        self._fit()

    def _fit(self) -> None:
        if self.source is None or self.source.isNull():
            return
        side = max(1, min(self.width(), self.height()))
        self.setPixmap(self.source.scaled(side, side, Qt.AspectRatioMode.KeepAspectRatio,
                                          Qt.TransformationMode.FastTransformation))


def double_spin(low: float, high: float, step: float, value: float, tip: str) -> QDoubleSpinBox:
    """A two-decimal spin box for a setting, with its range, step, value and tooltip."""
    spin = QDoubleSpinBox()
    spin.setRange(low, high)
    spin.setSingleStep(step)
    spin.setDecimals(2)
    spin.setValue(value)
    spin.setToolTip(tip)
    return spin


def short_name(path: str) -> str:
    """The last part of a folder path or a Hub id (`runs/7/final` -> `final`, `org/model` -> `model`)."""
    return str(path).rstrip("/").rsplit("/", 1)[-1]


def clear_layout(layout: QLayout) -> None:
    """Take every item out of `layout` now, its widgets hidden at once (deleteLater waits for the
    event loop: until then they would still show, and still be found as children)."""
    while layout.count():
        item = layout.takeAt(0)
        if item.widget() is not None:
            item.widget().hide()
            item.widget().deleteLater()
