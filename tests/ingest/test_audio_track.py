"""Audio in videos: presence in the probe, decoding for transcription, alignment of segments to frames."""

from __future__ import annotations

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
