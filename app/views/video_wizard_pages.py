"""The video wizard's configure, process and summary pages."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QRadioButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWizard,
    QWizardPage,
)

from app import file_dialogs
from app.forms.cells import scrolled_page
from app.forms.labels import label_inputs
from app.widgets import MessageBanner
from app.workers import Task, TaskContext, pending
from spark_trainer.errors import SparkError
from spark_trainer.ingest.video.checks import SettingNames, check_resize
from spark_trainer.store import projects

if TYPE_CHECKING:
    from app.views.video_wizard import VideoWizard

FRAMES_IN_MESSAGE = re.compile(r"\((\d+)/(\d+) frames\)")
LOG_LINES = 2000

# The Configure page's labels, which the core's messages and notes name too (else the command's flags:
# "--resize must be at least 32 pixels", "no model given (--caption-model ...)", to a user of boxes).
LABELS = SettingNames(fps="Rate", every_n="Every N frames", max_frames="Max frames", resize="Resize",
                      caption_model="Caption model", transcribe_model="Transcription model")


class ConfigurePage(QWizardPage):
    def __init__(self, wizard: VideoWizard) -> None:
        super().__init__(wizard)  # owned by the wizard on the C++ side from the start
        self.setTitle("Configure")
        self.setSubTitle("How frames are chosen and processed. The estimate updates as you change settings.")
        self.owner = wizard
        form = QFormLayout(scrolled_page(self))
        self.project = QComboBox()
        self.name = QLineEdit()
        self.name.setPlaceholderText("automatic (from the first folder or video added)")
        form.addRow("Project", self.project)
        form.addRow("Dataset name", self.name)
        self.mode_fps = QRadioButton("Frames per second")
        self.mode_every = QRadioButton("Every N-th frame")
        self.mode_scenes = QRadioButton("One frame per scene")
        self.modes = QButtonGroup(self)
        for button in (self.mode_fps, self.mode_every, self.mode_scenes):
            self.modes.addButton(button)
        self.mode_fps.setChecked(True)
        mode_row = QHBoxLayout()
        for button in (self.mode_fps, self.mode_every, self.mode_scenes):
            mode_row.addWidget(button)
        form.addRow("Sampling", mode_row)
        self.fps = self._double(0.01, 120.0, 1.0, 2, " fps")
        self.every_n = self._int(1, 100_000, 30, "")
        self.scene_threshold = self._double(0.01, 1.0, 0.35, 2, "")
        self.scene_threshold.setToolTip("Histogram distance between frames that starts a new scene (lower: more scenes)")
        form.addRow(LABELS.fps, self.fps)
        form.addRow(LABELS.every_n, self.every_n)
        form.addRow("Scene threshold", self.scene_threshold)
        self.max_frames = self._int(0, 1_000_000, 0, " per video")
        self.max_frames.setSpecialValueText("no limit")
        self.resize_px = self._int(0, 8192, 0, " px (longest side)")
        self.resize_px.setSpecialValueText("keep original size")
        form.addRow(LABELS.max_frames, self.max_frames)
        form.addRow(LABELS.resize, self.resize_px)
        self.dedupe = QCheckBox("Drop near-duplicate frames (perceptual hash)")
        form.addRow("Dedupe", self.dedupe)
        self.caption_model = self._path_row(form, LABELS.caption_model, "optional: a local image-to-text model folder")
        self.transcribe_model = self._path_row(form, LABELS.transcribe_model, "optional: a local speech model folder")
        self.val_fraction = self._double(0.0, 0.9, 0.1, 2, "")
        form.addRow("Validation fraction", self.val_fraction)
        self.estimate = QLabel("")
        self.estimate.setObjectName("Muted")
        self.error = MessageBanner()
        form.addRow("", self.estimate)
        form.addRow("", self.error)
        label_inputs(form)
        for signal in (self.fps.valueChanged, self.every_n.valueChanged, self.max_frames.valueChanged,
                       self.resize_px.valueChanged, self.modes.buttonToggled, self.caption_model.textChanged,
                       self.transcribe_model.textChanged, self.name.textChanged, self.project.currentIndexChanged,
                       self.dedupe.toggled):
            signal.connect(self._changed)

    def _double(self, low: float, high: float, value: float, decimals: int, suffix: str) -> QDoubleSpinBox:
        box = QDoubleSpinBox()
        box.setRange(low, high)
        box.setDecimals(decimals)
        box.setValue(value)
        box.setSuffix(suffix)
        return box

    def _int(self, low: int, high: int, value: int, suffix: str) -> QSpinBox:
        box = QSpinBox()
        box.setRange(low, high)
        box.setValue(value)
        box.setSuffix(suffix)
        return box

    def _path_row(self, form: QFormLayout, label: str, placeholder: str) -> QLineEdit:
        edit = QLineEdit()
        edit.setPlaceholderText(placeholder)
        browse = QPushButton("Browse…")
        browse.clicked.connect(lambda: edit.setText(file_dialogs.existing_dir(self, label) or edit.text()))
        row = QHBoxLayout()
        row.addWidget(edit, 1)
        row.addWidget(browse)
        form.addRow(label, row)
        return edit

    def initializePage(self) -> None:  # noqa: N802 - Qt override
        self.project.blockSignals(True)
        self.project.clear()
        for project in self.owner.ctx.model.projects.projects:  # the app model's list: no store read
            self.project.addItem(project.name, project.id)
        index = self.project.findData(self.owner.project_id)
        self.project.setCurrentIndex(max(index, 0))
        self.project.blockSignals(False)
        self._changed()

    def mode(self) -> str:
        return "every_n" if self.mode_every.isChecked() else ("scenes" if self.mode_scenes.isChecked() else "fps")

    def options(self) -> Any:
        from spark_trainer.ingest.video import VideoOptions

        return VideoOptions(
            mode=self.mode(), fps=self.fps.value(), every_n=self.every_n.value(),
            scene_threshold=self.scene_threshold.value(), max_frames=self.max_frames.value() or None,
            resize=self.resize_px.value() or None, dedupe=self.dedupe.isChecked(),
            caption_model=self.caption_model.text().strip() or None,
            transcribe_model=self.transcribe_model.text().strip() or None, val_fraction=self.val_fraction.value(),
        )

    def problem(self) -> str:
        """Why these settings cannot run, or '' when they can."""
        if self.project.currentData() is None:
            return "Choose a project (create one in Projects first)."
        if self.name.text().strip():
            try:
                projects.validate_name(self.name.text(), "dataset")
            except SparkError as exc:
                return str(exc)
        try:
            options = self.options()
            options.validate(LABELS)
            options.model_folders(LABELS)  # a model path given must be a folder, as the command refuses
            check_resize(options.resize, self.owner.probes, names=LABELS)
        except SparkError as exc:
            return str(exc)
        return ""

    def expected_frames(self) -> int | None:
        """Frames the settings should give (before dedupe), or None when it depends on scene detection.
        Counted as the disk estimate counts them (space.kept_indices), from the probes' frame times."""
        from spark_trainer.ingest.video import space

        mode = self.mode()
        if mode == "scenes":
            return None
        return sum(len(space.kept_indices(probe, mode, fps=self.fps.value(), every_n=self.every_n.value(),
                                          max_frames=self.max_frames.value() or None))
                   for probe in self.owner.probes if not probe.problems)

    def _changed(self, *_args: object) -> None:
        mode = self.mode()
        self.fps.setEnabled(mode == "fps")
        self.every_n.setEnabled(mode == "every_n")
        self.scene_threshold.setEnabled(mode == "scenes")
        expected = self.expected_frames()
        note = ", fewer after dedupe" if self.dedupe.isChecked() else ""
        self.estimate.setText(f"About {expected:,} frames from {len(self.owner.good_videos())} video(s){note}."
                              if expected is not None else "One frame per detected scene (decodes every frame).")
        problem = self.problem()
        if problem:
            self.error.show_message(problem, "error")
        else:
            self.error.clear_message()
        self.completeChanged.emit()

    def isComplete(self) -> bool:  # noqa: N802 - Qt override
        return not self.problem()


class ProcessPage(QWizardPage):
    def __init__(self, wizard: VideoWizard) -> None:
        super().__init__(wizard)  # owned by the wizard on the C++ side from the start
        self.setTitle("Process")
        self.setSubTitle("Extracting frames. Back or Cancel stops; finished videos are cached, so a re-run is quick.")
        self.owner = wizard
        self.task: Task | None = None
        self.current = QLabel("")
        self.video_progress = QProgressBar()
        self.video_progress.setFormat("this video: %v / %m frames")
        self.overall = QProgressBar()
        self.overall.setFormat("all videos: %v / %m")
        self.cancel_button = QPushButton("Cancel processing")
        self.cancel_button.clicked.connect(self.cancel)
        self.log = QPlainTextEdit()
        self.log.setReadOnly(True)
        self.log.setMaximumBlockCount(LOG_LINES)
        self.banner = MessageBanner()
        layout = QVBoxLayout(scrolled_page(self))
        layout.addWidget(self.current)
        layout.addWidget(self.video_progress)
        layout.addWidget(self.overall)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(self.cancel_button)
        layout.addLayout(row)
        layout.addWidget(self.banner)
        layout.addWidget(self.log, 1)
        self._last_line = ""

    @property
    def running(self) -> bool:
        return pending(self.task)

    def initializePage(self) -> None:  # noqa: N802 - Qt override
        owner = self.owner
        configure = owner.configure_page
        videos, options = owner.good_videos(), configure.options()
        project, name = configure.project.currentData(), configure.name.text().strip() or None
        named_after = owner.named_after
        owner.result = None
        self.log.clear()
        self.banner.clear_message()
        self.overall.setRange(0, len(videos))
        self.overall.setValue(0)
        self.video_progress.setRange(0, 0)
        self.cancel_button.setEnabled(True)
        self._log(f"Processing {len(videos)} video(s) into project {configure.project.currentText()!r}…")

        def build(ctx: TaskContext) -> Any:
            from spark_trainer.ingest.video import build_video_dataset

            return build_video_dataset(owner.store, videos, project=project, name=name, options=options,
                                       progress=ctx.progress, cancel=ctx.cancel, named_after=named_after,
                                       names=LABELS)

        task = Task(build, owner=self, name="video wizard")
        task.signals.progress.connect(self._on_progress)
        task.signals.succeeded.connect(self._on_done)
        task.signals.failed.connect(self._on_failed)
        task.signals.cancelled.connect(lambda: self._stopped("Cancelled; nothing was saved. Go Back to change "
                                                             "settings and try again.", "warning"))
        self.task = owner.ctx.tasks.start(task, owner.ctx.pool)
        self.completeChanged.emit()

    def cleanupPage(self) -> None:  # noqa: N802 - Qt override: Back was pressed
        self.cancel()

    def cancel(self) -> None:
        if self.running and self.task is not None:
            self.task.cancel()
            self.cancel_button.setEnabled(False)
            self._log("Cancelling…")

    def _log(self, line: str) -> None:
        if line != self._last_line:
            self._last_line = line
            self.log.appendPlainText(line)

    def _on_progress(self, progress: Any) -> None:
        self.overall.setMaximum(max(progress.total, 1))
        self.overall.setValue(min(progress.done, progress.total))
        if progress.current:
            self.current.setText(f"Now: {Path(progress.current).name}")
        frames = FRAMES_IN_MESSAGE.search(progress.message)
        if frames:
            done, total = int(frames.group(1)), int(frames.group(2))
            self.video_progress.setRange(0, max(total, 1))
            self.video_progress.setValue(min(done, total))
        self._log(FRAMES_IN_MESSAGE.sub("", progress.message).strip())

    def _on_done(self, result: Any) -> None:
        self.owner.result = result
        self.overall.setValue(self.overall.maximum())
        self.video_progress.setRange(0, 1)
        self.video_progress.setValue(1)
        self.video_progress.setFormat("done")
        self._stopped(f"Done: dataset {result.dataset.name!r} with {result.dataset.num_items:,} frames.", "ok")
        self.owner.ctx.model.datasets.apply_written(result.dataset)  # every view lists it now
        self.owner.ctx.model.refresh()

    def _on_failed(self, message: str, _exc: object) -> None:
        self._stopped(f"Failed: {message}", "error")

    def _stopped(self, text: str, role: str) -> None:
        self.cancel_button.setEnabled(False)
        self._log(text)
        self.banner.show_message(text, role)
        self.completeChanged.emit()

    def isComplete(self) -> bool:  # noqa: N802 - Qt override
        return self.owner.result is not None


class SummaryPage(QWizardPage):
    def __init__(self, wizard: VideoWizard) -> None:
        super().__init__(wizard)  # owned by the wizard on the C++ side from the start
        self.setTitle("Summary")
        # The dataset is saved by now: Close, not Cancel. A page's own text, since QWizard rewrites its
        # buttons' texts after initializePage (a setText there was undone).
        self.setButtonText(QWizard.WizardButton.CancelButton, "Close")
        self.owner = wizard
        self.headline = QLabel("")
        self.headline.setWordWrap(True)
        self.link = QLabel("")
        self.link.linkActivated.connect(lambda _href: self.owner.accept())
        self.table = QTableWidget(0, 5)
        self.table.setTabKeyNavigation(False)  # Tab leaves the table (Qt's tables keep it)
        self.table.setHorizontalHeaderLabels(["Video", "Frames", "Scenes", "Near duplicates dropped",
                                              "From cache / problem"])
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.notes = QLabel("")
        self.notes.setObjectName("Muted")
        self.notes.setWordWrap(True)
        layout = QVBoxLayout(scrolled_page(self))
        for widget in (self.headline, self.link, self.table, self.notes):
            layout.addWidget(widget)

    def initializePage(self) -> None:  # noqa: N802 - Qt override
        result = self.owner.result
        dataset, report = result.dataset, result.report
        skipped = sum(1 for p in self.owner.probes if p.problems)  # never sent: not in the report's counts
        self.headline.setText(f"<b>{dataset.name}</b> in project {dataset.project}: {dataset.num_items:,} frames "
                              f"(train {dataset.num_train:,}, val {dataset.num_val:,}); "
                              + (f"{skipped} video(s) skipped (listed below); " if skipped else "")
                              + f"{report.num_rejected} item(s) rejected, {report.num_duplicates} exact duplicate(s).")
        self.link.setText(f'<a href="dataset:{dataset.id}">Open {dataset.name} in the Datasets view</a>')
        videos: dict[str, Any] = report.extra.get("videos", {})
        rows = []
        for source, info in videos.items():
            if info.get("rejected"):
                rows.append([source, "rejected", "-", "-", "; ".join(info.get("problems", []))])
            else:
                rows.append([source, info.get("frames", "-"), len(info.get("scenes", []) or []),
                             len(info.get("near_duplicates", []) or []), "yes" if info.get("cached") else "no"])
        # Videos the inspect page flagged were never sent: list them so the summary accounts for every one.
        rows += [[Path(p.path).name, "skipped", "-", "-", "; ".join(p.problems)]
                 for p in self.owner.probes if p.problems]
        self.table.setRowCount(len(rows))
        for row, cells in enumerate(rows):
            for column, value in enumerate(cells):
                self.table.setItem(row, column, QTableWidgetItem(str(value)))
        self.table.resizeColumnsToContents()
        self.notes.setText("\n".join(report.notes))
