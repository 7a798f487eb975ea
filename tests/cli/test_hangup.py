"""SIGTERM and SIGHUP taken as Ctrl-C end a command the way its code says, whatever was running when
they came: one that came while code made by `exec` ran (dataclasses, SQLAlchemy) made CPython 3.11 end
`python -m spark_trainer` by SIGINT after a clean exit (`queue serve` told to stop just after it
started: -2, not 0)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

MODULE = textwrap.dedent("""
    import os, signal, sys, threading
    from spark_trainer.cli.hangup import like_ctrl_c

    def main():
        threading.Timer(0.3, os.kill, (os.getpid(), signal.{name})).start()
        try:
            with like_ctrl_c():
                exec("while True: pass")  # as code made by exec runs when the signal comes
        except KeyboardInterrupt:
            print("stopped")
        return 0

    if __name__ == "__main__":
        sys.exit(main())
""")


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
@pytest.mark.parametrize("name", ["SIGTERM", "SIGHUP"])
def test_a_signal_taken_as_ctrl_c_and_handled_leaves_a_clean_exit(name: str, tmp_path: Path) -> None:
    (tmp_path / "command.py").write_text(MODULE.format(name=name), encoding="utf-8")
    # Run with -m, as `python -m spark_trainer` is (a script file is not affected).
    done = subprocess.run([sys.executable, "-m", "command"], capture_output=True, text=True, timeout=60,
                          cwd=tmp_path)
    assert (done.returncode, done.stdout) == (0, "stopped\n"), done.stderr
