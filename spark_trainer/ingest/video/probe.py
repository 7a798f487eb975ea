"""Probe a video: what it is (duration, fps, frames, size, codec, audio, SHA-256) and whether it
decodes at sampled positions, so truncated or corrupt files are flagged before extraction."""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from spark_trainer.errors import BadInput

DECODE_SAMPLES = 5
# Containers whose header records the duration (FFmpeg estimates it for MPEG streams, from the bit rate)
HEADER_DURATION_FORMATS = {"matroska", "webm", "mov", "mp4", "avi", "asf", "flv"}


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
    container_duration: float = 0.0  # the video's length as the container's header gives it (0.0: none)
    problems: list[str] = field(default_factory=list)
    # Each frame's time in seconds from the first, in display order, from the demuxed packets (empty:
    # unknown). What the frame estimates count at a variable frame rate; left out of `record()`.
    frame_times: tuple[float, ...] = field(default=(), repr=False, compare=False)

    @property
    def ok(self) -> bool:
        return not self.problems

    def record(self) -> dict[str, Any]:
        """The probe as a report stores it (without the per-frame times)."""
        return {k: v for k, v in asdict(self).items() if k != "frame_times"}


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
            probe.problems.append(_why_unopened(path))
            return probe
        probe.fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
        probe.frame_count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        probe.width = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH) or 0)
        probe.height = int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT) or 0)
        probe.codec = _fourcc(cap.get(cv2.CAP_PROP_FOURCC))
        counted = count_frames(path)
        if counted is not None:
            problem = _use_count(probe, counted)
            if problem:
                probe.problems.append(problem)
                return probe
        if probe.fps <= 0 or probe.frame_count <= 0 or probe.width <= 0:
            probe.problems.append(f"no readable video stream (fps {probe.fps:g}, frames {probe.frame_count}, "
                                  f"size {probe.width}x{probe.height})")
            return probe
        probe.duration = probe.duration or probe.frame_count / probe.fps
        if decode_test:
            probe.problems += _decode_test(cap, probe.frame_count, path)
    finally:
        cap.release()
    probe.has_audio = _has_audio(path)
    return probe


def _why_unopened(path: Path) -> str:
    """Why OpenCV could not open `path`: a container without video (a voice memo saved as .mp4, a
    recording stopped before its first frame) is told apart from a damaged file when PyAV can tell."""
    unknown = "cannot open as a video (not a video, or truncated/corrupt container)"
    try:
        import av
    except ImportError:
        return unknown
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                return ("no video stream (audio only)" if container.streams.audio else
                        "no video stream (the file holds no streams: a recording stopped before its first frame?)")
    except (av.FFmpegError, OSError, ValueError):
        pass
    return unknown


@dataclass(frozen=True)
class FrameCount:
    """What the container holds: `frames` demuxed, `declared` in its header (0: not recorded), the
    `duration` their timestamps span (0.0: unknown), the `header_duration` the header gives the
    video (0.0: none recorded, or only estimated), and each frame's time from the first (sorted;
    empty when a packet had no timestamp)."""

    frames: int
    declared: int
    duration: float
    header_duration: float = 0.0
    times: tuple[float, ...] = ()


def count_frames(path: Path) -> FrameCount | None:
    """The video stream's frames, counted by demuxing its packets (nothing is decoded); None when
    PyAV is missing or cannot read the file (OpenCV's answer then stands).

    OpenCV's CAP_PROP_FRAME_COUNT is the container's figure, or duration x average fps when the
    container does not record one: an MPEG program stream says 1, and a variable-frame-rate MKV or
    WebM (screen recorders, browsers, phones) says several times the frames it holds, which made the
    decode test call a healthy file truncated.
    """
    try:
        import av
    except ImportError:
        return None
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                return None
            stream = container.streams.video[0]
            frames, first, last, stamps = 0, None, None, []
            for packet in container.demux(stream):
                if packet.size == 0:  # the demuxer's closing empty packet
                    continue
                frames += 1
                if packet.pts is not None:
                    stamps.append(packet.pts)
                    end = packet.pts + (packet.duration or 0)
                    first = packet.pts if first is None else min(first, packet.pts)
                    last = end if last is None else max(last, end)
            span = float((last - first) * stream.time_base) if first is not None and stream.time_base else 0.0
            times = ()
            if len(stamps) == frames and first is not None and stream.time_base:
                times = tuple(float((pts - first) * stream.time_base) for pts in sorted(stamps))
            return FrameCount(frames, int(stream.frames or 0), span, _header_duration(container, stream), times)
    except (av.FFmpegError, OSError, ValueError):
        return None


def _header_duration(container: Any, stream: Any) -> float:
    """The video stream's duration from the header, else the container's (Matroska records only that)."""
    if not HEADER_DURATION_FORMATS & set(container.format.name.split(",")):
        return 0.0
    if stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base)
    return container.duration / 1_000_000 if container.duration else 0.0  # AV_TIME_BASE


def _use_count(probe: VideoProbe, counted: FrameCount) -> str | None:
    """Take the demuxed count into `probe`; a problem when the file holds fewer frames than its header declares."""
    if counted.declared and counted.frames < counted.declared:
        return (f"truncated: the file holds {counted.frames} of the {counted.declared} frames its header declares")
    if counted.frames > 0:
        probe.frame_count = counted.frames
        probe.duration = counted.duration
        probe.frame_times = counted.times
    probe.container_duration = counted.header_duration
    return None


def _decode_test(cap: object, frame_count: int, path: Path) -> list[str]:
    import cv2

    positions = sorted({round(i * (frame_count - 1) / (DECODE_SAMPLES - 1)) for i in range(DECODE_SAMPLES)})
    for index in positions:
        cap.set(cv2.CAP_PROP_POS_FRAMES, index)  # type: ignore[attr-defined]
        ok, frame = cap.read()  # type: ignore[attr-defined]
        if not ok or frame is None:
            # Seeking by frame number misses in containers without an index (MPEG program streams):
            # reading from the start, as extraction will, is the real test.
            if _reaches(path, positions[-1]):
                return []
            return [f"cannot decode frame {index} of {frame_count} (truncated or corrupt file)"]
    return []


def _reaches(path: Path, last: int) -> bool:
    """Whether frames 0..`last` of `path` decode reading straight through."""
    import cv2

    cap = cv2.VideoCapture(cv2_path(path))
    try:
        for _ in range(last):
            if not cap.grab():
                return False
        ok, frame = cap.read()
        return bool(ok) and frame is not None
    finally:
        cap.release()
