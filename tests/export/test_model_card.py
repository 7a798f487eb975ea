"""A reused export's card says what the store says now: an evaluation added and a dataset renamed since
the export are in it (the weights are not rewritten), and a license the user chose in it is kept."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from spark_trainer.cli.main import main
from spark_trainer.export import integrity
from spark_trainer.store import datasets, evaluations, exports
from spark_trainer.store.store import Store


def _cli(capsys: pytest.CaptureFixture[str], home: Path, *args: object) -> tuple[int, str]:
    capsys.readouterr()
    code = main(["--home", str(home), *map(str, args)])
    out, err = capsys.readouterr()
    return code, out + err


def test_a_reused_export_has_the_card_of_the_store_as_it_is_now(lora_run, tmp_path, capsys) -> None:
    shutil.copytree(lora_run[0], tmp_path / "home")  # the module's run stays without exports
    home, run = tmp_path / "home", lora_run[1]
    assert _cli(capsys, home, "export", run.id, "--merge")[0] == 0
    with Store.open(home) as store:
        first = exports.list_for(store, run.id)[0]
    folder = Path(first.path)
    weights = {p.name: p.stat().st_mtime_ns for p in folder.glob("*.safetensors")}
    card = folder / "README.md"
    card.write_text(card.read_text().replace("license: unknown", "license: apache-2.0"))  # as the card asks

    with Store.open(home) as store:
        data = datasets.get(store, "count").path
        made = evaluations.create(store, run.id, task="perplexity", data_path=data, base=False, checkpoint="last",
                                  gpus=[])
        evaluations.complete(store, made.id, step=run.step, result={"metrics": {"perplexity": 3.25}}, points=[],
                             report_path=None, artifact_meta={})
    assert _cli(capsys, home, "dataset", "rename", "count", "demo-data")[0] == 0
    code, said = _cli(capsys, home, "export", run.id, "--merge")
    assert code == 0 and "already exported" in said and str(folder) in said, said

    text = card.read_text()
    meta = yaml.safe_load(text.split("---\n")[1])
    assert "Evaluation `perplexity` on `demo-data`: perplexity 3.2500" in text
    assert "Dataset `demo-data`." in text and "`count`" not in text
    assert [m["value"] for r in meta["model-index"][0]["results"] for m in r["metrics"]
            if m["name"] == "perplexity"] == [3.25]
    assert meta["license"] == "apache-2.0"
    assert {p.name: p.stat().st_mtime_ns for p in folder.glob("*.safetensors")} == weights  # not rewritten
    assert not [p.name for p in folder.iterdir() if p.name.startswith(".")]
    with Store.open(home) as store:
        again = exports.list_for(store, run.id)
    assert [e.id for e in again] == [first.id]
    assert integrity.damage(again[0].options, folder) is None  # what the push checks

    before = card.stat().st_mtime_ns
    code, said = _cli(capsys, home, "export", run.id, "--merge")
    assert code == 0 and "already exported" in said
    assert card.stat().st_mtime_ns == before  # nothing changed: the card is left as it is


def test_a_card_edited_beyond_its_license_is_kept_and_said_not_replaced(lora_run, tmp_path, capsys) -> None:
    """Seen in a walk: a line the user added to an export's card was gone after exporting the same again
    (an evaluation had been added meanwhile), and the command said only "already exported"."""
    shutil.copytree(lora_run[0], tmp_path / "home")
    home, run = tmp_path / "home", lora_run[1]
    assert _cli(capsys, home, "export", run.id)[0] == 0
    with Store.open(home) as store:
        folder = Path(exports.list_for(store, run.id)[0].path)
    card = folder / "README.md"
    mine = card.read_text().replace("license: unknown", "license: mit") + "\nTrained for the support team.\n"
    card.write_text(mine)
    with Store.open(home) as store:
        made = evaluations.create(store, run.id, task="perplexity", data_path=datasets.get(store, "count").path,
                                  base=False, checkpoint="last", gpus=[])
        evaluations.complete(store, made.id, step=run.step, result={"metrics": {"perplexity": 3.25}}, points=[],
                             report_path=None, artifact_meta={})
    code, said = _cli(capsys, home, "export", run.id)
    assert code == 0 and "already exported" in said
    assert f"its model card {card} was edited, so it is kept as it is" in said, said
    assert card.read_text() == mine  # the user's words, not replaced
    with Store.open(home) as store:
        assert integrity.damage(exports.list_for(store, run.id)[0].options, folder) is None  # still pushable
