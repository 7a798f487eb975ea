"""What video ingestion refuses or notes before any work, for the frame wizard and for whole videos
(`dataset ingest --kind video`) alike: frames smaller than image ingestion accepts
(IngestOptions.min_image_side), a resize that would make them so (the wizard), a file that ends before
its container says it does (a note: it is used)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from spark_trainer.errors import BadInput
from spark_trainer.ingest.types import MIN_IMAGE_SIDE, IngestReport
from spark_trainer.ingest.video.frames import resized_size
from spark_trainer.ingest.video.probe import VideoProbe, probe_video
from spark_trainer.visible import visible


@dataclass(frozen=True)
class SettingNames:
    """What the caller calls the wizard's settings in its messages: the command's flags (FLAGS), or
    the boxes of the app's wizard, whose user cannot pass a flag ("--resize must be at least 32 pixels"
    under a box labelled Resize)."""

    fps: str = "--fps"
    every_n: str = "--every-n"
    max_frames: str = "--max-frames"
    resize: str = "--resize"
    caption_model: str = "--caption-model"
    transcribe_model: str = "--transcribe-model"


FLAGS = SettingNames()


def inspect_video(path: Path, min_side: int = MIN_IMAGE_SIDE, *, decode_test: bool = True) -> VideoProbe:
    """`probe_video`, and a problem when the frames would be smaller than an image may be."""
    probe = probe_video(path, decode_test=decode_test)
    problem = frame_size_problem(probe, min_side)
    if problem:
        probe.problems.append(problem)
    return probe


def check_video(path: Path, source: str, report: IngestReport, min_side: int = MIN_IMAGE_SIDE, *,
                decode_test: bool = True) -> VideoProbe:
    """`inspect_video` for an ingestion: a file that ended early is noted in `report` under its
    `source` name (its problems are for the caller to reject it with)."""
    probe = inspect_video(path, min_side, decode_test=decode_test)
    if early := ended_early(probe):
        report.notes.append(f"{visible(source)} ended early: {early}")
    return probe


def frame_size_problem(probe: VideoProbe, min_side: int = MIN_IMAGE_SIDE) -> str | None:
    if probe.ok and probe.width and min(probe.width, probe.height) < min_side:
        return f"frames too small: {probe.width}x{probe.height}; the minimum side is {min_side} px (as for images)"
    return None


def check_resize(resize: int | None, probes: list[VideoProbe], min_side: int = MIN_IMAGE_SIDE,
                 names: SettingNames = FLAGS) -> None:
    """Refuse a `resize` (longest side) that would shrink any usable video's frames under `min_side`.

    Raises:
        BadInput: one line naming the resize setting (`names.resize`), the video, the size it would give and the least that works.
    """
    if resize is None:
        return
    for probe in probes:
        if not probe.ok or not probe.width:
            continue
        width, height = resized_size(probe.width, probe.height, resize)
        if min(width, height) < min_side:
            least = next(px for px in range(resize, max(probe.width, probe.height) + 1)
                         if min(resized_size(probe.width, probe.height, px)) >= min_side)
            raise BadInput(f"{names.resize} {resize} would make the frames of {Path(probe.path).name} {width}x{height}, "
                           f"under the {min_side} px minimum side of an image; use at least {least}")


def ended_early(probe: VideoProbe) -> str | None:
    """"decoded N s of M s" when the frames stop well before the length the container's header gives
    (a recording cut short whose header records no frame count, as MKV and WebM do not); else None.
    Two frames or 5% of slack: an audio track or the last frame's display time may run a little past."""
    if not probe.ok or probe.duration <= 0 or probe.container_duration <= 0:
        return None
    slack = max(2 / probe.fps if probe.fps > 0 else 0.0, 0.05 * probe.container_duration)
    if probe.duration >= probe.container_duration - slack:
        return None
    return f"decoded {probe.duration:.1f} s of {probe.container_duration:.1f} s"
