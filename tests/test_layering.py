"""The layer rules of ARCHITECTURE.md, enforced."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FORBIDDEN_IN_CORE = ("PySide6", "pyqtgraph", "app", "PyQt5", "PyQt6")


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_core_never_imports_qt_or_app() -> None:
    offenders = {
        str(path.relative_to(ROOT)): sorted(_imports(path) & set(FORBIDDEN_IN_CORE))
        for path in (ROOT / "spark_trainer").rglob("*.py")
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_cli_import_does_not_load_heavy_libraries() -> None:
    code = (
        "import sys, spark_trainer.cli.main as m; m.build_parser();"
        "heavy = [n for n in ('torch', 'transformers', 'peft', 'diffusers', 'accelerate', 'cv2', 'PySide6')"
        " if n in sys.modules]; print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_the_worker_role_loads_only_its_own_command() -> None:
    # Every run's worker starts through the CLI: the other command groups' modules (ingestion, export,
    # cluster...) are no part of its start.
    code = (
        "import sys, spark_trainer.cli.main as m;"
        "args = m.build_parser(m._command_word(['--home', 'worker', 'worker', '7', '--rank', '1']))"
        ".parse_args(['--home', 'worker', 'worker', '7', '--rank', '1']);"
        "loaded = sorted(n for n in sys.modules if n.startswith(('spark_trainer.cli.', 'spark_trainer.ingest')));"
        "print(args.command, args.run_id, args.rank, args.home, ','.join(loaded))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    command, run_id, rank, home, loaded = out.stdout.split()
    assert (command, run_id, rank, home) == ("worker", "7", "1", "worker")
    assert set(loaded.split(",")) <= {"spark_trainer.cli.chatter", "spark_trainer.cli.context",
                                      "spark_trainer.cli.format", "spark_trainer.cli.main", "spark_trainer.cli.queue",
                                      "spark_trainer.cli.queue_hold"}  # the queue group's other actions (small)


def test_a_command_loads_only_its_own_group(tmp_path: Path) -> None:
    """`spark-trainer project list` imported every command group's module (ingestion, export, cluster...)
    before it parsed its line: about 0.5 s of CPU of each command's start."""
    code = (
        "import sys, spark_trainer.cli.main as m;"
        "assert m.main(['--home', sys.argv[1], 'project', 'list']) == 0;"
        "print(','.join(sorted(n for n in sys.modules if n.startswith(('spark_trainer.cli.', 'spark_trainer.ingest')))))"
    )
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path / "home")], capture_output=True, text=True,
                         check=True)
    loaded = set(out.stdout.strip().splitlines()[-1].split(","))
    assert "spark_trainer.cli.projects" in loaded
    assert not loaded & {"spark_trainer.cli.ingest", "spark_trainer.cli.export", "spark_trainer.cli.cluster",
                         "spark_trainer.cli.runs", "spark_trainer.ingest"}, loaded
