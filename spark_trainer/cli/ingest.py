"""`dataset ingest` and `dataset video`: thin adapters over spark_trainer.ingest."""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from spark_trainer.cli.context import Context, Result
from spark_trainer.cli.format import fields, human_bytes, non_negative_int, positive_float, positive_int
from spark_trainer.cli.hangup import like_ctrl_c
from spark_trainer.ingest.types import IngestReport, IngestResult, Progress
from spark_trainer.visible import visible


def register_dataset_actions(actions: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    ingest = actions.add_parser("ingest", help="ingest files or folders (text, images, video, audio) as a dataset",
                                parents=[common])
    ingest.add_argument("paths", nargs="+", metavar="PATH", help="files or folders to ingest")
    ingest.add_argument("--project", required=True, help="project (name or id)")
    ingest.add_argument("--name", help="dataset name (default: from the first path that holds files of the "
                                       "dataset's kind)")
    ingest.add_argument("--kind", default="auto", choices=["auto", "text", "image", "video", "audio"],
                        help="what the files are (default: detected)")
    ingest.add_argument("--val-fraction", type=float, default=0.1, metavar="F",
                        help="share of items in the validation split, chosen by content hash (default 0.1)")
    ingest.add_argument("--link", action="store_true", help="reference files in place instead of copying them")
    ingest.add_argument("--max-text-chars", type=positive_int, default=100_000, metavar="N",
                        help="reject text records longer than N characters (default 100000)")
    ingest.add_argument("--min-image-side", type=positive_int, default=32, metavar="PX",
                        help="reject images whose shorter side is below PX pixels (default 32)")
    ingest.add_argument("--txt-mode", choices=["line", "file"], default="line",
                        help=".txt files: one record per non-empty line (default) or per file")
    ingest.set_defaults(handler=cmd_ingest)

    video = actions.add_parser("video", help="the video wizard: extract frames (with scenes, captions, "
                               "transcripts) into an image dataset", parents=[common])
    video.add_argument("paths", nargs="+", metavar="PATH", help="video files or folders of videos")
    video.add_argument("--project", required=True, help="project (name or id)")
    video.add_argument("--name", help="dataset name (default: from the first path)")
    how = video.add_mutually_exclusive_group()
    how.add_argument("--fps", type=positive_float, metavar="F", help="frames per second to keep (default 1)")
    how.add_argument("--every-n", type=positive_int, metavar="N", help="keep every N-th frame")
    how.add_argument("--scenes", action="store_true", help="keep one frame per detected scene")
    video.add_argument("--scene-threshold", type=float, metavar="T",
                       help="with --scenes: the histogram distance (0..1) that counts as a cut (default 0.35)")
    video.add_argument("--max-frames", type=positive_int, metavar="N", help="at most N frames per video")
    video.add_argument("--resize", type=positive_int, metavar="PX",
                       help="shrink frames so the longest side is PX (refused if a shorter side would be under 32)")
    video.add_argument("--dedupe", action="store_true", help="drop near-duplicate frames (perceptual hash)")
    video.add_argument("--dedupe-distance", type=non_negative_int, metavar="BITS",
                       help="with --dedupe: the max pHash Hamming distance for a near duplicate (default 6)")
    video.add_argument("--format", dest="image_format", choices=["jpg", "png"], default="jpg",
                       help="frame image format (default jpg)")
    video.add_argument("--caption-model", metavar="PATH", help="local image-to-text model folder for captions")
    video.add_argument("--transcribe-model", metavar="PATH", help="local Whisper model folder for transcripts")
    video.add_argument("--val-fraction", type=float, default=0.1, metavar="F",
                       help="share of frames in the validation split (default 0.1)")
    video.set_defaults(handler=cmd_video)


def _quiet_ffmpeg() -> None:
    """FFmpeg's own log lines ("moov atom not found") would interleave with our progress; the report
    already names every broken file and why. Set OPENCV_FFMPEG_LOGLEVEL yourself to see them."""
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")


class _StderrProgress:
    """Progress lines on stderr, at most a few per second (the last one always)."""

    def __init__(self) -> None:
        self._last = 0.0

    def __call__(self, p: Progress) -> None:
        now = time.monotonic()
        if now - self._last >= 0.5 or p.done >= p.total:
            self._last = now
            print(f"[{p.done}/{p.total}] {p.message}", file=sys.stderr, flush=True)


def rejection_lines(report: IngestReport, dataset_dir: Path, limit: int = 20) -> list[str]:
    """`  rejected FILE:LINE: reason` for the first `limit` rejections, then where the rest are."""
    lines = [f"  rejected {visible(r.source)}{'' if r.line is None else f':{r.line}'}: {r.reason}"
             for r in report.rejected[:limit]]
    if len(report.rejected) > limit:
        lines.append(f"  ... and {len(report.rejected) - limit} more in {dataset_dir / 'report.json'}")
    return lines


def _result(outcome: IngestResult) -> Result:
    d, report = outcome.dataset, outcome.report

    def text() -> str:
        lines = [fields([("dataset", f"{d.name} (id {d.id}, project {d.project})"), ("kind", d.kind),
                         ("items", f"{d.num_items} (train {d.num_train}, val {d.num_val})"),
                         ("rejected", d.num_rejected), ("duplicates", d.num_duplicates),
                         ("size", human_bytes(d.size_bytes)), ("version", d.version), ("path", d.path)])]
        lines += rejection_lines(report, Path(d.path))
        lines += [f"  note: {n}" for n in report.notes]
        return "\n".join(lines)

    return Result({"dataset": d, "report": report.to_dict()}, text)


def _require_project(ctx: Context, ref: str) -> None:
    """Ingestion does not create projects (a mistyped name must not make one), so an unknown name is
    refused with the command that creates it."""
    import shlex

    from spark_trainer.errors import NotFound
    from spark_trainer.store import projects

    try:
        projects.get(ctx.store, ref)
    except NotFound:
        name = ref.strip()
        if name.isdigit():  # an id: there is nothing to create
            raise
        raise NotFound(f"--project: no project named {name!r}; create it with "
                       f"`spark-trainer project create {shlex.quote(name)}`") from None


def cmd_ingest(ctx: Context, args: argparse.Namespace) -> Result:
    from spark_trainer.ingest import IngestOptions, ingest_paths

    _require_project(ctx, args.project)
    _quiet_ffmpeg()
    options = IngestOptions(val_fraction=args.val_fraction, max_text_chars=args.max_text_chars,
                            min_image_side=args.min_image_side, txt_mode=args.txt_mode)
    with like_ctrl_c():  # a closed terminal or SIGTERM cleans up its staging folder as Ctrl-C does
        outcome = ingest_paths(ctx.store, [Path(p) for p in args.paths], project=args.project, name=args.name,
                               kind=args.kind, options=options, link=args.link, progress=_StderrProgress())
    return _result(outcome)


def _check_video_options(args: argparse.Namespace) -> None:
    """Refuse (BadInput) an option that would be ignored, or out of range, before any video is read."""
    from spark_trainer.errors import BadInput

    if args.scene_threshold is not None and not args.scenes:
        raise BadInput("--scene-threshold is for --scenes (the distance that counts as a cut); add --scenes")
    if args.dedupe_distance is not None and not args.dedupe:
        raise BadInput("--dedupe-distance is for --dedupe (how alike two frames must be); add --dedupe")
    if args.scene_threshold is not None and not 0 <= args.scene_threshold <= 1:
        raise BadInput(f"--scene-threshold must be from 0 to 1, got {args.scene_threshold}")


def cmd_video(ctx: Context, args: argparse.Namespace) -> Result:
    from spark_trainer.ingest.video import VideoOptions, build_video_dataset

    _check_video_options(args)
    _require_project(ctx, args.project)
    _quiet_ffmpeg()
    mode = "scenes" if args.scenes else ("every_n" if args.every_n is not None else "fps")
    tuned = {key: value for key, value in (("scene_threshold", args.scene_threshold),
                                           ("dedupe_distance", args.dedupe_distance)) if value is not None}
    options = VideoOptions(mode=mode, fps=args.fps or 1.0, every_n=args.every_n, **tuned,
                           max_frames=args.max_frames, resize=args.resize, dedupe=args.dedupe,
                           image_format=args.image_format,
                           caption_model=args.caption_model, transcribe_model=args.transcribe_model,
                           val_fraction=args.val_fraction)
    progress = _StderrProgress()
    with like_ctrl_c():
        outcome = build_video_dataset(ctx.store, [Path(p) for p in args.paths], project=args.project,
                                      name=args.name, options=options, progress=progress)
    if ctx.json:  # the text result lists the notes itself; the JSON document goes to stdout alone
        for note in outcome.report.notes:
            ctx.info(f"note: {note}")
    return _result(outcome)
