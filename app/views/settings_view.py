"""Settings: data home, Hugging Face token (OS keyring), theme, run limits and default GPUs, and the
timers of stalled runs and idle Playground models.

Store settings apply as soon as they change. The token goes to the OS keyring only (never the
database); keyring calls run off the GUI thread because some backends talk to a desktop service.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import (
    QApplication,
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGroupBox,
    QLabel,
    QLineEdit,
    QSpinBox,
    QWidget,
)

from app.context import AppContext
from app.forms.cells import scrolled_column
from app.forms.labels import label_all_inputs
from app.theme import current as current_theme
from app.views.base import BaseView
from app.views.settings_home import HomeSettingsMixin
from app.views.settings_token import TokenSettingsMixin
from app.wheel_guard import guard_wheel
from app.workers import Task, pending
from spark_trainer.store import settings
from spark_trainer.store.store import Store
from spark_trainer.themes import THEMES

# The timers of the "Stalled runs and idle models" group: setting, label, what it does.
WATCH_FIELDS = (
    ("heartbeat_timeout_seconds", "Stalled after no heartbeat for",
     "A running run whose worker has said nothing for this long is marked stalled (it still holds its GPUs)"),
    ("stall_grace_seconds", "Stalled run killed after a further",
     "A stalled run silent this much longer is killed and becomes interrupted, resumable from its last "
     "checkpoint; 0 kills it as soon as it is marked stalled"),
    ("playground_idle_seconds", "Unload an idle Playground model after",
     "A Playground model nobody has prompted for this long is unloaded, freeing its GPU memory"),
)


class SettingsView(HomeSettingsMixin, TokenSettingsMixin, BaseView):
    title = "Settings"

    def __init__(self, store: Store, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(store, ctx, parent)
        self.banner = self.title_banner()  # every change here saves and says so: the form must not jump
        self.banner.forget_on_leave()
        self.token_task: Task | None = None
        self._save_task: Task | None = None
        self._unsaved: dict[str, object] = {}  # key -> value waiting to be written, in order
        self._seen: dict[str, Any] = {}  # the settings as the model last read them, shown or not
        self._unusable_seen: dict[str, Any] = {}
        self._stale: set[str] = set()  # fields the store changed while the user was editing them
        self._asked_at = 0  # the poller's tick when this view was last shown
        # The groups scroll: at 1024 x 600 the last timers were below the window's edge, out of reach.
        self.scroll, column = scrolled_column(sideways=False)
        column.setContentsMargins(0, 0, 0, 0)
        self.body.addWidget(self.scroll, 1)
        for group in (self._data_home_group(), self._token_group(), self._runs_group(), self._watch_group()):
            column.addWidget(group)
        column.addStretch(1)
        label_all_inputs(self)  # each label buddies and names its box
        guard_wheel(self.scroll.widget())  # the wheel scrolls the groups, never a setting under the pointer
        self.ctx.model.settings.changed.connect(self._on_settings_changed)  # a terminal's `settings set` too
        QApplication.instance().focusChanged.connect(self._on_focus_changed)  # dropped with this view
        self.refresh()

    # -- layout -------------------------------------------------------------------------------
    def _runs_group(self) -> QGroupBox:
        group = QGroupBox("Appearance and runs")
        form = QFormLayout(group)
        self.theme = QComboBox()
        self.theme.addItems(list(THEMES))
        self._saved_theme = ""  # the store's theme, once read
        self.theme.currentTextChanged.connect(self._set_theme)
        self.ctx.theme_changed.connect(self._show_theme)  # Ctrl+Shift+T, anywhere in the window
        form.addRow("Theme (Ctrl+Shift+T)", self.theme)
        self.max_runs = QSpinBox()
        self.max_runs.setRange(*settings.RANGES["max_concurrent_runs"])
        self.max_runs.setKeyboardTracking(False)  # saved once typed (Enter, leaving the box), not per digit
        self.max_runs.valueChanged.connect(lambda v: self._save("max_concurrent_runs", v))
        form.addRow("Max concurrent runs", self.max_runs)
        self.default_gpus = QLineEdit()
        self.default_gpus.setPlaceholderText("auto, cpu, cpu:N, GPU indices like 0,1, or count:N")
        self.default_gpus.editingFinished.connect(self._save_gpus)
        self.gpu_hint = QLabel("")
        self.gpu_hint.setObjectName("Muted")
        form.addRow("Default GPUs", self.default_gpus)
        form.addRow("", self.gpu_hint)
        self.sharing = QCheckBox("Let two runs share one GPU (when memory allows)")
        self.sharing.toggled.connect(lambda v: self._save("allow_gpu_sharing", v))
        form.addRow("GPU sharing", self.sharing)
        self.grace = QSpinBox()
        self.grace.setRange(*settings.RANGES["stop_grace_seconds"])
        self.grace.setSuffix(" s")
        self.grace.setKeyboardTracking(False)
        self.grace.valueChanged.connect(lambda v: self._save("stop_grace_seconds", v))
        form.addRow("Stop grace period", self.grace)
        self.ctx.gpu_monitor.sampled.connect(self._update_gpu_hint)
        return group

    def _watch_group(self) -> QGroupBox:
        """The timers `settings` had alone: when a silent worker is stalled, then killed, and when an idle
        Playground model is unloaded."""
        group = QGroupBox("Stalled runs and idle models")
        form = QFormLayout(group)
        self.watch: dict[str, QSpinBox] = {}
        for key, label, tip in WATCH_FIELDS:
            box = QSpinBox()
            box.setRange(*settings.RANGES[key])
            box.setSuffix(" s")
            # Saved once typed: per digit, "15" saved 1 s first and a running run was marked stalled.
            box.setKeyboardTracking(False)
            box.setToolTip(f"{tip} (`spark-trainer settings {key}`)")
            box.valueChanged.connect(lambda v, key=key: self._save(key, v))
            form.addRow(label, box)
            self.watch[key] = box
        return group

    # -- reading ------------------------------------------------------------------------------
    def _fields(self) -> dict[str, QWidget]:
        """The store settings' boxes, by key (the theme box shows the window's theme: see `_show_value`)."""
        return {"theme": self.theme, "max_concurrent_runs": self.max_runs, "default_gpus": self.default_gpus,
                "allow_gpu_sharing": self.sharing, "stop_grace_seconds": self.grace, **self.watch}

    def refresh(self) -> None:
        """Show the settings the app model last read (it follows the store, terminal writes too); the
        form shows them once read when the model has not read them yet."""
        model = self.ctx.model.settings
        self.on_theme_changed()
        if model.loaded:
            self._follow(model.values, model.unusable, every=True)
        poller = self.ctx.model.poller
        self._asked_at = poller.ticks  # busy until a read begun after this lands (screenshots wait for it)
        poller.poke(catalog=False)
        self._update_gpu_hint()
        self._update_home_note()
        self.refresh_database_size()
        self.refresh_token_status()

    def _on_settings_changed(self, values: dict[str, Any], unusable: dict[str, Any]) -> None:
        self._follow(values, unusable, every=False)

    def _follow(self, values: dict[str, Any], unusable: dict[str, Any], *, every: bool) -> None:
        """Show `values`: every field (on show) or those whose stored value changed since the last read
        shown (a read begun before this view's own save landed must not put the old value back). A field
        being edited (focused, typed into, its save under way) keeps what the user has there; it shows
        the store's value once left unchanged (`_on_focus_changed`)."""
        if unusable and (every or unusable != self._unusable_seen):
            self.banner.show_message(" ".join(settings.unusable_line(k, v) + "." for k, v in unusable.items()),
                                     "warning")
        self._unusable_seen = dict(unusable)
        changed = [k for k in self._fields() if every or values.get(k) != self._seen.get(k)]
        self._seen = dict(values)
        for key in changed:
            if self._editing(key):
                self._stale.add(key)
            else:
                self._show_value(key, values[key])

    def _editing(self, key: str) -> bool:
        widget = self._fields()[key]
        return key in self._unsaved or widget.hasFocus() or (isinstance(widget, QLineEdit) and widget.isModified())

    def _on_focus_changed(self, old: QWidget | None, _new: QWidget | None) -> None:
        """A field left while the store changed under it: now it shows the store's value, unless the user
        changed it (then their save, under way, wins). After the event loop turns: a spin box saves what
        was typed on leaving, after this signal."""
        if old is not None and self._stale:
            QTimer.singleShot(0, self, self._show_stale)

    def _show_stale(self) -> None:
        for key in [k for k in self._stale if not self._editing(k)]:
            self._stale.discard(key)
            self._show_value(key, self._seen[key])

    def _show_value(self, key: str, value: Any) -> None:
        widget = self._fields()[key]
        widget.blockSignals(True)
        if key == "theme":  # the box shows the window's theme (`on_theme_changed`); the note, the saved one
            self._saved_theme = str(value)
            self._note_theme()
        elif isinstance(widget, QSpinBox):
            widget.setValue(int(value))
        elif isinstance(widget, QLineEdit):
            widget.setText(str(value))  # and not modified: the user has typed nothing since
        elif isinstance(widget, QCheckBox):
            widget.setChecked(bool(value))
        widget.blockSignals(False)

    def _update_gpu_hint(self, _gpus: object = None) -> None:
        gpus = self.ctx.gpu_monitor.gpus
        if gpus:
            self.gpu_hint.setText("Detected: " + ", ".join(f"{g.index}: {g.name}" for g in gpus))
        elif self.ctx.gpu_monitor.has_sampled:
            self.gpu_hint.setText("No NVIDIA GPU detected: 'auto' means the CPU on this machine.")
        else:
            self.gpu_hint.setText("Looking for GPUs…")

    # -- writing ------------------------------------------------------------------------------
    def _save(self, key: str, value: object) -> None:
        """Save on the pool, one write at a time in the order asked (a spin box typed 1, 12 saves 12)."""
        self._unsaved[key] = value
        if self._save_task is None:  # else the write in flight starts the next one when it ends
            self._write_next()

    @property
    def saving(self) -> bool:
        return bool(self._unsaved) or pending(self._save_task)

    def _write_next(self) -> None:
        if not self._unsaved:
            return
        key, value = next(iter(self._unsaved.items()))
        store = self.store
        task = Task(lambda _ctx: settings.set_value(store, key, value), owner=self, name="save-setting")
        task.signals.succeeded.connect(lambda _r: self._saved(key, value, None))
        task.signals.failed.connect(lambda message, _exc: self._saved(key, value, message))
        self._save_task = self.ctx.tasks.start(task, self.ctx.pool)

    def _saved(self, key: str, value: object, error: str | None) -> None:
        if self._unsaved.get(key) == value:
            del self._unsaved[key]
        if error:
            self.banner.show_message(f"Not saved: {error}", "error")
        else:
            self.banner.show_message(f"Saved {key.replace('_', ' ')}.", "ok")
            self.ctx.model.refresh()
            self.ctx.setting_saved.emit(key, value)
        self._save_task = None
        self._write_next()

    def _show_theme(self, name: str) -> None:
        """The theme chosen (here or elsewhere; saved by whoever chose it): shown, not saved again. The
        name, not the window's theme: the window may apply it after this slot runs."""
        self._saved_theme = name
        self.theme.blockSignals(True)
        self.theme.setCurrentText(name)
        self.theme.blockSignals(False)
        self._note_theme()

    def on_theme_changed(self) -> None:
        """The window's theme changed (the main window calls this): the box shows it."""
        self.theme.blockSignals(True)
        self.theme.setCurrentText(current_theme().name)
        self.theme.blockSignals(False)
        self._note_theme()

    def _note_theme(self) -> None:
        """`--theme` is a one-off for this start and is not saved: the box says so while they differ."""
        shown, saved = current_theme().name, self._saved_theme
        self.theme.setToolTip(
            f"This window uses the {shown} theme for this session only (started with --theme); the saved "
            f"theme is {saved}. Choosing a theme here saves it." if saved and saved != shown
            else "Saved for the next start too; Ctrl+Shift+T switches anywhere in the window.")

    def _set_theme(self, name: str) -> None:
        self._saved_theme = name
        self.ctx.theme_changed.emit(name)  # shown now; saved on the pool
        self._save("theme", name)

    def _save_gpus(self) -> None:
        # Left without typing: nothing to save. Its text may be stale (the store changed while it had the
        # focus), and saving it wrote a terminal's newer value over.
        if not self.default_gpus.isModified() and ("default_gpus" in self._stale
                                                   or self.default_gpus.text() == self._seen.get("default_gpus")):
            return
        monitor = self.ctx.gpu_monitor  # the GPUs this machine has, once the monitor has looked (none is an answer)
        machine = [g.index for g in monitor.gpus] if monitor.has_sampled else None
        try:  # the store's check and words
            text = settings.check_default_gpus(self.default_gpus.text(), machine)
        except settings.SettingRefused as e:  # the store's words, under this field's label
            self.banner.show_message(f"Default GPUs: {e.detail}", "error")
            return
        self.default_gpus.setModified(False)
        self._save("default_gpus", text)

    def busy(self) -> bool:
        return (self.saving or self.ctx.model.poller.applied <= self._asked_at or pending(self.token_task)
                or pending(self.database_task))
