"""The video wizard's model steps refuse a folder that is not a usable model in one line, before any
frame is extracted: nothing is left in the data home and the database is as it was."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from spark_trainer.errors import OperationFailed
from spark_trainer.ingest.video import VideoOptions, build_video_dataset
from tests.ingest.conftest import leftovers
from tests.ingest.media import write_video_with_audio
from tests.ingest.tiny_models import make_tiny_bert, make_tiny_blip, make_tiny_wav2vec2, make_tiny_whisper

MAKERS = {"bert": make_tiny_bert, "blip": make_tiny_blip, "wav2vec2": make_tiny_wav2vec2, "whisper": make_tiny_whisper}


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("models")
    return {name: make(root / name) for name, make in MAKERS.items()}


@pytest.fixture(scope="module")
def talk(tmp_path_factory) -> Path:
    return write_video_with_audio(tmp_path_factory.mktemp("videos") / "talk.mp4", seconds=1.0)


def _database(store) -> list[str]:
    with sqlite3.connect(store.home.root / "sparktrainer.db") as db:
        return list(db.iterdump())


@pytest.mark.parametrize(("setting", "model", "why"), [
    # A text model: transformers raised TypeError ("Processor was loaded, but it is not an instance of
    # ProcessorMixin"), which only (OSError, ValueError) were caught for: a traceback, exit 1.
    ("caption_model", "bert", "Processor was loaded"),
    # A speech model loads for image-text-to-text with a warning, then failed on the first frame.
    ("caption_model", "whisper", ""),
    # A CTC speech model loads for speech recognition, then failed on timestamps after the frames.
    ("transcribe_model", "wav2vec2", "Wav2Vec2ForCTC is not a Whisper model"),
    ("transcribe_model", "bert", ""),
])
def test_a_folder_that_is_not_a_usable_model_is_refused_before_any_frame(store, project, models, talk, setting,
                                                                           model, why) -> None:
    step = "captioning" if setting == "caption_model" else "transcription"
    before = _database(store)
    messages: list[str] = []
    with pytest.raises(OperationFailed) as err:
        build_video_dataset(store, [talk], project=project, options=VideoOptions(fps=2, **{setting: str(models[model])}),
                            progress=lambda p: messages.append(p.message))
    message = str(err.value)
    assert message.startswith(f"cannot load {step} model {models[model]}: ") and why in message
    assert "\n" not in message
    assert all("probing" in m for m in messages)  # no extraction began
    assert leftovers(store) == ([], []) and _database(store) == before
    assert not (store.home.root / "cache" / "video").exists()


def test_the_command_says_it_cannot_load_a_text_model_in_one_line(cli, models, talk) -> None:
    assert cli("project", "create", "p").code == 0
    out = cli("dataset", "video", talk, "--project", "p", "--caption-model", models["bert"])
    assert out.code == 1 and "Traceback" not in out.err
    assert out.err.strip().splitlines()[-1].startswith(f"error: cannot load captioning model {models['bert']}: ")
    assert cli("dataset", "list", "--json").json() == []


def test_usable_models_pass_the_load_checks(models, tmp_path) -> None:
    from PIL import Image

    from spark_trainer.ingest.video.models import Captioner, Transcriber

    assert Transcriber(models["whisper"], "cpu").pipe.type == "seq2seq_whisper"
    Image.new("RGB", (48, 32), "red").save(tmp_path / "frame.png")
    assert isinstance(Captioner(models["blip"], device="cpu").caption(tmp_path / "frame.png"), str)


def test_a_frame_captioned_with_nothing_is_a_note_and_a_failure_on_a_frame_rejects_its_video(
        store, project, models, talk, monkeypatch) -> None:
    """A captioner that answered "" left frames uncaptioned with no word in the report (a diffusion run
    then refused the dataset); one that failed on a frame after loading (out of GPU memory) ended the
    wizard with a traceback."""
    from spark_trainer.errors import BadInput
    from spark_trainer.ingest.video import models as video_models

    loaded = video_models.Captioner._caption
    monkeypatch.setattr(video_models.Captioner, "_caption",
                        lambda self, image, max_new_tokens=40: loaded(self, image, 1) if max_new_tokens == 1 else "  ")
    made = build_video_dataset(store, [talk], project=project,
                               options=VideoOptions(fps=2, caption_model=str(models["blip"]), model_device="cpu"))
    frames = made.dataset.num_items
    assert any(note == f"talk.mp4: the captioning model gave {frames} of {frames} frames an empty caption (kept; a "
               "diffusion run refuses them unless recipe_config.missing_captions is skip or empty)"
               for note in made.report.notes), made.report.notes

    def out_of_memory(self, image, max_new_tokens=40):
        if max_new_tokens == 1:
            return loaded(self, image, 1)
        raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB\n(GPU 0; 79.1 GiB total)")

    monkeypatch.setattr(video_models.Captioner, "_caption", out_of_memory)
    with pytest.raises(BadInput) as err:  # the only video rejected: nothing to publish, said in one line
        build_video_dataset(store, [talk], project=project, name="again",
                            options=VideoOptions(fps=3, caption_model=str(models["blip"]), model_device="cpu"))
    assert "\n" not in str(err.value)
    assert ("talk.mp4: captioning frame " in str(err.value) and " failed: CUDA out of memory. Tried to allocate "
            "2.00 GiB (GPU 0; 79.1 GiB total); the model ran out of memory: try a smaller model or the CPU as its "
            "device)") in str(err.value), str(err.value)
