"""Image captions from a `metadata.jsonl` / `metadata.csv` manifest beside the images (and from
`.txt` sidecars, which win), kept in the dataset's manifest for diffusion training."""

from __future__ import annotations

import json
from pathlib import Path

from PIL import Image

from spark_trainer.ingest import ingest_paths
from spark_trainer.ingest.manifest import read_manifest


def _images(folder: Path, n: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        Image.new("RGB", (40, 40), (20 * i, 100, 200)).save(folder / f"img{i}.png")


def test_captions_come_from_metadata_jsonl_and_bad_rows_are_reported(store, project, tmp_path):
    root = tmp_path / "shots"
    _images(root, 4)
    (root / "img3.txt").write_text("from the sidecar")
    (root / "metadata.jsonl").write_text("\n".join([
        json.dumps({"file_name": "img0.png", "text": "a blue square"}),
        json.dumps({"file_name": "img1.png", "caption": "a teal square"}),
        json.dumps({"file_name": "missing.png", "text": "nothing here"}),
        json.dumps({"file_name": "img3.png", "text": "the sidecar wins"}),
        "not json",
    ]) + "\n")
    result = ingest_paths(store, [root], project=project)

    rows = read_manifest(Path(result.dataset.path))
    captions = {row["source"].rsplit("/", 1)[-1]: row["caption"] for row in rows}
    assert captions == {"img0.png": "a blue square", "img1.png": "a teal square", "img2.png": None,
                        "img3.png": "from the sidecar"}
    problems = {(r.line, r.reason.split(" (")[0]) for r in result.report.rejected}
    assert problems == {(3, "file_name 'missing.png' does not exist beside the manifest"), (5, "not JSON")}
    assert result.dataset.kind == "image" and result.dataset.num_items == 4


def test_captions_from_metadata_csv(store, project, tmp_path):
    root = tmp_path / "shots"
    _images(root, 2)
    (root / "metadata.csv").write_text("file_name,text\nimg0.png,a red dot\nimg1.png,\"a dot, green\"\n")
    rows = read_manifest(Path(ingest_paths(store, [root], project=project).dataset.path))
    assert sorted(r["caption"] for r in rows) == ["a dot, green", "a red dot"]


def test_a_metadata_csv_caption_spanning_lines_keeps_its_line_break(store, project, tmp_path):
    root = tmp_path / "shots"
    _images(root, 3)
    (root / "metadata.csv").write_bytes(
        b'\xef\xbb\xbffile_name;text\r\nimg0.png;"a blue square\r\non a white table"\r\n'
        b"img1.png;a teal square\r\nnope.png;gone\r\n")
    result = ingest_paths(store, [root], project=project)
    captions = {r["source"]: r["caption"] for r in read_manifest(Path(result.dataset.path))}
    assert captions["shots/img0.png"] == "a blue square\non a white table"
    assert captions["shots/img1.png"] == "a teal square"
    assert [(r.line, r.reason) for r in result.report.rejected] == [
        (5, "file_name 'nope.png' does not exist beside the manifest")]


def test_an_upper_case_caption_file_beside_its_image_is_read(store, project, tmp_path):
    root = tmp_path / "camera"
    root.mkdir()
    Image.new("RGB", (40, 40), (200, 0, 0)).save(root / "IMG_0001.JPG")
    (root / "IMG_0001.TXT").write_text("a red square")
    result = ingest_paths(store, [root], project=project)
    assert [r["caption"] for r in read_manifest(Path(result.dataset.path))] == ["a red square"]


def test_a_metadata_csv_cell_over_the_reader_limit_is_a_rejection_not_a_crash(store, project, tmp_path):
    """A 17 MB cell in metadata.csv ended `dataset ingest` with csv's traceback; the captions before it
    are kept and the line is named, as a text CSV's over-long cell is."""
    from spark_trainer.delimited import CELL_CHARS

    root = tmp_path / "shots"
    _images(root, 3)
    (root / "metadata.csv").write_text("file_name,text\nimg0.png,a blue square\nimg1.png,"
                                       + "z" * (CELL_CHARS + 1) + "\nimg2.png,a red one\n")
    result = ingest_paths(store, [root], project=project)

    captions = {row["source"].rsplit("/", 1)[-1]: row["caption"] for row in read_manifest(Path(result.dataset.path))}
    assert captions["img0.png"] == "a blue square"
    assert [(r.line, r.reason.split(" (")[0]) for r in result.report.rejected] == [
        (3, "a cell is over 16777216 characters")]


def test_images_without_a_caption_among_captioned_ones_are_kept_and_noted(store, project, tmp_path):
    # `dataset report` said "every file and row passed"; the gap was first said at `exp create`.
    root = tmp_path / "caps"
    _images(root, 8)
    for i in range(8):
        if i != 3:
            (root / f"img{i}.txt").write_text(f"a square, shade {i}")
    result = ingest_paths(store, [root], project=project)
    assert result.dataset.num_items == 8 and result.report.num_rejected == 0  # kept: a run may skip them
    note = ("1 of 8 images has no caption (caps/img3.png): kept, but a diffusion run refuses the dataset unless "
            "recipe_config.missing_captions is skip or empty; add a name.txt caption beside each (or a "
            "metadata.jsonl row)")
    assert note in result.report.notes
    assert f"> {note}" in (Path(result.dataset.path) / "README.md").read_text()  # the card says it too


def test_the_caption_note_names_the_first_five_and_counts_the_rest(store, project, tmp_path):
    root = tmp_path / "few"
    _images(root, 9)
    for i in (0, 8):
        (root / f"img{i}.txt").write_text("captioned")
    notes = ingest_paths(store, [root], project=project).report.notes
    assert [n.split(":")[0] for n in notes if "no caption" in n] == [
        "7 of 9 images have no caption (few/img1.png, few/img2.png, few/img3.png, few/img4.png, few/img5.png "
        "and 2 more)"]


def test_no_caption_note_when_every_image_or_none_has_a_caption(store, project, tmp_path):
    _images(tmp_path / "plain", 3)  # a classification folder: no caption anywhere is not a gap
    _images(tmp_path / "all", 3)
    for i in range(3):
        (tmp_path / "all" / f"img{i}.txt").write_text("captioned")
    for folder in ("plain", "all"):
        assert not any("caption" in n for n in ingest_paths(store, [tmp_path / folder], project=project).report.notes)
