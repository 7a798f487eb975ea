"""`spark-trainer generate` on a (tiny) diffusion-LoRA run: an image with and without the LoRA."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from spark_trainer.cli.main import main
from tests.conftest import spark_trainer_exe, subprocess_env
from tests.playground.trained import TrainedRun, train_tiny_diffusion_run


@pytest.fixture(scope="module")
def diffusion_run(tmp_path_factory: pytest.TempPathFactory) -> TrainedRun:
    return train_tiny_diffusion_run(tmp_path_factory.mktemp("playground-diffusion") / "home")


def _generate(run: TrainedRun, out: Path, capsys, *extra: str) -> dict:
    """`generate` of a red circle (seed 3, 4 steps, on the CPU) into `out`; its --json answer."""
    code = main(["--home", str(run.home), "generate", str(run.run_id), "--prompt",
                 "a red circle on a blue background", "--seed", "3", "--steps", "4", "--out",
                 str(out), "--json", "--device", "cpu", *extra])
    printed, err = capsys.readouterr()
    assert code == 0, err
    return json.loads(printed)


def test_images_with_a_fixed_seed_repeat_and_the_lora_changes_them(diffusion_run: TrainedRun, tmp_path: Path,
                                                                   capsys) -> None:
    from PIL import Image, ImageChops

    def make(name: str, *extra: str) -> dict:
        return _generate(diffusion_run, tmp_path / name, capsys, *extra)

    first = make("a.png")
    make("b.png")
    base = make("base.png", "--base")
    assert first["image"] == str(tmp_path / "a.png") and first["settings"]["seed"] == 3
    assert (tmp_path / "a.png").read_bytes() == (tmp_path / "b.png").read_bytes()
    with Image.open(tmp_path / "a.png") as tuned, Image.open(tmp_path / "base.png") as plain:
        assert tuned.size == (32, 32)
        assert ImageChops.difference(tuned.convert("RGB"), plain.convert("RGB")).getbbox() is not None
    assert base["variant"] == "base"
    step = make("step.png", "--checkpoint", "3", "--save")
    assert step["source"]["kind"] == "checkpoint"
    saved = json.loads(Path(step["saved"]).read_text())["samples"][0]
    assert (Path(step["saved"]).parent / saved["image"]).is_file() and saved["caption"] == "with LoRA · seed 3"

    code = main(["--home", str(diffusion_run.home), "generate", str(diffusion_run.run_id), "--prompt", "x",
                 "--out", str(tmp_path / "x.jpg")])
    assert code == 2 and "ending in .png" in capsys.readouterr().err
    code = main(["--home", str(diffusion_run.home), "generate", str(diffusion_run.run_id), "--prompt", "x",
                 "--steps", "0"])
    assert code == 2 and capsys.readouterr().err.strip() == "error: --steps must be from 1 to 500, got 0"


def test_piped_output_has_no_library_chatter(diffusion_run: TrainedRun, tmp_path: Path) -> None:
    """`generate` on a diffusion run printed transformers' "`CLIPImageProcessor` requires torchvision
    (not installed); falling back..." (and Siglip's), and diffusers' "No LoRA keys associated to
    CLIPTextModel found..." for a LoRA that never trained the text encoder: nothing a user can act on."""
    done = subprocess.run([spark_trainer_exe(), "--home", str(diffusion_run.home), "generate",
                           str(diffusion_run.run_id), "--prompt", "a red circle", "--steps", "2", "--seed", "1",
                           "--device", "cpu", "--out", str(tmp_path / "p.png")],
                          capture_output=True, text=True, env=subprocess_env(), timeout=300)
    assert done.returncode == 0, done.stderr
    assert re.fullmatch(r"\([0-9.]+ s, final model \(step \d+\), seed 1\)", done.stderr.strip()), done.stderr


def test_a_negative_prompt_changes_the_image_as_the_playgrounds_does(diffusion_run: TrainedRun, tmp_path: Path,
                                                                     capsys) -> None:
    # The Playground's image panel has a negative prompt; `generate` had no way to give one.
    from PIL import Image, ImageChops

    def make(name: str, *extra: str) -> dict:
        return _generate(diffusion_run, tmp_path / name, capsys, *extra)

    plain = make("plain.png")
    negative = make("negative.png", "--negative", "green squares")
    again = make("again.png", "--negative", "green squares")
    assert plain["settings"]["negative_prompt"] == "" and negative["settings"]["negative_prompt"] == "green squares"
    assert (tmp_path / "negative.png").read_bytes() == (tmp_path / "again.png").read_bytes()
    with Image.open(tmp_path / "plain.png") as a, Image.open(tmp_path / "negative.png") as b:
        assert ImageChops.difference(a.convert("RGB"), b.convert("RGB")).getbbox() is not None
    assert again["image"] == str(tmp_path / "again.png")


def test_compare_makes_the_image_with_and_without_the_lora(diffusion_run: TrainedRun, tmp_path: Path,
                                                           capsys) -> None:
    # The Playground's "Compare without the LoRA": the base pipeline's image at the same seed, beside it.
    def make(*extra: str) -> dict:
        code = main(["--home", str(diffusion_run.home), "generate", str(diffusion_run.run_id), "--prompt",
                     "a red circle on a blue background", "--seed", "3", "--steps", "4", "--json", "--device", "cpu",
                     *extra])
        out, err = capsys.readouterr()
        assert code == 0, err
        return json.loads(out)

    both = make("--compare", "--out", str(tmp_path / "pair.png"))
    alone = make("--base", "--out", str(tmp_path / "base.png"))
    assert both["image"] == str(tmp_path / "pair.png") and both["base"]["image"] == str(tmp_path / "pair-base.png")
    assert (tmp_path / "pair-base.png").read_bytes() == (tmp_path / "base.png").read_bytes()
    assert alone["variant"] == "base"


def test_an_existing_image_is_never_written_over(diffusion_run: TrainedRun, tmp_path: Path, capsys) -> None:
    # `generate --out photo.png` replaced a user's photo.png with the model's image, unsaid.
    photo = tmp_path / "photo.png"
    photo.write_bytes(b"the user's own picture")
    (tmp_path / "pair-base.png").write_bytes(b"an earlier comparison")

    def refused(*extra: str) -> str:
        code = main(["--home", str(diffusion_run.home), "generate", str(diffusion_run.run_id), "--prompt", "x",
                     "--steps", "1", "--device", "cpu", *extra])
        err = capsys.readouterr().err.strip()
        assert code == 2, err
        return err

    said = refused("--out", str(photo))
    assert said == f"error: --out {photo}: {photo} already exists; choose a new file (an image is never written over)"
    assert "pair-base.png already exists" in refused("--compare", "--out", str(tmp_path / "pair.png"))
    assert photo.read_bytes() == b"the user's own picture" and not (tmp_path / "pair.png").exists()
    assert (tmp_path / "pair-base.png").read_bytes() == b"an earlier comparison"


def test_an_out_whose_folder_cannot_be_written_is_refused_before_the_model_loads(diffusion_run: TrainedRun,
                                                                                 tmp_path: Path, capsys,
                                                                                 monkeypatch) -> None:
    """`generate --out <read-only folder>/d.png` generated the image, then failed with "I/O error ... Read-only
    file system"; it is refused first now, in one line, with no model loaded."""
    import errno

    from spark_trainer.playground import diffusion

    monkeypatch.setattr(diffusion.DiffusionGenerator, "load", lambda *_a, **_k: pytest.fail("the model was loaded"))
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")

    def said(out: Path) -> str:
        code = main(["--home", str(diffusion_run.home), "generate", str(diffusion_run.run_id), "--prompt", "x",
                     "--steps", "1", "--device", "cpu", "--out", str(out)])
        err = capsys.readouterr().err.strip()
        assert code == 2 and err.count("\n") == 0, err
        return err

    assert said(blocker / "d.png") == (f"error: --out {blocker / 'd.png'}: {blocker} is a file, not a folder; "
                                       "choose another file")
    real_touch = Path.touch

    def read_only(self: Path, *args, **kwargs) -> None:  # noqa: ANN002, ANN003
        if self.parent == tmp_path / "ro":
            raise OSError(errno.EROFS, "Read-only file system")
        real_touch(self, *args, **kwargs)

    monkeypatch.setattr(Path, "touch", read_only)
    assert said(tmp_path / "ro" / "d.png").endswith("cannot be written to (Read-only file system); choose another file")
    assert list((tmp_path / "ro").iterdir()) == []


def test_the_generator_does_not_write_over_a_file_that_appeared_since(diffusion_run: TrainedRun,
                                                                     tmp_path: Path) -> None:
    from spark_trainer.errors import BadInput
    from spark_trainer.playground.diffusion import DiffusionGenerator, ImageSettings
    from spark_trainer.playground.source import resolve_source
    from spark_trainer.store.store import Store

    late = tmp_path / "late.png"
    generator = DiffusionGenerator()
    with Store.open(diffusion_run.home) as store:
        generator.load(resolve_source(store, diffusion_run.run_id, "last"), "cpu")
    late.write_bytes(b"written while the image was made")
    settings = {**ImageSettings.from_dict({"steps": 1, "seed": 1, "out": str(late)}).__dict__}
    with pytest.raises(BadInput, match="late.png already exists"):
        generator.generate({"prompt": "x"}, settings, base=False, emit=lambda _t: None, should_stop=lambda: False)
    assert late.read_bytes() == b"written while the image was made"
