"""After install: check that Qt's shared libraries load; on Debian/Ubuntu as root, install the
few system packages Qt needs when they are missing (a bare container often lacks them)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

PROBE = "from PySide6 import QtGui, QtWidgets"
DEBIAN_PACKAGES = ["libegl1", "libgl1", "libxkbcommon0", "libfontconfig1", "libdbus-1-3", "libglib2.0-0"]


def qt_loads() -> tuple[bool, str]:
    proc = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True,
                          env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
    return proc.returncode == 0, proc.stderr.strip().splitlines()[-1:] and proc.stderr.strip().splitlines()[-1] or ""


def main() -> int:
    ok, error = qt_loads()
    if ok:
        return 0
    print(f"Qt does not load: {error}", file=sys.stderr)
    if shutil.which("apt-get") and os.geteuid() == 0:
        print(f"installing {' '.join(DEBIAN_PACKAGES)} with apt-get", file=sys.stderr)
        subprocess.run(["apt-get", "update", "-qq"], check=False)
        subprocess.run(["apt-get", "install", "-y", "-qq", *DEBIAN_PACKAGES], check=False)
        ok, error = qt_loads()
        if ok:
            return 0
    print("Install your distribution's EGL, OpenGL, xkbcommon and fontconfig libraries "
          f"(on Debian: apt-get install {' '.join(DEBIAN_PACKAGES)}).", file=sys.stderr)
    return 0  # the CLI works without Qt; the GUI tests will report the problem clearly


if __name__ == "__main__":
    sys.exit(main())
