"""Per-field counts of a manifest's rows, and the first rows that leave each field empty."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from spark_trainer.manifest_fields import FieldTally, ManifestStamp, count_manifest, describes, is_filled

STAMP = ManifestStamp(123, 1_700_000_000_000_000_001)


def test_counts_name_the_first_rows_without_a_field_even_before_it_first_appears() -> None:
    tally = FieldTally()
    for i in range(12):
        caption = f"c{i}" if i in (2, 3, 9) else ("  " if i == 4 else None)
        tally.add({"path": f"files/{i}.png", "source": f"{i}.png", "caption": caption, "label": "cat"})
    tally.add({"source": "t.csv:2", "record": {"path": "a.png", "caption": "x", "n": 0, "gone": float("nan")}})
    summary = tally.summary(STAMP)
    assert summary == {"rows": 13, "filled": {"caption": 4, "label": 12, "n": 1, "path": 1},
                       "lacking": {"caption": ["0.png", "1.png", "4.png", "5.png", "6.png"],
                                   "label": ["t.csv:2"], "n": ["0.png", "1.png", "2.png", "3.png", "4.png"],
                                   "path": ["0.png", "1.png", "2.png", "3.png", "4.png"]},
                       "sides": {}, "splits": {"train": 13, "val": 0}, "manifest_bytes": 123,
                       "manifest_mtime_ns": STAMP.mtime_ns}
    assert describes(summary, STAMP)
    assert not describes(summary, ManifestStamp(124, STAMP.mtime_ns))  # the manifest changed since: counted again
    assert not describes(summary, ManifestStamp(123, STAMP.mtime_ns + 1))  # edited, its size kept: counted again
    assert not describes({k: v for k, v in summary.items() if k != "manifest_mtime_ns"}, STAMP)  # stored by size alone
    assert not describes(None, STAMP) and not describes({"rows": "x", "filled": {}, **STAMP.as_meta()}, STAMP)
    assert [is_filled(v) for v in (0, False, "a", " ", None, [], {}, float("nan"))] == [
        True, True, True, False, False, False, False, False]


def test_too_many_fields_are_stored_as_such_and_a_manifest_is_counted_to_its_end(tmp_path: Path) -> None:
    tally = FieldTally()
    tally.add({"record": {f"k{i}": 1 for i in range(300)}})
    assert tally.overflow and tally.summary(STAMP) == {"rows": 1, "overflow": True, "sides": {},
                                                       "splits": {"train": 1, "val": 0}, **STAMP.as_meta()}
    assert describes(tally.summary(STAMP), STAMP)  # stored: known to be uncountable, so not counted again
    manifest = tmp_path / "manifest.jsonl"
    manifest.write_text("".join(json.dumps({"split": "val" if i % 10 == 3 else "train",
                                            "record": {"text": "t", "label": i or ""}}) + "\n" for i in range(3000)))
    counted = count_manifest(manifest)
    assert counted == {"rows": 3000, "filled": {"label": 2999, "text": 3000}, "lacking": {"label": ["row 1"]},
                       "sides": {}, "splits": {"train": 2700, "val": 300}, **ManifestStamp.of(manifest.stat()).as_meta(),
                       "sha256": hashlib.sha256(manifest.read_bytes()).hexdigest()}  # the dataset's version
    assert describes(counted, ManifestStamp.of(manifest.stat()))
    manifest.write_text('{"record": {"text": "t"}}\n\nnot json\n')  # a blank line is skipped, as training skips it
    stamp = ManifestStamp.of(manifest.stat()).as_meta()
    assert count_manifest(manifest) == {"rows": 0, "unreadable": True, "line": 3,
                                        "why": "is not JSON (Expecting value)", **stamp}  # training refuses it too
    manifest.write_text('{"record": {"text": "t"}}\n[1, 2]\n')
    assert count_manifest(manifest)["line"] == 2 and count_manifest(manifest)["why"] == "is not a JSON object"


def test_images_shorter_sides_are_counted_from_the_rows_sizes(tmp_path: Path) -> None:
    """What diffusion-lora's resolution warning reads: no image is opened, the manifest gives the sizes."""
    tally = FieldTally()
    for width, height in ((64, 64), (64, 64), (100, 75), (4000, 3000), (5, 9)):
        tally.add({"path": "x.png", "source": "x.png", "width": width, "height": height})
    tally.add({"source": "t.csv:1", "record": {"width": 64, "height": 64}})  # a text record's fields: no image size
    tally.add({"path": "y.png", "source": "y.png", "width": None, "height": 64})
    summary = tally.summary(STAMP)
    assert summary["sides"] == {"5": 1, "64": 2, "72": 1, "2048": 1}  # to 8 px, capped at 2048; a tiny side as it is
    assert describes(summary, STAMP)
    before = {k: v for k, v in summary.items() if k != "sides"}  # stored before the sides were counted
    assert not describes(before, STAMP)
    assert not describes({k: v for k, v in summary.items() if k != "splits"}, STAMP)  # or the splits
    assert not describes({**before, "overflow": True}, STAMP)
    manifest = tmp_path / "manifest.jsonl"
    manifest.write_text(json.dumps({"path": "a.png", "width": 640, "height": 480}) + "\n")
    assert count_manifest(manifest)["sides"] == {"480": 1}
