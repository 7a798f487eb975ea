"""`dataset ingest` into a project that does not exist says how to create it, and writes nothing;
`dataset video` says each note once."""

from __future__ import annotations

from pathlib import Path

from spark_trainer.store import datasets, projects
from spark_trainer.store.store import Store


def _files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file() and "sparktrainer.db" not in p.name)


def test_an_unknown_project_is_refused_with_the_command_that_creates_it(cli, store: Store, home: Path,
                                                                        tmp_path: Path) -> None:
    notes = tmp_path / "notes.jsonl"
    notes.write_text('{"text": "a"}\n{"text": "b"}\n')
    before = _files(home)
    refused = cli("dataset", "ingest", str(notes), "--project", "my notes")
    assert refused.code == 2, refused.err
    assert refused.err.count("\n") == 1, refused.err
    assert "no project named 'my notes'" in refused.err
    assert "create it with `spark-trainer project create 'my notes'`" in refused.err
    assert projects.list_all(store) == [] and datasets.list_all(store) == [] and _files(home) == before

    assert cli("project", "create", "my notes").code == 0  # as it said
    assert cli("dataset", "ingest", str(notes), "--project", "my notes").code == 0
    assert [d.project for d in datasets.list_all(store)] == ["my notes"]


def test_video_notes_are_said_once(cli, tmp_path: Path) -> None:
    from tests.ingest.media import write_video

    write_video(tmp_path / "clip.mp4", 30)
    assert cli("project", "create", "vids").code == 0
    done = cli("dataset", "video", str(tmp_path / "clip.mp4"), "--project", "vids", "--resize", "64")
    assert done.code == 0, done.err
    # Each note was printed twice in text mode: on stderr and again in the result.
    said = done.out + done.err
    assert said.count("captioning skipped") == 1 and said.count("transcription skipped") == 1, said
    as_json = cli("--json", "dataset", "video", str(tmp_path / "clip.mp4"), "--project", "vids", "--name", "again")
    assert as_json.err.count("transcription skipped") == 1  # --json: stdout is the document, notes on stderr


def test_video_options_that_would_be_ignored_or_are_out_of_range_are_refused_first(cli, store: Store,
                                                                                   tmp_path: Path) -> None:
    # `dataset video clips --scene-threshold 0.5` (no --scenes) and `--dedupe-distance 3` (no --dedupe)
    # extracted frames as if they were not given; `--scenes --scene-threshold 5` said "no frames
    # extracted: 1 of 1 videos were rejected (first: a.mp4: scene threshold must be between 0 and 1...)",
    # blaming the video for an option.
    from tests.ingest.media import write_video

    write_video(tmp_path / "clip.mp4", 30)
    assert cli("project", "create", "vids").code == 0
    for extra, said in ((["--scene-threshold", "0.5"], "--scene-threshold is for --scenes"),
                        (["--dedupe-distance", "3"], "--dedupe-distance is for --dedupe"),
                        (["--scenes", "--scene-threshold", "5"], "--scene-threshold must be from 0 to 1, got 5.0")):
        refused = cli("dataset", "video", str(tmp_path / "clip.mp4"), "--project", "vids", *extra)
        assert refused.code == 2 and refused.err.startswith(f"error: {said}") and refused.err.count("\n") == 1, \
            refused.err
    assert datasets.list_all(store) == []
