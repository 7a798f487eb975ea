"""Per-field counts of a manifest's rows, and the first rows that leave each field empty."""

from __future__ import annotations

import json
from pathlib import Path

from spark_trainer.manifest_fields import FieldTally, is_filled, scan_counts, stored_counts


def test_counts_name_the_first_rows_without_a_field_even_before_it_first_appears() -> None:
    tally = FieldTally()
    for i in range(12):
        caption = f"c{i}" if i in (2, 3, 9) else ("  " if i == 4 else None)
        tally.add({"path": f"files/{i}.png", "source": f"{i}.png", "caption": caption, "label": "cat"})
    tally.add({"source": "t.csv:2", "record": {"path": "a.png", "caption": "x", "n": 0, "gone": float("nan")}})
    summary = tally.summary(123)
    assert summary == {"rows": 13, "filled": {"caption": 4, "label": 12, "n": 1, "path": 1},
                       "lacking": {"caption": ["0.png", "1.png", "4.png", "5.png", "6.png"],
                                   "label": ["t.csv:2"], "n": ["0.png", "1.png", "2.png", "3.png", "4.png"],
                                   "path": ["0.png", "1.png", "2.png", "3.png", "4.png"]},
                       "manifest_bytes": 123}
    counted = stored_counts(summary, 123)
    assert counted is not None and counted.filled["caption"] == 4 and counted.lacking["label"] == ["t.csv:2"]
    assert stored_counts(summary, 124) is None  # the manifest changed since: counted again
    assert stored_counts(None, 123) is None and stored_counts({"rows": "x"}, 123) is None
    assert [is_filled(v) for v in (0, False, "a", " ", None, [], {}, float("nan"))] == [
        True, True, True, False, False, False, False, False]


def test_too_many_fields_keep_no_summary_and_a_scan_stops_at_its_bound(tmp_path: Path) -> None:
    tally = FieldTally()
    tally.add({"record": {f"k{i}": 1 for i in range(300)}})
    assert tally.overflow and tally.summary(1) is None
    manifest = tmp_path / "manifest.jsonl"
    manifest.write_text("".join(json.dumps({"record": {"text": "t", "label": i}}) + "\n" for i in range(30)))
    assert scan_counts(manifest, max_rows=10).rows == 10 and not scan_counts(manifest, max_rows=10).whole
    assert scan_counts(manifest).filled == {"text": 30, "label": 30} and scan_counts(manifest).whole
    manifest.write_text('{"record": {"text": "t"}}\nnot json\n')
    assert scan_counts(manifest) is None  # the recipe's full data check names the line
