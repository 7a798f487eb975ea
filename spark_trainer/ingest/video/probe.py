"""Probe a video: what it is (duration, fps, frames, size, codec, audio, SHA-256) and whether it
decodes at sampled positions, so truncated or corrupt files are flagged before extraction."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from spark_trainer.errors import BadInput

DECODE_SAMPLES = 5


@dataclass
class VideoProbe:
    path: str
    sha256: str
    size_bytes: int
    duration: float = 0.0
    fps: float = 0.0
    frame_count: int = 0
    width: int = 0
    height: int = 0
    codec: str = ""
    has_audio: bool | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def file_sha256(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def cv2_path(path: Path) -> str:
    """`path` as OpenCV takes it. OpenCV crashes the process on names that are not valid UTF-8
    (Python's surrogate escapes), so those are refused here with a clear error."""
    text = str(path)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise BadInput(f"{text.encode('utf-8', 'surrogateescape').decode('utf-8', 'replace')}: file name is not "
                       "valid UTF-8; OpenCV cannot open it (rename the file)") from None
    return text


def _fourcc(value: float) -> str:
    code = int(value)
    text = "".join(chr((code >> (8 * i)) & 0xFF) for i in range(4))
    return text.strip("\x00 ") if text.isprintable() else str(code)


def _has_audio(path: Path) -> bool | None:
    """Whether the container holds an audio stream; None when PyAV is not installed to tell."""
    try:
        import av
    except ImportError:
        return None
    try:
        with av.open(str(path)) as container:
            return len(container.streams.audio) > 0
    except (av.FFmpegError, OSError, ValueError):
        return None


def probe_video(path: Path, *, decode_test: bool = True) -> VideoProbe:
    """Everything known about `path`; `problems` is empty when it opened and decoded everywhere sampled."""
    import cv2

    path = Path(path)
    size = path.stat().st_size
    probe = VideoProbe(path=str(path), sha256=file_sha256(path), size_bytes=size)
    if size == 0:
        probe.problems.append("empty file (0 bytes)")
        return probe
    try:
        cap = cv2.VideoCapture(cv2_path(path))
    except BadInput:
        probe.problems.append("file name is not valid UTF-8; OpenCV cannot open it (rename the file)")
        return probe
    try:
        if not cap.isOpened():
            probe.problems.append("cannot open as a video (not a video, or truncated/corrupt container)")
            return probe
        probe.fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
        probe.frame_count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        probe.width = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH) or 0)
        probe.height = int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT) or 0)
        probe.codec = _fourcc(cap.get(cv2.CAP_PROP_FOURCC))
        if probe.fps <= 0 or probe.frame_count <= 0 or probe.width <= 0:
            probe.problems.append(f"no readable video stream (fps {probe.fps:g}, frames {probe.frame_count}, "
                                  f"size {probe.width}x{probe.height})")
            return probe
        probe.duration = probe.frame_count / probe.fps
        if decode_test:
            probe.problems += _decode_test(cap, probe.frame_count)
    finally:
        cap.release()
    probe.has_audio = _has_audio(path)
    return probe


def _decode_test(cap: object, frame_count: int) -> list[str]:
    import cv2

    positions = sorted({round(i * (frame_count - 1) / (DECODE_SAMPLES - 1)) for i in range(DECODE_SAMPLES)})
    for index in positions:
        cap.set(cv2.CAP_PROP_POS_FRAMES, index)  # type: ignore[attr-defined]
        ok, frame = cap.read()  # type: ignore[attr-defined]
        if not ok or frame is None:
            return [f"cannot decode frame {index} of {frame_count} (truncated or corrupt file)"]
    return []
