"""The video wizard: add videos, inspect them, configure sampling, process, and see the summary.

Probing and processing run on the task pool (that is where cv2 gets imported). The configure,
process and summary pages live in `video_wizard_pages.py`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QEvent, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QGuiApplication
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QListWidget,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
    QWizard,
    QWizardPage,
)

from app import file_dialogs, theme
from app.context import AppContext
from app.forms.cells import scrolled_page
from app.views.video_wizard_pages import ConfigurePage, ProcessPage, SummaryPage
from app.widgets import DropZone, MessageBanner, human_bytes
from app.workers import Task, TaskContext
from spark_trainer.store.store import Store

VIDEO_EXTS = {".mp4", ".mov", ".avi", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg"}
# What a page gets when the theme changes (app.setPalette, then app.setStyleSheet)
THEME_EVENTS = (QEvent.Type.PaletteChange, QEvent.Type.ApplicationPaletteChange, QEvent.Type.StyleChange)
PROBLEM_ROLE = Qt.ItemDataRole.UserRole + 1  # a cell of a video with problems (coloured as an error)
PROBE_COLUMNS = ["Video", "Duration", "FPS", "Frames", "Resolution", "Codec", "Audio", "Size", "Problems"]


def expand_videos(paths: list[Path]) -> tuple[list[Path], list[Path]]:
    """Video files among `paths` (folders searched recursively), and everything else that was given."""
    videos: list[Path] = []
    others: list[Path] = []
    for path in paths:
        if path.is_dir():
            for child in sorted(path.rglob("*")):
                if child.is_file() and not child.name.startswith("."):
                    (videos if child.suffix.lower() in VIDEO_EXTS else others).append(child)
        elif path.suffix.lower() in VIDEO_EXTS:
            videos.append(path)
        else:
            others.append(path)
    return videos, others


class AddVideosPage(QWizardPage):
    def __init__(self, wizard: VideoWizard) -> None:
        super().__init__(wizard)  # owned by the wizard on the C++ side from the start
        self.setTitle("Add videos")
        self.setSubTitle("Drop video files or folders, or choose them. Each video becomes frames in one dataset.")
        self.owner = wizard
        self.drop = DropZone("Drop videos or folders of videos here<br>MP4, MOV, AVI, MKV, WebM, MPEG")
        self.drop.paths_dropped.connect(self.add_paths)
        files = QPushButton("Add videos…")
        files.clicked.connect(self._choose_files)
        folder = QPushButton("Add a folder…")
        folder.clicked.connect(self._choose_folder)
        self.drop.add_button(files)
        self.drop.add_button(folder)
        self.list = QListWidget()
        self.list.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.remove = QPushButton("Remove selected")
        self.remove.clicked.connect(self._remove_selected)
        self.banner = MessageBanner()
        layout = QVBoxLayout(scrolled_page(self))
        layout.addWidget(self.drop)
        layout.addWidget(self.banner)
        layout.addWidget(self.list, 1)
        row = QHBoxLayout()
        self.count = QLabel("No videos yet.")
        self.count.setObjectName("Muted")
        row.addWidget(self.count, 1)
        row.addWidget(self.remove)
        layout.addLayout(row)

    def add_paths(self, paths: list[Path]) -> None:
        videos, others = expand_videos([Path(p) for p in paths])
        if videos and not self.owner.videos:  # a dataset left unnamed is named after what came first, as
            first = Path(paths[0])  # `spark-trainer video FOLDER` names it: the folder, else the first video
            self.owner.named_after = first if first.is_dir() and videos[0].is_relative_to(first) else None
        known = set(self.owner.videos)
        added = [v for v in videos if v not in known]
        self.owner.videos.extend(added)
        self.list.addItems([str(v) for v in added])
        if others:
            shown = ", ".join(p.name for p in others[:3]) + ("…" if len(others) > 3 else "")
            self.banner.show_message(f"Skipped {len(others)} file(s) that are not videos: {shown}", "warning")
        elif not videos:
            self.banner.show_message("No video files found in what was dropped.", "warning")
        else:
            self.banner.clear_message()
        self._update()

    def _choose_files(self) -> None:
        files = file_dialogs.open_files(self, "Choose videos", "",
                                                "Videos (" + " ".join(f"*{e}" for e in sorted(VIDEO_EXTS)) + ")")
        self.add_paths([Path(f) for f in files])

    def _choose_folder(self) -> None:
        folder = file_dialogs.existing_dir(self, "Choose a folder of videos")
        if folder:
            self.add_paths([Path(folder)])

    def _remove_selected(self) -> None:
        for item in self.list.selectedItems():
            self.owner.videos.remove(Path(item.text()))
            self.list.takeItem(self.list.row(item))
        self._update()

    def _update(self) -> None:
        n = len(self.owner.videos)
        self.count.setText(f"{n} video(s)." if n else "No videos yet.")
        self.completeChanged.emit()

    def isComplete(self) -> bool:  # noqa: N802 - Qt override
        return bool(self.owner.videos)


def _probe_all(videos: list[Path], ctx: TaskContext) -> list[Any]:
    from spark_trainer.ingest.video.checks import inspect_video  # cv2 loads here, on the pool thread

    probes = []
    for i, video in enumerate(videos):
        if ctx.cancel.is_set():
            return probes
        try:
            probe = inspect_video(video)
        except OSError as exc:
            from spark_trainer.ingest.video import VideoProbe

            probe = VideoProbe(path=str(video), sha256="", size_bytes=0, problems=[f"cannot read: {exc.strerror}"])
        probes.append(probe)
        ctx.progress((i + 1, len(videos), probe), force=True)
    return probes


def _ok_or_early(probe: Any) -> str:
    from spark_trainer.ingest.video.checks import ended_early

    early = ended_early(probe)
    return f"OK, but it ended early: {early}" if early else "OK"


class InspectPage(QWizardPage):
    def __init__(self, wizard: VideoWizard) -> None:
        super().__init__(wizard)  # owned by the wizard on the C++ side from the start
        self.setTitle("Inspect")
        self.setSubTitle("What each video is, and whether it decodes. Videos with problems are skipped.")
        self.owner = wizard
        self.task: Task | None = None
        self.probed = False  # set on the GUI thread once every probe result is in the table
        self.table = QTableWidget(0, len(PROBE_COLUMNS))
        self.table.setTabKeyNavigation(False)  # Tab leaves the table (Qt's tables keep it)
        self.table.setHorizontalHeaderLabels(PROBE_COLUMNS)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.summary = QLabel("")
        self.summary.setWordWrap(True)
        layout = QVBoxLayout(scrolled_page(self))
        layout.addWidget(self.table, 1)
        layout.addWidget(self.summary)

    def initializePage(self) -> None:  # noqa: N802 - Qt override
        videos = list(self.owner.videos)
        self.owner.probes = []
        self.probed = False
        self.table.setRowCount(len(videos))
        for row, video in enumerate(videos):
            self.table.setItem(row, 0, QTableWidgetItem(video.name))
            self.table.setItem(row, len(PROBE_COLUMNS) - 1, QTableWidgetItem("probing…"))
        self.summary.setText(f"Probing {len(videos)} video(s)…")
        task = Task(lambda ctx: _probe_all(videos, ctx), owner=self, name="video probe")
        task.signals.progress.connect(self._on_probe)
        task.signals.succeeded.connect(self._on_done)
        task.signals.failed.connect(lambda message, _e: self.summary.setText(f"Probing failed: {message}"))
        self.task = self.owner.ctx.tasks.start(task, self.owner.ctx.pool)
        self.completeChanged.emit()

    def cleanupPage(self) -> None:  # noqa: N802 - Qt override
        if self.task is not None:
            self.task.cancel()

    def _on_probe(self, value: tuple[int, int, Any]) -> None:
        done, total, probe = value
        row = done - 1
        self.owner.probes.append(probe)
        cells = [Path(probe.path).name, f"{probe.duration:.1f} s", f"{probe.fps:.2f}", f"{probe.frame_count:,}",
                 f"{probe.width}×{probe.height}", probe.codec or "-",
                 {True: "yes", False: "no", None: "unknown"}[probe.has_audio], human_bytes(probe.size_bytes),
                 "; ".join(probe.problems) or _ok_or_early(probe)]
        for column, text in enumerate(cells):
            item = QTableWidgetItem(text)
            if probe.problems:
                item.setData(PROBLEM_ROLE, True)
                item.setToolTip("; ".join(probe.problems))
            self.table.setItem(row, column, item)
        self._colour_problems()
        self.summary.setText(f"Probed {done} of {total}…")

    def _colour_problems(self) -> None:
        """Problem rows in the theme's error colours, text and background both (as the error banners):
        a background alone met the palette's text, black on dark red where they were not one theme's."""
        t = theme.current()
        text, background = QBrush(QColor(t.error)), QBrush(QColor(t.error_bg))
        for row in range(self.table.rowCount()):
            for column in range(self.table.columnCount()):
                item = self.table.item(row, column)
                if item is not None and item.data(PROBLEM_ROLE):
                    item.setForeground(text)
                    item.setBackground(background)

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802 - Qt override
        if event.type() in THEME_EVENTS:  # a theme switch while the wizard is open
            self._colour_problems()
        super().changeEvent(event)

    def _on_done(self, probes: list[Any]) -> None:
        good = [p for p in probes if not p.problems]
        bad = len(probes) - len(good)
        text = f"{len(good)} video(s) ready"
        if bad:
            text += f"; {bad} with problems (highlighted) will be skipped"
        if not good:
            text = "No video can be used: every one has a problem. Go back and add others."
        self.summary.setText(text + ".")
        self.probed = True
        self.completeChanged.emit()

    def isComplete(self) -> bool:  # noqa: N802 - Qt override
        return self.probed and any(not p.problems for p in self.owner.probes)


class VideoWizard(QWizard):
    """Emits `dataset_created(id)` when the user opens the new dataset from the summary (or finishes)."""

    dataset_created = Signal(int)
    ADD, INSPECT, CONFIGURE, PROCESS, SUMMARY = range(5)

    def __init__(self, store: Store, ctx: AppContext, project_id: int | None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.store = store
        self.ctx = ctx
        self.project_id = project_id
        self.videos: list[Path] = []
        self.named_after: Path | None = None  # the first folder or video added (AddVideosPage.add_paths)
        self.probes: list[Any] = []
        self.result: Any = None
        self.setWindowTitle("Video wizard")
        self.setWizardStyle(QWizard.WizardStyle.ClassicStyle)
        # Fits a 1024 x 600 screen with its title bar and panel: the pages scroll (scrolled_page), the
        # buttons stay in sight. 900 x 620 put Next and Cancel below such a screen's edge.
        self.setMinimumSize(640, 420)
        screen = (parent.screen() if parent is not None else QGuiApplication.primaryScreen()).availableGeometry()
        self.resize(min(900, screen.width()), min(620, screen.height()))
        self.setOption(QWizard.WizardOption.NoBackButtonOnLastPage, True)
        self.add_page = AddVideosPage(self)
        self.inspect_page = InspectPage(self)
        self.configure_page = ConfigurePage(self)
        self.process_page = ProcessPage(self)
        self.summary_page = SummaryPage(self)
        for page_id, page in enumerate((self.add_page, self.inspect_page, self.configure_page, self.process_page,
                                        self.summary_page)):
            self.setPage(page_id, page)
        self.setButtonText(QWizard.WizardButton.FinishButton, "Open dataset")
        self.finished.connect(self._on_finished)

    def good_videos(self) -> list[Path]:
        return [Path(p.path) for p in self.probes if not p.problems]

    def _on_finished(self, code: int) -> None:
        for page in (self.inspect_page, self.process_page):
            if page.task is not None:
                page.task.cancel()
        if code == QWizard.DialogCode.Accepted and self.result is not None:
            self.dataset_created.emit(self.result.dataset.id)

    def keyPressEvent(self, event: Any) -> None:  # noqa: N802 - Qt override
        # Escape while processing cancels the processing first rather than silently closing.
        if event.key() == Qt.Key.Key_Escape and self.process_page.running:
            self.process_page.cancel()
            return
        super().keyPressEvent(event)
