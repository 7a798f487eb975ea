"""Write `resources/demo/train.jsonl`, the causal-LM demo's sample data: 360 distinct rows, 120 of each
of three small tasks (counting, repeating a word, adding one-digit numbers), shuffled with a fixed seed.

Every row is unique, so the first dataset a new user ingests reports no duplicates. Run from the
repository root: `python scripts/make_demo_data.py`.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "resources" / "demo" / "train.jsonl"
WORDS = """apple bridge candle cloud forest garden lamp mirror orange paper planet river stone tiger violin
window anchor basket button camera carpet castle chair circle coffee copper cotton desert dragon drum
eagle engine feather field flower garlic ginger glass guitar hammer harbor helmet honey island jacket
jungle kettle kitten ladder lemon letter lion magnet marble meadow melon meteor monkey mountain needle
ocean olive onion oyster palace panda pencil pepper pillow pirate pocket puzzle rabbit rainbow ribbon
rocket saddle salmon shadow silver spider spoon square summer sunset table teapot thunder ticket tomato
tower tunnel turtle valley velvet wagon walnut wheel whistle winter wizard wolf yellow zebra bottle
canyon comet falcon hollow insect lantern marsh nickel parrot pebble
beacon cedar dolphin maple quartz""".split()


def rows() -> list[dict[str, str]]:
    counting = [{"prompt": f"Count up from {n}:", "completion": " " + " ".join(str(n + k) for k in range(6))}
                for n in range(120)]
    repeating = [{"prompt": f"Say the word {w} three times:", "completion": f" {w} {w} {w}"} for w in WORDS]
    adding = [{"prompt": f"What is {a} plus {b}?", "completion": f" {a} plus {b} is {a + b}."}
              for a in range(12) for b in range(10)]
    found = counting + repeating + adding
    random.Random(0).shuffle(found)
    return found


def main() -> None:
    data = rows()
    assert len(WORDS) == 120 and len({json.dumps(r) for r in data}) == len(data) == 360
    OUT.write_text("".join(json.dumps(r) + "\n" for r in data), encoding="utf-8")
    print(f"wrote {len(data)} rows to {OUT}")


if __name__ == "__main__":
    main()
