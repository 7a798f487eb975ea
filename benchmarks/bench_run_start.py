"""A run's start on a large dataset: the time and memory of `prepare` (tokenize; pack for causal LM).

Three ways, each in a fresh process (as a worker is), taking turns over the rounds:
  rows  - as before the token cache: every record tokenized on its own, examples as Python lists
          (for text classification, each row also holding its text);
          or, with `--before held` (text classification), as before its manifest was streamed:
          every record held in a list, then tokenized a batch at a time;
  cold  - what a first run does now: texts tokenized a batch at a time, examples as flat numpy
          arrays, then written to the dataset's token cache;
  warm  - what a resume, a re-run or another rank does now: the examples read from that cache.
Each reports `prepare`'s wall time and the memory it added (the process's peak resident memory less
what it held after the imports); the report gives the
medians and each side's ratio to the way before measured in the same run, and checks that every way
gave the same rows (text classification: every row's ids and label, and the class names).

The dataset is ingested into a temporary data home the way `spark-trainer train` does (real
ingestion). `--recipe causal-lm` (the default) trains the tiny Llama of
`spark_trainer/models/tiny.py`, whose byte-level BPE tokenizer is trained on the same kind of
English-like text the rows are made of, with rows of `--seq-len` tokens; `--recipe
text-classification` the tiny BERT of `spark_trainer/models/tiny_classifiers.py` (WordPiece, trained
likewise) on rows with a label of five classes, texts cut at `--seq-len` (recipe_config.max_length;
its default there is 256).

Run: .venv/bin/python benchmarks/bench_run_start.py [--recipe causal-lm|text-classification]
     [--rows 50000] [--rounds 2] [--seq-len N] [--before rows|held]
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
import json, resource, sys, time
from pathlib import Path
sys.path.insert(0, sys.argv[1])
from spark_trainer.recipes.causal_lm_impl import CausalLMRecipe
from spark_trainer.config import validate_config
mode, model, data, seq_len = sys.argv[2], sys.argv[3], Path(sys.argv[4]), int(sys.argv[5])
config = validate_config({"project": "b", "name": "b", "recipe": "causal-lm", "base_model": model, "dataset": "x",
                          "gpus": "cpu", "recipe_config": {"seq_len": seq_len}})
recipe = CausalLMRecipe(config)
if mode == "rows":  # the code before the token cache: one tokenizer call per record, lists
    from spark_trainer.training.data import read_records
    def rowwise(data_path):
        records = read_records(data_path, config.eval.val_fraction)
        train = [recipe.encode(r) for r in records if r.split == "train"]
        val = [recipe.encode(r) for r in records if r.split == "val"]
        return [e for e in train if sum(e.train_mask[1:]) > 0], [e for e in val if sum(e.train_mask[1:]) > 0]
    recipe._examples_of = rowwise
import torch, transformers, tokenizers  # imports are the same for every way: not timed
from transformers import AutoConfig, AutoTokenizer
before = int(open("/proc/self/statm").read().split()[1]) * resource.getpagesize()
began = time.perf_counter()
recipe.prepare(data)
seconds = time.perf_counter() - began
# VmHWM, not ru_maxrss: a child's ru_maxrss starts at its parent's size at fork.
peak = next(int(l.split()[1]) * 1024 for l in open("/proc/self/status") if l.startswith("VmHWM:"))
print(json.dumps({"seconds": seconds, "peak_rss": peak - before,
                  "rows": len(recipe.train_data), "notes": recipe.log_notes()}))
"""


CHILD_TC = r"""
import hashlib, json, resource, sys, time
from pathlib import Path
sys.path.insert(0, sys.argv[1])
from spark_trainer.recipes.text_classification_impl import TextClassificationRecipe
from spark_trainer.config import validate_config
mode, model, data, max_length = sys.argv[2], sys.argv[3], Path(sys.argv[4]), int(sys.argv[5])
config = validate_config({"project": "b", "name": "b", "recipe": "text-classification", "base_model": model,
                          "dataset": "x", "gpus": "cpu", "recipe_config": {"max_length": max_length}})
recipe = TextClassificationRecipe(config)
if mode == "rows":  # the code before the token cache: one tokenizer call per record, lists, texts kept
    from spark_trainer.models.loading import resolve_for_run
    def rowwise(data_path):
        from transformers import AutoTokenizer
        records, recipe.labels = recipe._read(data_path)
        recipe.model_dir = resolve_for_run(config.base_model)
        recipe.tokenizer = AutoTokenizer.from_pretrained(recipe.model_dir, local_files_only=True)
        recipe.train_data = [recipe.encode(r) for r in records if r.split == "train"]
        recipe.val_data = [recipe.encode(r) for r in records if r.split == "val"]
    recipe.prepare = rowwise
if mode == "held":  # the code before the manifest was streamed: every record in a list, then batched
    def held(data_path):
        records, recipe.labels = recipe._read(data_path)
        return recipe.encode_all(records)
    recipe._tokenized = held
import torch, transformers, tokenizers  # imports are the same for every way: not timed
from transformers import AutoConfig, AutoTokenizer
before = int(open("/proc/self/statm").read().split()[1]) * resource.getpagesize()
began = time.perf_counter()
recipe.prepare(data)
seconds = time.perf_counter() - began
peak = next(int(l.split()[1]) * 1024 for l in open("/proc/self/status") if l.startswith("VmHWM:"))
rows = [(list(map(int, e.input_ids)), e.label) for e in recipe.train_data[:50]]
digest = hashlib.sha256(json.dumps(recipe.labels.names).encode())
for e in [*recipe.train_data, *recipe.val_data]:
    digest.update(json.dumps([list(map(int, e.input_ids)), e.label]).encode())
print(json.dumps({"seconds": seconds, "peak_rss": peak - before, "rows": len(recipe.train_data),
                  "first": rows, "digest": digest.hexdigest(), "notes": recipe.log_notes() if mode != "rows" else []}))
"""
LABELS = ("billing", "bug", "praise", "account", "shipping")


def make_rows(path: Path, n: int, seed: int = 0, *, labels: bool = False) -> None:
    from spark_trainer.models.tiny import generated_corpus

    rng = random.Random(seed)
    words = " ".join(generated_corpus(seed, 400)).split()
    with path.open("w", encoding="utf-8") as fh:
        for _ in range(n):
            row = {"text": " ".join(rng.choice(words) for _ in range(rng.randint(20, 400)))}
            if labels:
                row["label"] = rng.choice(LABELS)
            fh.write(json.dumps(row) + "\n")


def prepare_home(workdir: Path, rows: int, recipe: str) -> tuple[Path, Path]:
    from spark_trainer.ingest.core import ingest_paths
    from spark_trainer.models.tiny import create_tiny_causal_lm
    from spark_trainer.models.tiny_classifiers import create_tiny_text_classifier
    from spark_trainer.store import datasets, projects
    from spark_trainer.store.store import Store

    if recipe == "causal-lm":
        model = create_tiny_causal_lm(workdir / "model", max_position_embeddings=2048)
    else:
        model = create_tiny_text_classifier(workdir / "model")  # its WordPiece learns generated_corpus
    source = workdir / "rows.jsonl"
    make_rows(source, rows, labels=recipe == "text-classification")
    with Store.open(workdir / "home") as store:
        projects.create(store, "bench")
        result = ingest_paths(store, [source], project="bench")
        return model, Path(datasets.get(store, result.dataset.id).path)


def run_child(recipe: str, mode: str, model: Path, data: Path, seq_len: int) -> dict:
    if mode == "cold":
        shutil.rmtree(data / "token-cache", ignore_errors=True)
    child = CHILD if recipe == "causal-lm" else CHILD_TC
    done = subprocess.run([sys.executable, "-c", child, str(ROOT), mode, str(model), str(data), str(seq_len)],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{mode} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipe", choices=("causal-lm", "text-classification"), default="causal-lm")
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--seq-len", type=int, default=None,
                        help="causal-lm: recipe_config.seq_len (512); text-classification: max_length (256)")
    parser.add_argument("--before", choices=("rows", "held"), default="rows",
                        help="the way before: rows (before the token cache), or held (text-classification: "
                        "records held, then batched; before the manifest was streamed)")
    args = parser.parse_args()
    if args.before == "held" and args.recipe != "text-classification":
        parser.error("--before held is text-classification's (bench_big_dataset_start.py has causal-LM's)")
    seq_len = args.seq_len or (512 if args.recipe == "causal-lm" else 256)
    modes = (args.before, "cold", "warm")  # warm reads what cold wrote
    sys.path.insert(0, str(ROOT))
    with tempfile.TemporaryDirectory(prefix="bench-run-start-") as tmp:
        model, data = prepare_home(Path(tmp), args.rows, args.recipe)
        found: dict[str, list[dict]] = {m: [] for m in modes}
        for _ in range(args.rounds):
            for mode in modes:
                found[mode].append(run_child(args.recipe, mode, model, data, seq_len))
        packed = {m: {r["rows"] for r in v} for m, v in found.items()}
        assert len(set().union(*packed.values())) == 1, f"the three ways gave different rows: {packed}"
        if args.recipe == "text-classification":  # the same rows, ids and labels, every way
            digests = {r["digest"] for v in found.values() for r in v}
            assert len(digests) == 1, "the three ways encoded the rows differently"
    what = "causal-LM run start (prepare), {} rows, seq_len" if args.recipe == "causal-lm" else \
        "text-classification run start (prepare), {} rows, max_length"
    print(f"{what.format(f'{args.rows:,}')} {seq_len}, {args.rounds} rounds in turns")
    base_s = statistics.median(r["seconds"] for r in found[args.before])
    base_m = statistics.median(r["peak_rss"] for r in found[args.before])
    labels = {"rows": "row by row, lists (before)", "held": "records held, batched (before)",
              "cold": "batched, arrays, cache written" if args.before == "rows" else "streamed, cache written (now)",
              "warm": "from the token cache"}
    for mode in modes:
        s = statistics.median(r["seconds"] for r in found[mode])
        m = statistics.median(r["peak_rss"] for r in found[mode])
        print(f"  {labels[mode]:32s} {s:7.1f} s ({base_s / s:5.2f}x faster)   memory {m / 2**20:7.0f} MiB "
              f"({m / base_m:.2f}x)")
    print("  notes of the last warm start: " + "; ".join(n for n in found["warm"][-1]["notes"] if "cache" in n))


if __name__ == "__main__":
    main()
