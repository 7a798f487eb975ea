"""`run metrics` (spark_trainer/cli/run_metrics.py): a run's points are written as they are read, a series
at a time, as the same bytes that holding them all printed; a long run is printed in little memory."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from spark_trainer.cli import run_metrics
from spark_trainer.cli.format import table
from spark_trainer.store import experiments, metric_packs, metrics, projects, runs
from spark_trainer.store.entities import to_jsonable
from spark_trainer.store.store import Store


def _run(store: Store) -> int:
    if not projects.list_all(store):
        projects.create(store, "p")
        experiments.create(store, project="p", name="e", recipe="causal-lm", base_model="m", dataset=None, config={})
    return runs.create(store, experiments.list_all(store)[0].id).id


def _held_whole(store: Store, run_id: int, keys: list[str] | None, form: str) -> str:
    """What `run metrics` printed when it held every point (the code before streaming, as it was)."""
    points = sorted(metrics.read(store, run_id, keys=keys), key=lambda m: (m.key, m.step))
    if form == "json":
        return json.dumps(to_jsonable(points), indent=2) + "\n"
    if form == "csv":
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["step", "key", "value", "wall_time"])
        for m in points:
            writer.writerow([m.step, m.key, repr(m.value), f"{m.wall_time:.3f}"])
        return out.getvalue().rstrip("\n") + "\n"
    return table(["step", "key", "value"], [(m.step, m.key, m.value) for m in points],
                 empty=f"run {run_id} has no metrics yet") + "\n"


@pytest.mark.parametrize("form", ["text", "csv", "json"])
def test_the_output_is_what_holding_every_point_printed_written_a_piece_at_a_time(store, cli, monkeypatch, form) -> None:
    monkeypatch.setattr(metric_packs, "PACK_ROWS", 50)  # packed and raw points, several blocks a series
    monkeypatch.setattr(metric_packs, "BLOCK_MAX", 40)
    monkeypatch.setattr(run_metrics, "PIECE_ROWS", 7)  # pieces end inside a series
    run_id = _run(store)
    for start in range(0, 120, 30):
        metrics.add_batch(store, run_id, [("loss", s, 2.0 / (s + 1), 1.7e9 + s * 0.37) for s in range(start, start + 30)])
    # Steps rewritten out of order (a resumed run), a wide negative step, values of every width, keys that
    # CSV quotes, JSON escapes or a terminal draws two cells wide.
    metrics.add_batch(store, run_id, [("loss", 5, 9.5, 1.0), ("loss", 3, 7.25, 2.0), ("eval_loss", -1234567, 1e-12, 3.0),
                                      ("eval_loss", 20, float("inf"), 4.0), ("eval_loss", 20, -float("-inf"), 5.0),
                                      ("eval_loss", 7, -123456789.0, 6.0), ("损失/评估", 2, 0.5, 7.0),
                                      ('a,"b"', 1, 1e300, 8.0), ("tab\tkey", 3, -2.5, 9.0)])
    empty = _run(store)
    written: list[str] = []
    monkeypatch.setattr("spark_trainer.cli.main.write_stdout", written.append)
    flags = {"text": [], "csv": ["--csv"], "json": ["--json"]}[form]
    for run, keys in ((run_id, None), (run_id, ["loss", "损失/评估", "missing"]), (empty, None)):
        written.clear()
        result = cli("run", "metrics", run, *flags, *(f"--key={k}" for k in keys or []))
        assert result.code == 0, result.err
        assert "".join(written) == _held_whole(store, run, keys, form)
        if run == run_id:  # not as one string: a piece per PIECE_ROWS points, and the head (and tail) on their own
            assert len(written) > 120 / 7, written[:3]


_MEASURE = """
import json, sys
from spark_trainer.cli.main import main

class Sink:  # stdout, counting what is written instead of holding it
    written, lines, tail = 0, 0, ""
    def write(self, text):
        self.written += len(text)
        self.lines += text.count("\\n")
        self.tail = (self.tail + text)[-80:]
    def flush(self):
        pass

def peak_kb():  # this process's peak resident memory (ru_maxrss of a child would carry its parent's over)
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))

home, run, empty, flags = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
real, sys.stdout = sys.stdout, Sink()
assert main(["--home", home, "run", "metrics", empty, *flags]) == 0  # imports and opens all it needs
sys.stdout, before = Sink(), peak_kb()
code = main(["--home", home, "run", "metrics", run, *flags])
sink, sys.stdout = sys.stdout, real
print(json.dumps([code, (peak_kb() - before) * 1024, sink.lines, sink.tail]))
"""

KEYS, STEPS = 20, 100_000  # 2,000,000 points, as a long run has


@pytest.fixture(scope="module")
def long_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int, int]:
    """A run of KEYS x STEPS points, packed as the store packs a long run's points (writing them through
    metrics.add_batch takes 25 s here: the blocks are written directly, in a second)."""
    import numpy as np

    home = tmp_path_factory.mktemp("long") / "home"
    with Store.open(home) as store:
        run_id, empty = _run(store), _run(store)
        steps = np.arange(STEPS, dtype="<i8")
        with store.write() as session:
            for k in range(KEYS):
                ids = k * STEPS + 1 + steps
                for start in range(0, STEPS, metric_packs.BLOCK_MAX):
                    part = slice(start, start + metric_packs.BLOCK_MAX)
                    metric_packs._write_block(session, run_id, f"metric_{k:02d}", metric_packs.Series(
                        ids[part], steps[part], 1.7e9 + steps[part] * 0.37, 1.0 / (steps[part] + 1.0 + k)))
            metric_packs.summarise(session, run_id)
    return home, run_id, empty


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads the peak memory from /proc")
@pytest.mark.parametrize("form", ["text", "csv", "json"])
def test_a_long_run_is_printed_holding_a_series_not_the_run(long_run, form) -> None:
    """Every point was made an object and the whole table one string before a line was printed: 2 million
    points grew the process by 1.4 GB (text, CSV) to 3.9 GB (JSON), and took 25-60 s. Measured in a fresh
    process, as SQLite's and numpy's memory is not all Python's."""
    home, run_id, empty = long_run
    flags = {"text": [], "csv": ["--csv"], "json": ["--json"]}[form]
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(_MEASURE), str(home), str(run_id), str(empty), *flags],
                         capture_output=True, text=True, check=True, timeout=300,
                         cwd=Path(__file__).resolve().parents[2]).stdout
    code, grown, lines, tail = json.loads(out)
    points = KEYS * STEPS
    last = {"text": f"{STEPS - 1}  metric_{KEYS - 1:02d}  {1.0 / (STEPS + KEYS - 1):.4g}\n",
            "csv": f"{STEPS - 1},metric_{KEYS - 1:02d},{1.0 / (STEPS + KEYS - 1)!r},{1.7e9 + (STEPS - 1) * 0.37:.3f}\n",
            "json": f'"wall_time": {1.7e9 + (STEPS - 1) * 0.37!r}\n  }}\n]\n'}[form]
    assert (code, lines) == (0, points * 8 + 2 if form == "json" else points + 1), out
    assert tail.endswith(last), tail  # every point, the last one last
    assert grown < 64 * 2**20, f"printing {points:,} points grew memory by {grown / 2**20:.0f} MB"
