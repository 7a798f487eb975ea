"""Finding the files behind a dropped folder as users have them: unzipped on a Mac, copied off Windows."""

from __future__ import annotations

from pathlib import Path

import pytest

from spark_trainer.errors import BadInput
from spark_trainer.ingest import ingest_paths, read_manifest
from spark_trainer.ingest.detect import gather
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
    assert result.report.rejected == []  # not "not an image file (for another kind...)" for Thumbs.db
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


def test_iphone_and_camera_raw_photos_are_named_as_such(store, project, tmp_path: Path) -> None:
    from PIL import Image

    folder = tmp_path / "camera roll"
    write_image(folder / "IMG_0001.JPG", seed=1)
    Image.new("RGB", (40, 40), (10, 200, 30)).save(folder / "IMG_0002.avif")
    (folder / "IMG_0003.HEIC").write_bytes(b"\x00\x00\x00\x18ftypheic")
    (folder / "DSC_0004.NEF").write_bytes(b"MM\x00*")
    result = ingest_paths(store, [folder], project=project)
    assert result.dataset.num_items == 2  # the JPEG and the AVIF
    assert {r.source: r.reason for r in result.report.rejected} == {
        "camera roll/IMG_0003.HEIC": "HEIC photo (iPhone): not supported; convert it to JPEG first "
                                     "(or set the camera to Most Compatible)",
        "camera roll/DSC_0004.NEF": "camera raw file: not supported; export it as JPEG or PNG first"}
    (folder / "IMG_0001.JPG").unlink()
    (folder / "IMG_0002.avif").unlink()
    with pytest.raises(BadInput, match=r"^no supported files found: camera raw file: not supported; export it as "
                                       r"JPEG or PNG first; HEIC photo \(iPhone\): not supported"):
        ingest_paths(store, [folder], project=project)


def test_a_path_given_twice_is_read_once(store, project, tmp_path) -> None:
    # Seen in an ingestion walk: `ingest dups.csv dups.csv` read it twice and said 4 duplicates (it has 1).
    data = tmp_path / "dups.csv"
    data.write_text("text,label\na,1\nb,2\na,1\n")
    result = ingest_paths(store, [data, data, tmp_path / "." / "dups.csv"], project=project)
    assert result.dataset.num_items == 2 and result.dataset.num_duplicates == 1
    # The same object twice as well as two spellings of one path (a first version kept the former).
    assert [f.source for f in gather([data, data, str(tmp_path / "." / "dups.csv")])] == ["dups.csv"]


def test_an_archive_says_to_extract_it(store, project, tmp_path) -> None:
    # Seen in an ingestion walk: "no supported files found (saw: .zip); supported: ..." named neither the
    # file nor what to do, and a zip among images was "not an image file (for another kind, choose it...)".
    import zipfile

    archive = tmp_path / "data.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("a.jsonl", '{"text": "a"}\n')
    with pytest.raises(BadInput, match=r"^no supported files found: data\.zip: an archive: not read; extract it "
                                       r"and ingest the folder it holds$"):
        ingest_paths(store, [archive], project=project)
    folder = tmp_path / "mixed"
    folder.mkdir()
    archive.rename(folder / "data.zip")
    (folder / "rows.jsonl").write_text('{"text": "a"}\n{"text": "b"}\n')
    result = ingest_paths(store, [folder], project=project)
    assert [(r.source, r.reason) for r in result.report.rejected] == [
        ("mixed/data.zip", "an archive: not read; extract it and ingest the folder it holds")]
