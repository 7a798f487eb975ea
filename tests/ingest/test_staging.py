"""Dataset names derived from paths: a file or folder named with digits only still ingests."""

from __future__ import annotations

from pathlib import Path

import pytest

from spark_trainer.errors import BadInput
from spark_trainer.ingest import ingest_paths
from spark_trainer.store import datasets


def test_a_path_named_with_digits_only_gets_a_name_that_is_not_an_id(store, project, tmp_path: Path) -> None:
    # It was refused ("dataset name '2024' is all digits ...; add a letter"), and a run file
    # (`dataset: data/2024.jsonl`) has no field to add one.
    data = tmp_path / "2024.jsonl"
    data.write_text('{"text": "one"}\n{"text": "two"}\n', encoding="utf-8")
    folder = tmp_path / "7"
    folder.mkdir()
    (folder / "rows.jsonl").write_text('{"text": "three"}\n', encoding="utf-8")
    first = ingest_paths(store, [data], project=project).dataset
    second = ingest_paths(store, [folder], project=project).dataset
    assert (first.name, second.name) == ("dataset-2024", "dataset-7")
    assert datasets.get(store, "dataset-2024", project).id == first.id


@pytest.mark.parametrize(("stem", "expected"), [
    ("Cafe\u0301", "Caf\u00e9"),  # a macOS (NFD) file name: it was 'Cafe'
    ("re\u0301sume\u0301", "r\u00e9sum\u00e9"),  # it was 're-sume'
    ("\u0939\u093f\u0902\u0926\u0940 \u0921\u0947\u091f\u093e", "\u0939\u093f\u0902\u0926\u0940-\u0921\u0947\u091f\u093e"),  # 'हिंदी डेटा': it was 'ह--द--ड-ट'
    ("bom crlf \u2603", "bom-crlf-\u2603"),  # a symbol stays: it was 'bom-crlf'
    ("evil\u202egpj", "evil-gpj"),  # an invisible control still becomes a dash
])
def test_a_name_taken_from_a_file_name_keeps_its_accents_and_scripts(store, project, tmp_path: Path, stem,
                                                                     expected) -> None:
    from spark_trainer.ingest.staging import dataset_name
    from spark_trainer.store import projects

    data = tmp_path / f"{stem}.jsonl"
    data.write_text('{"text": "one"}\n', encoding="utf-8")
    name = dataset_name(store, project, [data], None).text
    assert name == expected and projects.validate_name(name, "dataset") == name


def test_a_long_file_name_is_not_cut_between_a_letter_and_its_accent(store, project, tmp_path: Path) -> None:
    from spark_trainer.ingest.staging import dataset_name

    data = tmp_path / ("a" * 99 + "e\u0301x.jsonl")
    data.write_text('{"text": "one"}\n', encoding="utf-8")
    assert dataset_name(store, project, [data], None).text == "a" * 99 + "\u00e9"  # NFC first: 'é' is one character
    data = tmp_path / ("b" * 99 + "x\u0301y.jsonl")  # 'x́' has no one-character form: the cut leaves it out whole
    data.write_text('{"text": "one"}\n', encoding="utf-8")
    assert dataset_name(store, project, [data], None).text == "b" * 99


def test_publishing_writes_the_manifest_without_holding_all_of_it_in_memory(store, project, tmp_path: Path,
                                                                          monkeypatch) -> None:
    """A 370 MB JSONL took 2.1 GB to ingest: the manifest was built as one string and its bytes before
    being written. Publishing now streams it; the dataset's version (the manifest's hash) is unchanged."""
    import hashlib
    import json
    import tracemalloc

    from spark_trainer.ingest import staging

    data = tmp_path / "rows.jsonl"
    data.write_text("".join(json.dumps({"text": f"row {i} " + "word " * 200}) + "\n" for i in range(8000)),
                    encoding="utf-8")
    size = data.stat().st_size
    publish = staging.DatasetBuilder.publish
    peaks: list[int] = []

    def measured(self, *args, **kwargs):  # the memory publishing adds on top of the accepted rows
        tracemalloc.start()
        try:
            return publish(self, *args, **kwargs)
        finally:
            peaks.append(tracemalloc.get_traced_memory()[1])
            tracemalloc.stop()

    monkeypatch.setattr(staging.DatasetBuilder, "publish", measured)
    dataset = ingest_paths(store, [data], project=project).dataset
    manifest = Path(dataset.path) / "manifest.jsonl"
    assert dataset.version == hashlib.sha256(manifest.read_bytes()).hexdigest()
    assert peaks and peaks[0] < size, f"publishing took {peaks[0] / size:.1f}x the file's size"


def test_ingesting_a_large_jsonl_does_not_hold_its_rows_in_memory(store, project, tmp_path: Path) -> None:
    """A 150 MB JSONL peaked at 494 MB: every accepted row was kept as a dict until publishing. The
    rows now go to the staging folder as they are accepted; only hashes and splits stay. The
    manifest is still the same bytes (its hash is the version) and the card still counts them."""
    import hashlib
    import json
    import tracemalloc

    data = tmp_path / "rows.jsonl"
    data.write_text("".join(json.dumps({"instruction": f"row {i}", "output": "word " * 400, "label": f"l{i % 3}"})
                            + "\n" for i in range(5000)), encoding="utf-8")
    size = data.stat().st_size
    tracemalloc.start()
    try:
        dataset = ingest_paths(store, [data], project=project).dataset
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    folder = Path(dataset.path)
    assert peak < size / 3, f"ingesting took {peak / size:.2f}x the file's size"
    assert sorted(p.name for p in folder.iterdir()) == ["README.md", "manifest.jsonl", "report.json"]
    manifest = (folder / "manifest.jsonl").read_bytes()
    assert dataset.version == hashlib.sha256(manifest).hexdigest() and dataset.num_items == 5000
    first = json.loads(manifest.splitlines()[0])
    assert list(first) == ["split", "sha256", "source", "record"] and first["source"] == "rows.jsonl:1"
    assert "- items: 5000 (train " in (folder / "README.md").read_text()


def test_a_report_of_many_duplicates_is_written_without_holding_it_whole(store, project, tmp_path: Path,
                                                                        monkeypatch) -> None:
    """A JSONL holding its rows three times (40,000 duplicates) took 26 MB more to publish, six times
    its report.json: the report was made as one string, from a list of its pieces, and its bytes.
    It is now written as it is encoded, with the same bytes."""
    import json
    import tracemalloc

    from spark_trainer.ingest import staging

    data = tmp_path / "rows.jsonl"
    rows = "".join(json.dumps({"text": f"row {i}"}) + "\n" for i in range(3000))
    data.write_text(rows * 3, encoding="utf-8")
    publish = staging.DatasetBuilder.publish
    added: list[int] = []

    def measured(self, *args, **kwargs):
        tracemalloc.start()
        try:
            return publish(self, *args, **kwargs)
        finally:
            added.append(tracemalloc.get_traced_memory()[1])
            tracemalloc.stop()

    monkeypatch.setattr(staging.DatasetBuilder, "publish", measured)
    result = ingest_paths(store, [data], project=project)
    report = Path(result.dataset.path) / "report.json"
    assert report.read_bytes() == json.dumps(json.loads(report.read_bytes()), indent=2, ensure_ascii=False).encode()
    assert result.dataset.num_duplicates == 6000
    assert added[0] < 3 * report.stat().st_size, f"publishing took {added[0] / report.stat().st_size:.1f}x the report"


def test_the_staging_folder_of_an_ingestion_killed_outright_is_removed_later(store, project, tmp_path: Path,
                                                                           cli) -> None:
    """An ingestion killed outright (kill -9, the machine off) left `datasets/.staging-<random>`, a copy of
    everything it had accepted so far, for good: nothing removed those. Its name now says whose it is, so
    the next ingestion (and the reconcile sweep) removes one whose process is gone; another's live
    ingestion is kept."""
    import json
    import subprocess
    import sys
    import time

    data = tmp_path / "rows.jsonl"
    data.write_text("".join(json.dumps({"text": f"row {i} " + "word " * 40}) + "\n" for i in range(200_000)),
                    encoding="utf-8")
    folder = store.home.datasets_dir
    child = subprocess.Popen([sys.executable, "-m", "spark_trainer", "--home", str(store.home.root), "dataset",
                              "ingest", str(data), "--project", project, "--name", "killed"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while not (folder.is_dir() and any(p.name.startswith(".staging-") for p in folder.iterdir())):
            assert child.poll() is None and time.monotonic() < deadline, "the ingestion never staged"
            time.sleep(0.05)
    finally:
        child.kill()
        child.wait()
    left = [p for p in folder.iterdir() if p.name.startswith(".staging-")]
    assert len(left) == 1 and datasets.list_all(store) == []
    small = tmp_path / "small.jsonl"
    small.write_text('{"text": "one"}\n{"text": "two"}\n', encoding="utf-8")
    done = cli("dataset", "ingest", str(small), "--project", project, "--name", "again")
    assert done.code == 0, done.err
    assert not left[0].exists() and [d.name for d in datasets.list_all(store)] == ["again"]


def test_ingesting_the_same_items_again_says_which_dataset_already_holds_them(store, project, tmp_path: Path) -> None:
    # Seen in the CLI walk: the same file ingested twice made 'chat-2', the same version, and said nothing.
    import json

    data = tmp_path / "chat.jsonl"
    data.write_text('{"text": "one"}\n{"text": "two"}\n{"text": "three"}\n', encoding="utf-8")
    first = ingest_paths(store, [data], project=project)
    assert first.report.notes == []
    again = ingest_paths(store, [data], project=project)
    assert again.dataset.name == "chat-2" and again.dataset.version == first.dataset.version
    said = [n for n in again.report.notes if "chat" in n]
    assert said == [f"the same items as dataset 'chat' (id {first.dataset.id}): this one is a second copy; "
                    "delete one of them if that was not meant"], again.report.notes
    stored = json.loads((Path(again.dataset.path) / "report.json").read_text(encoding="utf-8"))
    assert said[0] in stored["notes"]  # the app's dataset report shows it too
    other = tmp_path / "other.jsonl"
    other.write_text('{"text": "four"}\n', encoding="utf-8")
    assert ingest_paths(store, [other], project=project).report.notes == []


def test_a_given_name_is_checked_even_when_empty_or_on_several_lines(store, project, tmp_path) -> None:
    # Seen in an ingestion walk: `--name ""` made up a name from the file, and `--name $'multi\nline'` was
    # taken and split the rows of `dataset list`.
    data = tmp_path / "rows.jsonl"
    data.write_text('{"text": "a"}\n{"text": "b"}\n')
    with pytest.raises(BadInput, match="^dataset name must not be empty$"):
        ingest_paths(store, [data], project=project, name="")
    with pytest.raises(BadInput, match="holds a line break, tab or other control character"):
        ingest_paths(store, [data], project=project, name="multi\nline")
    assert ingest_paths(store, [data], project=project).dataset.name == "rows"  # none given: from the file


def _ingest_another_first(monkeypatch, store, project, data: Path, **kwargs) -> None:
    """Have another ingest of `data` (with `kwargs`) publish between this one choosing its name and
    publishing, as two `dataset ingest` commands at once do."""
    from spark_trainer.ingest import staging

    publish = staging.DatasetBuilder.publish
    pending = [True]

    def racing(self, *args, **inner):
        if pending:
            pending.clear()
            ingest_paths(store, [data], project=project, **kwargs)
        return publish(self, *args, **inner)

    monkeypatch.setattr(staging.DatasetBuilder, "publish", racing)


def test_two_unnamed_ingests_at_once_both_get_a_name(store, project, tmp_path: Path, monkeypatch) -> None:
    # Seen in a fault walk: the second of two concurrent `dataset ingest r1.jsonl` (no --name) failed
    # "project 'p' already has a dataset named 'r1-2'", a name it had made up itself.
    data = tmp_path / "r1.jsonl"
    data.write_text('{"text": "a"}\n{"text": "b"}\n', encoding="utf-8")
    ingest_paths(store, [data], project=project)
    _ingest_another_first(monkeypatch, store, project, data)
    late = ingest_paths(store, [data], project=project).dataset
    assert sorted(d.name for d in datasets.list_all(store, project)) == ["r1", "r1-2", "r1-3"]
    assert late.name == "r1-3"
    assert (Path(late.path) / "README.md").read_text(encoding="utf-8").startswith("# r1-3\n")  # the card follows


def test_a_given_name_taken_meanwhile_is_still_refused(store, project, tmp_path: Path, monkeypatch) -> None:
    from spark_trainer.errors import Conflict

    data = tmp_path / "r1.jsonl"
    data.write_text('{"text": "a"}\n', encoding="utf-8")
    _ingest_another_first(monkeypatch, store, project, data, name="mine")
    with pytest.raises(Conflict, match="already has a dataset named 'mine'"):
        ingest_paths(store, [data], project=project, name="mine")
    assert [d.name for d in datasets.list_all(store, project)] == ["mine"]
    assert not [p for p in store.home.datasets_dir.iterdir() if p.name.startswith(".staging")]
