"""The base of every navigable view: a title row, a body, and hooks the main window calls."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.context import AppContext

if TYPE_CHECKING:  # SQLAlchemy: not imported before the first window
    from app.line_banner import LineBanner
    from spark_trainer.store.store import Store


class BaseView(QWidget):
    """Subclasses fill `self.body` (a QVBoxLayout) and `self.header` (buttons right of the title)."""

    title = "View"

    def __init__(self, store: Store, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.store = store
        self.ctx = ctx
        outer = QVBoxLayout(self)
        outer.setContentsMargins(18, 14, 18, 10)
        top = QHBoxLayout()
        self.title_label = QLabel(self.title)
        self.title_label.setObjectName("ViewTitle")
        top.addWidget(self.title_label)
        top.addStretch(1)
        self.header = top
        outer.addLayout(top)
        self.body = QVBoxLayout()
        outer.addLayout(self.body, 1)

    def title_banner(self, *beside: QWidget) -> LineBanner:
        """A one-line message banner in the title row, in the room between the title and the header's
        widgets, with `beside` (a button acting on its message...) right of it. A line of its own under
        the title held 38 px of every page empty for messages that come now and then (see LineBanner).
        Both sit in one widget (`banner.parentWidget()`), which a view may hide with a page."""
        from app.line_banner import LineBanner

        holder = QWidget()
        row = QHBoxLayout(holder)
        row.setContentsMargins(12, 0, 0, 0)
        banner = LineBanner()
        row.addWidget(banner, 1)
        for widget in beside:
            row.addWidget(widget)
        self.header.takeAt(1)  # the stretch after the title: the banner takes its room
        self.header.insertWidget(1, holder, 1)
        return banner

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt's name
        """Return and Enter press the focused button. Qt's buttons take them only inside a dialog (their
        `autoDefault`): tabbed to Launch, Return did nothing. The button passes the key on unused, so it
        arrives here, the view being the button's ancestor; Space already pressed any button."""
        focused = self.focusWidget()  # the child with the keyboard focus, the key came from there
        if (event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter)
                and not event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier
                and isinstance(focused, (QPushButton, QToolButton)) and focused.isEnabled()
                and self.isAncestorOf(focused)):
            if not event.isAutoRepeat():  # a held key presses once
                focused.click()
            event.accept()
            return
        super().keyPressEvent(event)

    def refresh(self) -> None:
        """Re-read what the view shows from the store (on show and F5; most views also follow the app model's signals)."""

    def open_item(self, payload: Any) -> None:
        """Show a particular item (a dataset id, a run id...) handed over by navigation."""

    def focus_target(self) -> QWidget:
        """Where the keys go when the view is chosen from the keyboard (Ctrl+1...): its list, say."""
        return self

    def search_box(self) -> QLineEdit | None:
        """The box Ctrl+F (View > Find) puts the keys in, if the view has one (its list's filter)."""
        return None

    def go_home(self) -> None:
        """Its sidebar item was clicked while it is shown: back to its first page (e.g. the list)."""

    def busy(self) -> bool:
        """Background loads for this view are still in flight (screenshots wait for them)."""
        return False

    def shutdown(self) -> None:
        """The window is closing: stop timers; background tasks are cancelled by the context."""
