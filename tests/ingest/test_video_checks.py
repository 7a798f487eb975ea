"""What the video wizard and `dataset ingest --kind video` refuse or note before any work, on generated
videos: frames smaller than image ingestion accepts, a resize that would make them so, a file that ends
before its container says."""

from __future__ import annotations

import pytest

from spark_trainer.errors import BadInput
from spark_trainer.ingest import ingest_paths, read_report
from spark_trainer.ingest.types import IngestOptions
from spark_trainer.ingest.video import VideoOptions, build_video_dataset
from spark_trainer.ingest.video.checks import ended_early, inspect_video
from tests.ingest.conftest import leftovers
from tests.ingest.media import truncate, write_av_video, write_video_with_audio


def test_a_video_with_frames_under_the_image_minimum_is_a_problem_before_any_work(store, project, tmp_path) -> None:
    """Image ingestion rejects pictures under 32 px; the wizard made 1x1 and 2x2 frames into a dataset."""
    assert IngestOptions().min_image_side == 32
    folder = tmp_path / "clips"
    folder.mkdir()
    tiny = write_av_video(folder / "tiny.mp4", 10, size=(2, 2))
    write_av_video(folder / "ok.mp4", 10, size=(64, 48))
    probe = inspect_video(tiny)
    assert probe.problems == ["frames too small: 2x2; the minimum side is 32 px (as for images)"]
    messages = []
    result = build_video_dataset(store, [folder], project=project, options=VideoOptions(every_n=5),
                                 progress=messages.append)
    assert [(r.source, r.reason) for r in result.report.rejected] == [
        ("clips/tiny.mp4", "frames too small: 2x2; the minimum side is 32 px (as for images)")]
    assert result.dataset.num_items == 2  # ok.mp4's frames 0 and 5
    assert not any("tiny.mp4" in m.message for m in messages if "extracting" in m.message)
    assert len(list((store.home.root / "cache" / "video").iterdir())) == 1  # ok.mp4's frames only


@pytest.mark.parametrize(("resize", "message"), [
    (16, "--resize must be at least 32 pixels (the smallest image side), got 16"),
    (40, "--resize 40 would make the frames of wide.mp4 40x20, under the 32 px minimum side of an image; "
         "use at least 63"),
])
def test_a_resize_that_makes_frames_smaller_than_an_image_may_be_is_refused(store, project, tmp_path,
                                                                             resize, message) -> None:
    path = write_av_video(tmp_path / "wide.mp4", 5, size=(128, 64))
    with pytest.raises(BadInput) as caught:
        build_video_dataset(store, [path], project=project, options=VideoOptions(every_n=1, resize=resize))
    assert str(caught.value) == message
    assert leftovers(store) == ([], [])
    assert not (store.home.root / "cache" / "video").exists()
    build_video_dataset(store, [path], project=project, options=VideoOptions(every_n=1, resize=64))  # 64x32 is fine


def test_a_video_that_ends_before_its_container_says_is_noted_in_the_report(store, project, tmp_path) -> None:
    """An MKV cut short keeps the duration in its header but records no frame count: the wizard took the
    frames that decode (26 of 32) and said nothing."""
    cut = truncate(write_av_video(tmp_path / "cut.mkv", 32, container="matroska"), keep=0.7)
    whole = write_av_video(tmp_path / "whole.mkv", 32, container="matroska")
    voiced = write_video_with_audio(tmp_path / "voiced.mp4")  # its audio runs 64 ms past the video: not early
    camcorder = write_av_video(tmp_path / "camcorder.mpg", 30, codec="mpeg1video", container="mpeg")
    result = build_video_dataset(store, [cut, whole], project=project, options=VideoOptions(every_n=8))
    assert result.report.rejected == []
    assert "cut.mkv ended early: decoded 1.0 s of 1.3 s" in result.report.notes
    assert not any("whole.mkv" in note for note in result.report.notes)
    assert "cut.mkv ended early: decoded 1.0 s of 1.3 s" in read_report(result.dataset.path)["notes"]
    assert ended_early(inspect_video(cut)) == "decoded 1.0 s of 1.3 s"
    assert [ended_early(inspect_video(p)) for p in (whole, voiced, camcorder)] == [None, None, None]


def test_whole_video_ingestion_refuses_frames_under_the_image_minimum(store, project, tmp_path) -> None:
    """`dataset ingest --kind video` (whole videos, not frames) took a 2x2 video the wizard refuses."""
    folder = tmp_path / "clips"
    folder.mkdir()
    write_av_video(folder / "tiny.mp4", 10, size=(2, 2))
    write_av_video(folder / "ok.mp4", 10, size=(64, 48))
    result = ingest_paths(store, [folder], project=project, kind="video")
    assert [(r.source, r.reason) for r in result.report.rejected] == [
        ("clips/tiny.mp4", "frames too small: 2x2; the minimum side is 32 px (as for images)")]
    assert result.dataset.num_items == 1
    allowed = ingest_paths(store, [folder / "tiny.mp4"], project=project, kind="video",
                           options=IngestOptions(min_image_side=2))  # --min-image-side applies to videos too
    assert allowed.dataset.num_items == 1


def test_whole_video_ingestion_of_only_too_small_videos_is_one_line_and_leaves_nothing(cli, home, tmp_path) -> None:
    assert cli("project", "create", "p").code == 0
    write_av_video(tmp_path / "tiny.mp4", 10, size=(16, 8))
    out = cli("dataset", "ingest", tmp_path / "tiny.mp4", "--project", "p", "--kind", "video")
    assert out.code == 2, out.err
    assert out.err.strip().splitlines()[-1] == ("error: nothing to ingest: the only item was rejected (tiny.mp4: frames "
                                                "too small: 16x8; the minimum side is 32 px (as for images))"), out.err
    assert cli("dataset", "list", "--json").json() == []
    assert not any((home / "datasets").glob("*")), list((home / "datasets").glob("*"))


def test_whole_video_ingestion_notes_a_video_that_ends_before_its_container_says(store, project, tmp_path) -> None:
    cut = truncate(write_av_video(tmp_path / "cut.mkv", 32, container="matroska"), keep=0.7)
    whole = write_av_video(tmp_path / "whole.mkv", 32, container="matroska")
    result = ingest_paths(store, [cut, whole], project=project, kind="video")
    assert result.report.rejected == [] and result.dataset.num_items == 2  # its frames are still a video
    assert "cut.mkv ended early: decoded 1.0 s of 1.3 s" in result.report.notes
    assert not any("whole.mkv" in note for note in result.report.notes)
    assert "cut.mkv ended early: decoded 1.0 s of 1.3 s" in read_report(result.dataset.path)["notes"]
