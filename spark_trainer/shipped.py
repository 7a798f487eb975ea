"""Files the app ships beside its packages (`resources/`: icons, the check box's mark, the demo's data;
`installers/linux/`: the menu entry's template): where they are in a source checkout, an installed tree,
or the frozen app, where PyInstaller unpacks build.spec's data folders under sys._MEIPASS. One lookup for
the app's icons (app/resources.py), the demo (jobs/demo.py) and the menu entry (menu_entry.py)."""

from __future__ import annotations

import sys
from pathlib import Path


def roots() -> list[Path]:
    """Where shipped files may be, first found wins: the frozen app's folder, then the tree this runs from."""
    frozen = getattr(sys, "_MEIPASS", None)
    return [*([Path(frozen)] if frozen else []), Path(__file__).resolve().parents[1]]


def shipped_file(relative: str | Path) -> Path | None:
    """`relative` (from the tree's root: "resources/icons/x.svg") where it exists, else None."""
    return next((root / relative for root in roots() if (root / relative).is_file()), None)
