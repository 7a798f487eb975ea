"""Frame extraction throughput on a generated 1080p video: grab-skip extraction vs a naive loop.

The naive loop reads (decodes and converts) every frame and keeps one per second; ours grabs every
frame but retrieves (converts to BGR pixels) only the kept ones. Both write the same JPEG files.
Prints frames/s, real-time factors and the ratio in one run.

    .venv/bin/python benchmarks/bench_video_extract.py [--seconds 10] [--sample-fps 1] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from spark_trainer.ingest.video import extract_frames


def make_video(path: Path, seconds: float, fps: float, width: int, height: int) -> int:
    """A 1080p mp4v clip with a moving gradient and shapes (compresses like real footage, not noise)."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (width, height))
    xs = np.linspace(0, 255, width, dtype=np.float32)
    ys = np.linspace(0, 255, height, dtype=np.float32)[:, None]
    n = int(seconds * fps)
    for i in range(n):
        frame = np.empty((height, width, 3), np.uint8)
        frame[..., 0] = ((xs + i * 4) % 256).astype(np.uint8)
        frame[..., 1] = ((ys + i * 2) % 256).astype(np.uint8)
        frame[..., 2] = ((xs[None, :] + ys) / 2 + i) % 256
        cx = int((i * 17) % (width - 200))
        cv2.circle(frame, (cx + 100, height // 2), 90, (255, 255, 255), -1)
        cv2.putText(frame, f"frame {i}", (60, 120), cv2.FONT_HERSHEY_SIMPLEX, 3, (0, 0, 0), 6)
        writer.write(frame)
    writer.release()
    return n


def naive_extract(path: Path, out: Path, sample_fps: float) -> int:
    """Read every frame (decode + convert), keep one per 1/sample_fps seconds."""
    out.mkdir(parents=True, exist_ok=True)
    cap = cv2.VideoCapture(str(path))
    video_fps = cap.get(cv2.CAP_PROP_FPS)
    step = video_fps / sample_fps
    index, kept, next_t = 0, 0, 0.0
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        if index >= next_t - 1e-9:
            cv2.imwrite(str(out / f"frame_{index:06d}.jpg"), frame, [cv2.IMWRITE_JPEG_QUALITY, 95])
            kept += 1
            next_t += step
        index += 1
    cap.release()
    return kept


def timed(fn, *args) -> tuple[float, int]:
    start = time.perf_counter()
    kept = fn(*args)
    return time.perf_counter() - start, kept


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--fps", type=float, default=30.0, help="frame rate of the generated video")
    parser.add_argument("--sample-fps", type=float, default=1.0, help="frames per second to keep")
    parser.add_argument("--width", type=int, default=1920)
    parser.add_argument("--height", type=int, default=1080)
    parser.add_argument("--repeats", type=int, default=3, help="alternating runs of each; the median is reported")
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        video = root / "bench.mp4"
        frames = make_video(video, args.seconds, args.fps, args.width, args.height)
        naive_times, grab_times = [], []
        for r in range(args.repeats):
            t, naive_kept = timed(naive_extract, video, root / f"naive{r}", args.sample_fps)
            naive_times.append(t)
            start = time.perf_counter()
            grabbed = extract_frames(video, root / f"grab{r}", fps=args.sample_fps)
            grab_times.append(time.perf_counter() - start)
        naive_s, grab_s = statistics.median(naive_times), statistics.median(grab_times)
    result = {
        "video": f"{args.width}x{args.height} {args.fps:g} fps mp4v, {frames} frames ({args.seconds:g} s)",
        "sample_fps": args.sample_fps,
        "kept_frames": {"naive": naive_kept, "grab_skip": len(grabbed)},
        "naive_frames_per_s": round(frames / naive_s, 1),
        "grab_skip_frames_per_s": round(frames / grab_s, 1),
        "naive_realtime_x": round(args.seconds / naive_s, 2),
        "grab_skip_realtime_x": round(args.seconds / grab_s, 2),
        "ratio_grab_skip_over_naive": round(naive_s / grab_s, 2),
        "repeats": args.repeats,
        "opencv_threads": cv2.getNumThreads(),
    }
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"video: {result['video']}, keeping {args.sample_fps:g} frame(s)/s "
          f"({result['kept_frames']['grab_skip']} frames), median of {args.repeats}")
    print(f"naive read-every-frame : {result['naive_frames_per_s']:8.1f} frames/s  ({result['naive_realtime_x']}x real time)")
    print(f"grab-skip extraction   : {result['grab_skip_frames_per_s']:8.1f} frames/s  ({result['grab_skip_realtime_x']}x real time)")
    print(f"ratio (grab-skip / naive): {result['ratio_grab_skip_over_naive']}x")


if __name__ == "__main__":
    main()
