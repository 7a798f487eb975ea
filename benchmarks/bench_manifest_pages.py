"""A far page of a big dataset's rows (`spark-trainer dataset rows NAME --offset N`, the Datasets view's
Preview pager and image grid): the way before (every line from the first read and decoded up to the
page) against the manifest's line index (`spark_trainer/ingest/manifest_index.py`): the first far read,
which builds the index in one pass over the bytes, and later reads, which seek.

The manifest is generated (text rows of 20-120 words, as ingestion writes them); the pages are the
Preview's 50 rows at offsets spread over the last half of the file, the same ones every way, checked
to be the same rows. Times are medians over the pages, in one process, the file in the page cache.

Run: .venv/bin/python benchmarks/bench_manifest_pages.py [--rows 300000] [--pages 9]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from itertools import islice
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def scanned(folder: Path, offset: int, limit: int) -> list[dict]:
    """The code before: the manifest read as text from its first line."""
    with open(folder / "manifest.jsonl", encoding="utf-8") as fh:
        return [json.loads(line) for line in islice(fh, offset, offset + limit)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=300_000)
    parser.add_argument("--pages", type=int, default=9)
    args = parser.parse_args()
    from spark_trainer.ingest import manifest_index, read_manifest
    from spark_trainer.models.tiny import generated_corpus

    rng = random.Random(0)
    words = " ".join(generated_corpus(0, 400)).split()
    with tempfile.TemporaryDirectory(prefix="bench-manifest-pages-") as tmp:
        folder = Path(tmp)
        with (folder / "manifest.jsonl").open("w", encoding="utf-8") as fh:
            for i in range(args.rows):
                text = f"#{i} " + " ".join(rng.choice(words) for _ in range(rng.randint(20, 120)))
                fh.write(json.dumps({"record": {"text": text, "label": i % 4}, "split": "train",
                                     "source": f"rows.jsonl:{i + 1}"}, ensure_ascii=False) + "\n")
        size = (folder / "manifest.jsonl").stat().st_size
        offsets = [args.rows // 2 + (args.rows // 2 - 50) * k // max(args.pages - 1, 1) for k in range(args.pages)]
        scanned(folder, args.rows - 1, 1)  # the file into the page cache for every way
        before, later = [], []
        for offset in offsets:
            began = time.perf_counter()
            old = scanned(folder, offset, 50)
            before.append(time.perf_counter() - began)
            if offset == offsets[0]:
                began = time.perf_counter()
                new = read_manifest(folder, offset, 50)
                first = time.perf_counter() - began
            else:
                began = time.perf_counter()
                new = read_manifest(folder, offset, 50)
                later.append(time.perf_counter() - began)
            assert new == old and len(new) == 50, f"page at {offset} differs"
        index_bytes = (folder / manifest_index.INDEX).stat().st_size
    base = statistics.median(before)
    print(f"far pages of 50 rows, {args.rows:,}-row manifest ({size / 2**20:.0f} MiB), offsets "
          f"{offsets[0]:,}-{offsets[-1]:,}; same rows every way")
    print(f"  read from the first line (before)  {base * 1000:8.1f} ms median of {len(before)}")
    print(f"  first far read, index built (numpy loaded){first * 1000:8.1f} ms ({base / first:.1f}x as fast; "
          f"index {index_bytes / 1024:.0f} KiB)")
    later_s = statistics.median(later)
    print(f"  later far reads, index kept         {later_s * 1000:8.1f} ms median of {len(later)} "
          f"({base / later_s:.0f}x faster)")


if __name__ == "__main__":
    main()
