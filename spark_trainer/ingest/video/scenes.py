"""Content-based cut detection: HSV histograms of consecutive (downscaled) frames, compared with the
Bhattacharyya distance. A cut at frame i means frame i is the first frame of a new scene."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

from spark_trainer.errors import BadInput
from spark_trainer.ingest.types import ProgressFn, check_cancel, emit
from spark_trainer.ingest.video.probe import cv2_path

ANALYSIS_WIDTH = 96
HIST_BINS = [16, 4, 4]  # hue, saturation, value
HIST_RANGES = [0, 180, 0, 256, 0, 256]


@dataclass(frozen=True)
class Scene:
    """Frames [start_frame, end_frame) and their times in seconds."""

    index: int
    start_frame: int
    end_frame: int
    start_time: float
    end_time: float

    @property
    def middle_frame(self) -> int:
        return (self.start_frame + self.end_frame - 1) // 2


def frame_histogram(frame: object) -> object:
    """A normalised 3-D HSV histogram of a small copy of `frame` (BGR)."""
    import cv2

    height, width = frame.shape[:2]  # type: ignore[attr-defined]
    if width > ANALYSIS_WIDTH:
        frame = cv2.resize(frame, (ANALYSIS_WIDTH, max(1, round(height * ANALYSIS_WIDTH / width))),
                           interpolation=cv2.INTER_AREA)
    hsv = cv2.cvtColor(frame, cv2.COLOR_BGR2HSV)
    hist = cv2.calcHist([hsv], [0, 1, 2], None, HIST_BINS, HIST_RANGES)
    return cv2.normalize(hist, hist, 1.0, 0.0, cv2.NORM_L1)


def detect_scenes(path: Path, threshold: float = 0.35, *, min_scene_len: int = 10,
                  progress: ProgressFn | None = None, cancel: threading.Event | None = None) -> list[Scene]:
    """Scenes of `path`. `threshold` is the histogram distance (0..1) that counts as a cut; cuts
    closer than `min_scene_len` frames to the previous one are ignored (flashes)."""
    import cv2

    if not 0.0 < threshold < 1.0:
        raise BadInput(f"scene threshold must be between 0 and 1, got {threshold}")
    cap = cv2.VideoCapture(cv2_path(path))
    if not cap.isOpened():
        raise BadInput(f"{path}: cannot open as a video")
    try:
        fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0) or 30.0
        total = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        cuts = [0]
        previous = None
        index = 0
        while cap.grab():
            ok, frame = cap.retrieve()
            if not ok:
                break
            hist = frame_histogram(frame)
            if previous is not None:
                distance = cv2.compareHist(previous, hist, cv2.HISTCMP_BHATTACHARYYA)
                if distance >= threshold and index - cuts[-1] >= min_scene_len:
                    cuts.append(index)
            previous = hist
            index += 1
            if index % 64 == 0:
                check_cancel(cancel)
                emit(progress, index, total, f"detecting scenes in {Path(path).name}", str(path))
    finally:
        cap.release()
    if index == 0:
        return []
    bounds = [*cuts, index]
    return [Scene(i, start, end, start / fps, end / fps)
            for i, (start, end) in enumerate(zip(bounds[:-1], bounds[1:], strict=True))]
