"""Real test data for the GUI tests and the README screenshots: text files, images, videos."""

from __future__ import annotations

import json
import random
from pathlib import Path

TOPICS = ["billing", "shipping", "returns", "accounts", "warranty"]


def write_text_dataset(folder: Path, n_good: int = 40, n_bad: int = 0, *, seed: int = 0) -> Path:
    """A folder with one JSONL file of prompt/response rows; `n_bad` lines are broken JSON."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    lines = []
    for i in range(n_good):
        topic = rng.choice(TOPICS)
        lines.append(json.dumps({
            "prompt": f"Question {i} about {topic}: how do I change my {topic} settings?",
            "response": f"Open Settings, choose {topic.title()}, and follow step {rng.randint(1, 9)}. ({i})",
        }))
    for j in range(n_bad):
        lines.insert(min(len(lines), 3 + j * 5), '{"prompt": "broken line ' + str(j) + '", "response": ')
    (folder / "support.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


def write_many_text_files(folder: Path, n_files: int) -> Path:
    """`n_files` small .txt files (two lines each) in one folder."""
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n_files):
        (folder / f"note_{i:04d}.txt").write_text(f"note {i} first line\nnote {i} second line, unique {i * 7}\n",
                                                   encoding="utf-8")
    return folder


def write_image_folder(folder: Path, per_class: int = 6, classes: tuple[str, ...] = ("circles", "squares"),
                       size: tuple[int, int] = (96, 96), seed: int = 0) -> Path:
    """Class sub-folders of PNG images: coloured circles and squares on a gradient background."""
    from PIL import Image, ImageDraw

    rng = random.Random(seed)
    for label in classes:
        (folder / label).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            image = Image.new("RGB", size, (rng.randint(20, 80), rng.randint(20, 80), rng.randint(60, 120)))
            draw = ImageDraw.Draw(image)
            colour = (rng.randint(120, 255), rng.randint(120, 255), rng.randint(40, 200))
            x, y, r = rng.randint(20, size[0] - 20), rng.randint(20, size[1] - 20), rng.randint(10, 22)
            box = (x - r, y - r, x + r, y + r)
            (draw.ellipse if label == "circles" else draw.rectangle)(box, fill=colour)
            image.save(folder / label / f"{label}_{i:03d}.png")
    return folder


def write_broken_images(folder: Path) -> list[str]:
    """Files that look like images but are not readable as such; returns their names."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "truncated.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 10)
    (folder / "not_really.jpg").write_text("this is text, not a JPEG")
    return ["truncated.png", "not_really.jpg"]


def write_video(path: Path, n_frames: int = 30, *, fps: float = 10.0, size: tuple[int, int] = (96, 64),
                seed: int = 0) -> Path:
    """A small MJPG .avi video: a coloured square moving over a changing background."""
    import cv2
    import numpy as np

    path.parent.mkdir(parents=True, exist_ok=True)
    width, height = size
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (width, height))
    assert writer.isOpened(), f"cannot write {path}"
    rng = np.random.default_rng(seed)
    base = rng.integers(30, 200, 3)
    for i in range(n_frames):
        frame = np.zeros((height, width, 3), np.uint8)
        frame[:] = (base + i * 4) % 255
        x = (i * 5) % (width - 16)
        cv2.rectangle(frame, (x, height // 3), (x + 14, height // 3 + 14), (255, 255, 255), -1)
        writer.write(frame)
    writer.release()
    return path


def completed_run(store, recipe: str, project: str = "p"):
    """A completed run of `recipe` (no metrics, no folder) in a new project `project`, experiment 'e'."""
    from spark_trainer.store import experiments, projects, runs
    from spark_trainer.store.entities import RunStatus

    projects.create(store, project)
    exp = experiments.create(store, project=project, name="e", recipe=recipe, base_model="m", dataset=None,
                             config={})
    run = runs.create(store, exp.id, requested_gpus="cpu")
    for to in (RunStatus.STARTING, RunStatus.RUNNING, RunStatus.COMPLETED):
        run = runs.transition(store, run.id, to, "test")
    return run


def add_experiment_with_runs(store, project: str, dataset: str | int | None = None, *, name: str = "tiny-lora",
                             statuses: tuple[str, ...] = ("completed", "running", "queued")) -> list:
    """An experiment and runs in the given statuses, with a few metric points (rows only, no workers)."""
    from spark_trainer.store import experiments, metrics, runs
    from spark_trainer.store.entities import RunStatus

    exp = experiments.create(store, project=project, name=name, recipe="causal-lm", base_model="models/tiny-llama",
                             dataset=dataset, config={"train": {"max_steps": 50}})
    made = []
    for i, status in enumerate(statuses):
        run = runs.create(store, exp.id, requested_gpus="cpu", total_steps=50)
        target = RunStatus(status)
        if target != RunStatus.QUEUED:
            runs.transition(store, run.id, RunStatus.STARTING, "test")
            if target != RunStatus.STARTING:
                runs.transition(store, run.id, RunStatus.RUNNING, "test", pid=None)
            if target not in (RunStatus.STARTING, RunStatus.RUNNING):
                runs.transition(store, run.id, target, "test")
            runs.update(store, run.id, step=50 if target == RunStatus.COMPLETED else 10 + i)
            metrics.add_batch(store, run.id, [("loss", step, 3.0 / (1 + step / 10)) for step in range(1, 11)])
        made.append(runs.get(store, run.id))
    return made

