"""Perceptual hashing (DCT pHash) and near-duplicate removal, with cv2 and numpy only."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

# pHash works on luminance only, so two flat frames of different colours hash alike; a frame is a
# near duplicate only when its mean colour is also close (max channel difference, 0..255).
COLOUR_TOLERANCE = 24.0


@dataclass(frozen=True)
class FrameHash:
    phash: int
    mean_bgr: tuple[float, float, float]


def phash(image: object) -> int:
    """64-bit DCT perceptual hash of a BGR or grey image."""
    import cv2
    import numpy as np

    grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image  # type: ignore[attr-defined]
    small = cv2.resize(grey, (32, 32), interpolation=cv2.INTER_AREA).astype(np.float32)
    low = cv2.dct(small)[:8, :8].flatten()
    median = np.median(low[1:])
    bits = (low > median).astype(np.uint8)
    return int("".join(map(str, bits)), 2)


def hamming(a: int, b: int) -> int:
    return bin(a ^ b).count("1")


def frame_hash(path: Path) -> FrameHash:
    import cv2

    from spark_trainer.ingest.video.probe import cv2_path

    image = cv2.imread(cv2_path(path), cv2.IMREAD_COLOR)
    if image is None:
        raise ValueError(f"cannot read image {path}")
    mean = cv2.mean(image)[:3]
    return FrameHash(phash(image), (float(mean[0]), float(mean[1]), float(mean[2])))


def is_near_duplicate(a: FrameHash, b: FrameHash, max_distance: int) -> bool:
    close_colour = max(abs(x - y) for x, y in zip(a.mean_bgr, b.mean_bgr, strict=True)) <= COLOUR_TOLERANCE
    return close_colour and hamming(a.phash, b.phash) <= max_distance


def near_duplicates(hashes: list[FrameHash], max_distance: int = 6) -> dict[int, int]:
    """{index of a dropped frame: index of the kept frame it duplicates}, keeping first occurrences."""
    kept: list[int] = []
    dropped: dict[int, int] = {}
    for i, h in enumerate(hashes):
        match = next((k for k in kept if is_near_duplicate(hashes[k], h, max_distance)), None)
        if match is None:
            kept.append(i)
        else:
            dropped[i] = match
    return dropped
