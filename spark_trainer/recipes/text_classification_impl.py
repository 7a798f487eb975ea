"""The text-classification recipe's implementation (imports torch; loaded only to train)."""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from spark_trainer.config.schema import ExperimentConfig
from spark_trainer.errors import BadInput, ConfigError
from spark_trainer.manifest_fields import is_filled
from spark_trainer.models.loading import resolve_for_run
from spark_trainer.recipes import classification as cls
from spark_trainer.recipes import token_cache
from spark_trainer.recipes.base import EvalResult, Sample
from spark_trainer.recipes.text_classification import TextClassificationConfig
from spark_trainer.recipes.text_classification_data import (
    ARRAYS,
    LAYOUT,
    Encoded,
    Examples,
    Tokenized,
    consistent,
    encode_all,
    truncate,
)
from spark_trainer.training.data import Record, dataset_records, evaluated_rows, read_records, require_rows

# recipe_config fields that change the rows a dataset encodes to (the token cache's key)
ENCODING_FIELDS = ("text_column", "label_column", "max_length", "label_names")
__all__ = ["ENCODING_FIELDS", "Encoded", "TextClassificationRecipe"]
# Models whose position ids start after the padding id (RoBERTa's scheme): max_position_embeddings
# less pad_token_id + 1 positions are left for tokens (514 - 2 = 512 for roberta-base).
_OFFSET_POSITIONS = frozenset({"roberta", "xlm-roberta", "xlm-roberta-xl", "camembert", "longformer",
                               "data2vec-text", "xmod", "roberta-prelayernorm", "ibert", "mpnet", "luke"})


class TextClassificationRecipe:
    """A sequence-classification head for the dataset's label set; rows are tokenized up front (a
    batch of texts per tokenizer call), and an ingested dataset's rows are kept in its token cache
    for the next run on it."""

    unit = "examples"
    loader_workers = 0

    def __init__(self, config: ExperimentConfig) -> None:
        self.config = config
        self.rc = TextClassificationConfig.model_validate(config.recipe_config)
        self.model_dir: Path | None = None
        self.tokenizer: Any = None
        self.labels: cls.LabelSet | None = None
        self.train_data: Examples | list[Encoded] = []
        self.val_data: Sequence[Encoded] = []
        self.sample_items: list[Encoded] = []  # rows with their texts, for the samples
        self.weights: list[float] | None = None
        self.truncated = 0
        self.data_notes: list[str] = []  # lines for the run's log from preparing the data
        self.class_splits: dict[str, tuple[int, int]] = {}  # each class's (training, validation) rows, once read
        self.model_notes: list[str] = []  # and from building the model
        self._head: list[str] = []

    # ---- data ---------------------------------------------------------------------------------
    def label_names(self, data_path: Path) -> list[str]:
        """The class names a model trained on this dataset has (what evaluation data is checked against)."""
        return self._scan(Path(data_path)).names

    def check_data(self, data_path: Path) -> None:
        """Submit's check: the columns exist, labels are texts or integers, there are 2+ classes, and
        each has a training row."""
        self._scan(Path(data_path))
        if problem := cls.untrained_classes(self.class_splits):
            raise BadInput(f"dataset {data_path}: {problem}")

    def _scan(self, data_path: Path) -> cls.LabelSet:
        """`_read`'s checks and label set, an ingested dataset read as a stream: submit's check (and
        the setup form's) held a 500k-row dataset's records, 600 MB in the process that submits."""
        if data_path.is_dir():
            return self._checked_labels(dataset_records(data_path), data_path)
        return self._read(data_path)[1]

    def _read(self, data_path: Path) -> tuple[list[Record], cls.LabelSet]:
        records = read_records(data_path, self.config.eval.val_fraction)
        return records, self._checked_labels(records, data_path)

    def _checked_labels(self, records: Iterable[Record], data_path: Path) -> cls.LabelSet:
        """The label set of `records`, read once. BadInput, in this order: a
        column missing from a row (the text column's first), then the first row whose label or text is wrong."""
        text, label = self.rc.text_column, self.rc.label_column
        missing: dict[str, Record] = {}
        problem: str | None = None
        columns: set[str] = set()
        values: dict[tuple[str, Any], Any] = {}  # each distinct label as written (1 and 1.0 apart)
        counted: Counter[tuple[tuple[str, Any], str]] = Counter()  # rows of each of them in each split
        total = train = 0
        for r in records:
            total += 1
            train += r.split == "train"
            columns.update(str(k) for k in r.data)
            for column in (text, label):
                if column not in r.data:
                    missing.setdefault(column, r)
            if missing or problem is not None:
                continue
            problem = self._row_problem(r)
            if problem is None:
                value = r.data[label]
                key = (type(value).__name__, value if isinstance(value, (str, int, float)) else repr(value))
                values.setdefault(key, value)
                counted[key, r.split] += 1
        require_rows(data_path, total, train)
        for column in (text, label):
            if column in missing:
                which = "recipe_config.text_column" if column == text else "recipe_config.label_column"
                raise BadInput(f"dataset {data_path}: {which} {column!r} is not a column of "
                               f"{missing[column].source}; columns found: {', '.join(sorted(columns))}")
        if problem is not None:
            raise BadInput(problem)
        labels = cls.LabelSet(values.values(), label, f"dataset {data_path}", as_written=self.rc.label_names == "as-written")
        self.class_splits = cls.class_splits(labels, ((values[key], split, n) for (key, split), n in counted.items()))
        return labels

    def prepare(self, data_path: Path) -> None:
        self._load_tokenizer()
        tokenized = self._tokenized(Path(data_path))
        self._check_fits(tokenized)
        self.labels = cls.LabelSet.from_names(tokenized.names, as_written=self.rc.label_names == "as-written")
        self.truncated = tokenized.truncated
        # Submit refuses such a dataset; a run queued before that check trains all the same, and says so.
        if untrained := cls.untrained_classes(tokenized.class_splits()):
            self.data_notes.append(f"this run cannot learn what only validation holds: {untrained}")
        train, val = tokenized.splits()
        self.train_data = train
        self.val_data, note = evaluated_rows(val, self.rc.eval_max_rows)
        self.data_notes += [note] if note else []
        self.sample_items = tokenized.sample_items()
        if self.rc.class_weights == "balanced":
            self.weights = cls.class_weights(train.labels.tolist(), len(self.labels))

    def prepare_model(self, data_path: Path) -> None:
        """What `build_model` needs (the base, its tokenizer, the label set) without encoding a row:
        an export or an evaluation needs only the label names, and tokenizing a large dataset for
        them took most of an export's time and memory. The names are `prepare`'s (same column, same
        normalisation, same order)."""
        self._load_tokenizer()
        self.labels = self._scan(Path(data_path))

    def prepare_labels(self, names: list[str]) -> None:
        """What `build_model` needs, with the label set given (a run's own, `run_label_names`): no data read."""
        self._load_tokenizer()
        self.labels = cls.LabelSet.from_names(names, as_written=self.rc.label_names == "as-written")

    def _load_tokenizer(self) -> None:
        from transformers import AutoTokenizer

        self.model_dir = resolve_for_run(self.config.base_model)
        self.tokenizer = AutoTokenizer.from_pretrained(self.model_dir, local_files_only=True)
        if self.tokenizer.pad_token_id is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token

    def _tokenized(self, data_path: Path) -> Tokenized:
        """Every row of `data_path` encoded: from the token cache of an ingested dataset when an
        earlier run encoded it the same way, else tokenized now (and cached)."""
        assert self.model_dir is not None
        started = time.monotonic()
        settings = {"recipe": "text-classification", "layout": LAYOUT,
                    **self.rc.model_dump(include=set(ENCODING_FIELDS))}
        if self.rc.label_names == "normalized":  # a cache written before labels were NFC may hold 'é' twice
            settings["label_unicode"] = "NFC"
        cache_key = token_cache.key(data_path, self.model_dir, settings)
        if cache_key is not None:
            arrays = token_cache.load_arrays(data_path, cache_key, ARRAYS, consistent)
            if arrays is not None:
                self.data_notes.append(f"tokenized rows read from the cache in {time.monotonic() - started:.1f} s: "
                                       f"{token_cache.path_for(data_path, cache_key)}")
                return Tokenized.from_arrays(arrays)
        records: Iterable[Record]
        if data_path.is_dir():  # read twice as a stream (the label set, then the rows), never held
            self.labels = self._scan(data_path)
            records = dataset_records(data_path)
        else:
            records, self.labels = self._read(data_path)
        tokenized = self.encode_all(records)
        del records
        self.data_notes.append(f"tokenized {len(tokenized.labels):,} rows in {time.monotonic() - started:.1f} s")
        if cache_key is not None and os.environ.get("RANK", "0") == "0":  # one rank of a distributed run writes
            self.data_notes.append(token_cache.save_arrays(data_path, cache_key, tokenized.arrays()))
        return tokenized

    def _check_fits(self, tokenized: Tokenized) -> None:
        """A text longer than the model's learned position embeddings stopped the run at the first
        batch that held it (a tensor size error, possibly hours in): refuse it before any training
        instead. Only texts that long are refused; a large max_length alone is fine."""
        assert self.model_dir is not None
        positions = position_limit(self.model_dir)
        if positions is not None and len(tokenized.lengths) and int(tokenized.lengths.max()) > positions:
            over = int((tokenized.lengths > positions).sum())
            raise ConfigError(f"recipe_config.max_length {self.rc.max_length} is more than the {positions} tokens "
                              f"{self.model_dir.name} takes, and {over} {'text is' if over == 1 else 'texts are'} longer than that: set "
                              f"recipe_config.max_length to {positions} or less")

    def encode_all(self, records: Iterable[Record]) -> Tokenized:
        """`encode` of every record, batched (see `text_classification_data.encode_all`)."""
        assert self.labels is not None
        return encode_all(self.tokenizer, records, text_column=self.rc.text_column, label_of=self.labels.id_of,
                          label_column=self.rc.label_column, max_length=self.rc.max_length, names=self.labels.names)

    def _row_problem(self, r: Record) -> str | None:
        """What is wrong with a row holding both columns (an empty or non-text label, a text that is not one)."""
        label = r.data[self.rc.label_column]
        if not is_filled(label):
            return f"{r.source}: empty label in {self.rc.label_column!r}; fill it in or remove the row"
        if isinstance(label, (dict, list, float)) and not _integral(label):
            return f"{r.source}: label {label!r} in {self.rc.label_column!r} is not a text or an integer"
        if not isinstance(r.data[self.rc.text_column], str):
            return f"{r.source}: {self.rc.text_column!r} is not text"
        return None

    def encode(self, record: Record) -> Encoded:
        """One record alone: what `encode_all` gives for it in a batch."""
        assert self.labels is not None
        text = record.data[self.rc.text_column]
        return Encoded(self.encode_text(text), self.labels.id_of(record.data[self.rc.label_column]), text)

    def encode_text(self, text: str) -> list[int]:
        """The token ids a text trains with (cut to recipe_config.max_length as training cuts it):
        samples and the playground encode their texts so too."""
        return truncate(list(self.tokenizer(text, truncation=False)["input_ids"]), self.rc.max_length)[0]

    def log_notes(self) -> list[str]:
        assert self.labels is not None
        notes = [*self.data_notes, *self.model_notes, f"{len(self.labels)} classes: {', '.join(self.labels.names)}"]
        if self.truncated:
            notes.append(f"{self.truncated} texts were longer than recipe_config.max_length "
                         f"{self.rc.max_length} tokens and were truncated")
        return notes

    def load(self, item: Encoded, seed: int | None) -> Encoded:
        return item

    def collate(self, items: list[Encoded]) -> dict[str, Any]:
        import torch

        width = max(len(e.input_ids) for e in items)
        pad = self.tokenizer.pad_token_id
        ids = torch.full((len(items), width), pad, dtype=torch.long)
        mask = torch.zeros((len(items), width), dtype=torch.long)
        for i, e in enumerate(items):
            ids[i, : len(e.input_ids)] = torch.as_tensor(e.input_ids)
            mask[i, : len(e.input_ids)] = 1
        return {"input_ids": ids, "attention_mask": mask, "labels": torch.tensor([e.label for e in items])}

    def loss_count(self, batch: dict[str, Any]) -> int:
        return cls.examples_in(batch)

    def work_in(self, batch: dict[str, Any]) -> int:
        return cls.examples_in(batch)

    # ---- model --------------------------------------------------------------------------------
    def build_model(self, device: Any, precision: str) -> Any:
        from transformers import AutoModelForSequenceClassification

        assert self.labels is not None and self.model_dir is not None, "prepare() runs first"
        model, info = AutoModelForSequenceClassification.from_pretrained(
            self.model_dir, num_labels=len(self.labels), id2label=self.labels.id2label,
            label2id=self.labels.label2id, ignore_mismatched_sizes=True, local_files_only=True,
            output_loading_info=True, dtype=cls.load_dtype(self.rc, precision))
        if model.config.pad_token_id is None:  # decoders pool the last non-padding token
            model.config.pad_token_id = self.tokenizer.pad_token_id
        self._head = fresh_modules(model, info)
        cls.checkpoint_activations(model, self.config.train.gradient_checkpointing, self.model_notes)
        return cls.trainable_in_fp32(cls.adapt_classifier(model, self.rc, self._head)).to(device)

    def _logits(self, model: Any, batch: dict[str, Any]) -> Any:
        return model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits

    def loss(self, model: Any, batch: dict[str, Any]) -> tuple[Any, Any]:
        import torch

        logits = self._logits(model, batch)
        weights = None if self.weights is None else torch.tensor(self.weights, device=logits.device)
        return cls.classification_loss(logits, batch["labels"], weights), batch["labels"].numel()

    def eval_step(self, model: Any, batch: dict[str, Any]) -> dict[str, Any]:
        assert self.labels is not None
        return cls.eval_totals(self._logits(model, batch), batch["labels"], len(self.labels))

    def eval_metrics(self, totals: dict[str, Any]) -> EvalResult:
        assert self.labels is not None
        return cls.metrics_from_confusion(totals, self.labels.names)

    def generate_samples(self, model: Any) -> list[Sample]:
        """Predictions for `recipe_config.sample_texts`, else for the first validation texts."""
        import torch

        assert self.labels is not None
        prompts = list(self.rc.sample_texts)
        items = [Encoded(self.encode_text(p), -1, p) for p in prompts] or self.sample_items
        was_training = model.training
        model.eval()
        device = next(model.parameters()).device
        with torch.no_grad():
            batch = {k: v.to(device) for k, v in self.collate([Encoded(e.input_ids, max(e.label, 0), e.text)
                                                                for e in items]).items()}
            probs = self._logits(model, batch).float().softmax(-1).cpu()
        model.train(was_training)
        samples = []
        for e, p in zip(items, probs, strict=True):
            k = int(p.argmax())
            truth = f"; true: {self.labels.names[e.label]}" if e.label >= 0 else ""
            samples.append(Sample(prompt=e.text, text=f"predicted: {self.labels.names[k]} ({float(p[k]):.2f}){truth}"))
        return samples

    def save_final(self, model: Any, dest: Path) -> None:
        cls.save_classifier(model, dest, [self.tokenizer])


def position_limit(model_dir: Path) -> int | None:
    """The most tokens a model with learned absolute position embeddings (BERT, RoBERTa, GPT-2...)
    takes; None for models that have no such table (rotary, relative, ALiBi), where a longer input
    runs."""
    from transformers import AutoConfig

    config = AutoConfig.from_pretrained(model_dir, local_files_only=True)
    positions = getattr(config, "max_position_embeddings", None)
    relative = (any(hasattr(config, a) for a in ("rope_theta", "rope_scaling", "rope_parameters", "rotary_dim"))
                or getattr(config, "position_biased_input", True) is False  # DeBERTa-v2/v3
                or getattr(config, "position_embedding_type", "absolute") != "absolute")
    if not isinstance(positions, int) or relative:
        return None
    if config.model_type in _OFFSET_POSITIONS:
        positions -= (config.pad_token_id or 0) + 1
    return positions


def _integral(value: Any) -> bool:
    return isinstance(value, float) and value.is_integer()


def fresh_modules(model: Any, info: dict[str, Any]) -> list[str]:
    """Modules whose weights the checkpoint did not provide (the new head, a missing pooler): they
    train in full, also under LoRA."""
    keys = set(info.get("missing_keys") or ()) | {k[0] if isinstance(k, tuple) else k
                                                   for k in info.get("mismatched_keys") or ()}
    names = {k.rsplit(".", 1)[0] for k in keys if "." in k}
    modules = dict(model.named_modules())
    return sorted(n for n in names if n in modules)


if TYPE_CHECKING:  # the type checker (tests/training/test_typecheck.py) holds the class to the protocol
    from spark_trainer.recipes.base import Recipe

    _conforms: type[Recipe] = TextClassificationRecipe
