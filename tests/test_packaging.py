"""The built wheel carries what the package reads at run time: every file of resources/ (the demo's
sample data, the icons, the check box's marks). Seen: `pip wheel .` built a wheel without resources/;
installed from it, `demo` failed ("the demo's sample data is missing") and the icons were gone."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from fnmatch import fnmatch
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# What the code reads from resources/: app/theme.py (a mark per theme), app/main.py, jobs/demo.py.
READ = ["icons/check-dark.svg", "icons/check-light.svg", "icons/sparktrainer.png", "demo/train.jsonl"]


def _resource_files() -> list[str]:
    return sorted(str(p.relative_to(ROOT / "resources")) for p in (ROOT / "resources").rglob("*") if p.is_file())


def test_the_packaging_configuration_lists_every_file_of_resources() -> None:
    from spark_trainer.themes import THEMES

    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert "resources*" in setuptools["packages"]["find"]["include"]
    globs = setuptools["package-data"]["resources"]
    files = _resource_files()
    assert set(READ) <= set(files) and {f"icons/check-{name}.svg" for name in THEMES} <= set(READ)
    assert [f for f in files if not any(fnmatch(f, g) for g in globs)] == []


def test_a_wheel_built_from_the_checkout_carries_resources_and_the_installed_code_finds_them(tmp_path) -> None:
    # About 5 s: built from a copy, so the checkout gets no build/ or egg-info.
    source = tmp_path / "src"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in ("spark_trainer", "app", "resources"):
        shutil.copytree(ROOT / name, source / name, ignore=ignore)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    subprocess.run([sys.executable, "-m", "pip", "wheel", str(source), "--no-deps", "--no-build-isolation", "-q",
                    "-w", str(tmp_path / "dist")], check=True, capture_output=True, timeout=300)
    wheel = next((tmp_path / "dist").glob("*.whl"))
    with zipfile.ZipFile(wheel) as zipped:
        assert {f"resources/{f}" for f in _resource_files()} <= set(zipped.namelist())
        zipped.extractall(tmp_path / "site")  # as pip installs it in site-packages
    found = subprocess.run(
        [sys.executable, "-c", "from app.resources import resource; from spark_trainer.jobs.demo import demo_data_dir; "
         f"print(demo_data_dir()); [print(resource(r)) for r in {READ!r}]"],
        cwd=tmp_path, env={"PYTHONPATH": str(tmp_path / "site"), "PATH": "/usr/bin:/bin"},
        capture_output=True, text=True, timeout=120)
    assert found.returncode == 0, found.stderr
    assert found.stdout.split() == [str(tmp_path / "site" / "resources" / "demo"),
                                    *(str(tmp_path / "site" / "resources" / r) for r in READ)]
