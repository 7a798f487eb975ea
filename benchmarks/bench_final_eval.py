"""A causal-LM evaluation (every `eval.every_steps`, and the final one) on a big dataset: the time of
one evaluation over the whole validation split (what every run did before `recipe_config.eval_max_rows`,
and what runs frozen before it still do) against the capped one (the default, 2,000 examples).

The dataset is bench_big_dataset_start.py's (a third each of text, prompt/completion and chat rows),
ingested with a `--val-fraction` share held out; it is tokenized once (the token cache), then each way
prepares the recipe and runs the engine's evaluation batches (`batches.eval_batches`, the recipe's
`eval_step`, `eval_metrics`) with the tiny Llama of `spark_trainer/models/tiny.py` on the CPU, in
turns over the rounds. A 1M-row dataset with a 10% split holds 100,000 validation examples: the
ratio there is that count over the cap.

Run: .venv/bin/python benchmarks/bench_final_eval.py [--rows 40000] [--val-fraction 0.2] [--rounds 1]
(about 8 minutes with the defaults on a loaded 2-core machine, most of it the whole split's evaluation)
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=40_000)
    parser.add_argument("--val-fraction", type=float, default=0.2)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--seq-len", type=int, default=256)
    args = parser.parse_args()
    import torch
    from bench_big_dataset_start import make_rows

    from spark_trainer.config import validate_config
    from spark_trainer.ingest import IngestOptions, ingest_paths
    from spark_trainer.models.tiny import create_tiny_causal_lm
    from spark_trainer.recipes.causal_lm_impl import CausalLMRecipe
    from spark_trainer.store import projects
    from spark_trainer.store.store import Store
    from spark_trainer.training import batches

    torch.manual_seed(0)
    with tempfile.TemporaryDirectory(prefix="bench-final-eval-") as tmp:
        work = Path(tmp)
        model_dir = create_tiny_causal_lm(work / "model", max_position_embeddings=2048)
        make_rows(work / "rows.jsonl", args.rows)
        with Store.open(work / "home") as store:
            projects.create(store, "bench")
            data = Path(ingest_paths(store, [work / "rows.jsonl"], project="bench",
                                     options=IngestOptions(val_fraction=args.val_fraction)).dataset.path)

        def prepared(cap: int | None) -> CausalLMRecipe:
            recipe = CausalLMRecipe(validate_config({
                "project": "b", "name": "b", "recipe": "causal-lm", "base_model": str(model_dir), "dataset": "x",
                "gpus": "cpu", "train": {"batch_size": 8},
                "recipe_config": {"seq_len": args.seq_len, "eval_max_rows": cap}}))
            recipe.prepare(data)  # the first tokenizes and writes the token cache; the others read it
            return recipe

        ways = {"whole": prepared(None), "capped": prepared(2000)}
        model = ways["whole"].build_model(torch.device("cpu"), "fp32").eval()
        examples = {way: len(recipe._examples[1]) for way, recipe in ways.items()}
        times: dict[str, list[float]] = {way: [] for way in ways}
        for _ in range(args.rounds):
            for way, recipe in ways.items():
                began = time.perf_counter()
                totals: dict[str, torch.Tensor] = {}
                with torch.no_grad():
                    for batch in batches.eval_batches(recipe, list(range(len(recipe.val_data))), 8):
                        for key, value in recipe.eval_step(model, batch).items():
                            totals[key] = totals[key] + value if key in totals else value
                recipe.eval_metrics(totals)
                times[way].append(time.perf_counter() - began)
        print(f"causal-LM evaluation, {args.rows:,} rows with {examples['whole']:,} validation examples "
              f"(val_fraction {args.val_fraction}), seq_len {args.seq_len}, batch 8, tiny Llama on the CPU, "
              f"median of {args.rounds}:")
        base = statistics.median(times["whole"])
        for way, label in (("whole", "whole validation split (before)"), ("capped", "eval_max_rows 2000 (now)")):
            s = statistics.median(times[way])
            print(f"  {label:32s} {examples[way]:6,} examples in {len(ways[way].val_data):6,} rows {s:7.1f} s "
                  f"({base / s:.1f}x faster)")


if __name__ == "__main__":
    main()
