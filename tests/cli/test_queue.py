"""`queue serve` stopped by a service manager (SIGTERM) or a closed terminal (SIGHUP) stops as Ctrl-C
does: it said nothing and exited 143, leaving its `.open/` mark for the next open to clear."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from spark_trainer.store.presence import FOLDER
from spark_trainer.store.store import Store


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
def test_queue_serve_stops_on_sigterm_and_sighup_as_on_ctrl_c(home: Path, signum: int) -> None:
    Store.open(home).close()  # made and migrated here, so the server's start is quick
    serve = subprocess.Popen([sys.executable, "-m", "spark_trainer", "--home", str(home), "queue", "serve",
                              "--interval", "0.1"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             env={**os.environ, "CUDA_VISIBLE_DEVICES": ""})
    try:
        assert "scheduler running" in serve.stderr.readline()
        deadline = time.monotonic() + 60
        while not list((home / FOLDER).glob("*.lock")):  # the store opens just after that line
            assert serve.poll() is None and time.monotonic() < deadline, serve.communicate()
            time.sleep(0.05)
        serve.send_signal(signum)
        out, err = serve.communicate(timeout=60)
    finally:
        if serve.poll() is None:
            serve.kill()
            serve.wait()
    assert serve.returncode == 0, err
    assert out == "scheduler stopped; running workers keep training\n", (out, err)
    assert "Traceback" not in err and "error" not in err, err
    assert not list((home / FOLDER).glob("*.lock"))  # its mark released on the way out
