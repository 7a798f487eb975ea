"""`spark-trainer export` (spark_trainer/cli/export.py): its options' checks, before anything is exported.
The exports themselves are tested in tests/export/."""

from __future__ import annotations

from pathlib import Path


def test_private_without_push_is_refused_before_anything_is_exported(cli, home: Path) -> None:
    # `export 3 --private` exported (or said "already exported") and said nothing of --private, which only
    # makes the repo of a --push private: a user meaning to push privately got a local folder alone.
    refused = cli("export", "1", "--private")
    assert refused.code == 2
    assert refused.err == "error: --private makes the Hub repo of --push private; add --push REPO_ID\n"
    assert not (home / "exports").exists() or not any((home / "exports").iterdir())
    as_json = cli("--json", "export", "1", "--private")
    assert as_json.code == 2 and as_json.json()["error"].startswith("--private makes")


def test_list_with_export_options_is_refused(cli) -> None:
    # `export 3 --list --merge` listed the exports and dropped --merge.
    refused = cli("export", "1", "--list", "--merge", "--out", "x")
    assert refused.code == 2 and refused.err == "error: --list lists the run's exports; leave out --merge, --out\n"
