"""Finding the files behind a dropped folder as users have them: unzipped on a Mac, copied off Windows."""

from __future__ import annotations

from pathlib import Path

import pytest

from spark_trainer.errors import BadInput
from spark_trainer.ingest import ingest_paths, read_manifest
from tests.ingest.media import write_image


def mac_zip_folder(root: Path) -> Path:
    """Two class folders as macOS's zip leaves them, plus Windows's clutter inside them."""
    for label, seed in (("cat", 0), ("dog", 10)):
        for i in range(2):
            write_image(root / label / f"{label}{i}.jpg", seed=seed + i)
            appledouble = root / "__MACOSX" / label / f"._{label}{i}.jpg"
            appledouble.parent.mkdir(parents=True, exist_ok=True)
            appledouble.write_bytes(b"\x00\x05\x16\x07\x00\x02\x00\x00Mac OS X        ")
        (root / label / f"._{label}0.jpg").write_bytes(b"\x00\x05\x16\x07\x00\x02\x00\x00Mac OS X        ")
        (root / label / "Thumbs.db").write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1")
        (root / label / "desktop.ini").write_text("[.ShellClassInfo]\r\nIconResource=x\r\n")
    (root / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1")
    return root


def test_os_clutter_is_left_out_and_the_report_says_so(store, project, tmp_path: Path) -> None:
    root = mac_zip_folder(tmp_path / "pets")
    result = ingest_paths(store, [root], project=project)
    assert result.report.rejected == []  # not "not an image file (pass --kind ...)" for Thumbs.db
    rows = read_manifest(Path(result.dataset.path))
    assert sorted(r["source"] for r in rows) == ["pets/cat/cat0.jpg", "pets/cat/cat1.jpg",
                                                  "pets/dog/dog0.jpg", "pets/dog/dog1.jpg"]
    assert result.report.notes == ["left out 8 hidden or system entries (not data): .DS_Store, "
                                   "._* (macOS AppleDouble) (2), Thumbs.db (2), __MACOSX/, desktop.ini (2)"]


def test_a_folder_of_nothing_but_clutter_says_what_it_holds(store, project, tmp_path: Path) -> None:
    folder = tmp_path / "export"
    folder.mkdir()
    (folder / "Thumbs.db").write_bytes(b"\xd0\xcf\x11\xe0")
    (folder / ".DS_Store").write_bytes(b"\x00")
    with pytest.raises(BadInput, match=r"export: folder is empty; it holds only hidden or system files "
                                       r"\(\.DS_Store, Thumbs\.db\)$"):
        ingest_paths(store, [folder], project=project)
