"""The PyInstaller build works and the frozen executable serves the CLI role. Slow: `make test-slow`."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
@pytest.mark.timeout(3600)
def test_pyinstaller_build_runs_cli(tmp_path: Path) -> None:
    if shutil.which("pyinstaller") is None and not (Path(sys.executable).parent / "pyinstaller").exists():
        pytest.skip("pyinstaller is not installed (make test-slow installs it)")
    dist, work = tmp_path / "dist", tmp_path / "build"
    subprocess.run([sys.executable, "-m", "PyInstaller", "--noconfirm", "--distpath", str(dist),
                    "--workpath", str(work), str(ROOT / "build.spec")], check=True, cwd=ROOT)
    exe = dist / "SparkTrainer" / "SparkTrainer"
    home = tmp_path / "home"
    created = subprocess.run([str(exe), "cli", "--home", str(home), "--json", "project", "create", "frozen"],
                             capture_output=True, text=True, timeout=120)
    assert created.returncode == 0, created.stderr
    assert json.loads(created.stdout)["name"] == "frozen"
    shot = tmp_path / "shot.png"
    gui = subprocess.run([str(exe), "--screenshot", str(shot), "--home", str(home)], capture_output=True,
                         text=True, timeout=120, env={"QT_QPA_PLATFORM": "offscreen", "PATH": "/usr/bin:/bin"})
    assert gui.returncode == 0, gui.stderr
    assert shot.stat().st_size > 1000
