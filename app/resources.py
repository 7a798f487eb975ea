"""Files under `resources/` (icons, the check box's mark, the demo's data) in a source checkout or
in the frozen app, where PyInstaller unpacks build.spec's `resources` data folder under sys._MEIPASS."""

from __future__ import annotations

from pathlib import Path

from spark_trainer.shipped import shipped_file


def resource(relative: str) -> Path | None:
    """`resources/<relative>` if it exists: the frozen app's copy first, then the checkout's; else None."""
    return shipped_file(Path("resources") / relative)
