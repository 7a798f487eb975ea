"""`dataset ingest` and `dataset video` from the command line: JSON output, exit codes, stderr progress."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from tests.conftest import spark_trainer_exe, subprocess_env
from tests.ingest.media import write_video


def test_ingest_json_output_and_exit_codes(cli, tmp_path) -> None:
    assert cli("project", "create", "demo").code == 0
    data = tmp_path / "train.jsonl"
    data.write_text('{"text": "a"}\n{"text": "b"}\nnot json\n')
    out = cli("dataset", "ingest", data, "--project", "demo", "--name", "tiny", "--val-fraction", "0.5", "--json")
    assert out.code == 0, out.err
    doc = out.json()
    assert doc["dataset"]["name"] == "tiny" and doc["dataset"]["num_items"] == 2
    assert doc["report"]["rejected"] == [{"source": "train.jsonl", "line": 3, "reason": doc["report"]["rejected"][0]["reason"]}]
    assert "writing manifest" in out.err  # progress goes to stderr, stdout stays one JSON document

    listed = cli("dataset", "show", "tiny", "--json").json()
    assert listed["version"] == doc["dataset"]["version"] and Path(listed["path"], "manifest.jsonl").is_file()

    missing = cli("dataset", "ingest", tmp_path / "nope", "--project", "demo")
    assert missing.code == 2 and missing.err.strip().count("\n") == 0 and "no such file" in missing.err
    clash = cli("dataset", "ingest", data, "--project", "demo", "--name", "tiny")
    assert clash.code == 2 and "already has a dataset named 'tiny'" in clash.err
    bad_kind = cli("dataset", "ingest", data, "--project", "demo", "--kind", "image")
    assert bad_kind.code == 2 and "no image files" in bad_kind.err


def test_video_command_in_a_subprocess(home, tmp_path) -> None:
    write_video(tmp_path / "clip.mp4", 150, cuts=[50, 100])
    exe, env = spark_trainer_exe(), subprocess_env()
    base = [exe, "--home", str(home)]
    subprocess.run([*base, "project", "create", "vids"], check=True, env=env, capture_output=True)
    done = subprocess.run([*base, "--json", "dataset", "video", str(tmp_path / "clip.mp4"), "--project", "vids",
                           "--scenes", "--resize", "64", "--dedupe"], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert doc["dataset"]["num_items"] == 3 and doc["dataset"]["kind"] == "image"
    assert "video 1/1" in done.stderr and "transcription skipped" in done.stderr
    conflict = subprocess.run([*base, "dataset", "video", str(tmp_path / "clip.mp4"), "--project", "vids",
                               "--fps", "1", "--every-n", "3"], env=env, capture_output=True, text=True)
    assert conflict.returncode == 2 and "not allowed with argument" in conflict.stderr


def test_video_with_a_caption_model_that_is_not_there_is_an_error_not_a_note(cli, tmp_path) -> None:
    # It made dataset "clip" and exited 0; the only sign was "note: captioning skipped: model folder ... not found".
    write_video(tmp_path / "clip.mp4", 30)
    assert cli("project", "create", "p").code == 0
    out = cli("dataset", "video", tmp_path / "clip.mp4", "--project", "p", "--caption-model", tmp_path / "nonexistent")
    assert out.code == 2
    assert out.err.strip() == f"error: --caption-model: captioning model folder {tmp_path / 'nonexistent'} not found"
    assert cli("dataset", "list", "--json").json() == []
