"""`spark-trainer generate` on a text-classification run: the labels of a text with probabilities."""

from __future__ import annotations

import json

import pytest

from spark_trainer.cli.main import main
from tests.playground.trained import TrainedRun, train_tiny_text_classifier_run

# Each test trains a tiny run in-process first (about 30 s of CPU); on a loaded shared machine the
# wall time can pass the suite's 600 s default.
pytestmark = pytest.mark.timeout(1800)



@pytest.fixture(scope="module")
def classifier_run(tmp_path_factory: pytest.TempPathFactory) -> TrainedRun:
    home = tmp_path_factory.mktemp("playground-cls") / "home"
    home.mkdir(parents=True)
    return train_tiny_text_classifier_run(home)


def test_labels_with_probabilities_from_the_final_model_and_a_checkpoint(classifier_run: TrainedRun, capsys) -> None:
    from tests.recipes.helpers import TOPICS

    label, words = next(iter(TOPICS.items()))
    text = " ".join(words.split()[:6])

    def classify(*extra: str) -> tuple[int, str, str]:
        code = main(["--home", str(classifier_run.home), "generate", str(classifier_run.run_id), "--prompt", text,
                     "--device", "cpu", *extra])
        out, err = capsys.readouterr()
        return code, out, err

    code, out, err = classify("--json")
    assert code == 0, err
    result = json.loads(out)
    probs = [item["probability"] for item in result["labels"]]
    assert sorted(result["labels"][i]["label"] for i in range(len(probs))) == sorted(TOPICS)
    assert abs(sum(probs) - 1) < 1e-3 and probs == sorted(probs, reverse=True)
    assert result["label"] == label, result  # the topic's own words
    code, out, _ = classify("--checkpoint", "20", "--json")
    assert code == 0 and json.loads(out)["source"]["step"] == 20
    code, out, _ = classify()
    assert code == 0 and out.splitlines()[0].split()[0] == label
    code, _, err = classify("--base")
    assert code == 2 and "no head" in err
    code = main(["--home", str(classifier_run.home), "generate", str(classifier_run.run_id), "--image", "x.png"])
    assert code == 2 and "--prompt" in capsys.readouterr().err


def test_compare_and_negative_are_refused_for_a_classification_run(classifier_run: TrainedRun, capsys) -> None:
    """Seen: `generate RUN --compare` / `--negative` on a classification run were silently ignored (exit 0)."""
    for extra, said in ((["--compare"], "--compare"), (["--negative", "x"], "--negative"), (["--out", "x.png"], "--out")):
        code = main(["--home", str(classifier_run.home), "generate", str(classifier_run.run_id), "--prompt", "hi",
                     "--device", "cpu", *extra])
        out, err = capsys.readouterr()
        assert (code, out) == (2, "") and err.startswith(f"error: {said}") and err.count("\n") == 1, err


def test_a_run_loads_without_tokenizing_its_dataset(classifier_run: TrainedRun, capsys, monkeypatch) -> None:
    """Loading a run needs its label names, not its dataset encoded (which on a large dataset took
    most of the load's time). The dataset's token cache is gone, as after it was pruned."""
    import shutil

    from spark_trainer.recipes import token_cache
    from spark_trainer.recipes.text_classification_impl import TextClassificationRecipe
    from tests.recipes.helpers import TOPICS

    caches = [p for p in classifier_run.home.rglob(token_cache.FOLDER) if p.is_dir()]
    assert caches  # the run cached its tokenized rows
    for folder in caches:
        shutil.rmtree(folder)

    def refuse(*_args, **_kwargs):
        raise AssertionError("loading the run tokenized its dataset")

    monkeypatch.setattr(TextClassificationRecipe, "encode_all", refuse)
    for source in (["--checkpoint", "20"], []):
        code = main(["--home", str(classifier_run.home), "generate", str(classifier_run.run_id), "--prompt",
                     "refund charge", "--device", "cpu", "--json", *source])
        out, err = capsys.readouterr()
        assert code == 0, err
        assert sorted(item["label"] for item in json.loads(out)["labels"]) == sorted(TOPICS)


def test_a_run_classifies_after_its_dataset_is_deleted(classifier_run: TrainedRun, tmp_path, capsys) -> None:
    """`dataset delete tickets --force; generate 2 --prompt ...` said "no dataset named or numbered '2'"
    (the dataset's id, not the run typed) where export and eval work: the label names are the run's own.
    A run that holds none (no final model, no validation report) is refused in one line saying so."""
    import shutil

    from spark_trainer.jobs.submit import frozen_config
    from spark_trainer.store import datasets
    from spark_trainer.store.models import RunRow
    from spark_trainer.store.store import Store
    from tests.recipes.helpers import TOPICS

    home = tmp_path / "home"
    shutil.copytree(classifier_run.home, home)  # the module's run keeps its dataset and files
    run_dir = home / classifier_run.run_dir.relative_to(classifier_run.home)
    with Store.open(home) as store:
        datasets.delete(store, frozen_config(run_dir).dataset, force=True)
        with store.write() as session:  # the copy's run is the copied folder
            session.get(RunRow, classifier_run.run_id).run_dir = str(run_dir)

    def classify(*source: str) -> tuple[int, str, str]:
        code = main(["--home", str(home), "generate", str(classifier_run.run_id), "--prompt", "refund charge",
                     "--device", "cpu", "--json", *source])
        out, err = capsys.readouterr()
        return code, out, err

    capsys.readouterr()
    for source in ([], ["--checkpoint", "20"]):
        code, out, err = classify(*source)
        assert code == 0, err
        assert sorted(item["label"] for item in json.loads(out)["labels"]) == sorted(TOPICS)
    shutil.rmtree(run_dir / "final")
    shutil.rmtree(run_dir / "eval")
    code, out, err = classify("--checkpoint", "20")
    assert code == 2 and err.count("\n") == 1 and json.loads(out)["error"] in err, err
    assert "holds no label names" in err and "dataset was deleted" in err, err


def test_a_checkpoint_loads_without_transformers_load_report(classifier_run: TrainedRun, capsys) -> None:
    """Seen: `generate RUN --checkpoint 20` printed transformers' LOAD REPORT ('classifier.weight | MISMATCH |
    Reinit'), the base's head replaced before the checkpoint's trained one is put in, as export once did.
    transformers' logger writes to the stderr it found at import, which capsys does not capture: a handler on
    it sees what would be printed."""
    import logging

    class Kept(logging.Handler):
        def __init__(self) -> None:
            super().__init__(logging.DEBUG)
            self.messages: list[str] = []

        def emit(self, record: logging.LogRecord) -> None:
            self.messages.append(record.getMessage())

    kept = Kept()
    hf_logger = logging.getLogger("transformers")
    hf_logger.addHandler(kept)
    try:
        code = main(["--home", str(classifier_run.home), "generate", str(classifier_run.run_id), "--prompt",
                     "refund my invoice", "--checkpoint", "20", "--device", "cpu"])
    finally:
        hf_logger.removeHandler(kept)
    out, err = capsys.readouterr()
    assert code == 0, err
    said = "\n".join(kept.messages) + out + err
    assert "LOAD REPORT" not in said and "MISMATCH" not in said, said
