"""The name tag (jobs/leftovers.py) of a process of this host that has ended: what a folder left by a
killed operation is named with."""

from __future__ import annotations

import subprocess
import sys

from spark_trainer.store.presence import host_tag


def dead_pid() -> int:
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True,
                          check=True)
    return int(done.stdout)


def dead_tag() -> str:
    """`@<host>-<pid>-<start ms>` of a process that is gone."""
    return f"@{host_tag()}-{dead_pid()}-1000"
