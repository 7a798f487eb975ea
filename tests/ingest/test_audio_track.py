"""Audio in videos: presence in the probe, decoding for transcription, alignment of segments to frames."""

from __future__ import annotations

import pytest

from spark_trainer.ingest.video import Segment, probe_video, transcript_at
from spark_trainer.ingest.video.models import SAMPLE_RATE, load_audio, model_or_note
from tests.ingest.media import write_video, write_video_with_audio


def test_probe_sees_the_audio_track_and_audio_decodes_to_16k_mono(tmp_path) -> None:
    with_audio = write_video_with_audio(tmp_path / "talk.mp4", seconds=2.0)
    probe = probe_video(with_audio)
    assert probe.ok and probe.has_audio is True and probe.frame_count == 60
    audio = load_audio(with_audio)
    assert audio is not None and audio.ndim == 1
    assert abs(audio.size - 2 * SAMPLE_RATE) < SAMPLE_RATE // 5  # two seconds at 16 kHz, plus AAC padding
    assert 0.15 < float(abs(audio).max()) < 0.5  # the 0.3-amplitude tone, not silence

    silent = write_video(tmp_path / "silent.mp4", 30)
    assert probe_video(silent).has_audio is False and load_audio(silent) is None


def test_transcript_segments_align_to_frame_times(tmp_path) -> None:
    segments = [Segment(0.0, 1.5, "hello"), Segment(1.5, 3.0, "world"), Segment(4.0, 5.0, "again")]
    assert [transcript_at(segments, t) for t in (0.0, 1.49, 1.5, 3.5, 4.2)] == ["hello", "hello", "world", None,
                                                                                 "again"]
    folder, note = model_or_note(tmp_path, "transcription", "--transcribe-model")
    assert folder == tmp_path and note is None
    assert model_or_note(None, "captioning", "--caption-model")[1].startswith("captioning skipped: no model given")


def test_wizard_transcribes_and_captions_with_local_models(store, project, tmp_path) -> None:
    from pathlib import Path

    from spark_trainer.ingest import read_manifest
    from spark_trainer.ingest.video import VideoOptions, build_video_dataset
    from tests.ingest.tiny_models import make_tiny_blip, make_tiny_whisper

    whisper = make_tiny_whisper(tmp_path / "whisper")
    blip = make_tiny_blip(tmp_path / "blip")
    video = write_video_with_audio(tmp_path / "talk.mp4", seconds=2.0)
    options = VideoOptions(fps=2, transcribe_model=str(whisper), caption_model=str(blip))
    result = build_video_dataset(store, [video], project=project, options=options)
    assert not any("skipped" in n for n in result.report.notes)
    rows = read_manifest(Path(result.dataset.path))
    assert [r["timestamp"] for r in rows] == [0.0, 0.5, 1.0, 1.5]
    assert all(isinstance(r["caption"], str) for r in rows)  # captioned (random weights: maybe empty text)
    segments = [Segment(s["start"], s["end"], s["text"]) for s in result.report.extra["videos"]["talk.mp4"]["transcript"]]
    assert all(0 <= s.start <= s.end <= 2.2 for s in segments)
    assert segments and any(r["transcript"] for r in rows)  # seeded weights: one segment inside the clip
    assert [r["transcript"] for r in rows] == [transcript_at(segments, r["timestamp"]) for r in rows]


@pytest.mark.gpu
def test_model_steps_run_on_the_gpu_when_there_is_one(store, project, tmp_path) -> None:
    import torch

    from spark_trainer.ingest.video import VideoOptions, build_video_dataset
    from spark_trainer.ingest.video.models import Captioner, Transcriber
    from tests.ingest.tiny_models import make_tiny_blip, make_tiny_whisper

    if not torch.cuda.is_available():
        pytest.skip("needs CUDA")
    whisper, blip = make_tiny_whisper(tmp_path / "whisper"), make_tiny_blip(tmp_path / "blip")
    assert Transcriber(whisper).pipe.device.type == "cuda"  # "auto" picks the GPU
    assert Captioner(blip).pipe.device.type == "cuda"
    video = write_video_with_audio(tmp_path / "talk.mp4", seconds=2.0)
    options = VideoOptions(fps=2, transcribe_model=str(whisper), caption_model=str(blip), model_device="cuda:0")
    result = build_video_dataset(store, [video], project=project, options=options)
    assert result.dataset.num_items == 4 and not result.report.notes
