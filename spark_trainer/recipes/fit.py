"""Whether a recipe can use a dataset or a base model, from cheap facts (no whole manifest read).

A dataset's facts are its kind and how many of its manifest's rows fill each field (a text record's
keys; an image row's `label` for class folders, `caption` for captioned images), counted at
ingestion and stored with the dataset (`spark_trainer.manifest_fields`); a dataset ingested before
that is counted by a bounded scan of its manifest's first rows. A model's facts are the files of
its folder (config.json, model_index.json, a tokenizer, an image processor).
Each recipe declares its rules (`RecipeSpec.data_fit`, `RecipeSpec.model_fit`); the setup form greys
out what does not fit, with the rule's reason, and submit refuses it with the same reason, so the
GUI and the CLI say the same thing. The recipe's full data check (`check_data`) still runs at submit;
a rule refuses only what that check surely refuses.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from spark_trainer.manifest_fields import scan_counts, stored_counts

TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "tokenizer.model", "vocab.json", "vocab.txt",
                   "spiece.model", "sentencepiece.bpe.model")
# The files transformers' AutoImageProcessor reads an image processor from (alone, or in a processor).
IMAGE_PROCESSOR_FILES = ("preprocessor_config.json", "processor_config.json")


@dataclass(frozen=True)
class DataFacts:
    """What a dataset is, as far as choosing a recipe goes."""

    kind: str
    fields: tuple[str, ...] = ()  # the fields some counted row fills (a text record's keys, an image row's)
    read: bool = True  # False: no readable manifest row, so the fields are unknown (not "none")
    rows: int = 0  # rows counted; 0: counts unknown (only `fields` is known)
    filled: tuple[tuple[str, int], ...] = ()  # (field, rows filling it)
    whole: bool = True  # False: `rows` are the first rows of a longer manifest (a bounded scan)
    lacking: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (field, the first rows' sources without it)

    @classmethod
    def counted(cls, kind: str, rows: int, filled: dict[str, int], whole: bool = True,
                lacking: dict[str, list[str]] | None = None) -> DataFacts:
        pairs = tuple(sorted((k, v) for k, v in filled.items() if v > 0))
        named = tuple(sorted((k, tuple(v)) for k, v in (lacking or {}).items() if v))
        return cls(kind, tuple(k for k, _ in pairs), rows=rows, filled=pairs, whole=whole, lacking=named)

    def listed(self) -> str:
        return ", ".join(self.fields) or "none"

    def count(self, field: str) -> int | None:
        """Rows filling `field`; None when only the fields are known."""
        if not self.rows:
            return None
        return dict(self.filled).get(field, 0)

    def short_of(self, field: str, noun: str, what: str) -> str | None:
        """'only 1 of 500 images has a caption (missing on b.png, c.png... and 494 more)' when a counted
        row lacks `field` (`what`: 'a caption'), 'none of its 500 images has a caption' when none fills
        it; None when every row does or the counts are unknown."""
        count = self.count(field)
        if count is None or count >= self.rows:
            return None
        plural = noun if self.rows == 1 else noun + "s"
        total = f"{self.rows:,} {plural}" if self.whole else f"the first {self.rows:,} {plural}"
        if count == 0:
            return f"none of {'its ' if self.whole else ''}{total} has {what}"
        named = dict(self.lacking).get(field, ())
        more = self.rows - count - len(named)
        without = f" (missing on {', '.join(named)}{f' and {more:,} more' if more > 0 else ''})" if named else ""
        return f"only {count:,} of {total} {'has' if count == 1 else 'have'} {what}{without}"


def data_facts(kind: str, folder: str | Path, summary: Any = None) -> DataFacts:
    """The facts of an ingested dataset folder: its kind and its manifest's per-field counts, from
    `summary` (what ingestion stored, `Dataset.meta["fields"]`) while it still describes the manifest,
    else from a bounded scan of the manifest's first rows. A folder without a readable manifest row
    gives `read=False`: its fields are unknown, so no fit rule refuses it and the recipe's full data
    check says what is wrong."""
    manifest = Path(folder) / "manifest.jsonl"
    try:
        counted = stored_counts(summary, manifest.stat().st_size) or scan_counts(manifest)
    except (OSError, UnicodeDecodeError):
        return DataFacts(kind, read=False)
    if counted is None or not counted.rows:
        return DataFacts(kind, read=False)
    return DataFacts.counted(kind, counted.rows, counted.filled, counted.whole, counted.lacking)


def dataset_facts(dataset: Any) -> DataFacts:
    """`data_facts` of a stored dataset (a `store.entities.Dataset`), with the counts it stored."""
    return data_facts(dataset.kind, dataset.path, (dataset.meta or {}).get("fields"))


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
