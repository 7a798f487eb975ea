"""Two processes writing to one store at once: both succeed, nothing is lost."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from spark_trainer.store import metrics, projects, runs
from spark_trainer.store.store import Store

WRITER = """
import sys
from spark_trainer.store.store import Store
from spark_trainer.store import metrics, projects
home, tag, run_id = sys.argv[1], sys.argv[2], int(sys.argv[3])
with Store.open(home) as store:
    for i in range(50):
        if i % 2:
            projects.create(store, f"{tag}-{i}")
        else:
            metrics.add_batch(store, run_id, [(tag, i, float(i))])
"""

CLI_WRITER = """
import sys
from spark_trainer.cli.main import main
home, tag = sys.argv[1], sys.argv[2]
codes = [main(["--home", home, "--json", "project", "create", f"{tag}-cli-{i}"]) for i in range(50)]
sys.exit(max(codes))
"""


def test_two_processes_write_50_times_each(home: Path) -> None:
    with Store.open(home) as store:
        projects.create(store, "base")
        from spark_trainer.store import experiments

        exp = experiments.create(store, project="base", name="e", recipe="causal-lm", base_model="m",
                                 dataset=None, config={})
        run_id = runs.create(store, exp.id).id
    procs = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(home), tag, str(run_id)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for tag in ("a", "b")
    ]
    procs += [
        subprocess.Popen([sys.executable, "-c", CLI_WRITER, str(home), tag],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        for tag in ("c", "d")
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=240)
        assert proc.returncode == 0, err
    with Store.open(home) as store:
        names = {p.name for p in projects.list_all(store)}
        points = metrics.read(store, run_id)
    for tag in ("a", "b"):
        assert {f"{tag}-{i}" for i in range(1, 50, 2)} <= names
        assert sorted(m.step for m in points if m.key == tag) == list(range(0, 50, 2))
    for tag in ("c", "d"):
        assert {f"{tag}-cli-{i}" for i in range(50)} <= names
    assert len(names) == 1 + 2 * 25 + 2 * 50
