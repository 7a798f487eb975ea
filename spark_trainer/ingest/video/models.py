"""Optional model steps: transcription with a local Whisper model and captioning with a local
image-to-text model, both through transformers. No model given skips the step with a note; a model
path given that is not a folder is refused (BadInput) before any video is read, and a folder that does
not load as such a model (a text model, a speech model for captions, a speech model other than
Whisper, damaged weights) is refused (OperationFailed, one line) before any frame is extracted.
Nothing is ever downloaded (local_files_only)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from spark_trainer.errors import BadInput, OperationFailed

SAMPLE_RATE = 16_000


@dataclass(frozen=True)
class Segment:
    start: float
    end: float
    text: str


def model_or_note(path: str | Path | None, step: str, setting: str) -> tuple[Path | None, str | None]:
    """(model folder, None) for a folder given, (None, a one-line note saying the step is skipped) for
    none given; `setting` is where the caller's user gives the model (a flag, or a box of the app's wizard).

    Raises:
        BadInput: a path given that is not a folder: the user asked for the step, so it is not skipped.
    """
    if not path:
        return None, f"{step} skipped: no model given (set {setting} to a local model folder)"
    folder = Path(path).expanduser()
    if not folder.is_dir():
        what = "is not a folder" if folder.exists() else "not found"
        raise BadInput(f"{setting}: {step} model folder {folder} {what}")
    return folder, None


def _one_line(exc: BaseException | str) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def _load_failed(step: str, folder: Path, exc: BaseException | str) -> OperationFailed:
    """One line, whatever transformers raised (an OSError, a TypeError for a processor of the wrong
    kind, a SafetensorError for damaged weights...): the folder is the user's, so it is their error."""
    return OperationFailed(f"cannot load {step} model {folder}: {_one_line(exc)}")


def _step_failed(step: str, what: str, exc: BaseException) -> OperationFailed:
    """One line for a model that loaded but failed on a video or frame (out of GPU memory, say): the
    video is then rejected with it, where a traceback ended the wizard."""
    why = _one_line(exc)
    hint = "; the model ran out of memory: try a smaller model or the CPU as its device" if "out of memory" in why.lower() else ""
    return OperationFailed(f"{step} {what} failed: {why[:300]}{hint}")


def pick_device(device: str = "auto") -> str:
    """"cuda:0" when asked for auto and a GPU is there, else what was asked ("cpu", "cuda:1"...)."""
    if device != "auto":
        return device
    import torch

    return "cuda:0" if torch.cuda.is_available() else "cpu"


def load_audio(video: Path) -> Any | None:
    """The first audio stream as 16 kHz mono float32 (numpy), or None when there is none."""
    import av
    import numpy as np

    with av.open(str(video)) as container:
        if not container.streams.audio:
            return None
        resampler = av.AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE)
        chunks = []
        for frame in container.decode(audio=0):
            for out in resampler.resample(frame):
                chunks.append(out.to_ndarray().reshape(-1))
        for out in resampler.resample(None):
            chunks.append(out.to_ndarray().reshape(-1))
    return np.concatenate(chunks).astype(np.float32) if chunks else None


class Transcriber:
    def __init__(self, folder: Path, device: str = "auto") -> None:
        from transformers import pipeline

        try:
            self.pipe = pipeline("automatic-speech-recognition", model=str(folder), device=pick_device(device))
        except Exception as exc:  # noqa: BLE001 - any failure to load the user's folder is theirs to fix
            raise _load_failed("transcription", folder, exc) from exc
        if getattr(self.pipe, "type", None) != "seq2seq_whisper":  # others fail on timestamps, after the frames
            raise _load_failed("transcription", folder, f"{type(self.pipe.model).__name__} is not a Whisper model "
                               "(transcripts need Whisper's timestamps)")

    def transcribe(self, video: Path) -> list[Segment]:
        audio = load_audio(video)
        if audio is None or audio.size == 0:
            return []
        duration = audio.size / SAMPLE_RATE
        long_form = {"chunk_length_s": 30} if duration > 30 else {}  # Whisper's window is 30 s
        try:
            out = self.pipe({"raw": audio, "sampling_rate": SAMPLE_RATE}, return_timestamps=True, **long_form)
        except Exception as exc:  # noqa: BLE001 - the model loaded; what it meets here rejects this video only
            raise _step_failed("transcribing", video.name, exc) from exc
        segments = []
        for chunk in out.get("chunks") or [{"timestamp": (0.0, duration), "text": out.get("text", "")}]:
            start, end = chunk.get("timestamp") or (0.0, duration)
            start = float(start or 0.0)
            end = min(float(end if end is not None else duration), duration)
            if start < duration:  # a model can predict timestamps past the end; those say nothing
                segments.append(Segment(start, max(start, end), str(chunk.get("text", "")).strip()))
        return segments


class Captioner:
    def __init__(self, folder: Path, prompt: str = "", device: str = "auto") -> None:
        from PIL import Image
        from transformers import pipeline

        self.prompt = prompt
        try:
            self.pipe = pipeline("image-text-to-text", model=str(folder), device=pick_device(device))
            # A model of another kind can load with only a warning, then fail on the first frame: one
            # token on a blank image fails here instead, before any frame is extracted.
            self._caption(Image.new("RGB", (64, 64)), max_new_tokens=1)
        except Exception as exc:  # noqa: BLE001 - any failure to load or run the user's folder is theirs to fix
            raise _load_failed("captioning", folder, exc) from exc

    def caption(self, image_path: Path) -> str:
        from PIL import Image

        with Image.open(image_path) as image:
            frame = image.convert("RGB")
        try:
            return self._caption(frame)
        except Exception as exc:  # noqa: BLE001 - the model loaded; what it meets here rejects this video only
            raise _step_failed("captioning frame", image_path.name, exc) from exc

    def _caption(self, image: Any, max_new_tokens: int = 40) -> str:
        out = self.pipe(images=image, text=self.prompt, max_new_tokens=max_new_tokens)
        first = out[0] if isinstance(out, list) else out
        text = first.get("generated_text", "") if isinstance(first, dict) else str(first)
        return (text if isinstance(text, str) else str(text)).strip()


def transcript_at(segments: list[Segment], t: float) -> str | None:
    """The text spoken at time `t` (segments are half-open [start, end))."""
    texts = [s.text for s in segments if s.start <= t < s.end and s.text]
    return " ".join(texts) or None
