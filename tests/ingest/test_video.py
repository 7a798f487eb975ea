"""The video wizard on real generated videos: probe, scenes, extraction, dedupe, cache, reports."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

import cv2
import numpy as np
import pytest

from spark_trainer.errors import BadInput
from spark_trainer.ingest import IngestCancelled, ingest_paths, read_manifest, read_report
from spark_trainer.ingest.video import (
    VideoOptions,
    build_video_dataset,
    detect_scenes,
    extract_frames,
    hamming,
    near_duplicates,
    phash,
    probe_video,
    space,
)
from spark_trainer.ingest.video.phash import FrameHash
from tests.ingest.conftest import leftovers
from tests.ingest.media import truncate, write_av_video, write_video

CUTS = [45, 100, 171, 240]


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> Path:
    """Shared read-only clips: a 10 s 30 fps video with four hard cuts, and a short one."""
    folder = tmp_path_factory.mktemp("clips")
    write_video(folder / "cuts.mp4", 300, cuts=CUTS)
    write_video(folder / "short.mp4", 60, cuts=[30])
    return folder


def test_probe_reports_what_the_video_is(clips) -> None:
    probe = probe_video(clips / "cuts.mp4")
    assert probe.ok, probe.problems
    assert (probe.fps, probe.frame_count, probe.width, probe.height) == (30.0, 300, 160, 120)
    assert probe.duration == pytest.approx(10.0)
    assert probe.codec and len(probe.sha256) == 64 and probe.has_audio is False


def test_scene_detection_finds_each_cut_within_one_frame(clips) -> None:
    scenes = detect_scenes(clips / "cuts.mp4", threshold=0.35)
    starts = [s.start_frame for s in scenes]
    assert len(scenes) == len(CUTS) + 1 and starts[0] == 0
    for found, expected in zip(starts[1:], CUTS, strict=True):
        assert abs(found - expected) <= 1
    assert scenes[-1].end_frame == 300 and scenes[1].start_time == pytest.approx(scenes[1].start_frame / 30)
    assert all(a.end_frame == b.start_frame for a, b in zip(scenes, scenes[1:], strict=False))


def test_scenes_mode_yields_one_frame_per_scene(store, project, clips) -> None:
    result = build_video_dataset(store, [clips / "cuts.mp4"], project=project, options=VideoOptions(mode="scenes"))
    rows = read_manifest(Path(result.dataset.path))
    assert [r["scene"] for r in rows] == [0, 1, 2, 3, 4]
    bounds = [0, *CUTS, 300]
    for row, start, end in zip(rows, bounds, bounds[1:], strict=False):
        assert start <= row["frame_index"] < end
    assert result.dataset.kind == "image" and result.dataset.num_items == 5


def test_fps_1_on_ten_seconds_gives_ten_frames_with_timestamps(store, project, clips, tmp_path) -> None:
    frames = extract_frames(clips / "cuts.mp4", tmp_path / "f", fps=1)
    assert [f.timestamp for f in frames] == [float(s) for s in range(10)]
    assert [f.frame_index for f in frames] == list(range(0, 300, 30))
    assert all(f.path.is_file() for f in frames)

    result = build_video_dataset(store, [clips / "cuts.mp4"], project=project, options=VideoOptions(fps=1))
    rows = read_manifest(Path(result.dataset.path))
    assert [r["timestamp"] for r in rows] == [float(s) for s in range(10)]
    row = rows[3]
    assert row["video"] == "cuts.mp4" and row["frame_index"] == 90 and row["source"] == "cuts.mp4#frame=90"
    assert row["scene"] is None and row["caption"] is None and row["transcript"] is None
    assert (Path(result.dataset.path) / row["path"]).is_file()


def test_every_n_resize_and_max_frames(clips, tmp_path) -> None:
    frames = extract_frames(clips / "cuts.mp4", tmp_path / "f", every_n=50, resize=80, max_frames=4)
    assert [f.frame_index for f in frames] == [0, 50, 100, 150]
    image = cv2.imread(str(frames[0].path))
    assert image.shape[:2] == (60, 80) and (frames[0].width, frames[0].height) == (80, 60)


def test_broken_videos_are_reported_and_the_rest_ingested(store, project, clips, tmp_path) -> None:
    batch = tmp_path / "batch"
    (batch / "walking").mkdir(parents=True)
    shutil.copy(clips / "short.mp4", batch / "walking" / "good.mp4")
    truncate(shutil.copy(clips / "cuts.mp4", batch / "truncated.mp4"), keep=0.6)
    (batch / "zero.mp4").write_bytes(b"")
    (batch / "notes.mp4").write_text("this is a text file wearing a video's name\n" * 20)
    result = build_video_dataset(store, [batch], project=project, options=VideoOptions(fps=2))
    reasons = {r.source: r.reason for r in result.report.rejected}
    assert set(reasons) == {"batch/truncated.mp4", "batch/zero.mp4", "batch/notes.mp4"}
    assert reasons["batch/zero.mp4"] == "empty file (0 bytes)"
    assert "truncated" in reasons["batch/truncated.mp4"] and "cannot open" in reasons["batch/notes.mp4"]
    rows = read_manifest(Path(result.dataset.path))
    assert len(rows) == 4 and {r["video"] for r in rows} == {"batch/walking/good.mp4"}
    assert {r["label"] for r in rows} == {"walking"}  # labels come from the video's folder name
    assert len(read_report(Path(result.dataset.path))["rejected"]) == 3

    # plain `dataset ingest` of the same folder makes a video dataset with the same gates
    plain = ingest_paths(store, [batch], project=project)
    assert plain.dataset.kind == "video" and plain.dataset.num_items == 1
    assert {r.source for r in plain.report.rejected} == set(reasons)


def test_a_video_name_that_is_not_utf8_is_reported_not_a_crash(tmp_path, clips) -> None:
    import os

    odd = os.fsdecode(os.fsencode(tmp_path) + b"/caf\xe9.mp4")
    shutil.copy(clips / "short.mp4", odd)
    probe = probe_video(Path(odd))
    assert probe.problems == ["file name is not valid UTF-8; OpenCV cannot open it (rename the file)"]
    with pytest.raises(BadInput, match="not valid UTF-8"):
        extract_frames(Path(odd), tmp_path / "f", fps=1)


def test_truncated_avi_that_opens_fails_the_decode_test(tmp_path) -> None:
    path = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 30, (160, 120))
    rng = np.random.default_rng(0)
    for _ in range(90):
        writer.write(rng.integers(0, 255, (120, 160, 3), dtype=np.uint8))
    writer.release()
    truncate(path, keep=0.5)
    probe = probe_video(path)
    assert probe.problems and ("truncated" in probe.problems[0] or "cannot open" in probe.problems[0])


def test_phash_and_near_duplicate_removal(store, project, tmp_path) -> None:
    rng = np.random.default_rng(1)
    texture = cv2.resize(rng.integers(0, 255, (12, 16, 3), dtype=np.uint8), (160, 120), interpolation=cv2.INTER_CUBIC)
    noisy = np.clip(texture.astype(int) + rng.integers(-6, 7, texture.shape), 0, 255).astype(np.uint8)
    other = cv2.resize(rng.integers(0, 255, (12, 16, 3), dtype=np.uint8), (160, 120), interpolation=cv2.INTER_CUBIC)
    assert hamming(phash(texture), phash(noisy)) <= 4
    assert hamming(phash(texture), phash(other)) > 12
    # flat frames of different colours hash alike; the colour check keeps them apart
    red, blue = FrameHash(0, (0, 0, 220)), FrameHash(0, (220, 0, 0))
    assert near_duplicates([red, blue, FrameHash(0, (2, 1, 218))]) == {2: 0}

    still = write_video(tmp_path / "still.mp4", 90, moving=False)
    kept = build_video_dataset(store, [still], project=project, options=VideoOptions(every_n=10, dedupe=True))
    assert kept.dataset.num_items == 1
    assert len(kept.report.extra["videos"]["still.mp4"]["near_duplicates"]) == 8


def test_rerun_reuses_cache_and_progress_names_the_video(store, project, clips) -> None:
    messages = []
    options = VideoOptions(fps=2, max_frames=6)
    first = build_video_dataset(store, [clips / "short.mp4", clips / "cuts.mp4"], project=project,
                                options=options, progress=messages.append)
    assert {m.current for m in messages} >= {"short.mp4", "cuts.mp4"}
    assert any("video 2/2" in m.message and m.current == "cuts.mp4" for m in messages)
    cache = store.home.root / "cache" / "video"
    entries = sorted(p.name for p in cache.iterdir())
    assert len(entries) == 2
    mtimes = {p: p.stat().st_mtime_ns for p in cache.rglob("*.jpg")}
    second = build_video_dataset(store, [clips / "short.mp4", clips / "cuts.mp4"], project=project, options=options)
    assert all(v["cached"] for v in second.report.extra["videos"].values())
    assert not any(v["cached"] for v in first.report.extra["videos"].values())
    assert second.dataset.version == first.dataset.version
    assert {p: p.stat().st_mtime_ns for p in cache.rglob("*.jpg")} == mtimes
    third = build_video_dataset(store, [clips / "short.mp4"], project=project, options=VideoOptions(fps=3))
    assert third.report.extra["videos"]["short.mp4"]["cached"] is False  # new settings, new work
    assert len(list(cache.iterdir())) == 3


def test_no_model_given_skips_the_model_steps_with_a_note(store, project, clips) -> None:
    result = build_video_dataset(store, [clips / "short.mp4"], project=project, options=VideoOptions(max_frames=2))
    assert "captioning skipped: no model given (set --caption-model to a local model folder)" in result.report.notes
    assert "transcription skipped: no model given (set --transcribe-model to a local model folder)" in result.report.notes
    assert all(r["caption"] is None for r in read_manifest(Path(result.dataset.path)))


@pytest.mark.parametrize("setting", ["caption_model", "transcribe_model"])
def test_a_model_path_given_that_is_not_a_folder_is_refused_before_any_work(store, project, clips, tmp_path,
                                                                             setting) -> None:
    # A dataset without the captions asked for was made, and the only sign was a note "captioning skipped".
    flag, step = {"caption_model": ("--caption-model", "captioning"),
                  "transcribe_model": ("--transcribe-model", "transcription")}[setting]
    missing, a_file = tmp_path / "no-such-model", tmp_path / "weights.bin"
    a_file.write_bytes(b"0")
    probed = []
    for path, what in ((missing, "not found"), (a_file, "is not a folder")):
        with pytest.raises(BadInput) as err:
            build_video_dataset(store, [clips / "short.mp4"], project=project,
                                options=VideoOptions(max_frames=2, **{setting: str(path)}), progress=probed.append)
        assert str(err.value) == f"{flag}: {step} model folder {path} {what}"
    assert probed == []  # refused before the video was even probed
    assert leftovers(store) == ([], [])
    assert not (store.home.root / "cache" / "video").exists()


def test_cancel_during_the_second_video_leaves_no_dataset(store, project, clips) -> None:
    cancel = threading.Event()

    def progress(p) -> None:
        if p.current == "cuts.mp4":
            cancel.set()

    with pytest.raises(IngestCancelled):
        build_video_dataset(store, [clips / "short.mp4", clips / "cuts.mp4"], project=project,
                            options=VideoOptions(fps=5), progress=progress, cancel=cancel)
    assert leftovers(store) == ([], [])
    cache = store.home.root / "cache" / "video"
    assert not list(cache.glob(".work-*"))  # the unfinished video's work is gone


def test_no_videos_is_bad_input(store, project, tmp_path) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "a.txt").write_text("hi")
    with pytest.raises(BadInput, match="no video files"):
        build_video_dataset(store, [folder], project=project)
    with pytest.raises(BadInput, match="--every-n"):
        build_video_dataset(store, [folder], project=project, options=VideoOptions(mode="every_n", every_n=0))
    assert leftovers(store) == ([], [])


def test_a_variable_frame_rate_mkv_is_counted_not_called_truncated(tmp_path) -> None:
    # 25 frames in the first second, then one a second: OpenCV estimates 5.04 s x 25 fps = 126 frames
    times = [i * 40 for i in range(25)] + [1000 * (i + 1) for i in range(5)]
    path = write_av_video(tmp_path / "screen recording.mkv", 30, pts_ms=times)
    probe = probe_video(path)
    assert probe.ok, probe.problems
    assert probe.frame_count == 30 and probe.duration == pytest.approx(5.04)


def test_an_mpeg_program_stream_is_counted_for_the_space_estimate(tmp_path) -> None:
    path = write_av_video(tmp_path / "camcorder.mpg", 30, codec="mpeg1video", container="mpeg")  # OpenCV says 1 frame
    probe = probe_video(path)
    assert probe.ok, probe.problems
    assert (probe.frame_count, probe.duration) == (30, pytest.approx(1.2))
    assert space.kept_indices(probe, "every_n", every_n=5) == [0, 5, 10, 15, 20, 25]


def test_the_wizard_says_which_hidden_and_system_files_it_left_out(store, project, clips, tmp_path) -> None:
    folder = tmp_path / "phone dump"
    folder.mkdir()
    shutil.copy(clips / "short.mp4", folder / "clip.mp4")
    (folder / "._clip.mp4").write_bytes(b"\x00\x05\x16\x07")
    (folder / "Thumbs.db").write_bytes(b"\xd0\xcf")
    result = build_video_dataset(store, [folder], project=project, options=VideoOptions(max_frames=1))
    assert result.report.rejected == []
    assert "left out 2 hidden or system entries (not data): ._* (macOS AppleDouble), Thumbs.db" in result.report.notes


def test_extraction_progress_counts_the_videos_real_frames(store, project, tmp_path) -> None:
    path = write_av_video(tmp_path / "camcorder.mpg", 70, codec="mpeg1video", container="mpeg")
    messages = []
    build_video_dataset(store, [path], project=project, options=VideoOptions(every_n=10), progress=messages.append)
    counts = [m.message.rsplit("(", 1)[1] for m in messages if "extracting frames" in m.message]
    assert counts == ["32/70 frames)", "64/70 frames)"]  # OpenCV alone says 63


def test_fps_sampling_of_a_variable_frame_rate_video_is_spread_in_time(tmp_path) -> None:
    times = [i * 40 for i in range(25)] + [1000 * (i + 1) for i in range(5)]  # dense first second, then 1 fps
    path = write_av_video(tmp_path / "screen recording.mkv", 30, pts_ms=times)
    frames = extract_frames(path, tmp_path / "f", fps=2)
    assert [f.timestamp for f in frames] == [0.0, 0.52, 1.0, 2.0, 3.0, 4.0, 5.0]
    assert [f.frame_index for f in frames] == [0, 13, 25, 26, 27, 28, 29]
    assert space.kept_indices(probe_video(path), "fps", fps=2) == [0, 13, 25, 26, 27, 28, 29]  # the estimates' count


def test_the_frame_estimate_of_a_variable_frame_rate_video_counts_what_extraction_keeps(tmp_path) -> None:
    """At 2 fps the wizard said "About 3 frames" (30 frames at the 25 fps average rate), the disk estimate
    counted 11 (5 s at 2 fps) and extraction wrote 7: one per half second that holds a frame."""
    times = [i * 40 for i in range(25)] + [1000 * (i + 1) for i in range(5)]  # dense first second, then 1 fps
    path = write_av_video(tmp_path / "screen recording.mkv", 30, pts_ms=times)
    probe = probe_video(path)
    for fps in (0.5, 1.0, 2.0, 10.0, 30.0):
        extracted = [f.frame_index for f in extract_frames(path, tmp_path / f"f{fps}", fps=fps)]
        assert space.kept_indices(probe, "fps", fps=fps) == extracted, fps
    assert len(space.kept_indices(probe, "fps", fps=2.0, max_frames=5)) == 5


def test_a_file_without_video_frames_says_so(tmp_path) -> None:
    """A phone's voice memo saved as .mp4 and a recording stopped before its first frame were called
    'not a video, or truncated/corrupt container', which sends users looking for damage."""
    import av

    from tests.ingest.media import write_video_with_audio

    voice = tmp_path / "voice memo.mp4"
    with av.open(str(voice), "w") as out:
        audio = out.add_stream("aac", rate=16000)
        tone = (0.3 * np.sin(np.arange(16000) / 16000 * 2 * np.pi * 440)).astype(np.float32).reshape(1, -1)
        samples = av.AudioFrame.from_ndarray(tone, format="fltp", layout="mono")
        samples.sample_rate = 16000
        out.mux(audio.encode(samples))
        out.mux(audio.encode(None))
    empty = tmp_path / "stopped at once.mp4"
    with av.open(str(empty), "w") as out:
        stream = out.add_stream("mpeg4", rate=30)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        out.start_encoding()  # the header, with no frame after it
    assert probe_video(voice).problems == ["no video stream (audio only)"]
    assert probe_video(empty).problems == [
        "no video stream (the file holds no streams: a recording stopped before its first frame?)"]
    assert probe_video(write_video_with_audio(tmp_path / "clip.mp4", 0.5)).ok  # a video with sound is a video


def test_a_phone_portrait_video_gives_upright_frames(store, project, tmp_path) -> None:
    """A guard, not a fix: OpenCV applies the rotation a phone records (CAP_PROP_ORIENTATION_AUTO is on
    by default), so the probe, the frames and the manifest are portrait, as a player shows them."""
    from tests.ingest.media import write_portrait_video

    path = write_portrait_video(tmp_path / "IMG_0042.MOV.mp4", size=(64, 48))
    probe = probe_video(path)
    assert probe.ok and (probe.width, probe.height) == (48, 64)
    result = build_video_dataset(store, [path], project=project, options=VideoOptions(max_frames=1))
    row = read_manifest(Path(result.dataset.path))[0]
    assert (row["width"], row["height"]) == (48, 64)
    frame = cv2.imread(str(Path(result.dataset.path) / row["path"]))
    assert frame.shape[:2] == (64, 48)
    assert frame[5, 24, 2] > 200 and frame[58, 24].max() < 60  # red on top, black below (BGR)


def test_a_killed_wizards_work_folders_go_at_the_next_run(store, project, clips) -> None:
    """A wizard killed outright left `cache/video/.work-<random>` with the frames it had extracted: nothing
    could tell whose it was, so it stayed for good. Now named for its process, it goes at the next run
    (even one that finds every video cached); another host's and a finished video's folders stay."""
    import os
    import time

    from tests.dead_process import dead_tag

    options = VideoOptions(fps=2, max_frames=2)
    build_video_dataset(store, [clips / "short.mp4"], project=project, options=options)
    cache = store.home.root / "cache" / "video"
    finished = sorted(p.name for p in cache.iterdir())
    killed = cache / f".work-{dead_tag()}-abcd1234"
    older = cache / ".work-0badc0de"  # an older version's name, a day old: judged by age
    elsewhere = cache / f".work-@otherbox-{os.getpid()}-1000-beef0001"  # another machine's, on a shared home
    for folder in (killed, older, elsewhere):
        (folder / "frames").mkdir(parents=True)
        (folder / "frames" / "000001.jpg").write_bytes(b"x" * 1000)
    day_ago = time.time() - 25 * 3600
    os.utime(older, (day_ago, day_ago))
    again = build_video_dataset(store, [clips / "short.mp4"], project=project, options=options)
    assert all(v["cached"] for v in again.report.extra["videos"].values())
    assert sorted(p.name for p in cache.iterdir()) == sorted([*finished, elsewhere.name])
