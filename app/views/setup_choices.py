"""The setup form's Dataset and Base model lists: first what the chosen recipe can use, then the rest
greyed out (shown, not selectable) with the recipe's reason as the tooltip, in submit's words.

Greyed rather than hidden: a dataset gone from the list looked lost, and a column setting
(text_column, image_column...) can make it fit; the reason says which setting to change.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox

from spark_trainer.recipes.fit import DataFacts


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
