"""Settings' "Move data home to…": check, confirm, move on a pool thread with a progress bar, then restart.

The checks and the move are spark_trainer.jobs.home_move, the same as `spark-trainer home move`:
refused (one line) while a run trains or an evaluation runs, for a non-empty destination or one
without room. The scheduler is held while the home moves, so no queued run starts half-way. The
window keeps its old store until it closes, so once moved the dialog offers "Restart at the new
home" (app.relaunch: this window closes and the app starts again there), or "Close SparkTrainer".
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtWidgets import (
    QApplication,
    QDialog,
    QDialogButtonBox,
    QLabel,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.context import AppContext
from app.relaunch import env_home_line
from app.widgets import grow_to_fit, human_bytes
from app.workers import Task
from spark_trainer.store.store import Store

if TYPE_CHECKING:
    from spark_trainer.jobs.home_move import MoveResult

HOME_NAME = "SparkTrainer"


def destination_for(folder: Path) -> Path:
    """The folder the user picked, or, when it holds other things, a `SparkTrainer` folder inside it
    (a folder dialog picks a place, say a new disk's root, more often than an empty folder)."""
    if folder.is_dir() and any(folder.iterdir()) and not (folder / "sparktrainer.db").exists():
        return folder / HOME_NAME
    return folder


class MoveHomeDialog(QDialog):
    """`state` goes checking -> ready | refused; ready -> moving -> done | failed."""

    def __init__(self, store: Store, ctx: AppContext, dest: Path, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Move the data home")
        self.setMinimumWidth(560)
        self.store, self.ctx, self.dest = store, ctx, dest
        self.plan = None
        self.result: MoveResult | None = None
        self.state = "checking"
        self._scheduling = False
        self._leaving = False  # the app is closing (restart or quit): this dialog closes with it
        layout = QVBoxLayout(self)
        self.message = QLabel(f"Checking whether the data home can move to {dest}…")
        self.message.setWordWrap(True)
        layout.addWidget(self.message)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setVisible(False)
        layout.addWidget(self.progress)
        self.detail = QLabel("")
        self.detail.setObjectName("Muted")
        self.detail.setWordWrap(True)
        layout.addWidget(self.detail)
        self.buttons = QDialogButtonBox()
        self.move_button = QPushButton("Move")
        self.move_button.setEnabled(False)
        self.move_button.clicked.connect(self.start_move)
        self.close_button = QPushButton("Cancel")
        self.close_button.clicked.connect(self.reject)
        self.quit_button = QPushButton("Close SparkTrainer")
        self.quit_button.clicked.connect(self.close_app)
        self.restart_button = QPushButton("Restart at the new home")
        self.restart_button.clicked.connect(self.restart)
        for button in (self.move_button, self.quit_button, self.restart_button, self.close_button):
            self.buttons.addButton(button, QDialogButtonBox.ButtonRole.ActionRole)
        self.quit_button.setVisible(False)  # after addButton, which shows it
        self.restart_button.setVisible(False)
        layout.addWidget(self.buttons)
        self.task = self._check()

    def _say(self, text: str, detail: str | None = None) -> None:
        """Show `text` (and `detail`) and grow to show every line: a window does not follow the height
        of its word-wrapped labels by itself, and the longer messages were cut off."""
        self.message.setText(text)
        if detail is not None:
            self.detail.setText(detail)
        grow_to_fit(self)

    # -- checking -----------------------------------------------------------------------------
    def _check(self) -> Task:
        from spark_trainer.jobs import home_move

        store, dest = self.store, self.dest
        task = Task(lambda _ctx: home_move.plan_move(store, dest), owner=self, name="plan home move")
        task.signals.succeeded.connect(self._ready)
        task.signals.failed.connect(lambda message, _exc: self._refused(message))
        return self.ctx.tasks.start(task, self.ctx.pool)

    def _ready(self, plan: object) -> None:
        self.plan, self.state = plan, "ready"
        how = ("one rename (same disk)" if plan.rename  # type: ignore[attr-defined]
               else f"a copy of {plan.files} files, {human_bytes(plan.bytes)}, checked, then the old folder "  # type: ignore[attr-defined]
               "deleted")
        lines = [f"Move the data home from {plan.source} to {plan.dest}: {how}."]  # type: ignore[attr-defined]
        if plan.queued:  # type: ignore[attr-defined]
            lines.append(f"Queued run(s) {', '.join(map(str, plan.queued))} will start from the new place.")  # type: ignore[attr-defined]
        lines.append("Afterwards SparkTrainer offers to restart at the new place." if self.ctx.restart is not None
                     else "SparkTrainer needs a restart afterwards to open the new place.")
        self._say("\n".join(lines))
        self.move_button.setEnabled(True)

    def _refused(self, message: str) -> None:
        self.state = "refused"
        self._say(f"Cannot move the data home: {message}")
        self.move_button.setVisible(False)
        self.close_button.setText("Close")

    # -- moving -------------------------------------------------------------------------------
    def start_move(self) -> Task:
        from spark_trainer.jobs import home_move

        self.state = "moving"
        self._scheduling = self.ctx.scheduler.running
        self.ctx.scheduler.stop()  # no queued run starts from the old place half-way through
        self.move_button.setEnabled(False)
        self.close_button.setText("Cancel")  # stops the copy; the home stays where it is
        self.progress.setVisible(True)
        self._say(f"Moving the data home to {self.dest}… The old one stays as it is until the copy is "
                             "complete and checked.")
        plan = self.plan

        def work(task_ctx) -> object:  # noqa: ANN001 - a TaskContext
            result = home_move.carry_out(plan, progress=lambda done, total, name: task_ctx.progress((done, total, name)),
                                         cancel=task_ctx.cancel)
            task_ctx.flush()
            return result

        task = Task(work, owner=self, name="move home")
        task.signals.progress.connect(self._progressed)
        task.signals.succeeded.connect(self._moved)
        task.signals.failed.connect(lambda message, _exc: self._failed(message))
        task.signals.cancelled.connect(self._cancelled)
        self.task = self.ctx.tasks.start(task, self.ctx.pool)
        return self.task

    def _progressed(self, value: tuple[int, int, str]) -> None:
        done, total, name = value
        self.progress.setValue(1000 if total == 0 else int(1000 * done / total))
        self.progress.setFormat(f"%p%  {human_bytes(done)} of {human_bytes(total)}")
        self.detail.setText(name)

    def _moved(self, result: MoveResult) -> None:
        self.result, self.state = result, "done"
        self.progress.setValue(1000)
        dest = Path(result.dest)
        lines = [f"The data home is now at {dest}."]
        env_line = env_home_line(dest) if self.ctx.restart is not None else None
        if self.ctx.restart is None:
            lines.append("Close SparkTrainer and start it again to continue there: this window still shows the "
                         "old place.")
        else:
            lines.append("Restart SparkTrainer to continue there: this window still shows the old place.")
            lines += [env_line] if env_line else []
        self._done_text = "\n".join(lines)
        notes = list(result.notes)
        if result.env_note and not env_line:  # else the restart's line above says it
            notes.append(result.env_note)
        if not result.chosen and not result.env_note:  # given another home than the chosen one (--home)
            chosen = result.chosen_home or "the default"
            notes.append(f"The chosen home is still {chosen}: later starts open it. To open the moved home on every "
                         "start, choose it in Settings.")
        self._say(self._done_text, "\n".join(notes))
        self.quit_button.setVisible(True)
        self.restart_button.setVisible(self.ctx.restart is not None)
        (self.quit_button if self.ctx.restart is None else self.restart_button).setDefault(True)
        self.move_button.setVisible(False)
        self.close_button.setVisible(False)

    def restart(self) -> None:
        """Close the app and start it again at the new place; if it cannot start, say so in one line and
        leave "Close SparkTrainer" to the user."""
        if self.ctx.restart is None:
            return
        self._leaving = True
        error = self.ctx.restart(Path(self.result.dest))  # type: ignore[union-attr]
        if error is None:
            return
        self._leaving = False
        self._say(f"{self._done_text}\n{error}")

    def close_app(self) -> None:
        """Quit as the window's own Quit does (its state saved, polling stopped); runs keep training."""
        self._leaving = True
        QApplication.quit()  # asks every window to close: this dialog too, now that it may

    def _cancelled(self) -> None:
        self._failed(f"the move was cancelled; the partial copy was removed and the home is still at "
                     f"{self.plan.source}")  # type: ignore[attr-defined]

    def _failed(self, message: str) -> None:
        self.state = "failed"
        self._say(f"The data home was not moved: {message}")
        self.progress.setVisible(False)
        self.close_button.setText("Close")
        self.close_button.setEnabled(True)
        if self._scheduling:
            self.ctx.scheduler.start()

    def reject(self) -> None:
        if self.state == "moving":  # Cancel, Escape or the title bar's close: stop the copy, then say so
            if self.task is not None and not self.plan.rename:  # type: ignore[attr-defined]  # a rename is instant
                self.task.cancel()
                self.close_button.setEnabled(False)
                self.detail.setText("Cancelling: removing the partial copy…")
            return
        if self.state == "done" and not self._leaving:  # the window shows the old place: only a restart goes on
            return
        super().reject()
