"""After install: check that Qt can load the platform the app will use, and fix it where we may.

The platform is the one the app will ask for: wayland when WAYLAND_DISPLAY is set, xcb when DISPLAY
is, else offscreen (`--platform` overrides). Missing shared libraries are named. On Debian/Ubuntu as
root the full set Qt 6 needs for that platform is installed with apt-get, together with what the
real-display GUI test needs (the xcb set, Xvfb, xdotool), so a CI machine runs that test too. As any
other user, with --no-install, or with SPARK_TRAINER_NO_APT=1 in the environment (for root on a machine
whose packages you manage yourself: `make` runs this script with no way to pass it an option), nothing
is installed and the one `apt-get install` line to run is printed.

Exit code 0 even when something is missing (the CLI works without Qt; the GUI falls back and says
why), unless --strict.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from app.qt_platform import BASE_PACKAGES, XCB_PACKAGES, check_platform, wanted_platform  # noqa: E402

# The real-display test (tests/app/test_real_display.py) drives the app in Xvfb with xdotool.
DISPLAY_TEST_PACKAGES = ("xvfb", "xdotool")
# Set to anything but "" or "0": never run apt-get, as --no-install (make has no way to pass that option).
NO_APT_ENV = "SPARK_TRAINER_NO_APT"
PROBE = "from PySide6.QtWidgets import QApplication; app = QApplication([]); print(app.platformName())"


def qt_starts(platform: str) -> tuple[bool, str]:
    """Start a QApplication on `platform` in a child process (Qt aborts the process when it cannot)."""
    proc = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "QT_QPA_PLATFORM": platform})
    lines = proc.stderr.strip().splitlines()
    said = [line for line in lines if line.startswith("qt.qpa")] or lines[-1:]  # Qt's own reason first
    return proc.returncode == 0 and proc.stdout.strip() == platform, "; ".join(said)


def not_installed(packages: tuple[str, ...]) -> list[str]:
    """The Debian packages among `packages` that dpkg does not list as installed."""
    missing = []
    for name in packages:
        out = subprocess.run(["dpkg-query", "-W", "-f=${Status}", name], capture_output=True, text=True)
        if out.returncode != 0 or "install ok installed" not in out.stdout:
            missing.append(name)
    return missing


def apt_install(packages: list[str]) -> bool:
    print(f"check_system_libs: installing {' '.join(packages)} with apt-get", file=sys.stderr)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=False, env=env)
    done = subprocess.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", *packages],
                          check=False, env=env)
    return done.returncode == 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--platform", choices=("auto", "xcb", "wayland", "offscreen"), default="auto",
                        help="Qt platform to check (default: the one the app will use here)")
    parser.add_argument("--no-install", action="store_true",
                        help=f"only report, never run apt-get (also {NO_APT_ENV}=1 in the environment)")
    parser.add_argument("--strict", action="store_true", help="exit 1 when something is still missing")
    args = parser.parse_args(argv)

    platform = wanted_platform() if args.platform == "auto" else args.platform
    checks = [check_platform("offscreen")] + ([check_platform(platform)] if platform != "offscreen" else [])
    debian = shutil.which("apt-get") is not None and shutil.which("dpkg-query") is not None
    opted_out = args.no_install or os.environ.get(NO_APT_ENV, "") not in ("", "0")
    may_install = debian and os.geteuid() == 0 and not opted_out
    wanted: list[str] = []
    for check in checks:
        wanted += check.packages
    if may_install:
        # As root on Debian also set up the real-display test (xcb + Xvfb + xdotool), and install the
        # whole xcb set rather than what ldd saw: Qt dlopens some libraries later.
        wanted += [*BASE_PACKAGES, *XCB_PACKAGES, *DISPLAY_TEST_PACKAGES]
        todo = not_installed(tuple(dict.fromkeys(wanted)))
        if todo and not apt_install(todo):
            print("check_system_libs: apt-get install failed; see its output above", file=sys.stderr)
        checks = [check_platform(check.platform) for check in checks]

    missing = [check for check in checks if not check.ok]
    for check in missing:
        print(f"check_system_libs: {check.problem()}", file=sys.stderr)
    if missing and debian and not may_install:
        packages = tuple(dict.fromkeys(p for check in missing for p in check.packages))
        print(f"check_system_libs: to fix, run: sudo apt-get install -y {' '.join(packages)}", file=sys.stderr)
    if not missing:
        # ldd is satisfied; let Qt itself have the last word where it can actually start.
        probe = "offscreen" if platform not in ("xcb", "wayland") else platform
        ok, error = qt_starts(probe)
        if not ok:
            print(f"check_system_libs: Qt could not start on '{probe}': {error}", file=sys.stderr)
            return 1 if args.strict else 0
        print(f"check_system_libs: Qt loads the '{platform}' platform", file=sys.stderr)
    return 1 if (missing and args.strict) else 0


if __name__ == "__main__":
    sys.exit(main())
