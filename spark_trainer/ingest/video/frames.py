"""Frame extraction. Skipped frames are only grabbed (demuxed and decoded, never converted to BGR
pixels); retrieve() runs for kept frames only, which is what makes sparse sampling fast."""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from spark_trainer import disk
from spark_trainer.errors import BadInput, DiskFull, OperationFailed
from spark_trainer.ingest.types import ProgressFn, check_cancel, emit
from spark_trainer.ingest.video.probe import cv2_path


@dataclass(frozen=True)
class ExtractedFrame:
    frame_index: int
    timestamp: float
    path: Path
    width: int
    height: int


def selector(fps: float | None, every_n: int | None, indices: list[int] | None,
              video_fps: float) -> tuple[Callable[[int], bool], int | None]:
    """A keep(i) test and the last index that can be kept (None: until the end)."""
    chosen = [x is not None for x in (fps, every_n, indices)]
    if sum(chosen) != 1:
        raise BadInput("choose exactly one of: fps, every_n, frame indices")
    if indices is not None:
        wanted = set(indices)
        return wanted.__contains__, max(wanted, default=-1)
    if every_n is not None:
        if every_n < 1:
            raise BadInput(f"every_n must be >= 1, got {every_n}")
        return (lambda i: i % every_n == 0), None
    assert fps is not None
    if fps <= 0:
        raise BadInput(f"fps must be > 0, got {fps}")
    step = video_fps / fps  # frames between samples; sample k sits at the first frame >= k * step

    def keep(i: int) -> bool:
        k = math.floor(i / step + 1e-9)  # the last sample whose target time is at or before frame i
        return i == math.ceil(k * step - 1e-9)

    return keep, None


class TimeSampler:
    """`fps` mode by the frames' own timestamps: a frame is kept when it is the first at or after the
    next sample time (k / fps). For a constant frame rate this keeps the same frames as `selector`;
    for a variable one (screen recorders, phones) it keeps them evenly spread in time, where counting
    frames at the average rate bunches them where the frames are dense."""

    def __init__(self, fps: float) -> None:
        if fps <= 0:
            raise BadInput(f"fps must be > 0, got {fps}")
        self.period = 1.0 / fps
        self.next = 0.0

    def keep(self, seconds: float) -> bool:
        if seconds + 1e-4 < self.next:
            return False
        self.next = (math.floor((seconds + 1e-4) / self.period) + 1) * self.period
        return True


def time_sampled(times: tuple[float, ...], fps: float) -> list[int]:
    """The indices of `times` (sorted seconds) that TimeSampler keeps: the first frame in each 1/`fps`
    slot that holds one. Vectorised, as the wizard's estimate recounts on every settings change."""
    import numpy as np

    if not times:
        return []
    slots = np.floor((np.asarray(times) + 1e-4) * fps)
    return np.flatnonzero(np.r_[True, slots[1:] != slots[:-1]]).tolist()


def frame_time(cap: object, index: int, previous: float, video_fps: float) -> float:
    """The grabbed frame's time in seconds from its timestamp; where the demuxer gives none that
    moves forward (some report 0 for a program stream's last frame), one frame after the previous."""
    import cv2

    seconds = float(cap.get(cv2.CAP_PROP_POS_MSEC) or 0.0) / 1000.0  # type: ignore[attr-defined]
    if index and seconds <= previous:
        return previous + 1.0 / video_fps
    return seconds


def encode_params(image_format: str) -> list[int]:
    """OpenCV's encoder settings for the frame images (extraction and the space estimate alike)."""
    import cv2

    return [cv2.IMWRITE_JPEG_QUALITY, 95] if image_format == "jpg" else [cv2.IMWRITE_PNG_COMPRESSION, 3]


def resize_longest(frame: object, longest: int | None) -> object:
    """Shrink so the longest side is `longest` pixels (never enlarges)."""
    import cv2

    height, width = frame.shape[:2]  # type: ignore[attr-defined]
    size = resized_size(width, height, longest)
    if size == (width, height):
        return frame
    return cv2.resize(frame, size, interpolation=cv2.INTER_AREA)


def resized_size(width: int, height: int, longest: int | None) -> tuple[int, int]:
    """(width, height) of a `width` x `height` frame once `resize_longest` has shrunk it."""
    scale = longest / max(width, height, 1) if longest else 1.0
    if scale >= 1:
        return width, height
    return max(1, round(width * scale)), max(1, round(height * scale))


def _write_failed(target: Path, frame_bytes: int) -> OperationFailed:
    """OpenCV says only False: a full disk is told apart by the free space left."""
    free = disk.free_bytes(target.parent)
    if free < frame_bytes:
        return DiskFull(f"disk full at {target.parent}: {disk.gb(free)} free, cannot write frame image {target.name}")
    return OperationFailed(f"cannot write frame image {target}")


def extract_frames(path: Path, out_dir: Path, *, fps: float | None = None, every_n: int | None = None,
                   indices: list[int] | None = None, resize: int | None = None, max_frames: int | None = None,
                   image_format: str = "jpg", progress: ProgressFn | None = None,
                   cancel: threading.Event | None = None, total: int | None = None) -> list[ExtractedFrame]:
    """Write the chosen frames of `path` to `out_dir` as `frame_<index>.<format>`.

    Pick frames by target `fps`, `every_n` frames, or explicit `indices` (one per scene). `total`
    is the video's frame count for progress (the probe's count; OpenCV's own can be far off).
    """
    import cv2

    if image_format not in ("jpg", "png"):
        raise BadInput(f"image format must be jpg or png, got {image_format!r}")
    cap = cv2.VideoCapture(cv2_path(path))
    if not cap.isOpened():
        raise BadInput(f"{path}: cannot open as a video")
    out_dir.mkdir(parents=True, exist_ok=True)
    params = encode_params(image_format)
    frames: list[ExtractedFrame] = []
    try:
        video_fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0) or 30.0
        total = total or int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        keep, last = selector(fps, every_n, indices, video_fps)
        by_time = TimeSampler(fps) if fps is not None else None
        index, previous = 0, -1.0
        while (max_frames is None or len(frames) < max_frames) and (last is None or index <= last):
            if not cap.grab():
                break
            seconds = frame_time(cap, index, previous, video_fps)
            previous = seconds
            if by_time.keep(seconds) if by_time is not None else keep(index):
                ok, frame = cap.retrieve()
                if not ok or frame is None:
                    raise OperationFailed(f"{path}: frame {index} could not be decoded")
                frame = resize_longest(frame, resize)
                target = out_dir / f"frame_{index:06d}.{image_format}"
                if not cv2.imwrite(str(target), frame, params):
                    raise _write_failed(target, frame.nbytes)
                height, width = frame.shape[:2]
                frames.append(ExtractedFrame(index, round(seconds, 6), target, width, height))
            index += 1
            if index % 32 == 0:
                check_cancel(cancel)
                emit(progress, index, total, f"extracting frames from {Path(path).name}", str(path))
    finally:
        cap.release()
    return frames
