"""The video wizard: videos in, a frame dataset out (frames, scenes, captions, transcripts).

Per-video work is cached under `<home>/cache/video/<key>/`, keyed by the video's SHA-256 and the
settings, so a re-run skips videos already done. Finished per-video caches survive a cancel (that
is what makes the re-run fast); the dataset folder and row are only created when all is done.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import threading
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from spark_trainer.disk import folder_bytes, free_bytes, gb
from spark_trainer.errors import BadInput, DiskFull, OperationFailed
from spark_trainer.ingest.detect import VIDEO_EXTS, InputFile, describe_left_out, gather
from spark_trainer.ingest.staging import DatasetBuilder, Item, dataset_name
from spark_trainer.ingest.types import (
    MIN_IMAGE_SIDE,
    IngestOptions,
    IngestReport,
    IngestResult,
    Progress,
    ProgressFn,
    check_cancel,
    emit,
)
from spark_trainer.ingest.video import space
from spark_trainer.ingest.video.checks import FLAGS, SettingNames, check_resize, check_video
from spark_trainer.ingest.video.frames import extract_frames
from spark_trainer.ingest.video.models import Captioner, Transcriber, model_or_note, transcript_at
from spark_trainer.ingest.video.phash import frame_hash, near_duplicates
from spark_trainer.ingest.video.probe import VideoProbe, file_sha256
from spark_trainer.ingest.video.scenes import detect_scenes
from spark_trainer.store import projects
from spark_trainer.store.store import Store
from spark_trainer.visible import visible

WORK_PREFIX = ".work-"  # a video's folder while its frames are extracted, renamed to its cache key when done
CACHE_VERSION = 2  # 2: --fps samples by timestamps (variable-frame-rate videos gave other frames)


@dataclass
class VideoOptions:
    """How frames are chosen and processed. `mode`: "fps", "every_n" or "scenes" (one per scene);
    left None, it is "every_n" when `every_n` is set, else "fps"."""

    mode: str | None = None
    fps: float = 1.0
    every_n: int | None = None
    scene_threshold: float = 0.35
    min_scene_len: int = 10
    detect_scenes: bool | None = None  # None: only in "scenes" mode (it decodes every frame)
    max_frames: int | None = None
    resize: int | None = None
    dedupe: bool = False  # near-duplicate frames (pHash) are compared within each video
    dedupe_distance: int = 6
    image_format: str = "jpg"
    caption_model: str | None = None
    caption_prompt: str = ""
    transcribe_model: str | None = None
    model_device: str = "auto"  # where caption/transcription models run: auto, cpu, cuda:N
    label_from_folder: bool = True
    val_fraction: float = 0.1

    def __post_init__(self) -> None:
        if self.mode is None:
            self.mode = "every_n" if self.every_n is not None else "fps"

    def validate(self, names: SettingNames = FLAGS) -> None:
        """Raises BadInput naming the setting as the caller calls it (`names`: flags, or the app's boxes)."""
        if self.mode not in ("fps", "every_n", "scenes"):
            raise BadInput(f"video mode must be fps, every_n or scenes, got {self.mode!r}")
        if self.mode == "fps" and self.fps <= 0:
            raise BadInput(f"{names.fps} must be > 0, got {self.fps}")
        if self.mode == "every_n" and (self.every_n is None or self.every_n < 1):
            raise BadInput(f"{names.every_n} must be >= 1, got {self.every_n}")
        if self.max_frames is not None and self.max_frames < 1:
            raise BadInput(f"{names.max_frames} must be >= 1, got {self.max_frames}")
        if self.resize is not None and self.resize < MIN_IMAGE_SIDE:
            raise BadInput(f"{names.resize} must be at least {MIN_IMAGE_SIDE} pixels (the smallest image side), "
                           f"got {self.resize}")

    def model_folders(self, names: SettingNames = FLAGS) -> tuple[Path | None, Path | None, list[str]]:
        """(caption model folder, transcription model folder, notes of the steps skipped: no model given).

        Raises:
            BadInput: a model path given that is not a folder, naming its setting as `names` says (the user
                asked for that step: skipping it with a note made a dataset without what was asked).
        """
        caption_dir, caption_note = model_or_note(self.caption_model, "captioning", names.caption_model)
        transcribe_dir, transcribe_note = model_or_note(self.transcribe_model, "transcription", names.transcribe_model)
        return caption_dir, transcribe_dir, [n for n in (caption_note, transcribe_note) if n]

    def cache_key(self, video_sha256: str) -> str:
        settings = asdict(self)
        for unused in ("label_from_folder", "val_fraction", "model_device"):
            settings.pop(unused)
        blob = json.dumps({"v": CACHE_VERSION, "video": video_sha256, **settings}, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:32]


def process_video(video: Path, probe: VideoProbe, options: VideoOptions, cache_root: Path, *,
                  captioner: Captioner | None = None, transcriber: Transcriber | None = None,
                  progress: ProgressFn | None = None, cancel: threading.Event | None = None,
                  before_extract: Callable[[list[int]], None] | None = None) -> tuple[Path, dict]:
    """Frames (and scenes, captions, transcript) of one video, from the cache when already done.

    `before_extract` gets the indices of the frames about to be extracted (and may refuse by
    raising). Returns the cache folder and its `result.json` content.
    """
    from spark_trainer.jobs import leftovers

    # Named for its process (jobs/leftovers.py): the work of a wizard killed outright goes at the next
    # wizard run, and in the reconcile sweep; a finished video's folder (its cache key) is never touched.
    leftovers.remove_dead(cache_root, WORK_PREFIX)
    done = cache_root / options.cache_key(probe.sha256)
    if (done / "result.json").is_file():
        return done, {**json.loads((done / "result.json").read_text()), "cached": True}
    cache_root.mkdir(parents=True, exist_ok=True)
    work = cache_root / f"{WORK_PREFIX}{leftovers.tag()}-{uuid.uuid4().hex[:8]}"
    try:
        result = _compute(video, probe, options, work, captioner, transcriber, progress, cancel, before_extract)
        (work / "result.json").write_text(json.dumps(result, indent=1))
        try:
            os.replace(work, done)
        except OSError:  # another run finished the same video first; use its result
            shutil.rmtree(work, ignore_errors=True)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return done, {**json.loads((done / "result.json").read_text()), "cached": False}


def _compute(video: Path, probe: VideoProbe, options: VideoOptions, work: Path, captioner: Captioner | None,
             transcriber: Transcriber | None, progress: ProgressFn | None,
             cancel: threading.Event | None, before_extract: Callable[[list[int]], None] | None) -> dict[str, Any]:
    scenes = []
    if options.mode == "scenes" or options.detect_scenes:
        scenes = detect_scenes(video, options.scene_threshold, min_scene_len=options.min_scene_len,
                               progress=progress, cancel=cancel)
    choice: dict[str, Any] = {"fps": options.fps} if options.mode == "fps" else (
        {"every_n": options.every_n} if options.mode == "every_n" else {"indices": [s.middle_frame for s in scenes]})
    if before_extract is not None:
        before_extract(_kept(probe, options, [s.middle_frame for s in scenes]))
    frames = extract_frames(video, work / "frames", **choice, resize=options.resize, max_frames=options.max_frames,
                            image_format=options.image_format, progress=progress, cancel=cancel,
                            total=probe.frame_count)
    dropped: dict[int, int] = {}
    if options.dedupe and frames:
        dropped = near_duplicates([frame_hash(f.path) for f in frames], options.dedupe_distance)
        for i in dropped:
            frames[i].path.unlink()
    check_cancel(cancel)
    segments = transcriber.transcribe(video) if transcriber else []
    rows = []
    for i, f in enumerate(frames):
        if i in dropped:
            continue
        check_cancel(cancel)
        scene = next((s.index for s in scenes if s.start_frame <= f.frame_index < s.end_frame), None)
        rows.append({"file": f.path.name, "frame_index": f.frame_index, "timestamp": f.timestamp,
                     "width": f.width, "height": f.height, "scene": scene,
                     "caption": captioner.caption(f.path) if captioner else None,
                     "transcript": transcript_at(segments, f.timestamp) if transcriber else None,
                     "sha256": file_sha256(f.path)})
    return {"frames": rows, "scenes": [asdict(s) for s in scenes],
            "near_duplicates": [{"frame_index": frames[i].frame_index, "duplicate_of": frames[k].frame_index}
                                for i, k in dropped.items()],
            "transcript": [asdict(s) for s in segments]}


def build_video_dataset(store: Store, videos: list[Path], *, project: str | int, name: str | None = None,
                        options: VideoOptions | None = None, progress: ProgressFn | None = None,
                        cancel: threading.Event | None = None, named_after: Path | None = None,
                        names: SettingNames = FLAGS) -> IngestResult:
    """Run the wizard over `videos` (files or folders) and publish one image dataset of frames. Without a
    `name` it is named after `named_after` (the folder a user dropped, whose videos `videos` lists), else
    after the first of `videos`.

    Videos that fail to open or decode are listed in the report; the rest are ingested. Messages and
    notes name the settings as `names` says (the command's flags unless the app's wizard passes its boxes).
    Raises BadInput (nothing written) for missing paths, no videos, or an unknown project, and
    OperationFailed (nothing written) for a caption or transcription model that does not load.
    """
    options = options or VideoOptions()
    options.validate(names)
    models = options.model_folders(names)
    projects.get(store, project)
    hidden: list[str] = []
    files = gather([Path(v) for v in videos], skipped=hidden)
    chosen = [f for f in files if f.ext in VIDEO_EXTS]
    if not chosen:
        raise BadInput(f"no video files among the {len(files)} files given ({', '.join(sorted(VIDEO_EXTS))})")
    name = dataset_name(store, project, [named_after] if named_after else videos, name)
    report = IngestReport(kind="image")
    if hidden:
        report.notes.append(describe_left_out(hidden))
    for f in files:
        if f.ext not in VIDEO_EXTS:
            report.reject(f.source, None, "not a video file")
    probes = []
    for i, f in enumerate(chosen):
        check_cancel(cancel)
        emit(progress, i, len(chosen), f"video {i + 1}/{len(chosen)}: probing {visible(f.source)}", f.source)
        probes.append(check_video(f.path, f.source, report))
    check_resize(options.resize, probes, names=names)
    if options.mode != "scenes":  # the scenes, and so the frames, are known only once each video is scanned
        _check_room(store, options, [(f, p) for f, p in zip(chosen, probes, strict=True) if p.ok])
    captioner, transcriber = _load_models(options, models, report)  # before any frame is extracted
    builder = DatasetBuilder(store.home, "image", IngestOptions(val_fraction=options.val_fraction), report)
    per_video: dict[str, Any] = {}
    with builder.guard():
        for i, (f, probe) in enumerate(zip(chosen, probes, strict=True)):
            check_cancel(cancel)
            per_video[f.source] = _one_video(f, probe, i, len(chosen), builder, options, store, captioner,
                                             transcriber, progress, cancel)
        check_cancel(cancel)
        if not builder.items:
            raise BadInput(f"no frames extracted: {report.num_rejected} of {len(chosen)} videos were rejected"
                           + (f" (first: {visible(report.rejected[0].source)}: {report.rejected[0].reason})" if report.rejected else ""))
        report.extra["videos"] = per_video
        emit(progress, len(chosen), len(chosen), "writing manifest and dataset card")
        dataset = builder.publish(store, project, name, [str(Path(v).expanduser().resolve()) for v in videos],
                                  meta={"from_video": True, "video_options": asdict(options)})
    emit(progress, len(chosen), len(chosen), f"dataset {dataset.name!r} ready: {dataset.num_items} frame{'' if dataset.num_items == 1 else 's'}")
    return IngestResult(dataset, report)


def _kept(probe: VideoProbe, options: VideoOptions, scene_frames: list[int]) -> list[int]:
    return space.kept_indices(probe, options.mode or "fps", fps=options.fps, every_n=options.every_n,
                              scene_frames=scene_frames, max_frames=options.max_frames)


def _check_room(store: Store, options: VideoOptions, videos: list[tuple[InputFile, VideoProbe]],
                scene_frames: list[int] | None = None) -> None:
    """Refuse (nothing written) unless the data home has room for these videos' frames: estimated
    for videos not yet extracted, the cached frames' real size for those already done."""
    cache_root = store.home.video_cache_dir
    new = cached = 0
    for f, probe in videos:
        done = cache_root / options.cache_key(probe.sha256) / "frames"
        if (done.parent / "result.json").is_file():
            cached += folder_bytes(done)
            continue
        kept = _kept(probe, options, scene_frames or [])
        new += len(kept) * space.bytes_per_frame(f.path, probe, kept, resize=options.resize,
                                                 image_format=options.image_format)
    space.check_room(store.home.root / "cache", store.home.datasets_dir, new, cached)


def _load_models(options: VideoOptions, models: tuple[Path | None, Path | None, list[str]],
                 report: IngestReport) -> tuple[Captioner | None, Transcriber | None]:
    caption_dir, transcribe_dir, notes = models
    report.notes.extend(notes)
    return (Captioner(caption_dir, options.caption_prompt, options.model_device) if caption_dir else None,
            Transcriber(transcribe_dir, options.model_device) if transcribe_dir else None)


def _one_video(f: InputFile, probe: VideoProbe, i: int, n: int, builder: DatasetBuilder, options: VideoOptions,
               store: Store, captioner: Captioner | None, transcriber: Transcriber | None,
               progress: ProgressFn | None, cancel: threading.Event | None) -> dict[str, Any]:
    if probe.problems:
        builder.report.reject(f.source, None, "; ".join(probe.problems))
        return {"rejected": True, "problems": probe.problems}

    def inner(p: Progress) -> None:
        emit(progress, i, n, f"video {i + 1}/{n}: {p.message} ({p.done}/{p.total} frames)", f.source)

    def room(kept: list[int]) -> None:  # scenes mode: the frames are known once the scenes are
        if options.mode == "scenes":
            _check_room(store, options, [(f, probe)], kept)

    try:
        cache_dir, result = process_video(f.path, probe, options, store.home.video_cache_dir,
                                          captioner=captioner, transcriber=transcriber, progress=inner,
                                          cancel=cancel, before_extract=room)
    except space.NoRoomForFrames:
        raise  # refused before writing: its line already says where and how much
    except DiskFull as exc:  # not this video's fault: the whole dataset fails, nothing is kept
        cache = store.home.root / "cache"
        raise DiskFull(f"disk full at {cache}: {gb(free_bytes(cache))} free, cannot write the frames of "
                       f"{visible(f.source)}; nothing was saved") from exc
    except (BadInput, OperationFailed) as exc:  # a frame that passed the probe but does not decode
        builder.report.reject(f.source, None, str(exc))
        return {"rejected": True, "problems": [str(exc)]}
    label = f.folder_label if options.label_from_folder else None
    folder = f"{Path(f.rel[-1]).stem}-{probe.sha256[:8]}"
    if captioner is not None and (empty := sum(1 for frame in result["frames"] if not (frame["caption"] or "").strip())):
        builder.report.notes.append(f"{visible(f.source)}: the captioning model gave {empty} of {len(result['frames'])} "
                                    f"frame{'' if len(result['frames']) == 1 else 's'} an empty caption (kept; a diffusion run "
                                    "refuses them unless recipe_config.missing_captions is skip or empty)")
    for frame in result["frames"]:
        row = {"path": "", "label": label, "caption": frame["caption"], "width": frame["width"],
               "height": frame["height"], "source": f"{f.source}#frame={frame['frame_index']}",
               "video": f.source, "timestamp": frame["timestamp"], "frame_index": frame["frame_index"],
               "scene": frame["scene"], "transcript": frame["transcript"]}
        src = cache_dir / "frames" / frame["file"]
        builder.add(Item(frame["sha256"], row["source"], None, row, copy_from=src, size=src.stat().st_size),
                    f"{folder}/{frame['file']}")
    return {"probe": probe.record(), "cached": result["cached"], "frames": len(result["frames"]),
            "scenes": result["scenes"], "near_duplicates": result["near_duplicates"],
            "transcript": result["transcript"]}
