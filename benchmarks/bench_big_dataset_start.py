"""A causal-LM run's start on a big mixed dataset (text, prompt/completion and chat rows): `prepare`'s
time and memory, the way before streaming against the way now.

Three ways, each in a fresh process (as a worker is), taking turns over the rounds:
  held     - the code before: every record of the manifest read into memory first, then tokenized a
             batch at a time, except chat rows: one tokenizer call each, their target masks found
             token by token in Python;
  streamed - what a first run does now: the manifest read `BATCH` records at a time, chat rows of a
             batch tokenized in one call, masks from arrays; the token cache written;
  warm     - a resume, a re-run or another rank: the examples read from that cache.
Each reports `prepare`'s wall time and the memory it added (peak resident memory less what the
process held after its imports); the report gives medians and ratios to `held` measured in the same
run, and checks that every way gave the same training rows.

The dataset is generated (a third of each kind of row), ingested into a temporary data home the way
`spark-trainer dataset ingest` does, and trained with the tiny Llama of `spark_trainer/models/tiny.py`.

Run: .venv/bin/python benchmarks/bench_big_dataset_start.py [--rows 30000] [--rounds 1] [--seq-len 256]
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHILD = r"""
import hashlib, json, resource, sys, time
from pathlib import Path
sys.path.insert(0, sys.argv[1])
from spark_trainer.recipes.causal_lm_impl import CausalLMRecipe, _as_arrays
from spark_trainer.config import validate_config
mode, model, data, seq_len = sys.argv[2], sys.argv[3], Path(sys.argv[4]), int(sys.argv[5])
config = validate_config({"project": "b", "name": "b", "recipe": "causal-lm", "base_model": model, "dataset": "x",
                          "gpus": "cpu", "recipe_config": {"seq_len": seq_len}})
recipe = CausalLMRecipe(config)
if mode == "held":  # the code before: all records in memory, one tokenizer call (and a Python mask) per chat row
    from spark_trainer.recipes import causal_lm_chat as chat, token_cache
    from spark_trainer.training.data import read_records
    from spark_trainer.training.packing import Example
    def chat_one(r):
        text, spans = chat.render(recipe.tokenizer, r)
        enc = recipe.tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
        ids = list(enc["input_ids"])
        if recipe.rc.completion_only_loss and spans:
            return Example(ids, [any(s <= a < e for s, e in spans) for a, _ in enc["offset_mapping"]])
        return Example(ids, [True] * len(ids))
    def held(data_path):
        records = read_records(data_path, config.eval.val_fraction)
        examples = []
        for at in range(0, len(records), 1024):
            chunk = records[at:at + 1024]
            texts = []
            for r in chunk:
                if isinstance(r.data.get("text"), str):
                    texts.append(r.data["text"])
                elif isinstance(r.data.get("prompt"), str) and isinstance(r.data.get("completion"), str):
                    texts += [r.data["prompt"], r.data["completion"]]
            tokenized = iter(recipe.tokenizer(texts, add_special_tokens=False)["input_ids"] if texts else [])
            chats = (chat_one(r) for r in chunk if isinstance(r.data.get("messages"), list))
            examples += [_as_arrays(recipe._encode_trainable(r, tokenized, chats)) for r in chunk]
        train = [e for e, r in zip(examples, records) if r.split == "train" and any(e.train_mask[1:])]
        val = [e for e, r in zip(examples, records) if r.split == "val" and any(e.train_mask[1:])]
        cached = token_cache.compact(train, val, recipe.truncated)
        del examples, train, val
        return cached.examples()
    recipe._examples_of = held
import torch, transformers, tokenizers  # imports are the same for every way: not timed
from transformers import AutoConfig, AutoTokenizer
before = int(open("/proc/self/statm").read().split()[1]) * resource.getpagesize()
began = time.perf_counter()
recipe.prepare(data)
seconds = time.perf_counter() - began
# VmHWM, not ru_maxrss: a child's ru_maxrss starts at its parent's size at fork.
peak = next(int(l.split()[1]) * 1024 for l in open("/proc/self/status") if l.startswith("VmHWM:"))
digest = hashlib.sha256()
for row in recipe.train_data:
    for e in row:
        digest.update(bytes(memoryview(e.input_ids.astype("int32"))) + bytes(memoryview(e.train_mask.astype("bool"))))
print(json.dumps({"seconds": seconds, "peak_rss": peak - before, "rows": len(recipe.train_data),
                  "digest": digest.hexdigest(), "notes": recipe.log_notes()}))
"""


def make_rows(path: Path, n: int, seed: int = 0) -> None:
    """A third each of text, prompt/completion and two-turn chat rows of generated English-like words."""
    from spark_trainer.models.tiny import generated_corpus

    rng = random.Random(seed)
    words = " ".join(generated_corpus(seed, 400)).split()

    def said(lo: int, hi: int) -> str:
        return " ".join(rng.choice(words) for _ in range(rng.randint(lo, hi)))

    with path.open("w", encoding="utf-8") as fh:
        for i in range(n):
            if i % 3 == 0:
                row: dict = {"text": said(40, 300)}
            elif i % 3 == 1:
                row = {"prompt": said(10, 80), "completion": said(30, 200)}
            else:
                row = {"messages": [{"role": "user", "content": said(10, 80)},
                                    {"role": "assistant", "content": said(30, 200)}]}
            fh.write(json.dumps(row) + "\n")


def prepare_home(workdir: Path, rows: int) -> tuple[Path, Path]:
    from spark_trainer.ingest.core import ingest_paths
    from spark_trainer.models.tiny import create_tiny_causal_lm
    from spark_trainer.store import datasets, projects
    from spark_trainer.store.store import Store

    model = create_tiny_causal_lm(workdir / "model", max_position_embeddings=2048)
    source = workdir / "rows.jsonl"
    make_rows(source, rows)
    with Store.open(workdir / "home") as store:
        projects.create(store, "bench")
        result = ingest_paths(store, [source], project="bench")
        return model, Path(datasets.get(store, result.dataset.id).path)


def run_child(mode: str, model: Path, data: Path, seq_len: int) -> dict:
    if mode == "streamed":
        shutil.rmtree(data / "token-cache", ignore_errors=True)
    done = subprocess.run([sys.executable, "-c", CHILD, str(ROOT), mode, str(model), str(data), str(seq_len)],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{mode} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=30_000)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--seq-len", type=int, default=256)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    modes = ("held", "streamed", "warm")  # warm reads what streamed wrote
    with tempfile.TemporaryDirectory(prefix="bench-big-start-") as tmp:
        model, data = prepare_home(Path(tmp), args.rows)
        found: dict[str, list[dict]] = {m: [] for m in modes}
        for _ in range(args.rounds):
            for mode in modes:
                found[mode].append(run_child(mode, model, data, args.seq_len))
    digests = {r["digest"] for v in found.values() for r in v}
    assert len(digests) == 1, "the three ways gave different training rows"
    print(f"causal-LM run start (prepare) on {args.rows:,} mixed rows (text, prompt/completion, chat), "
          f"seq_len {args.seq_len}, {args.rounds} round(s) in turns; same training rows every way")
    base_s = statistics.median(r["seconds"] for r in found["held"])
    base_m = statistics.median(r["peak_rss"] for r in found["held"])
    for mode, label in (("held", "all records held, chat row by row (before)"),
                        ("streamed", "streamed, chat batched, cache written"), ("warm", "from the token cache")):
        s = statistics.median(r["seconds"] for r in found[mode])
        m = statistics.median(r["peak_rss"] for r in found[mode])
        print(f"  {label:44s} {s:7.1f} s ({base_s / s:5.2f}x faster)   memory {m / 2**20:7.0f} MiB ({m / base_m:.2f}x)")


if __name__ == "__main__":
    main()
