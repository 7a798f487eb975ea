"""A text-classification run's encoded rows: token ids and class ids in flat arrays.

Rows are tokenized `BATCH` texts per tokenizer call (a fast tokenizer spreads a batch over the CPU's
cores; one call per row paid its overhead a few hundred thousand times) and held as one flat int32
array of token ids with each row's length and class id: a few bytes a token, where the Python lists
each row was before took about 40 a token, and no object per row until the engine asks for one. The
same arrays are what `token_cache` keeps for the next run on the dataset.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, overload

from spark_trainer.training.data import Record, in_batches

BATCH = 1024  # texts tokenized in one call
LAYOUT = 1  # in the cache key's settings: bump when what is stored, or how rows are encoded, changes
SAMPLES = 6  # rows whose texts are kept: the prompts of the run's samples
ARRAYS = ("ids", "lengths", "labels", "counts", "meta")  # what a cache file holds


@dataclass(frozen=True)
class Encoded:
    """One row: its token ids (a list, or a view into the flat array), its class id, and its text
    where one is kept (samples, the playground)."""

    input_ids: Sequence[int]
    label: int
    text: str = ""


def truncate(ids: list[int], max_length: int) -> tuple[list[int], bool]:
    """`ids` cut to `max_length` tokens, keeping the last one (the closing special token of most
    tokenizers); and whether it was cut."""
    if len(ids) <= max_length:
        return ids, False
    return ids[: max_length - 1] + ids[-1:], True


class Examples(Sequence[Encoded]):
    """Rows as `Encoded` views into flat arrays, made when asked for (nothing is kept per row)."""

    def __init__(self, ids: Any, lengths: Any, labels: Any) -> None:
        import numpy as np

        self.ids, self.labels = ids, labels
        self.offsets = np.concatenate([np.zeros(1, dtype=np.int64), np.cumsum(lengths, dtype=np.int64)])

    def __len__(self) -> int:
        return len(self.labels)

    @overload
    def __getitem__(self, index: int) -> Encoded: ...

    @overload
    def __getitem__(self, index: slice) -> list[Encoded]: ...

    def __getitem__(self, index: int | slice) -> Encoded | list[Encoded]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(index)
        return Encoded(self.ids[self.offsets[index]:self.offsets[index + 1]], int(self.labels[index]))


@dataclass
class Tokenized:
    """Every row of a dataset, training rows first (each split in the dataset's order)."""

    ids: Any  # int32, all rows' token ids end to end
    lengths: Any  # int64, each row's token count
    labels: Any  # int64, each row's class id
    n_train: int
    truncated: int  # rows cut to recipe_config.max_length, for the run's log
    names: list[str]  # the classes, in class-id order
    samples: list[str]  # texts of the first validation rows (training rows when none): sample prompts

    def splits(self) -> tuple[Examples, Examples]:
        """(train, validation) rows."""
        n, cut = self.n_train, int(self.lengths[:self.n_train].sum())
        return (Examples(self.ids[:cut], self.lengths[:n], self.labels[:n]),
                Examples(self.ids[cut:], self.lengths[n:], self.labels[n:]))

    def class_splits(self) -> dict[str, tuple[int, int]]:
        """Each class's (training rows, validation rows)."""
        import numpy as np

        n, classes = self.n_train, len(self.names)
        train = np.bincount(self.labels[:n], minlength=classes)
        val = np.bincount(self.labels[n:], minlength=classes)
        return {name: (int(train[i]), int(val[i])) for i, name in enumerate(self.names)}

    def sample_items(self) -> list[Encoded]:
        """The rows whose predictions the run logs as samples, with their texts."""
        train, val = self.splits()
        rows = val if len(val) else train
        return [Encoded(rows[i].input_ids, rows[i].label, text) for i, text in enumerate(self.samples)]

    def arrays(self) -> dict[str, Any]:
        """What the token cache stores (no pickles: names and texts travel as UTF-8 JSON bytes)."""
        import numpy as np

        meta = json.dumps({"names": self.names, "samples": self.samples}).encode()
        return {"ids": self.ids, "lengths": self.lengths, "labels": self.labels,
                "counts": np.array([self.n_train, self.truncated], dtype=np.int64),
                "meta": np.frombuffer(meta, dtype=np.uint8)}

    @classmethod
    def from_arrays(cls, arrays: dict[str, Any]) -> Tokenized:
        meta = _meta(arrays)
        n_train, truncated = (int(x) for x in arrays["counts"])
        return cls(arrays["ids"], arrays["lengths"], arrays["labels"], n_train, truncated,
                   list(meta["names"]), list(meta["samples"]))


def _meta(arrays: dict[str, Any]) -> dict[str, Any]:
    return json.loads(arrays["meta"].tobytes().decode("utf-8"))


def consistent(arrays: dict[str, Any]) -> bool:
    """Whether a cache file's arrays fit together (a damaged one is dropped and tokenized again)."""
    ids, lengths, labels, counts = arrays["ids"], arrays["lengths"], arrays["labels"], arrays["counts"]
    meta = _meta(arrays)
    names, samples = meta["names"], meta["samples"]
    if not (isinstance(names, list) and isinstance(samples, list) and all(isinstance(s, str) for s in samples)):
        return False
    n_val = len(labels) - int(counts[0])
    return (len(counts) == 2 and len(lengths) == len(labels) and int(lengths.sum()) == len(ids)
            and 0 < int(counts[0]) <= len(labels) and bool(((labels >= 0) & (labels < len(names))).all())
            and len(samples) <= min(SAMPLES, n_val or int(counts[0])))


def encode_all(tokenizer: Any, records: Iterable[Record], *, text_column: str, label_of: Callable[[Any], int],
               label_column: str, max_length: int, names: list[str]) -> Tokenized:
    """Every record's text tokenized (`BATCH` texts a call), cut to `max_length` by `truncate`, and
    its label's class id (`label_of`): what one `tokenizer(text)` per record gives, in arrays.
    `records` is read as it comes, a batch at a time: an ingested dataset's are never all held (500k
    rows held as records took 600 MB before the first was tokenized)."""
    import numpy as np

    pieces: dict[str, list[tuple[Any, Any, Any]]] = {"train": [], "val": []}
    shown: dict[str, list[str]] = {"train": [], "val": []}  # the first texts of each split: sample prompts
    truncated = 0
    for chunk in in_batches(records, BATCH):
        # Only the ids: the masks and type ids of a whole batch of untruncated texts doubled the
        # memory this step holds for a moment.
        batch = tokenizer([r.data[text_column] for r in chunk], truncation=False, return_attention_mask=False,
                          return_token_type_ids=False)["input_ids"]
        for split in ("train", "val"):
            rows, labels = [], []
            for record, ids in zip(chunk, batch, strict=True):
                if record.split == split:
                    kept, cut = truncate(list(ids), max_length)
                    truncated += cut
                    rows.append(kept)
                    labels.append(label_of(record.data[label_column]))
                    if len(shown[split]) < SAMPLES:
                        shown[split].append(record.data[text_column])
            if rows:
                flat = np.fromiter(itertools.chain.from_iterable(rows), dtype=np.int32, count=sum(map(len, rows)))
                pieces[split].append((flat, np.array([len(r) for r in rows], dtype=np.int64),
                                      np.array(labels, dtype=np.int64)))
    ordered = pieces["train"] + pieces["val"]
    n_train = sum(len(p[2]) for p in pieces["train"])
    return Tokenized(_joined([p[0] for p in ordered], np.int32), _joined([p[1] for p in ordered], np.int64),
                     _joined([p[2] for p in ordered], np.int64), n_train, truncated, list(names),
                     shown["val"] or shown["train"])


def _joined(parts: list[Any], dtype: Any) -> Any:
    import numpy as np

    return np.concatenate(parts) if parts else np.zeros(0, dtype=dtype)
