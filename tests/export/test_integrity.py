"""An export is reused, or pushed, only while its folder holds what it wrote: a missing or changed file
makes the app's own export folder be written again, in place, and an --out folder be refused in one line
saying how to redo it; a push of a damaged export is refused. The card may be edited (its license)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from spark_trainer.cli.main import main
from spark_trainer.errors import BadInput
from spark_trainer.export import integrity
from spark_trainer.store import exports
from spark_trainer.store.store import Store


def _cli(capsys: pytest.CaptureFixture[str], home: Path, *args: object) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(["--home", str(home), *map(str, args)])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture()
def home(lora_run, tmp_path: Path) -> Path:
    shutil.copytree(lora_run[0], tmp_path / "home")  # the module's run stays without exports
    return tmp_path / "home"


def test_a_damaged_out_folder_is_not_reused_nor_pushed_and_says_how_to_redo_it(home, lora_run, tmp_path,
                                                                                 capsys) -> None:
    from spark_trainer.export import push_export

    run, out = lora_run[1], tmp_path / "out"
    assert _cli(capsys, home, "export", run.id, "--out", out)[0] == 0
    (out / "adapter_model.safetensors").unlink()
    code, stdout, err = _cli(capsys, home, "export", run.id, "--out", out)
    assert code == 2 and "already exported" not in stdout + err, (stdout, err)
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and "adapter_model.safetensors is missing" in lines[0], err
    assert "delete the folder" in lines[0] and str(out) in lines[0]
    with Store.open(home) as store:
        export = exports.list_for(store, run.id)[0]
        with pytest.raises(BadInput, match="damaged .*adapter_model.safetensors is missing.*not pushed"):
            push_export(store, export, "me/tiny", progress=None)
    shutil.rmtree(out)
    assert _cli(capsys, home, "export", run.id, "--out", out)[0] == 0  # the way the line says
    assert (out / "adapter_model.safetensors").stat().st_size > 0


def test_a_changed_file_in_the_apps_own_export_folder_is_written_again_in_place(home, lora_run, capsys) -> None:
    run = lora_run[1]
    assert _cli(capsys, home, "export", run.id)[0] == 0
    with Store.open(home) as store:
        first = exports.list_for(store, run.id)[0]
    weights = Path(first.path) / "adapter_model.safetensors"
    good = weights.read_bytes()
    with weights.open("r+b") as f:  # same size, other bytes: a copy gone wrong
        f.seek(len(good) // 2)
        f.write(bytes(64))
    code, out, err = _cli(capsys, home, "export", run.id)
    assert code == 0 and "already exported" not in out + err, (out, err)
    assert weights.read_bytes() == good
    with Store.open(home) as store:
        again = exports.list_for(store, run.id)
    assert [e.id for e in again] == [first.id] and again[0].path == first.path
    assert integrity.damage(again[0].options, Path(again[0].path)) is None
    assert not list(Path(first.path).parent.glob(".staging-*"))
    code, out, err = _cli(capsys, home, "export", run.id)
    assert code == 0 and "already exported" in out + err


def test_an_edited_card_is_still_the_same_export(home, lora_run, capsys) -> None:
    run = lora_run[1]
    assert _cli(capsys, home, "export", run.id)[0] == 0
    with Store.open(home) as store:
        folder = Path(exports.list_for(store, run.id)[0].path)
    card = folder / "README.md"
    card.write_text(card.read_text().replace("license: unknown", "license: apache-2.0"))
    code, out, err = _cli(capsys, home, "export", run.id)
    assert code == 0 and "already exported" in out + err
    assert "license: apache-2.0" in card.read_text()
