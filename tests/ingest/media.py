"""Real test media made with OpenCV and PIL: videos with known cuts, images, truncated files."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

COLOURS = [(0, 0, 220), (0, 200, 0), (220, 0, 0), (0, 220, 220), (200, 0, 200), (40, 40, 40)]


def write_video(path: Path, n_frames: int, *, fps: float = 30.0, size: tuple[int, int] = (160, 120),
                cuts: list[int] | None = None, moving: bool = True) -> Path:
    """An mp4v video; the background colour switches at each frame in `cuts`; a white square moves."""
    width, height = size
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (width, height))
    assert writer.isOpened(), f"cannot write {path}"
    bounds = sorted(cuts or [])
    for i in range(n_frames):
        scene = sum(1 for c in bounds if i >= c)
        frame = np.full((height, width, 3), COLOURS[scene % len(COLOURS)], np.uint8)
        if moving:
            x = (i * 3) % (width - 20)
            cv2.rectangle(frame, (x, height // 3), (x + 18, height // 3 + 18), (255, 255, 255), -1)
            cv2.putText(frame, str(scene), (8, height - 10), cv2.FONT_HERSHEY_SIMPLEX, 0.8, (0, 0, 0), 2)
        writer.write(frame)
    writer.release()
    return path


def write_image(path: Path, size: tuple[int, int] = (64, 48), seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    image = rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), image)
    return path


def truncate(path: Path, keep: float = 0.5) -> Path:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
    return path


def write_video_with_audio(path: Path, seconds: float = 2.0, *, fps: int = 30, rate: int = 16000) -> Path:
    """An MPEG-4 video with an AAC tone track, written with PyAV (OpenCV cannot write audio)."""
    import av

    with av.open(str(path), "w") as container:
        video = container.add_stream("mpeg4", rate=fps)
        video.width, video.height, video.pix_fmt = 160, 120, "yuv420p"
        audio = container.add_stream("aac", rate=rate)
        for i in range(int(seconds * fps)):
            frame = av.VideoFrame.from_ndarray(np.full((120, 160, 3), (i * 4) % 256, np.uint8), format="rgb24")
            for packet in video.encode(frame):
                container.mux(packet)
        t = np.arange(int(seconds * rate)) / rate
        tone = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32).reshape(1, -1)
        samples = av.AudioFrame.from_ndarray(tone, format="fltp", layout="mono")
        samples.sample_rate = rate
        for packet in audio.encode(samples):
            container.mux(packet)
        for stream in (audio, video):
            for packet in stream.encode(None):
                container.mux(packet)
    return path


def write_phone_photo(path: Path, size: tuple[int, int] = (80, 40), colour: tuple[int, int, int] = (255, 0, 0)) -> Path:
    """A JPEG stored sideways, as phones store portrait photos: `size` pixels (left half `colour`, right
    half black) with EXIF orientation 6, so a viewer turns it a quarter clockwise and shows a
    picture `size[1]` wide and `size[0]` high with `colour` on top."""
    from PIL import Image

    width, height = size
    image = Image.new("RGB", size, (0, 0, 0))
    image.paste(colour, (0, 0, width // 2, height))
    exif = image.getexif()
    exif[0x0112] = 6
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, exif=exif, quality=95)
    return path


def write_av_video(path: Path, n_frames: int, *, fps: int = 25, codec: str = "mpeg4", container: str | None = None,
                   pts_ms: list[int] | None = None, size: tuple[int, int] = (64, 48)) -> Path:
    """A video written with PyAV (FFmpeg), for containers OpenCV's writer does not make: an MPEG
    program stream (container "mpeg", codec "mpeg1video"), or an MKV/WebM whose frames sit at the
    millisecond times `pts_ms` (a variable frame rate, as screen recorders and phones write)."""
    from fractions import Fraction

    import av

    width, height = size
    with av.open(str(path), "w", format=container) as out:
        stream = out.add_stream(codec, rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        if pts_ms is not None:
            stream.time_base = Fraction(1, 1000)
        for i in range(n_frames):
            pixels = np.full((height, width, 3), COLOURS[i % len(COLOURS)], np.uint8)
            frame = av.VideoFrame.from_ndarray(pixels, format="rgb24")
            if pts_ms is not None:
                frame.pts, frame.time_base = pts_ms[i], Fraction(1, 1000)
            out.mux(stream.encode(frame))
        out.mux(stream.encode())
    return path


def write_portrait_video(path: Path, n_frames: int = 10, size: tuple[int, int] = (64, 48)) -> Path:
    """An MP4 stored landscape (`size`; left half red, right half black) with the display matrix a
    phone writes for a portrait recording: a player turns it a quarter clockwise, red on top. PyAV
    does not write rotation metadata, so the track header's matrix is set in the file's bytes."""
    import struct

    import av

    width, height = size
    pixels = np.zeros((height, width, 3), np.uint8)
    pixels[:, : width // 2] = (255, 0, 0)
    with av.open(str(path), "w") as out:
        stream = out.add_stream("mpeg4", rate=25)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for _ in range(n_frames):
            out.mux(stream.encode(av.VideoFrame.from_ndarray(pixels, format="rgb24")))
        out.mux(stream.encode())
    data = bytearray(path.read_bytes())
    at = data.find(b"tkhd")  # then version, flags, times, track id, duration..., 16 bytes, the matrix
    matrix = at + 8 + (32 if data[at + 4] == 1 else 20) + 16
    data[matrix:matrix + 36] = struct.pack(">9i", 0, 0x10000, 0, -0x10000, 0, 0, height << 16, 0, 0x40000000)
    path.write_bytes(bytes(data))
    return path
