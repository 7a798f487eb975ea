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


def test_ingest_told_to_stop_or_left_by_its_terminal_cleans_up_like_ctrl_c(tmp_path: Path) -> None:
    # Seen in an ingestion walk: SIGHUP (the terminal closed) or SIGTERM mid-ingest ended the command at
    # once and left datasets/.staging-* behind until the next ingest; Ctrl-C cleaned up.
    import json
    import os
    import signal
    import subprocess
    import sys
    import time

    home = tmp_path / "home"
    big = tmp_path / "big.jsonl"
    with open(big, "w") as fh:
        for i in range(200_000):
            fh.write(json.dumps({"text": f"row {i} " * 8}) + "\n")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    base = [sys.executable, "-m", "spark_trainer", "--home", str(home)]
    assert subprocess.run([*base, "project", "create", "p"], env=env, capture_output=True).returncode == 0
    cli = subprocess.Popen([*base, "dataset", "ingest", str(big), "--project", "p"], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, env=env)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not any(
                p.name.startswith(".staging-") for p in (home / "datasets").glob(".*")):
            time.sleep(0.05)
        assert cli.poll() is None, "the ingest ended before it could be stopped: make the file bigger"
        cli.send_signal(signal.SIGHUP)
        _out, err = cli.communicate(timeout=120)
    finally:
        cli.kill()
    assert cli.returncode == 130 and "error: interrupted" in err, (cli.returncode, err)
    assert not [p.name for p in (home / "datasets").iterdir()]  # no staging folder, no dataset


def test_a_file_named_with_a_line_break_or_a_bidi_override_is_named_on_one_line(cli, store: Store,
                                                                                 tmp_path: Path) -> None:
    projects.create(store, "p")
    spoof = tmp_path / "evil\nname \u202egpj.jsonl"  # shown as 'evil' / 'name lsnoj.jpg' on a terminal
    spoof.write_text('{"text": "ok"}\n{broken\n{"text": "fine"}\n', encoding="utf-8")
    made = cli("dataset", "ingest", str(spoof), "--project", "p")
    assert made.code == 0, made.err
    assert "  rejected evil\u23cename <U+202E>gpj.jsonl:2: invalid JSON" in made.out
    report = cli("dataset", "report", "1")
    assert "rejected  evil\u23cename <U+202E>gpj.jsonl  2 " in report.out and "\u202e" not in report.out

    broken = tmp_path / "br\noken.jsonl"
    broken.write_text("{broken\n", encoding="utf-8")
    refused = cli("dataset", "ingest", str(broken), "--project", "p")
    progress, error = refused.err.splitlines()
    assert refused.code == 2 and progress == "[0/1] reading br\u23ceoken.jsonl"
    assert error.startswith("error: nothing to ingest: the only item was rejected (br\u23ceoken.jsonl:1: invalid JSON")
    missing = cli("dataset", "ingest", str(tmp_path / "gone\n\u202eeman"), "--project", "p")
    assert missing.err == f"error: {tmp_path}/gone\u23ce<U+202E>eman: no such file or folder\n"
