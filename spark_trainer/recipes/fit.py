"""Whether a recipe can use a dataset or a base model, from cheap facts (no manifest read, but once).

A dataset's facts are its kind, how many of its manifest's rows fill each field (a text record's
keys; an image row's `label` for class folders, `caption` for captioned images) and its images'
shorter sides (from the manifest's width and height: no image is opened), counted at
ingestion and stored with the dataset (`spark_trainer.manifest_fields`); a dataset ingested before
that is counted once and the counts stored with it then. A model's facts are the files of
its folder (config.json, model_index.json, a tokenizer, an image processor).
Each recipe declares its rules (`RecipeSpec.data_fit`, `RecipeSpec.model_fit`); the setup form greys
out what does not fit, with the rule's reason, and submit refuses it with the same reason, so the
GUI and the CLI say the same thing. The recipe's full data check (`check_data`) still runs at submit;
a rule refuses only what that check surely refuses.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from spark_trainer.store import dataset_counts
from spark_trainer.store.store import Store

MANIFEST = "manifest.jsonl"
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "tokenizer.model", "vocab.json", "vocab.txt",
                   "spiece.model", "sentencepiece.bpe.model")
# The files transformers' AutoImageProcessor reads an image processor from (alone, or in a processor).
IMAGE_PROCESSOR_FILES = ("preprocessor_config.json", "processor_config.json")


@dataclass(frozen=True)
class DataFacts:
    """What a dataset is, as far as choosing a recipe goes: its kind and, when its rows were counted,
    how many fill each field. Build counted facts with `counted`."""

    kind: str
    rows: int = 0  # rows counted; 0: counts unknown (no readable manifest row, or too many fields to count)
    filled: tuple[tuple[str, int], ...] = ()  # (field, rows filling it) for each field some row fills, sorted
    lacking: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (field, the first rows' sources without it)
    sides: tuple[tuple[int, int], ...] = ()  # (shorter side in px, images), sorted; see manifest_fields.side_of

    @classmethod
    def counted(cls, kind: str, rows: int, filled: dict[str, int],
                lacking: dict[str, list[str]] | None = None, sides: dict[int, int] | None = None) -> DataFacts:
        pairs = tuple(sorted((k, v) for k, v in filled.items() if v > 0))
        named = tuple(sorted((k, tuple(v)) for k, v in (lacking or {}).items() if v))
        return cls(kind, rows=rows, filled=pairs, lacking=named, sides=_sides(sides))

    @property
    def images(self) -> int:
        """Images whose size the manifest gives."""
        return sum(n for _, n in self.sides)

    def images_under(self, side: int) -> int:
        """Images whose shorter side is under `side` pixels."""
        return sum(n for s, n in self.sides if s < side)

    def typical_side(self) -> int | None:
        """The images' median shorter side (to manifest_fields.SIDE_STEP px); None when none is known."""
        half, seen = self.images / 2, 0
        for side, n in self.sides:
            seen += n
            if seen >= half:
                return side
        return None

    @property
    def read(self) -> bool:
        """Rows were counted; False: the fields are unknown (not "none"), so no fit rule refuses."""
        return self.rows > 0

    @property
    def fields(self) -> tuple[str, ...]:
        """The fields some row fills (a text record's keys, an image row's `label`, `caption`)."""
        return tuple(k for k, _ in self.filled)

    def listed(self) -> str:
        return ", ".join(self.fields) or "none"

    def count(self, field: str) -> int:
        """Rows filling `field`."""
        return dict(self.filled).get(field, 0)

    def short_of(self, field: str, noun: str, what: str) -> str | None:
        """'only 1 of 500 images has a caption (missing on b.png, c.png... and 494 more)' when a counted
        row lacks `field` (`what`: 'a caption'), 'none of its 500 images has a caption' when none fills
        it; None when every row does or the counts are unknown."""
        count = self.count(field)
        if count >= self.rows:
            return None
        total = f"{self.rows:,} {noun if self.rows == 1 else noun + 's'}"
        if count == 0:
            return f"none of its {total} has {what}"
        named = dict(self.lacking).get(field, ())
        more = self.rows - count - len(named)
        without = f" (missing on {', '.join(named)}{f' and {more:,} more' if more > 0 else ''})" if named else ""
        return f"only {count:,} of {total} {'has' if count == 1 else 'have'} {what}{without}"


def facts_of(kind: str, summary: Any) -> DataFacts:
    """The facts a stored summary (`FieldTally.summary`) gives; counts unknown without one, or when
    the rows had too many fields to count (the images' sides are known then all the same)."""
    if not isinstance(summary, Mapping):
        return DataFacts(kind)
    stored = summary.get("sides")
    sides = {int(k): v for k, v in stored.items() if str(k).isdigit() and isinstance(v, int)} \
        if isinstance(stored, Mapping) else {}
    if summary.get("overflow") or not isinstance(summary.get("filled"), Mapping):
        return DataFacts(kind, sides=_sides(sides))
    rows, filled, lacking = summary.get("rows"), summary["filled"], summary.get("lacking")
    named = {str(k): [str(s) for s in v] for k, v in lacking.items() if isinstance(v, list)} \
        if isinstance(lacking, Mapping) else {}
    return DataFacts.counted(kind, rows if isinstance(rows, int) else 0,
                             {str(k): v for k, v in filled.items() if isinstance(v, int)}, named, sides)


def _sides(sides: dict[int, int] | None) -> tuple[tuple[int, int], ...]:
    return tuple(sorted((k, v) for k, v in (sides or {}).items() if v > 0))


def dataset_facts(store: Store, dataset: Any) -> DataFacts:
    """The facts of a stored dataset (a `store.entities.Dataset`), from the counts stored with it.
    A dataset without them (ingested before they were stored) or whose manifest changed since is
    counted once and the counts stored with it (`dataset_counts.counted`): reads the whole manifest
    then, so the GUI asks this on a pool thread."""
    return facts_of(dataset.kind, dataset_counts.counted(store, dataset))


def missing_field(facts: DataFacts, setting: str, column: str) -> str | None:
    """The reason a text dataset lacks the column a recipe setting names, else None."""
    if column in facts.fields:
        return None
    return f"its records have no {column!r} field (recipe_config.{setting}); fields: {facts.listed()}"


def unfilled_field(facts: DataFacts, setting: str, column: str, need: str) -> str | None:
    """The reason some text rows leave empty the column a recipe needs on every row (`need`: what
    the recipe says it needs it for), else None."""
    short = facts.short_of(column, "record", f"a {column!r} value")
    if short is None:
        return None
    return f"{short}; {need} (recipe_config.{setting})"


# --- base models ---------------------------------------------------------------------------------
def is_pipeline(folder: Path) -> bool:
    return (Path(folder) / "model_index.json").is_file()


def has_image_processor(folder: Path) -> bool:
    return any((Path(folder) / name).is_file() for name in IMAGE_PROCESSOR_FILES)


def has_tokenizer(folder: Path) -> bool:
    return any((Path(folder) / name).is_file() for name in TOKENIZER_FILES)


def needs_pipeline(folder: Path) -> str | None:
    if is_pipeline(folder):
        return None
    return "it is not a diffusers pipeline (no model_index.json); diffusion-lora trains a LoRA on a Stable-Diffusion-style pipeline"


def needs_text_model(folder: Path) -> str | None:
    """A transformers model with a tokenizer (causal-lm, text-classification)."""
    if is_pipeline(folder):
        return "it is a diffusers pipeline; this recipe needs a transformers model (a folder with config.json)"
    if not has_tokenizer(folder):
        return "it has no tokenizer (tokenizer.json, tokenizer_config.json, vocab...); save the model with its tokenizer"
    return None


def needs_image_model(folder: Path) -> str | None:
    """A transformers vision model saved with its image processor (image-classification)."""
    if is_pipeline(folder):
        return "it is a diffusers pipeline; image-classification needs an image classifier (a folder with config.json)"
    if not has_image_processor(folder):
        return ("it has no image processor (preprocessor_config.json); image-classification needs an image "
                "classifier saved with its image processor")
    return None
