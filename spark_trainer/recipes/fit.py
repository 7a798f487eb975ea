"""Whether a recipe can use a dataset or a base model, from cheap facts (no whole manifest read).

A dataset's facts are its kind and the fields of its manifest's first row (a text record's keys;
an image row's filled fields: `label` for class folders, `caption` for captioned images). A model's
facts are the files of its folder (config.json, model_index.json, a tokenizer, an image processor).
Each recipe declares its rules (`RecipeSpec.data_fit`, `RecipeSpec.model_fit`); the setup form greys
out what does not fit, with the rule's reason, and submit refuses it with the same reason, so the
GUI and the CLI say the same thing. The recipe's full data check (`check_data`) still runs at submit.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "tokenizer.model", "vocab.json", "vocab.txt",
                   "spiece.model", "sentencepiece.bpe.model")
# The files transformers' AutoImageProcessor reads an image processor from (alone, or in a processor).
IMAGE_PROCESSOR_FILES = ("preprocessor_config.json", "processor_config.json")
_BOOKKEEPING = ("split", "sha256", "source", "path", "width", "height")  # every image row has these


@dataclass(frozen=True)
class DataFacts:
    """What a dataset is, as far as choosing a recipe goes."""

    kind: str
    fields: tuple[str, ...] = ()  # the first row's fields (a text record's keys, an image row's filled ones)
    read: bool = True  # False: no readable manifest row, so the fields are unknown (not "none")

    def listed(self) -> str:
        return ", ".join(self.fields) or "none"


def data_facts(kind: str, folder: str | Path) -> DataFacts:
    """The facts of an ingested dataset folder: its kind and its manifest's first row (one line read).
    A folder without a readable manifest row gives `read=False`: its fields are unknown, so no fit rule
    refuses it and the recipe's full data check says what is wrong."""
    try:
        with open(Path(folder) / "manifest.jsonl", encoding="utf-8") as fh:
            line = next((line for line in fh if line.strip()), "")
        row = json.loads(line) if line else {}
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return DataFacts(kind, read=False)
    if not isinstance(row, dict) or not row:
        return DataFacts(kind, read=False)
    if isinstance(row.get("record"), dict):  # a text row: the user's own columns
        return DataFacts(kind, tuple(sorted(str(k) for k in row["record"])))
    filled = [k for k, v in row.items() if k not in _BOOKKEEPING and v not in (None, "", [], {})]
    return DataFacts(kind, tuple(sorted(filled)))


def missing_field(facts: DataFacts, setting: str, column: str) -> str | None:
    """The reason a text dataset lacks the column a recipe setting names, else None."""
    if column in facts.fields:
        return None
    return f"its records have no {column!r} field (recipe_config.{setting}); fields: {facts.listed()}"


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
