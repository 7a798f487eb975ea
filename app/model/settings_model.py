"""`SettingsModel`: the store's settings as the poller last read them, whoever wrote them (the Settings
view, or `spark-trainer settings set` in a terminal). The settings table holds a few rows, so the
poller reads it every tick (`reads.read_settings`); a read that brings the same values emits nothing."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QObject, Signal


class SettingsModel(QObject):
    # values (every setting, as `settings.get_all` reads them), unusable (key -> stored value read as its
    # default, as `settings.unusable` names them)
    changed = Signal(dict, dict)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.values: dict[str, Any] = {}
        self.unusable: dict[str, Any] = {}
        self.loaded = False

    def apply(self, values: dict[str, Any] | None, unusable: dict[str, Any] | None) -> None:
        """A read's settings (None: not read, the store failed): emitted only when they differ."""
        if values is None or unusable is None:
            return
        if self.loaded and values == self.values and unusable == self.unusable:
            return
        self.values, self.unusable, self.loaded = dict(values), dict(unusable), True
        self.changed.emit(self.values, self.unusable)
