"""Tokenized examples of an ingested dataset, kept on disk for the next run on it.

Tokenizing is the slow part of a text run's start: a few hundred thousand rows take minutes on a
workstation's CPU, and every resume, every re-run with another learning rate and every rank of a
multi-GPU run did it again. The examples a run trains on depend only on the dataset's manifest, the
tokenizer's files (and the model's config), the recipe's encoding settings and the library versions;
all of them are in the cache key, so a hit gives exactly the examples a fresh tokenization would (an
exact resume still holds). A cache that cannot be written (read-only folder, little free space) is
skipped with a note; the run never depends on it.

The storage (`key`, `load_arrays`, `save_arrays`) is the same for every recipe; what a recipe stores
is its own set of named arrays (causal LM: `Encoded` below; text classification:
`text_classification_data.Tokenized`), and its settings carry the recipe's name, so two recipes
never read each other's files.

Files: `datasets/<id>/token-cache/<key>.npz`, the newest `KEEP` per dataset.
"""

from __future__ import annotations

import hashlib
import json
import os
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from spark_trainer.disk import free_bytes, gb

if TYPE_CHECKING:
    from spark_trainer.training.packing import Example

FOLDER = "token-cache"
FORMAT = 1  # bump when what is stored, or how examples are encoded, changes
KEEP = 2
# Never let the cache take the room checkpoints need: after writing it, this much must stay free.
MIN_FREE_AFTER = 2 * 2**30
# Files of a model folder that are not the tokenizer (weights); everything else is hashed.
_WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".ckpt", ".gguf", ".h5", ".msgpack", ".onnx")


@dataclass
class Encoded:
    """Examples as one flat token array, one flat target mask and each example's length (a few bytes
    a token, where Python lists of ints take about 40); the first `n_train` are the training ones."""

    ids: Any
    mask: Any
    lengths: Any
    n_train: int
    truncated: int  # examples cut to recipe_config.seq_len, for the run's log

    def examples(self) -> tuple[list[Example], list[Example]]:
        """(train, validation) examples, as views into the flat arrays."""
        import numpy as np

        from spark_trainer.training.packing import Example

        bounds = np.cumsum(self.lengths)[:-1]
        out = [Example(i, m) for i, m in zip(np.split(self.ids, bounds), np.split(self.mask, bounds), strict=True)]
        return out[:self.n_train], out[self.n_train:]

    @property
    def nbytes(self) -> int:
        return int(self.ids.nbytes + self.mask.nbytes + self.lengths.nbytes)


def compact(train: list[Example], val: list[Example], truncated: int) -> Encoded:
    import numpy as np

    examples = [*train, *val]
    lengths = np.fromiter((len(e.input_ids) for e in examples), dtype=np.int64, count=len(examples))
    ids = np.concatenate([np.asarray(e.input_ids, dtype=np.int32) for e in examples])
    mask = np.concatenate([np.asarray(e.train_mask, dtype=np.bool_) for e in examples])
    return Encoded(ids, mask, lengths, len(train), truncated)


def key(data_dir: Path, model_dir: Path, settings: dict[str, Any]) -> str | None:
    """The cache key of `data_dir`'s manifest encoded by `model_dir`'s tokenizer with `settings`;
    None when `data_dir` is not an ingested dataset folder (a plain file is not cached)."""
    import tokenizers
    import transformers

    manifest = Path(data_dir) / "manifest.jsonl"
    if not manifest.is_file():
        return None
    digest = hashlib.sha256()
    digest.update(json.dumps({"format": FORMAT, "settings": settings, "transformers": transformers.__version__,
                              "tokenizers": tokenizers.__version__}, sort_keys=True, default=str).encode())
    _hash_file(digest, manifest)
    for path in sorted(Path(model_dir).iterdir()):
        if path.is_file() and not path.name.endswith(_WEIGHT_SUFFIXES):
            digest.update(path.name.encode())
            _hash_file(digest, path)
    return digest.hexdigest()[:32]


def _hash_file(digest: Any, path: Path) -> None:
    with open(path, "rb") as fh:
        while block := fh.read(1 << 22):
            digest.update(block)


def path_for(data_dir: Path, cache_key: str) -> Path:
    return Path(data_dir) / FOLDER / f"{cache_key}.npz"


def load(data_dir: Path, cache_key: str) -> Encoded | None:
    """A causal-LM run's cached examples, or None when there are none (or the file is damaged: it is
    then removed)."""
    arrays = load_arrays(data_dir, cache_key, ("ids", "mask", "lengths", "counts"), _consistent)
    if arrays is None:
        return None
    n_train, truncated = (int(x) for x in arrays["counts"])
    return Encoded(arrays["ids"], arrays["mask"], arrays["lengths"], n_train, truncated)


def _consistent(arrays: dict[str, Any]) -> bool:
    ids, mask, lengths, counts = arrays["ids"], arrays["mask"], arrays["lengths"], arrays["counts"]
    return (len(counts) == 2 and int(lengths.sum()) == len(ids) and len(mask) == len(ids)
            and 0 < int(counts[0]) <= len(lengths))


def save(data_dir: Path, cache_key: str, encoded: Encoded) -> str:
    """Write a causal-LM run's examples (see `save_arrays`); a line for the run's log."""
    import numpy as np

    return save_arrays(data_dir, cache_key, {
        "ids": encoded.ids, "mask": encoded.mask, "lengths": encoded.lengths,
        "counts": np.array([encoded.n_train, encoded.truncated], dtype=np.int64)})


def load_arrays(data_dir: Path, cache_key: str, names: tuple[str, ...],
                consistent: Callable[[dict[str, Any]], bool]) -> dict[str, Any] | None:
    """The arrays `names` of a cache file, or None when there is none; a file that cannot be read,
    lacks one of them or fails `consistent` (a disk that filled, a copy cut short) is removed, so the
    run tokenizes again and writes a good one."""
    import numpy as np

    path = path_for(data_dir, cache_key)
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {name: data[name] for name in names}
        good = consistent(arrays)
    except (OSError, ValueError, KeyError, IndexError, TypeError, zipfile.BadZipFile, EOFError):
        good = False
    if not good:
        path.unlink(missing_ok=True)
        return None
    os.utime(path)  # most recently used: pruned last
    return arrays


def save_arrays(data_dir: Path, cache_key: str, arrays: dict[str, Any]) -> str:
    """Write the cache (atomically: a reader never sees half a file); a line for the run's log."""
    import numpy as np

    path = path_for(data_dir, cache_key)
    size = int(sum(a.nbytes for a in arrays.values()))
    try:
        path.parent.mkdir(exist_ok=True)
        if free_bytes(path.parent) - size < MIN_FREE_AFTER:
            return f"tokenized rows not cached: {gb(size)} would leave less than {gb(MIN_FREE_AFTER)} free"
        partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
        try:
            with open(partial, "wb") as fh:
                np.savez(fh, **arrays)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(partial, path)
        finally:
            partial.unlink(missing_ok=True)
    except OSError as exc:
        return f"tokenized rows not cached ({exc.strerror or exc}): {path.parent}"
    _prune(path.parent)
    return f"tokenized rows cached for the next run on this dataset ({gb(size)}): {path}"


def _prune(folder: Path) -> None:
    caches = sorted(folder.glob("*.npz"), key=lambda p: p.stat().st_mtime, reverse=True)
    for old in caches[KEEP:]:
        old.unlink(missing_ok=True)
