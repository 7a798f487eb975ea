"""Smoke test of the built app (`make test-dist`, after `make dist`): the frozen folder and the .deb.

Not in the default suite (marker `dist`): it needs the PyInstaller build, trains twice (~1-2 min
each on a CPU), and installs and removes a system package (root, Debian).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

REPO = Path(__file__).resolve().parents[1]
DIST = Path(os.environ.get("SPARK_DIST_DIR", REPO / "dist"))
EXE = DIST / "SparkTrainer" / "SparkTrainer"
PACKAGE = "spark-trainer"

pytestmark = [pytest.mark.dist, pytest.mark.timeout(1800)]
# Enough steps to checkpoint, evaluate and finish through the frozen worker; the default 300 steps
# prove nothing more about the build and take minutes on a busy CPU.
DEMO_STEPS = "30"


def _clean_env(**extra: str) -> dict[str, str]:
    """What a user's shell would have: no venv, no PYTHONPATH, no Qt platform forced."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "VIRTUAL_ENV", "QT_QPA_PLATFORM", "WAYLAND_DISPLAY", "DISPLAY",
                        "SPARK_TRAINER_HOME")}
    env["PATH"] = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    env.update(extra)
    return env


@pytest.fixture(scope="module")
def exe() -> Path:
    if not EXE.is_file():
        pytest.fail(f"{EXE} is missing: run `make dist` first")
    return EXE


def test_version_and_doctor(exe: Path, tmp_path: Path) -> None:
    version = subprocess.run([str(exe), "--version"], capture_output=True, text=True, env=_clean_env(), timeout=120)
    assert version.returncode == 0 and version.stdout.startswith("spark-trainer "), version.stderr
    doctor = subprocess.run([str(exe), "cli", "--home", str(tmp_path / "home"), "doctor"], capture_output=True,
                            text=True, env=_clean_env(), timeout=300)
    assert doctor.returncode == 0, doctor.stdout + doctor.stderr
    assert "torch" in doctor.stdout


def test_demo_trains_through_the_frozen_worker(exe: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    demo = subprocess.Popen([str(exe), "cli", "--home", str(home), "demo", "--steps", DEMO_STEPS], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env=_clean_env())
    workers: set[tuple[str, ...]] = set()
    while demo.poll() is None:  # see the worker process while it trains: the frozen executable itself
        for proc in psutil.process_iter(["cmdline"]):
            cmd = tuple(proc.info["cmdline"] or ())
            if len(cmd) >= 2 and cmd[1] == "worker":
                try:
                    if str(proc.cwd()).startswith(str(home)):
                        workers.add(cmd[:2])
                except (psutil.NoSuchProcess, psutil.AccessDenied):
                    pass
        time.sleep(0.2)
    out = demo.stdout.read() if demo.stdout else ""
    assert demo.returncode == 0, out[-3000:]
    assert workers == {(str(exe), "worker")}, f"workers seen: {workers}"
    log = next((home / "runs").glob("*/worker.log")).read_text()
    assert "Traceback" not in log, log[-3000:]
    assert f"demo run 1 completed {DEMO_STEPS} steps" in out, out[-2000:]


@pytest.mark.skipif(shutil.which("Xvfb") is None or shutil.which("xdotool") is None, reason="needs Xvfb and xdotool")
def test_gui_window_on_a_real_display(exe: Path, tmp_path: Path) -> None:
    from tests.app.test_real_display import Xvfb

    xvfb = Xvfb()
    env = _clean_env(DISPLAY=xvfb.display, XDG_CONFIG_HOME=str(tmp_path / "config"))
    log = tmp_path / "gui.log"
    gui = subprocess.Popen([str(exe), "--home", str(tmp_path / "home")], env=env, stdout=log.open("w"),
                           stderr=subprocess.STDOUT, start_new_session=True)
    try:
        found = subprocess.run(["xdotool", "search", "--sync", "--onlyvisible", "--name", "^SparkTrainer$"],
                               capture_output=True, text=True, env=env, timeout=180)
        assert found.returncode == 0 and found.stdout.strip(), log.read_text()
        shot = Path(os.environ.get("SPARK_DIST_SCREENSHOT", tmp_path / "frozen-xvfb.png"))
        time.sleep(2)  # let the first paint land
        grab = ("import sys; from PySide6.QtGui import QGuiApplication; app = QGuiApplication([]); "
                "sys.exit(0 if app.primaryScreen().grabWindow(0).save(sys.argv[1]) else 1)")
        subprocess.run([sys.executable, "-c", grab, str(shot)], timeout=60,
                       env={**env, "QT_QPA_PLATFORM": "xcb", "PATH": os.environ["PATH"]})
        assert shot.stat().st_size > 10_000  # a screen with a window on it, not a blank one
        # One window per home (app.single_instance, QtNetwork's local socket): a second start brings
        # the first forward and exits 0, leaving one window.
        second = subprocess.run([str(exe), "--home", str(tmp_path / "home")], capture_output=True, text=True,
                                env=env, timeout=120)
        assert second.returncode == 0 and "brought it to the front" in second.stderr, second.stderr
        windows = subprocess.run(["xdotool", "search", "--onlyvisible", "--name", "^SparkTrainer$"],
                                 capture_output=True, text=True, env=env, timeout=60).stdout.split()
        assert len(windows) == 1, windows
        # A click gives the window keyboard focus (no window manager), then File > Quit's shortcut.
        window = found.stdout.split()[0]
        shape = subprocess.run(["xdotool", "getwindowgeometry", "--shell", window], capture_output=True, text=True,
                               env=env, timeout=60).stdout
        height = int(dict(line.split("=", 1) for line in shape.split())["HEIGHT"])
        subprocess.run(["xdotool", "mousemove", "--window", window, "20", str(height - 12), "click", "1"],
                       env=env, timeout=60)
        time.sleep(1)
        subprocess.run(["xdotool", "key", "ctrl+q"], env=env, timeout=60)
        assert gui.wait(60) == 0, log.read_text()
        assert "offscreen" not in log.read_text(), log.read_text()
    finally:
        if gui.poll() is None:
            os.killpg(gui.pid, 9)
        xvfb.stop()


def _installed(package: str) -> bool:
    out = subprocess.run(["dpkg-query", "-W", "-f=${Status}", package], capture_output=True, text=True)
    return "install ok installed" in out.stdout


@pytest.mark.skipif(shutil.which("dpkg") is None or os.geteuid() != 0, reason="needs dpkg and root")
def test_deb_installs_runs_from_path_and_removes_cleanly(tmp_path: Path) -> None:
    debs = sorted(DIST.glob(f"{PACKAGE}_*.deb"))
    assert debs, f"no .deb in {DIST}: run `make dist` first"
    if _installed(PACKAGE):
        pytest.skip(f"{PACKAGE} is already installed here; not touching a user's install")
    home = tmp_path / "home"
    try:
        install = subprocess.run(["dpkg", "-i", str(debs[-1])], capture_output=True, text=True, timeout=900)
        assert install.returncode == 0, install.stdout + install.stderr
        env = _clean_env()
        cli = shutil.which("spark-trainer", path=env["PATH"])
        assert cli == "/usr/bin/spark-trainer"
        demo = subprocess.run(["spark-trainer", "--home", str(home), "demo", "--steps", DEMO_STEPS], capture_output=True, text=True,
                              env=env, timeout=900)
        assert demo.returncode == 0, demo.stdout[-2000:] + demo.stderr[-2000:]
        entry = Path("/usr/share/applications/sparktrainer.desktop")
        text = entry.read_text()
        assert "Exec=spark-trainer-gui" in text and "Icon=sparktrainer" in text
        assert shutil.which("spark-trainer-gui", path=env["PATH"]) == "/usr/bin/spark-trainer-gui"
        assert Path("/usr/share/icons/hicolor/256x256/apps/sparktrainer.png").is_file()
        if shutil.which("desktop-file-validate"):
            valid = subprocess.run(["desktop-file-validate", str(entry)], capture_output=True, text=True)
            assert valid.returncode == 0, valid.stdout + valid.stderr
        files = subprocess.run(["dpkg", "-L", PACKAGE], capture_output=True, text=True).stdout.split()
    finally:
        # --purge, not -r: -r leaves the package in dpkg's database as "config-files" (seen after a run).
        remove = subprocess.run(["dpkg", "--purge", PACKAGE], capture_output=True, text=True, timeout=600)
    assert remove.returncode == 0, remove.stderr
    assert not _installed(PACKAGE)
    known = subprocess.run(["dpkg-query", "-W", "-f=${Status}", PACKAGE], capture_output=True, text=True)
    assert "config-files" not in known.stdout, known.stdout
    left = [f for f in files if Path(f).is_file() or (Path(f).is_dir() and f.startswith("/opt/sparktrainer"))]
    assert left == [], left[:10]
    assert not Path("/opt/sparktrainer").exists()
    assert (home / "sparktrainer.db").is_file(), "the user's data home stays"
