"""The video wizard steps: probe, scene detection, frame extraction, pHash dedupe, optional
transcription and captioning, and `build_video_dataset` tying them together."""

from __future__ import annotations

from spark_trainer.ingest.video.frames import ExtractedFrame, extract_frames, resize_longest
from spark_trainer.ingest.video.models import Segment, transcript_at
from spark_trainer.ingest.video.phash import FrameHash, frame_hash, hamming, near_duplicates, phash
from spark_trainer.ingest.video.probe import VideoProbe, probe_video
from spark_trainer.ingest.video.scenes import Scene, detect_scenes
from spark_trainer.ingest.video.wizard import VideoOptions, build_video_dataset, process_video

__all__ = [
    "ExtractedFrame", "FrameHash", "Scene", "Segment", "VideoOptions", "VideoProbe", "build_video_dataset",
    "detect_scenes", "extract_frames", "frame_hash", "hamming", "near_duplicates", "phash", "probe_video",
    "process_video", "resize_longest", "transcript_at",
]
