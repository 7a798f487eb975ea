"""Dropping a folder the user may not read: a clear message, nothing written.

Tests run as root here, and root reads everything: so the GUI runs in a child process that has
dropped the capabilities that let root ignore file permissions (CAP_DAC_OVERRIDE and
CAP_DAC_READ_SEARCH, removed from its bounding set so exec cannot bring them back). Not as root,
the folder is simply unreadable for this user.
"""

from __future__ import annotations

import ctypes
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from tests.app.gui_assets import write_text_dataset

CHILD = """
import json, os, sys
os.environ["QT_QPA_PLATFORM"] = "offscreen"
from pathlib import Path
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication
app = QApplication([])
from app.context import AppContext
from app.views.datasets_view import DatasetsView
from spark_trainer.store import datasets, projects
from spark_trainer.store.store import Store
home, secret = Path(sys.argv[1]), Path(sys.argv[2])
store = Store.open(home)
projects.create(store, "alpha")
ctx = AppContext(store, QSettings(str(home / "gui.ini"), QSettings.Format.IniFormat), poll_gpus=False)
view = DatasetsView(store, ctx)
view.show()
while not ctx.model.projects.loaded:  # the view lists the app model's projects
    app.processEvents()
task = view.ingest([secret])
while not task.delivered:
    app.processEvents()
print("RESULT " + json.dumps({
    "banner": view.banner.text(), "role": view.banner.role, "datasets": len(datasets.list_all(store)),
    "folders": sorted(p.name for p in store.home.datasets_dir.iterdir()),
}))
ctx.shutdown()
"""


CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, PR_CAPBSET_DROP = 1, 2, 24


def _drop_file_permission_override() -> None:  # runs in the child between fork and exec
    libc = ctypes.CDLL(None, use_errno=True)
    for cap in (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH):
        if libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP) failed")


@pytest.fixture
def shared_dir():
    """A folder both root and `nobody` can use (pytest's tmp_path is private to root)."""
    folder = Path(tempfile.mkdtemp(prefix="spark-unreadable-"))
    folder.chmod(0o777)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def test_an_unreadable_folder_is_refused_with_a_clear_message(shared_dir):
    secret = write_text_dataset(shared_dir / "secret", n_good=5)
    home = shared_dir / "home"
    home.mkdir()
    home.chmod(0o777)
    preexec = _drop_file_permission_override if os.geteuid() == 0 and sys.platform.startswith("linux") else None
    if os.geteuid() == 0 and preexec is None:
        pytest.skip("running as root on a system where root cannot give up reading everything")
    secret.chmod(0)
    env = {**os.environ, "HOME": str(shared_dir), "XDG_RUNTIME_DIR": str(shared_dir),
           "SPARK_TRAINER_HOME": str(home), "PYTHONDONTWRITEBYTECODE": "1"}
    try:
        proc = subprocess.run([sys.executable, "-c", CHILD, str(home), str(secret)], capture_output=True,
                              text=True, timeout=120, env=env, preexec_fn=preexec, cwd=Path(__file__).parents[2])
    finally:
        secret.chmod(0o755)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(next(x for x in proc.stdout.splitlines() if x.startswith("RESULT "))[7:])
    assert result["role"] == "error"
    assert "not readable" in result["banner"] and "secret" in result["banner"]
    assert result["datasets"] == 0 and result["folders"] == []
