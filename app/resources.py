"""Files under `resources/` (icons, the check box's mark, the demo's data) in a source checkout or
in the frozen app, where PyInstaller unpacks build.spec's `resources` data folder under sys._MEIPASS."""

from __future__ import annotations

import sys
from pathlib import Path


def resource(relative: str) -> Path | None:
    """`resources/<relative>` if it exists: the frozen app's copy first, then the checkout's; else None."""
    for root in (getattr(sys, "_MEIPASS", None), Path(__file__).resolve().parents[1]):
        if root and (Path(root) / "resources" / relative).is_file():
            return Path(root) / "resources" / relative
    return None
