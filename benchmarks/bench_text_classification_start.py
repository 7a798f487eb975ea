"""A text-classification run's start on a big ingested dataset: `prepare`'s time and memory with every
record held (the code before) against the manifest read a batch at a time (now), and from the token
cache (a resume, a re-run).

Three ways, each in a fresh process (as a worker is), taking turns over the rounds:
  held     - the code before: every record of the manifest read into a list, its labels checked, then
             tokenized `BATCH` texts a call;
  streamed - what a first run does now: the manifest read twice as a stream (the label set, then the
             rows `BATCH` at a time); the token cache written;
  warm     - a resume, a re-run or another rank: the rows read from that cache.
Each reports `prepare`'s wall time and the memory it added (peak resident memory less what the
process held after its imports); the report gives medians and ratios to `held` measured in the same
run, and checks that every way gave the same training rows, labels and sample texts.

The dataset (support tickets of 30-120 generated words, four labels) is ingested into a temporary
data home the way `spark-trainer dataset ingest` does; the model is the tiny BERT of
`spark_trainer/models/tiny_classifiers.py`.

Run: .venv/bin/python benchmarks/bench_text_classification_start.py [--rows 100000] [--rounds 1]
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
from spark_trainer.config import validate_config
from spark_trainer.recipes.text_classification_impl import TextClassificationRecipe
mode, model, data = sys.argv[2], sys.argv[3], Path(sys.argv[4])
recipe = TextClassificationRecipe(validate_config({"project": "b", "name": "b", "recipe": "text-classification",
                                                   "base_model": model, "dataset": "x", "gpus": "cpu",
                                                   "recipe_config": {"max_length": 64}}))
if mode == "held":  # the code before: the records in a list, checked, then tokenized
    def held(data_path):
        records, recipe.labels = recipe._read(data_path)
        return recipe.encode_all(records)
    recipe._tokenized = held
import torch, transformers, tokenizers  # imports are the same for every way: not timed
from transformers import AutoTokenizer
before = int(open("/proc/self/statm").read().split()[1]) * resource.getpagesize()
began = time.perf_counter()
recipe.prepare(data)
seconds = time.perf_counter() - began
# VmHWM, not ru_maxrss: a child's ru_maxrss starts at its parent's size at fork.
peak = next(int(l.split()[1]) * 1024 for l in open("/proc/self/status") if l.startswith("VmHWM:"))
digest = hashlib.sha256(json.dumps([recipe.labels.names, [e.text for e in recipe.sample_items]]).encode())
for rows in (recipe.train_data, recipe.val_data):
    digest.update(rows.ids.astype("int32").tobytes() + rows.labels.astype("int64").tobytes()
                  + rows.offsets.astype("int64").tobytes() + b"|")
print(json.dumps({"seconds": seconds, "peak_rss": peak - before, "rows": len(recipe.train_data),
                  "digest": digest.hexdigest()}))
"""


def prepare_home(workdir: Path, rows: int) -> tuple[Path, Path]:
    from spark_trainer.ingest.core import ingest_paths
    from spark_trainer.models.tiny import generated_corpus
    from spark_trainer.models.tiny_classifiers import create_tiny_text_classifier
    from spark_trainer.store import datasets, projects
    from spark_trainer.store.store import Store

    corpus = generated_corpus(0, 400)
    model = create_tiny_text_classifier(workdir / "model", corpus=corpus)
    rng = random.Random(0)
    words = " ".join(corpus).split()
    source = workdir / "tickets.jsonl"
    with source.open("w", encoding="utf-8") as fh:
        for i in range(rows):
            text = f"#{i} " + " ".join(rng.choice(words) for _ in range(rng.randint(30, 120)))
            fh.write(json.dumps({"text": text, "label": rng.choice(["billing", "bug", "account", "other"])}) + "\n")
    with Store.open(workdir / "home") as store:
        projects.create(store, "bench")
        result = ingest_paths(store, [source], project="bench")
        return model, Path(datasets.get(store, result.dataset.id).path)


def run_child(mode: str, model: Path, data: Path) -> dict:
    if mode != "warm":  # warm reads what streamed wrote
        shutil.rmtree(data / "token-cache", ignore_errors=True)
    done = subprocess.run([sys.executable, "-c", CHILD, str(ROOT), mode, str(model), str(data)],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{mode} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    modes = ("held", "streamed", "warm")
    with tempfile.TemporaryDirectory(prefix="bench-text-cls-start-") as tmp:
        model, data = prepare_home(Path(tmp), args.rows)
        found: dict[str, list[dict]] = {m: [] for m in modes}
        for _ in range(args.rounds):
            for mode in modes:
                found[mode].append(run_child(mode, model, data))
    assert len({r["digest"] for v in found.values() for r in v}) == 1, "the three ways gave different training rows"
    print(f"text-classification run start (prepare) on {args.rows:,} ingested rows, {args.rounds} round(s) in "
          "turns; same training rows, labels and samples every way")
    base_s = statistics.median(r["seconds"] for r in found["held"])
    base_m = statistics.median(r["peak_rss"] for r in found["held"])
    for mode, label in (("held", "all records held (before)"), ("streamed", "streamed, cache written (now)"),
                        ("warm", "from the token cache")):
        s = statistics.median(r["seconds"] for r in found[mode])
        m = statistics.median(r["peak_rss"] for r in found[mode])
        print(f"  {label:32s} {s:7.1f} s ({base_s / s:5.2f}x faster)   memory {m / 2**20:7.0f} MiB ({m / base_m:.2f}x)")


if __name__ == "__main__":
    main()
