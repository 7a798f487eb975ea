"""Tables over thousands of rows: a model over the rows a view read, and the view showing it.

`RowsModel` keeps the row objects a view already has (runs, leaderboard entries) and answers Qt
for the cells it paints, so showing 2,000 rows costs about what showing 30 does: no item per
cell, no widget per row. `set_rows` keeps the selection and the scroll position: when the same
rows come back (a live update) only the rows that changed are repainted. Clicking a header sorts
by that column (numbers as numbers); pinned rows (the leaderboard's baselines) stay below.

`RowsTable` is the QTableView showing it, with the progress-bar delegate, plus read-only access
in QTableWidget terms (`rowCount`, `item(row, col).text()`) for tests and the screenshot tools;
those cells are in `table_cells`.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QItemSelection,
    QItemSelectionModel,
    QModelIndex,
    QPersistentModelIndex,
    Qt,
)
from PySide6.QtGui import QColor, QResizeEvent
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableView, QWidget

from app.views.table_cells import PROGRESS_ROLE, Cell, HeaderTitle, ProgressDelegate, Role

# the roles as plain ints: data() is called for every role of every cell laid out or painted
DISPLAY, FOREGROUND, TOOLTIP, USER = (int(r.value) for r in (Role.DisplayRole, Role.ForegroundRole,
                                                             Role.ToolTipRole, Role.UserRole))
PROGRESS = int(PROGRESS_ROLE)
ROWS_MEASURED = 40
NAME_WIDTH_PX = 180  # a name column's most when fitted: 85-character names pushed Status and Progress off-screen


@dataclass(frozen=True)
class Column:
    """One column: its title, and how a row shows in it. `sort` gives the value sorted by (default:
    the text); `colour` a foreground colour name; `tip` a tooltip; `progress` (value, maximum) for a
    bar drawn by `ProgressDelegate` instead of text; `widest` caps the width a fit gives it (the rest of a
    longer text is elided, and shown as the tooltip unless `tip` says otherwise)."""

    title: str
    text: Callable[[Any], object]
    sort: Callable[[Any], Any] | None = None
    colour: Callable[[Any], str | None] | None = None
    tip: Callable[[Any], str | None] | None = None
    progress: Callable[[Any], tuple[int, int]] | None = None
    widest: int | None = None


class RowsModel(QAbstractTableModel):
    def __init__(self, columns: Sequence[Column], key: Callable[[Any], Hashable],
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.columns = list(columns)
        self.key = key
        self.rows: list[Any] = []
        self.pinned = 0  # how many rows at the end stay there whatever the sort
        self._texts: dict[int, tuple[str, ...]] = {}  # row -> every cell's text, made when first painted
        self._sort: tuple[int, Qt.SortOrder] | None = None
        self._colours: dict[str, QColor] = {}
        self._answers: dict[int, Callable[[Any, int], Any]] = {
            FOREGROUND: self._foreground, TOOLTIP: self._tooltip, PROGRESS: self._progress,
            USER: lambda item, _col: self.key(item)}

    # --- what Qt asks ------------------------------------------------------------------------
    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.columns)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Role.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Role.DisplayRole and section < len(self.columns):
            return self.columns[section].title
        return None

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = 0) -> Any:
        # Qt asks for about ten roles per cell each time it lays out or paints one: the roles
        # nothing here answers cost one dictionary look-up.
        if role == DISPLAY:
            row = index.row()
            return self.texts(row)[index.column()] if 0 <= row < len(self.rows) else None
        answer = self._answers.get(role)
        if answer is None:
            return None
        row = index.row()
        return answer(self.rows[row], index.column()) if 0 <= row < len(self.rows) else None

    def _foreground(self, item: Any, col: int) -> QColor | None:
        column = self.columns[col]
        name = column.colour(item) if column.colour is not None else None
        return None if name is None else self._colour(name)

    def _tooltip(self, item: Any, col: int) -> str | None:
        column = self.columns[col]
        return column.tip(item) if column.tip else str(column.text(item)) if column.widest else None

    def _progress(self, item: Any, col: int) -> tuple[int, int] | None:
        column = self.columns[col]
        return column.progress(item) if column.progress is not None else None

    def texts(self, row: int) -> tuple[str, ...]:
        found = self._texts.get(row)
        if found is None:
            item = self.rows[row]
            found = self._texts[row] = tuple("" if c.progress is not None else str(c.text(item))
                                             for c in self.columns)
        return found

    def _colour(self, name: str) -> QColor:
        colour = self._colours.get(name)
        if colour is None:
            colour = self._colours[name] = QColor(name)
        return colour

    # --- what the view sets ------------------------------------------------------------------
    def set_columns(self, columns: Sequence[Column]) -> None:
        if [c.title for c in columns] == [c.title for c in self.columns]:
            self.columns = list(columns)
            return
        self.beginResetModel()
        self.columns = list(columns)
        self._texts.clear()
        self.endResetModel()

    def set_rows(self, rows: Sequence[Any], pinned: Sequence[Any] = ()) -> None:
        """Show `rows` (sorted by the current sort column, if any) then `pinned`. The same rows in the
        same order repaint only the rows that changed; otherwise the rows are replaced and the views'
        selections moved to the rows with the same keys."""
        rows = self._sorted(list(rows)) + list(pinned)
        keys = [self.key(r) for r in rows]
        if len(rows) == len(self.rows) and keys == [self.key(r) for r in self.rows]:
            old, self.rows, self.pinned = self.rows, rows, len(pinned)
            changed = [i for i, (a, b) in enumerate(zip(old, rows, strict=True)) if a is not b and a != b]
            for first, last in _ranges(changed):
                for i in range(first, last + 1):
                    self._texts.pop(i, None)
                self.dataChanged.emit(self.index(first, 0), self.index(last, len(self.columns) - 1))
            return
        self._replace(rows, len(pinned))

    def row(self, index: int) -> Any:
        return self.rows[index]

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        if column < 0 or column >= len(self.columns):
            self._sort = None
            return
        self._sort = (column, order)
        body, pinned = self.rows[:len(self.rows) - self.pinned], self.rows[len(self.rows) - self.pinned:]
        self._replace(self._sorted(body) + pinned, self.pinned)

    def _sorted(self, rows: list[Any]) -> list[Any]:
        if self._sort is None:
            return rows
        column, order = self.columns[self._sort[0]], self._sort[1]
        value = column.sort or column.text
        # None (no value) sorts after every value, in both orders
        known = [r for r in rows if value(r) is not None]
        known.sort(key=value, reverse=order == Qt.SortOrder.DescendingOrder)
        return known + [r for r in rows if value(r) is None]

    def _replace(self, rows: list[Any], pinned: int) -> None:
        """New rows. The same number of rows is a layout change (persistent indexes, so the views'
        selection and current row, follow their keys); another number resets the model, and
        `RowsTable` puts its selection back by key."""
        if len(rows) != len(self.rows):
            self.beginResetModel()
            self.rows, self.pinned = rows, pinned
            self._texts.clear()
            self.endResetModel()
            return
        self.layoutAboutToBeChanged.emit()
        where = {self.key(r): i for i, r in enumerate(rows)}
        before = self.persistentIndexList()
        after = []
        for index in before:
            moved = where.get(self.key(self.rows[index.row()])) if index.row() < len(self.rows) else None
            after.append(QModelIndex() if moved is None else self.index(moved, index.column()))
        self.rows, self.pinned = rows, pinned
        self._texts.clear()
        self.changePersistentIndexList(before, after)
        self.layoutChanged.emit()


def _ranges(rows: list[int]) -> list[tuple[int, int]]:
    """[1, 2, 3, 7] -> [(1, 3), (7, 7)]."""
    found: list[tuple[int, int]] = []
    for r in rows:
        if found and found[-1][1] == r - 1:
            found[-1] = (found[-1][0], r)
        else:
            found.append((r, r))
    return found


class RowsTable(QTableView):
    """A read-only, row-selecting table over a `RowsModel`, sortable by clicking a header."""

    def __init__(self, model: RowsModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setModel(model)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setTabKeyNavigation(False)  # Tab leaves the table (Qt's tables keep it)
        self.verticalHeader().setVisible(False)
        self.setWordWrap(False)
        # Columns are fitted to their contents when the rows are replaced (not on every live update,
        # and the user may still drag them); a fit measures the rows in view plus at most
        # ROWS_MEASURED, so it costs the same at 2,000 rows as at 50.
        header = self.horizontalHeader()
        header.setResizeContentsPrecision(ROWS_MEASURED)
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        self.progress_delegate = ProgressDelegate(self)
        for col, column in enumerate(model.columns):
            if column.progress is not None:
                self.setItemDelegateForColumn(col, self.progress_delegate)
        self._kept: tuple[list[Hashable], Hashable | None] = ([], None)
        model.modelAboutToBeReset.connect(self._keep_selection)
        model.modelReset.connect(self._restore_selection)
        model.modelReset.connect(self.fit_columns)
        model.layoutChanged.connect(self.fit_columns)
        model.dataChanged.connect(self._widen)
        self._stretch: int | None = None
        header.sectionResized.connect(lambda col, _old, _new: self._fill_stretch() if col != self._stretch else None)

    def fit_columns(self) -> None:
        """Fit the columns the user may resize (Interactive ones) to their contents and titles."""
        header = self.horizontalHeader()
        for col in range(header.count()):
            if header.sectionResizeMode(col) == QHeaderView.ResizeMode.Interactive:
                wanted = max(self.sizeHintForColumn(col), self._title_width(col))
                self.setColumnWidth(col, min(wanted, self._widest(col)))
        self._fill_stretch()

    def _title_width(self, col: int) -> int:
        """`col`'s width for its title, with room for the sort arrow in the sorted column only: Qt's own
        fit (`resizeColumnToContents`) left that room (20 px) beside every title, which put the Runs
        list's last columns past a 1280-pixel window. A header click sorts, and the sort refits."""
        header = self.horizontalHeader()
        if not header.isSortIndicatorShown() or col == header.sortIndicatorSection():
            return header.sectionSizeHint(col)
        header.setSortIndicatorShown(False)
        width = header.sectionSizeHint(col)
        header.setSortIndicatorShown(True)
        return width

    def _widest(self, col: int) -> int:
        """The most a fit (or a live update) widens `col` to: its column's cap, else no limit."""
        columns = self.rows_model().columns
        return (columns[col].widest if col < len(columns) else None) or 1 << 20

    def stretch_column(self, column: int) -> None:
        """`column` takes the width the other columns leave, but never less than its contents need:
        Qt's Stretch mode squeezed it to a few pixels in a narrow window (the Runs list and the
        leaderboard showed every experiment name as 't…' at 1024 px)."""
        self._stretch = column
        self.horizontalHeader().setSectionResizeMode(column, QHeaderView.ResizeMode.Interactive)
        self.horizontalHeader().setStretchLastSection(False)
        self._fill_stretch()

    def _fill_stretch(self) -> None:
        column = self._stretch
        if column is None or column >= self.horizontalHeader().count():
            return
        header = self.horizontalHeader()
        others = sum(self.columnWidth(c) for c in range(header.count()) if c != column and not self.isColumnHidden(c))
        needed = min(max(self.sizeHintForColumn(column), self._title_width(column)), self._widest(column))
        width = max(needed, self.viewport().width() - others)
        if width != self.columnWidth(column):
            self.setColumnWidth(column, width)

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 - Qt's name
        super().resizeEvent(event)
        self._fill_stretch()

    def _widen(self, top: QModelIndex, bottom: QModelIndex, _roles: object = None) -> None:
        """Rows changed by a live update: widen (never narrow) a column whose new text needs it."""
        header, model = self.horizontalHeader(), self.rows_model()
        grid = 1 if self.showGrid() else 0
        for col in range(header.count()):
            if header.sectionResizeMode(col) != QHeaderView.ResizeMode.Interactive:
                continue
            for row in range(top.row(), min(bottom.row(), top.row() + ROWS_MEASURED) + 1):
                wanted = min(self.sizeHintForIndex(model.index(row, col)).width() + grid, self._widest(col))
                if wanted > self.columnWidth(col):
                    self.setColumnWidth(col, wanted)
        self._fill_stretch()

    def _keep_selection(self) -> None:
        model, current = self.rows_model(), self.currentIndex()
        key = model.key(model.row(current.row())) if current.isValid() and current.row() < len(model.rows) else None
        self._kept = (self.selected_keys(), key)

    def _restore_selection(self) -> None:
        keys, current = self._kept
        self._kept = ([], None)
        if keys:
            self.select_keys(keys)
        if current is not None:
            model = self.rows_model()
            row = next((i for i, item in enumerate(model.rows) if model.key(item) == current), None)
            if row is not None:
                self.selectionModel().setCurrentIndex(model.index(row, 0),
                                                      QItemSelectionModel.SelectionFlag.NoUpdate)

    def rows_model(self) -> RowsModel:
        return self.model()  # type: ignore[return-value]

    def sort_by(self, column: int, order: Qt.SortOrder) -> None:
        """Sort by `column` now and on header clicks from then on (the header shows which)."""
        self.horizontalHeader().setSortIndicator(column, order)
        self.setSortingEnabled(True)

    def selected_keys(self) -> list[Hashable]:
        model = self.rows_model()
        rows = sorted({index.row() for index in self.selectionModel().selectedRows()})
        return [model.key(model.row(r)) for r in rows if r < len(model.rows)]

    def select_keys(self, keys: Sequence[Hashable]) -> None:
        model, wanted = self.rows_model(), set(keys)
        selection = QItemSelection()
        for row, item in enumerate(model.rows):
            if model.key(item) in wanted:
                selection.select(model.index(row, 0), model.index(row, model.columnCount() - 1))
        self.selectionModel().select(selection, QItemSelectionModel.SelectionFlag.ClearAndSelect)

    # --- read-only access in QTableWidget terms (tests, screenshot tools) ---------------------
    def rowCount(self) -> int:  # noqa: N802
        return self.rows_model().rowCount()

    def columnCount(self) -> int:  # noqa: N802
        return self.rows_model().columnCount()

    def item(self, row: int, column: int) -> Cell | None:
        index = self.rows_model().index(row, column)
        return Cell(index) if index.isValid() else None

    def horizontalHeaderItem(self, column: int) -> HeaderTitle | None:  # noqa: N802
        model = self.rows_model()
        return HeaderTitle(model.columns[column].title) if 0 <= column < model.columnCount() else None
