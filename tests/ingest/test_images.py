"""Image and audio ingestion: class folders, sidecar captions, decode and size gates, --link."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import pytest

from spark_trainer.ingest import IngestOptions, ingest_paths, read_manifest
from tests.ingest.media import truncate, write_image, write_phone_photo


def test_class_folders_labels_captions_and_gates(store, project, tmp_path) -> None:
    root = tmp_path / "pets"
    for i in range(3):
        write_image(root / "cat" / f"c{i}.png", seed=i)
        write_image(root / "dog" / f"d{i}.jpg", size=(80, 60), seed=10 + i)
    (root / "cat" / "c0.txt").write_text("a grey cat\n", encoding="utf-8")
    write_image(root / "dog" / "copy.png", seed=0)  # same pixels and encoder as cat/c0.png: exact duplicate
    write_image(root / "dog" / "tiny.png", size=(16, 16), seed=99)
    (root / "dog" / "zero.png").write_bytes(b"")
    (root / "dog" / "fake.jpg").write_text("not an image at all")
    truncate(write_image(root / "dog" / "cut.png", size=(200, 200), seed=7), keep=0.4)

    result = ingest_paths(store, [root], project=project)
    d, report = result.dataset, result.report
    assert d.kind == "image"
    assert (d.num_items, d.num_rejected, d.num_duplicates) == (6, 4, 1)
    reasons = {r.source: r.reason for r in report.rejected}
    assert reasons["pets/dog/tiny.png"] == "image too small: 16x16; the minimum side is 32px"
    assert reasons["pets/dog/zero.png"] == "empty file (0 bytes)"
    assert reasons["pets/dog/fake.jpg"].startswith("undecodable image")
    assert reasons["pets/dog/cut.png"].startswith("undecodable image")
    assert report.duplicates[0].source == "pets/dog/copy.png"

    rows = read_manifest(Path(d.path))
    by_source = {r["source"]: r for r in rows}
    first = by_source["pets/cat/c0.png"]
    assert first["label"] == "cat" and first["caption"] == "a grey cat"
    assert (first["width"], first["height"]) == (64, 48)
    assert by_source["pets/dog/d1.jpg"]["label"] == "dog" and by_source["pets/dog/d1.jpg"]["caption"] is None
    for row in rows:
        copied = Path(d.path) / row["path"]
        assert row["path"].startswith("files/") and copied.is_file()
    card = (Path(d.path) / "README.md").read_text()
    for label in ("cat", "dog"):  # each class's items in training and in validation
        train = sum(r["label"] == label and r["split"] == "train" for r in rows)
        assert f"| {label} | {train} | {3 - train} |" in card
    assert "64x48" in card and "80x60" in card


def test_link_references_files_in_place(store, project, tmp_path) -> None:
    root = tmp_path / "imgs"
    for i in range(3):
        write_image(root / f"{i}.png", seed=i)
    result = ingest_paths(store, [root], project=project, link=True,
                          options=IngestOptions(min_image_side=8))
    rows = read_manifest(Path(result.dataset.path))
    assert [Path(r["path"]) for r in rows] == [(root / f"{i}.png").resolve() for i in range(3)]
    assert not (Path(result.dataset.path) / "files").exists()
    assert result.dataset.meta["linked"] is True


def test_audio_with_transcripts(store, project, tmp_path) -> None:
    root = tmp_path / "speech"
    root.mkdir()
    for i, seconds in enumerate((1.0, 0.5)):
        with wave.open(str(root / f"s{i}.wav"), "wb") as wav:
            wav.setnchannels(1)
            wav.setsampwidth(2)
            wav.setframerate(8000)
            tone = (np.sin(np.arange(int(8000 * seconds)) * (i + 1) * 0.05) * 8000).astype(np.int16)
            wav.writeframes(tone.tobytes())
    (root / "s0.txt").write_text("hello there")
    (root / "bad.wav").write_bytes(b"RIFF0000WAVEjunk")
    result = ingest_paths(store, [root], project=project)
    assert result.dataset.kind == "audio"
    rows = {r["source"]: r for r in read_manifest(Path(result.dataset.path))}
    assert rows["speech/s0.wav"]["transcript"] == "hello there" and rows["speech/s0.wav"]["duration"] == 1.0
    assert rows["speech/s1.wav"]["duration"] == 0.5
    assert [r.source for r in result.report.rejected] == ["speech/bad.wav"]


def test_file_names_that_are_not_utf8(store, project, tmp_path) -> None:
    import os

    root = tmp_path / "odd"
    write_image(root / "plain.png", seed=4)
    os.rename(write_image(root / "tmp.png", seed=3), os.fsencode(root) + b"/caf\xe9.png")  # cv2 cannot take such names
    copied = ingest_paths(store, [root], project=project)
    rows = read_manifest(Path(copied.dataset.path))
    assert sorted(r["source"] for r in rows) == ["odd/caf\ufffd.png", "odd/plain.png"]
    assert all((Path(copied.dataset.path) / r["path"]).is_file() for r in rows)
    linked = ingest_paths(store, [root], project=project, link=True)
    assert linked.dataset.num_items == 1
    assert "cannot be linked" in linked.report.rejected[0].reason


def test_a_phone_photo_is_recorded_at_the_size_a_viewer_shows(store, project, tmp_path) -> None:
    write_phone_photo(tmp_path / "photos" / "IMG_0001.JPG", (80, 40))
    write_image(tmp_path / "photos" / "flat.png", size=(64, 48))
    rows = {r["source"]: r for r in read_manifest(Path(ingest_paths(store, [tmp_path / "photos"], project=project).dataset.path))}
    assert (rows["photos/IMG_0001.JPG"]["width"], rows["photos/IMG_0001.JPG"]["height"]) == (40, 80)


def test_a_very_large_image_is_gated_by_ingestion_without_pillows_attack_warning(store, project, tmp_path,
                                                                                 monkeypatch) -> None:
    import warnings

    from PIL import Image

    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 2000)  # Pillow warns over 2,000 pixels, refuses over 4,000
    write_image(tmp_path / "scans" / "a" / "big.png", size=(50, 50))  # 2,500: warned about
    write_image(tmp_path / "scans" / "a" / "huge.png", size=(80, 80))  # 6,400: Pillow will not open it
    write_image(tmp_path / "scans" / "b" / "wide.png", size=(60, 40))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = ingest_paths(store, [tmp_path / "scans"], project=project,
                              options=IngestOptions(max_image_pixels=2400))
    assert not [w for w in caught if issubclass(w.category, Image.DecompressionBombWarning)]
    assert {r.source: r.reason for r in result.report.rejected} == {
        "scans/a/big.png": "image too large: 50x50 pixels; the limit is 2,400 pixels",
        "scans/a/huge.png": "image too large: over 4,000 pixels, more than Pillow opens"}


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads the peak memory from /proc")
def test_checking_a_large_photo_does_not_hold_its_pixels(tmp_path) -> None:
    """Each image was decoded in full only to check that it is whole: a 48-megapixel JPEG took
    144 MB. Decoding it at an eighth of its size checks every byte with a 64th of the memory. Measured
    in a fresh process, as Pillow's pixel memory is not Python's (tracemalloc does not see it)."""
    import subprocess
    import sys
    import textwrap

    from PIL import Image

    photo = tmp_path / "photos" / "big.jpg"
    photo.parent.mkdir()
    gradient = np.add.outer(np.arange(6000, dtype=np.uint16), np.arange(8000, dtype=np.uint16)) % 256
    Image.fromarray(np.stack([gradient.astype(np.uint8)] * 3, -1)).save(photo, quality=80)
    truncate(write_image(tmp_path / "photos" / "cut.jpg", size=(2000, 1500), seed=3), keep=0.6)
    script = textwrap.dedent(f"""
        from spark_trainer.ingest import ingest_paths, IngestOptions
        from spark_trainer.store import projects
        from spark_trainer.store.store import Store
        def peak():  # this process's peak resident memory (ru_maxrss would carry its parent's over)
            with open("/proc/self/status") as status:
                return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
        with Store.open({str(tmp_path / "home")!r}) as store:
            projects.create(store, "p")
            before = peak()
            result = ingest_paths(store, [{str(photo.parent)!r}], project="p")
            grown = peak() - before
        rejected = [(r.source, r.reason.split(":")[0]) for r in result.report.rejected]
        print(grown * 1024, result.dataset.num_items, rejected)
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parents[2]).stdout.split(maxsplit=2)
    grown, items, rejected = int(out[0]), int(out[1]), out[2].strip()
    assert (items, rejected) == (1, "[('photos/cut.jpg', 'undecodable image')]")  # still checked whole
    assert grown < 8000 * 6000 * 3 / 4, f"checking the photo grew memory by {grown / 2**20:.0f} MB"


def test_an_image_whose_caption_is_not_utf8_is_kept_without_it_and_the_report_says_so(store, project, tmp_path) -> None:
    """`printf 'caf\\xe9' > red_square/000.txt` rejected the whole image, also for image classification,
    which reads no caption: the image is kept with no caption and one note names the file and line
    (a diffusion run, which needs captions, then sees it has none)."""
    root = tmp_path / "shapes"
    for i, name in enumerate(("000", "001")):
        write_image(root / "red_square" / f"{name}.png", seed=i)
        write_image(root / "blue_bars" / f"{name}.png", seed=10 + i)
    (root / "red_square" / "000.txt").write_bytes(b"a red\ncaf\xe9")
    (root / "red_square" / "001.txt").write_text("a red square")
    result = ingest_paths(store, [root], project=project)
    assert result.report.rejected == [] and result.dataset.num_items == 4
    captions = {r["source"]: r["caption"] for r in read_manifest(Path(result.dataset.path))}
    assert captions["shapes/red_square/000.png"] is None and captions["shapes/red_square/001.png"] == "a red square"
    assert [n for n in result.report.notes if "000.txt" in n] == [
        "shapes/red_square/000.png: 000.txt is not valid UTF-8 at line 2; kept without its caption (save 000.txt "
        "as UTF-8 to use it)"]


def test_images_beside_the_class_folders_are_named_in_a_note(store, project, tmp_path: Path) -> None:
    root = tmp_path / "pets"
    for label in ("cat", "dog"):
        for i in range(2):
            write_image(root / label / f"{i}.png", seed=hash((label, i)) % 10_000)
    write_image(root / "stray.png", seed=99)
    result = ingest_paths(store, [root], project=project)
    assert ("1 of 5 items are not in a class sub-folder and have no label (first: pets/stray.png); classification "
            "refuses unlabelled items: move them into a class folder, or leave them out") in result.report.notes
    alone = ingest_paths(store, [root / "cat"], project=project, name="cats")  # no class folders: nothing to say
    assert not any("class sub-folder" in note for note in alone.report.notes)
