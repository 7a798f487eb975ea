"""The setup form's lists (Project, Dataset, Base model, GPUs). Dataset and Base model offer first what
the chosen recipe can use, then the rest greyed out (shown, not selectable) with the recipe's reason
as the tooltip, in submit's words.

Greyed rather than hidden: a dataset gone from the list looked lost, and a column setting
(text_column, image_column...) can make it fit; the reason says which setting to change.

Which datasets fit depends on their per-field counts (`spark_trainer.recipes.fit.dataset_facts`),
read on the pool, never on the GUI thread: a dataset ingested before the counts were stored has its
whole manifest counted (once; the counts are stored with it). Until the pool's answer comes, a
dataset is judged by the counts stored with it (every dataset ingested since they are stored), else
by its kind alone, and the list is filled again when the answer comes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QEvent, QObject, Qt, QTimer
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import QComboBox

from app.views.model_sources import offered_models
from app.workers import Task, pending
from spark_trainer.errors import BadInput
from spark_trainer.recipes.fit import DataFacts, dataset_facts, facts_of
from spark_trainer.recipes.registry import get_recipe


class PathBox(QComboBox):
    """An editable box for a name or a path (a base model folder, a data file). A path longer than the
    box shows from its last part (the folder or file name) on, not its end nor its start: the Base model
    box showed "me/models/t" of a model's path, saying nothing of which model; the whole path is in the
    tooltip. The list elides long paths in the middle, keeping their names."""

    def __init__(self, tip: str) -> None:
        super().__init__()
        self.setEditable(True)
        self.view().setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self._tip = tip
        self._to_name = False
        self.lineEdit().installEventFilter(self)
        self.lineEdit().textChanged.connect(self._text_set)  # also when `fill_choices` puts it back, signals blocked

    def _text_set(self, text: str) -> None:
        self.setToolTip(f"{text}\n{self._tip}" if text else self._tip)
        self._to_name = True
        self.lineEdit().update()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt's name
        # QLineEdit scrolls as it paints, only as far as its cursor needs: a paint with the cursor at the
        # end, then the cursor back at the name's start, brings that start to the left edge when the
        # path is long (and leaves the end in sight when the name fits). Not while the user types.
        edit = self.lineEdit()
        if watched is edit and event.type() == QEvent.Type.Paint and self._to_name and not edit.hasFocus():
            self._to_name = False
            edit.setCursorPosition(len(edit.text()))
            QTimer.singleShot(0, self, self._cursor_to_name)
        return super().eventFilter(watched, event)

    def _cursor_to_name(self) -> None:
        text = self.lineEdit().text().rstrip("/\\")
        self.lineEdit().setCursorPosition(max(text.rfind("/"), text.rfind("\\")) + 1)

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 - Qt override
        super().resizeEvent(event)
        self._to_name = True


def narrow_to_room(box: QComboBox, chars: int = 16) -> None:
    """`box` asks for room for `chars` characters, not for its longest item: one 76-character project
    name made the Project box ask 501 px and the setup form scroll sideways at 1280 px. It still grows
    with the form; its list is as wide as its items need, and a cut choice is whole in its tooltip."""
    box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
    box.setMinimumContentsLength(chars)


@dataclass(frozen=True)
class Choice:
    text: str
    tip: str
    enabled: bool = True


def fill_choices(box: QComboBox, choices: Iterable[Choice]) -> None:
    """Replace the list, keeping what is typed in the box (it may name a greyed entry, or a path)."""
    text = box.currentText()
    box.blockSignals(True)
    box.clear()
    for choice in sorted(choices, key=lambda c: not c.enabled):  # stable: the given order within each part
        box.addItem(choice.text)
        row = box.count() - 1
        box.setItemData(row, choice.tip, Qt.ItemDataRole.ToolTipRole)
        if not choice.enabled:
            box.model().item(row).setEnabled(False)
    box.setCurrentText(text)
    box.blockSignals(False)


def dataset_choices(found: Iterable[Any], spec: Any, settings: dict[str, Any],
                    facts_of: Callable[[Any], DataFacts]) -> list[Choice]:
    """The project's datasets for recipe `spec` (None: no recipe chosen, all offered) with `settings`
    (the recipe settings as typed: they name the columns the recipe reads)."""
    choices = []
    for ds in found:
        what = f"{ds.kind}, {ds.num_train} train / {ds.num_val} val items"
        why = spec.data_problem(facts_of(ds), settings) if spec is not None else None
        choices.append(Choice(ds.name, f"Not for {spec.name}: {why} ({what})", False) if why else Choice(ds.name, what))
    return choices


def model_choices(models: Iterable[tuple[str, dict[str, str]]], recipe: str) -> list[Choice]:
    """Base models (with why each recipe cannot start from them: `model_sources.offered_models`)."""
    return [Choice(name, f"Not for {recipe}: {problems[recipe]}", False) if recipe in problems else Choice(name, "")
            for name, problems in models]


def read_facts(store: Any, found: list[Any], cancel: Any) -> dict[tuple[int, str], DataFacts]:
    """The facts of the datasets `found`, by (id, path); on a pool thread (it may count manifests)."""
    facts = {}
    for ds in found:
        if cancel.is_set():
            break
        facts[(ds.id, ds.path)] = dataset_facts(store, ds)
    return facts


class SetupChoicesMixin:
    """The lists of ExperimentSetupView, which provides the boxes (`project`, `dataset`, `base_model`,
    `gpus`, `gpu_info`), `recipe`, `forms`, `store` and `ctx`."""

    def _init_choices(self) -> None:
        self._models_task: Task | None = None
        self._models: list[tuple[str, dict[str, str]]] = []  # (model, why each recipe cannot use it)
        self._facts: dict[tuple[int, str], DataFacts] = {}  # per dataset (id, path): read once
        self._facts_task: Task | None = None
        self._gpus_default = "auto"  # Settings' Default GPUs, as last read: the GPUs box starts with it
        self._project_ids: dict[str, int] = {}  # the projects' ids by name when last listed
        self._dataset_ids: dict[str, int] = {}  # the listed datasets' ids by name, likewise
        self._gpus_follow = True  # until the user picks or types GPUs, or a run file names them
        self.gpus.activated.connect(self._gpus_chosen)
        self.gpus.lineEdit().textEdited.connect(self._gpus_chosen)
        self.ctx.setting_saved.connect(self._on_setting_saved)
        self._read_default_gpus()

    def _fill_projects(self) -> None:
        found = self.ctx.model.projects.projects
        names = [p.name for p in found]
        shown = self.project.currentText()
        # "default" stands in while no project is known (a launch creates it); once the list is read
        # (the form may open before the app's first read) a real project replaces it.
        placeholder = shown == "default" and not self._project_ids
        current = shown if shown and not placeholder else (names[-1] if names else "default")
        renamed = {p.id: p.name for p in found}.get(self._project_ids.get(shown, -1))
        if renamed is not None and renamed != shown:  # the project shown was renamed: it is still the one meant
            current = renamed
        elif shown in self._project_ids and shown not in names:  # deleted: Launch would make it again, empty
            chosen = {p.id: p.name for p in found}.get(self.ctx.current_project)  # type: ignore[arg-type]
            current = chosen or (names[-1] if names else "default")
        self._project_ids = {p.name: p.id for p in found}
        self.project.blockSignals(True)
        self.project.clear()
        self.project.addItems(names or ["default"])
        self.project.setCurrentText(current)
        self.project.blockSignals(False)
        if current != shown and shown:
            self._fill_datasets()
            self.revalidate()

    def _list_models(self) -> None:
        models_dir = self.store.home.models_dir
        task = Task(lambda _ctx: offered_models(models_dir), owner=self, name="model-folders")
        task.signals.succeeded.connect(self._on_models)
        self._models_task = self.ctx.tasks.start(task, self.ctx.pool)

    def _on_models(self, found: list[tuple[str, dict[str, str]]]) -> None:
        self._models = found
        self._fill_models()

    def _fill_models(self) -> None:
        fill_choices(self.base_model, model_choices(self._models, self.recipe.currentText()))

    def _fill_datasets(self) -> None:
        found = self.ctx.model.datasets.of_project(self.project.currentText())  # a new project has none yet
        self._read_facts(found)
        settings = self.forms["recipe_config"].values() if "recipe_config" in self.forms else {}
        shown = self.dataset.currentText()
        renamed = {d.id: d.name for d in found}.get(self._dataset_ids.get(shown, -1))
        self._dataset_ids = {d.name: d.id for d in found}
        fill_choices(self.dataset, dataset_choices(found, self._spec(), settings, self._facts_of))
        if renamed is not None and renamed != shown and shown not in self._dataset_ids:
            self.dataset.setCurrentText(renamed)  # the dataset shown was renamed: it is still the one meant

    def _facts_of(self, ds: Any) -> DataFacts:
        """The facts read on the pool; until they come, the counts stored with the dataset (already in
        the app model: no file is read here), and for a dataset stored without counts its kind alone."""
        read = self._facts.get((ds.id, ds.path))
        return read if read is not None else facts_of(ds.kind, (ds.meta or {}).get("fields"))

    def _read_facts(self, found: list[Any]) -> None:
        """Read, on the pool, the facts of the datasets not read yet (those a running read misses are
        read when it answers)."""
        wanted = [ds for ds in found if (ds.id, ds.path) not in self._facts]
        if not wanted or pending(self._facts_task):
            return
        store = self.store
        task = Task(lambda ctx: read_facts(store, wanted, ctx.cancel), owner=self, name="dataset-facts")
        task.signals.succeeded.connect(self._on_facts)
        self._facts_task = self.ctx.tasks.start(task, self.ctx.pool)

    def _on_facts(self, found: dict[tuple[int, str], DataFacts]) -> None:
        self._facts.update(found)
        self._fill_datasets()

    @property
    def reading_facts(self) -> bool:
        """Datasets' facts are being read (the Dataset list may still grey some out)."""
        return pending(self._facts_task)

    def _read_default_gpus(self) -> None:
        """Settings' Default GPUs, read on the pool (the ORM and SQLite stay off the GUI thread)."""
        from spark_trainer.store import settings

        store = self.store
        task = Task(lambda _ctx: settings.default_gpus(store), owner=self, name="default-gpus")
        task.signals.succeeded.connect(self._set_default_gpus)
        self.ctx.tasks.start(task, self.ctx.pool)

    def _on_setting_saved(self, key: str, value: object) -> None:
        if key == "default_gpus":
            self._set_default_gpus(str(value))

    def _gpus_chosen(self, *_args: object) -> None:
        self._gpus_follow = False

    def _set_default_gpus(self, value: str) -> None:
        """A GPUs box the user has not set (nor a loaded run file) follows the new default."""
        if self._gpus_follow:
            self.gpus.setCurrentText(value)
        self._gpus_default = value

    def _fill_gpus(self) -> None:
        text = self.gpus.currentText() or "auto"
        self.gpus.blockSignals(True)
        self.gpus.clear()
        self.gpus.addItems(["auto", "cpu"])
        found = list(self.ctx.gpu_monitor.gpus)
        lines = []
        for gpu in found:
            self.gpus.addItem(str(gpu.index))
            lines.append(f"GPU {gpu.index} {gpu.name}: {gpu.memory_free / 2**30:.1f} of "
                         f"{gpu.memory_total / 2**30:.1f} GiB free")
        if len(found) > 1:
            self.gpus.addItem(",".join(str(g.index) for g in found))
        self.gpus.setCurrentText(text)
        self.gpus.blockSignals(False)
        self.gpu_info.setText("\n".join(lines) if lines else
                              "No NVIDIA GPU found: runs train on the CPU (auto picks the CPU).")

    def _spec(self) -> Any:
        try:
            return get_recipe(self.recipe.currentText())
        except (BadInput, AttributeError):  # no recipe chosen yet
            return None
