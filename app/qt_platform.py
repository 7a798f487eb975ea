"""Which Qt platform plugin the app will use, and which system libraries it lacks to load it.

No Qt import here: this runs before QApplication exists (to choose a fallback instead of Qt's
abort) and from `scripts/check_system_libs.py` (to install or name the missing packages).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

ON_SCREEN = ("xcb", "wayland")

# The libraries Qt 6's xcb platform needs (libQt6XcbQpa and its plugin), as Debian/Ubuntu packages.
# Installed as one set: Qt loads some of them only on demand, so probing can miss a few.
XCB_PACKAGES = (
    "libxcb1", "libx11-6", "libx11-xcb1", "libxcb-cursor0", "libxcb-icccm4", "libxcb-image0",
    "libxcb-keysyms1", "libxcb-randr0", "libxcb-render0", "libxcb-render-util0", "libxcb-shape0",
    "libxcb-shm0", "libxcb-sync1", "libxcb-util1", "libxcb-xfixes0", "libxcb-xinerama0", "libxcb-xinput0",
    "libxcb-xkb1", "libxkbcommon0", "libxkbcommon-x11-0", "libsm6", "libice6",
)
WAYLAND_PACKAGES = ("libwayland-client0", "libwayland-cursor0", "libwayland-egl1", "libxkbcommon0")
# What every platform needs (QtGui itself), offscreen included.
BASE_PACKAGES = ("libegl1", "libgl1", "libopengl0", "libfontconfig1", "libfreetype6", "libdbus-1-3",
                 "libglib2.0-0")

# soname (as ldd prints it) -> the Debian/Ubuntu package that ships it.
SONAME_PACKAGES = {
    "libxcb.so.1": "libxcb1", "libX11.so.6": "libx11-6", "libX11-xcb.so.1": "libx11-xcb1",
    "libxcb-cursor.so.0": "libxcb-cursor0", "libxcb-icccm.so.4": "libxcb-icccm4",
    "libxcb-image.so.0": "libxcb-image0", "libxcb-keysyms.so.1": "libxcb-keysyms1",
    "libxcb-randr.so.0": "libxcb-randr0", "libxcb-render.so.0": "libxcb-render0",
    "libxcb-render-util.so.0": "libxcb-render-util0", "libxcb-shape.so.0": "libxcb-shape0",
    "libxcb-shm.so.0": "libxcb-shm0", "libxcb-sync.so.1": "libxcb-sync1", "libxcb-util.so.1": "libxcb-util1",
    "libxcb-xfixes.so.0": "libxcb-xfixes0", "libxcb-xinerama.so.0": "libxcb-xinerama0",
    "libxcb-xinput.so.0": "libxcb-xinput0", "libxcb-xkb.so.1": "libxcb-xkb1",
    "libxkbcommon.so.0": "libxkbcommon0", "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
    "libSM.so.6": "libsm6", "libICE.so.6": "libice6",
    "libwayland-client.so.0": "libwayland-client0", "libwayland-cursor.so.0": "libwayland-cursor0",
    "libwayland-egl.so.1": "libwayland-egl1",
    "libEGL.so.1": "libegl1", "libGL.so.1": "libgl1", "libOpenGL.so.0": "libopengl0", "libGLX.so.0": "libglx0",
    "libfontconfig.so.1": "libfontconfig1", "libfreetype.so.6": "libfreetype6", "libdbus-1.so.3": "libdbus-1-3",
    "libglib-2.0.so.0": "libglib2.0-0", "libgthread-2.0.so.0": "libglib2.0-0",
}

# Per platform: the Qt files (relative to PySide6's Qt folder) whose dependencies must resolve.
_PLATFORM_FILES = {
    "offscreen": ("plugins/platforms/libqoffscreen.so",),
    "xcb": ("plugins/platforms/libqxcb.so", "lib/libQt6XcbQpa.so.6"),
    "wayland": ("plugins/platforms/libqwayland.so", "lib/libQt6WaylandClient.so.6"),
}
_NOT_FOUND = re.compile(r"^\s*(\S+) => not found", re.MULTILINE)


@dataclass(frozen=True)
class PlatformCheck:
    platform: str
    missing_libs: tuple[str, ...]  # sonames the dynamic loader cannot find

    @property
    def ok(self) -> bool:
        return not self.missing_libs

    @property
    def packages(self) -> tuple[str, ...]:
        """Debian/Ubuntu packages to install: the platform's full set when anything is missing."""
        if self.ok:
            return ()
        full = {"xcb": XCB_PACKAGES, "wayland": WAYLAND_PACKAGES}.get(self.platform, ())
        named = [SONAME_PACKAGES.get(lib) for lib in self.missing_libs]
        return tuple(dict.fromkeys([*BASE_PACKAGES, *full, *(p for p in named if p)]))

    def apt_line(self) -> str:
        return "sudo apt-get install -y " + " ".join(self.packages)

    def problem(self) -> str:
        return f"the Qt '{self.platform}' platform cannot load: missing {', '.join(self.missing_libs)}"

    def message(self) -> str:
        return f"{self.problem()}. On Debian/Ubuntu: {self.apt_line()}"



def wanted_platform(env: Mapping[str, str] | None = None) -> str:
    """The platform Qt will be asked for: QT_QPA_PLATFORM's first entry, else from the session."""
    env = os.environ if env is None else env
    explicit = env.get("QT_QPA_PLATFORM", "").split(";")[0].split(":")[0].strip()
    if explicit:
        return explicit
    if env.get("WAYLAND_DISPLAY"):
        return "wayland"
    if env.get("DISPLAY"):
        return "xcb"
    return "offscreen"


def qt_dir() -> Path | None:
    """PySide6's bundled Qt folder (source install or frozen app), found without importing Qt."""
    import importlib.util

    spec = importlib.util.find_spec("PySide6")
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations))) / "Qt"
    return folder if folder.is_dir() else None


def check_platform(platform: str) -> PlatformCheck:
    """Ask the dynamic loader (ldd) which libraries of `platform`'s Qt plugin are missing.

    Where ldd or the plugin files are absent (not Linux, a trimmed build), nothing is reported:
    Qt itself is then the judge.
    """
    root = qt_dir()
    ldd = shutil.which("ldd")
    if root is None or ldd is None or platform not in _PLATFORM_FILES:
        return PlatformCheck(platform, ())
    missing: list[str] = []
    for rel in _PLATFORM_FILES[platform]:
        path = root / rel
        if not path.exists():
            continue
        out = subprocess.run([ldd, str(path)], capture_output=True, text=True, check=False).stdout
        missing += _NOT_FOUND.findall(out)
    return PlatformCheck(platform, tuple(dict.fromkeys(missing)))
