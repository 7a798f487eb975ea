"""Submit's data check of a text-classification run (also run by the app's setup form) on a big
ingested dataset: time and memory of the check as before (every record read into memory, then
checked) and now (checked as the manifest is read), each in a fresh process, ratios in the same run.

Run: .venv/bin/python benchmarks/bench_submit_check.py [--rows 200000] [--rounds 1]
"""

from __future__ import annotations

import argparse
import json
import random
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
from spark_trainer.config import validate_config
from spark_trainer.recipes.text_classification_impl import TextClassificationRecipe
from spark_trainer.training.data import read_records
mode, data = sys.argv[2], Path(sys.argv[3])
recipe = TextClassificationRecipe(validate_config({"project": "b", "name": "b", "recipe": "text-classification",
                                                   "base_model": "unused", "dataset": "x", "gpus": "cpu"}))
before = int(open("/proc/self/statm").read().split()[1]) * resource.getpagesize()
began = time.perf_counter()
if mode == "held":  # the code before: the records in a list, then checked
    records = read_records(data, recipe.config.eval.val_fraction)
    names = recipe._checked_labels(records, data).names
else:
    names = recipe.label_names(data)
seconds = time.perf_counter() - began
peak = next(int(l.split()[1]) * 1024 for l in open("/proc/self/status") if l.startswith("VmHWM:"))
print(json.dumps({"seconds": seconds, "peak_rss": peak - before, "names": names}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    from spark_trainer.ingest.core import ingest_paths
    from spark_trainer.models.tiny import generated_corpus
    from spark_trainer.store import projects
    from spark_trainer.store.store import Store

    rng = random.Random(0)
    words = " ".join(generated_corpus(0, 400)).split()
    found: dict[str, list[dict]] = {"held": [], "streamed": []}
    with tempfile.TemporaryDirectory(prefix="bench-submit-check-") as tmp:
        source = Path(tmp) / "tickets.jsonl"
        with source.open("w", encoding="utf-8") as fh:
            for i in range(args.rows):
                text = f"#{i} " + " ".join(rng.choice(words) for _ in range(rng.randint(30, 120)))
                fh.write(json.dumps({"text": text, "label": rng.choice(["billing", "bug", "account", "other"])}) + "\n")
        with Store.open(Path(tmp) / "home") as store:
            projects.create(store, "bench")
            data = Path(ingest_paths(store, [source], project="bench").dataset.path)
        for _ in range(args.rounds):
            for mode in found:
                done = subprocess.run([sys.executable, "-c", CHILD, str(ROOT), mode, str(data)],
                                      capture_output=True, text=True, check=True)
                found[mode].append(json.loads(done.stdout.strip().splitlines()[-1]))
    assert len({json.dumps(r["names"]) for v in found.values() for r in v}) == 1, "the two ways disagree"
    print(f"text-classification data check (submit, setup form), {args.rows:,} ingested rows, {args.rounds} round(s)")
    base_s = statistics.median(r["seconds"] for r in found["held"])
    base_m = statistics.median(r["peak_rss"] for r in found["held"])
    for mode, label in (("held", "records held, then checked (before)"), ("streamed", "checked as read (now)")):
        s = statistics.median(r["seconds"] for r in found[mode])
        m = statistics.median(r["peak_rss"] for r in found[mode])
        print(f"  {label:36s} {s:6.1f} s ({base_s / s:4.2f}x faster)   memory {m / 2**20:6.0f} MiB ({m / base_m:.2f}x)")


if __name__ == "__main__":
    main()
