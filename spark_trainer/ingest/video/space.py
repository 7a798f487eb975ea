"""How much room a video's frames need, known before any frame is written.

The count follows from the video's length and the wizard's sampling settings (for scenes, from the
scenes found); the size per frame from a few of the frames that will be kept, decoded and encoded
in memory exactly as extraction will write them (the largest, with some slack: image sizes vary
with content). Each frame is written twice in the data home: extracted into the wizard's cache,
then copied into the dataset. A wizard that would not fit is refused before it writes anything,
with the same kind of line as ingestion.
"""

from __future__ import annotations

import math
from pathlib import Path

from spark_trainer import disk
from spark_trainer.errors import DiskFull
from spark_trainer.ingest.staging import MARGIN_BYTES
from spark_trainer.ingest.video.frames import encode_params, resize_longest, selector, time_sampled
from spark_trainer.ingest.video.probe import VideoProbe, cv2_path

SAMPLES = 3  # the first, middle and last frame kept
SLACK = 1.25


class NoRoomForFrames(DiskFull):
    """The frames would not fit on the data home's disk (refused before writing any)."""


def kept_indices(probe: VideoProbe, mode: str, *, fps: float = 1.0, every_n: int | None = None,
                 scene_frames: list[int] | None = None, max_frames: int | None = None) -> list[int]:
    """The frame indices extraction will keep (as frames.extract_frames chooses them): what both the
    wizard's "About N frames" and the disk estimate count."""
    if mode == "scenes":
        chosen = sorted(set(scene_frames or []))
    elif mode == "every_n":
        chosen = list(range(0, probe.frame_count, every_n or 1))
    elif len(probe.frame_times) == probe.frame_count > 0:
        # Extraction samples by the frames' own times: at a variable frame rate, one per 1/fps slot
        # that holds a frame (fewer than the slots where frames are sparse, far more than the
        # average rate gives where they are dense).
        chosen = time_sampled(probe.frame_times, fps)
    else:  # no timestamps known (PyAV missing): by frame count, or by length where that gives more
        keep, _ = selector(fps, None, None, probe.fps or 30.0)
        chosen = [i for i in range(probe.frame_count) if keep(i)]
        if probe.duration > 0 and probe.fps > 0 and probe.frame_count > 1:
            samples = math.floor((probe.duration - 1.0 / probe.fps) * fps + 1e-9) + 1
            if samples > len(chosen):
                n = min(samples, probe.frame_count)
                chosen = sorted({round(k * (probe.frame_count - 1) / max(n - 1, 1)) for k in range(n)})
    return chosen[:max_frames] if max_frames is not None else chosen


def bytes_per_frame(video: Path, probe: VideoProbe, indices: list[int], *, resize: int | None,
                    image_format: str) -> int:
    """The largest encoded size among a few of the kept frames, with slack; a frame that does not
    decode here counts as its raw pixels (the most any encoding of it should take)."""
    import cv2

    if not indices:
        return 0
    picks = sorted({indices[0], indices[len(indices) // 2], indices[-1]})[:SAMPLES]
    ext, params = f".{image_format}", encode_params(image_format)
    largest = 0
    cap = cv2.VideoCapture(cv2_path(video))
    try:
        for index in picks:
            cap.set(cv2.CAP_PROP_POS_FRAMES, index)
            ok, frame = cap.read()
            encoded = None
            if ok and frame is not None:
                done, encoded = cv2.imencode(ext, resize_longest(frame, resize), params)
                encoded = encoded if done else None
            largest = max(largest, len(encoded) if encoded is not None else _raw_bytes(probe, resize))
    finally:
        cap.release()
    return int(largest * SLACK)


def _raw_bytes(probe: VideoProbe, resize: int | None) -> int:
    scale = min(1.0, resize / max(probe.width, probe.height)) if resize and probe.width else 1.0
    return int(probe.width * scale) * int(probe.height * scale) * 3 + 1024


def check_room(cache: Path, datasets: Path, frame_bytes: int, copied_only: int = 0) -> None:
    """Refuse (NoRoomForFrames, nothing written) unless the data home has room for `frame_bytes`
    of new frames (written to `cache`, then copied into `datasets`) and `copied_only` bytes of
    frames already cached (copied only).

    Raises:
        NoRoomForFrames: "disk full at <folder>: N MiB free, the frames need about M MiB; nothing was saved".
    """
    if disk.same_filesystem(cache, datasets):
        needs = [(cache, 2 * frame_bytes + copied_only)]
    else:
        needs = [(cache, frame_bytes), (datasets, frame_bytes + copied_only)]
    for folder, needed in needs:
        free = disk.free_bytes(folder)
        if needed and free < needed + MARGIN_BYTES:
            raise NoRoomForFrames(f"disk full at {folder}: {disk.gb(free)} free, the frames need about "
                                  f"{disk.gb(needed + MARGIN_BYTES)}; nothing was saved")
