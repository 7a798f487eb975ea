"""Renaming a dataset: its record (`spark_trainer.store.datasets.rename`), then its card's heading.

The folder is `datasets/<id>` and everything that trains, evaluates or exports finds the dataset by
id, so nothing else moves. The card (README.md) is the one file in the folder that names the dataset:
its `# name` heading follows the rename, as the Card tab and `dataset card` show it. The database is
the record; a card that cannot be rewritten is said, not an error (the rename stands).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from spark_trainer.disk import replace_bytes
from spark_trainer.ingest.browse import CARD
from spark_trainer.store import datasets
from spark_trainer.store.entities import Dataset
from spark_trainer.store.store import Store


@dataclass(frozen=True)
class Renamed:
    dataset: Dataset  # as it is now
    old_name: str
    card_note: str = ""  # why the card still reads the old name ("" when it was retitled or had no heading)


def rename_dataset(store: Store, ref: str | int, new_name: str, project: str | int | None = None) -> Renamed:
    """Rename the dataset `ref` (name or id, within `project` if given) and retitle its card.

    Raises:
        BadInput, NotFound, Conflict: as `datasets.rename`; nothing is written then.
    """
    before = datasets.get(store, ref, project)
    after = datasets.rename(store, before.id, new_name)
    note = ""
    folder = Path(after.path)
    if after.name != before.name and folder.is_relative_to(store.home.datasets_dir):
        note = retitle_card(folder, before.name, after.name)
    return Renamed(after, before.name, note)


def retitle_card(folder: Path, old: str, new: str) -> str:
    """Put `# new` for the card's first line where it reads `# old`; a card edited by hand (another
    heading) or none at all is left as it is. Returns "" or why the card was not rewritten."""
    path = folder / CARD
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return ""
    except (OSError, UnicodeDecodeError) as exc:
        return f"the card {path} still says {old!r}: {exc}"
    first, newline, rest = text.partition("\n")
    if first.rstrip() != f"# {old}":
        return ""
    try:
        replace_bytes(path, f"# {new}{newline}{rest}".encode())
    except OSError as exc:
        return f"the card {path} still says {old!r}: {exc.strerror or exc}"
    return ""
