"""`run checkpoints RUN` (the run page's Checkpoints tab) and `run config RUN` (its "Clone into new
experiment", the setup form's "Save as YAML"), on a real tiny run trained by the worker's code."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from spark_trainer.cli.main import main
from spark_trainer.store import experiments, runs
from spark_trainer.store.entities import RunStatus
from spark_trainer.store.store import Store
from tests.worker_here import queued_only, work_here

DEMO_DATA = Path(__file__).resolve().parents[2] / "resources" / "demo" / "train.jsonl"


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data home holding run 1: a tiny LoRA trained 2 steps by the worker's own code (`run_worker`:
    claimed, trained, its checkpoints and outcome recorded), run in this process, which has torch and
    transformers loaded already (tests/worker_here.py)."""
    from spark_trainer.config import load_config
    from spark_trainer.jobs.submit import submit_config
    from spark_trainer.models.tiny import create_tiny_causal_lm

    root = tmp_path_factory.mktemp("run-records")
    model = create_tiny_causal_lm(root / "tiny", vocab_size=300, hidden_size=32, num_layers=1, num_heads=2)
    run_file = root / "tiny.yaml"
    run_file.write_text(yaml.safe_dump({
        "project": "records", "name": "tiny", "recipe": "causal-lm", "base_model": str(model),
        "dataset": str(DEMO_DATA), "gpus": "cpu", "train": {"max_steps": 2, "batch_size": 4, "learning_rate": 1e-3},
        "recipe_config": {"method": "lora", "lora_r": 4, "seq_len": 64},
        "eval": {"every_steps": None, "val_fraction": 0.1, "max_batches": 1},
        "checkpoint": {"every_steps": 2, "keep": 1}}))
    home = root / "home"
    with Store.open(home) as store, pytest.MonkeyPatch.context() as patch:
        patch.setenv("SPARK_TRAINER_CONFIG_DIR", str(root / "config"))  # before the tests' own isolation
        run = submit_config(store, load_config(run_file), base_dir=run_file.parent).run
        assert run.id == 1 and work_here(store, run.id) == 0
        assert runs.get(store, run.id).status == RunStatus.COMPLETED
    return home


def _cli(capsys: pytest.CaptureFixture[str], home: Path, *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    try:
        code = main(["--home", str(home), *map(str, args)])
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    out, err = capsys.readouterr()
    return code, out, err


def test_checkpoints_lists_what_the_run_page_lists(trained: Path, capsys) -> None:
    code, out, err = _cli(capsys, trained, "run", "checkpoints", "1")
    assert code == 0, err
    head, row = out.splitlines()
    assert head.split()[:4] == ["STEP", "EVAL_LOSS", "(LOWER", "IS"]  # the watched metric and its direction
    step, loss, *_size, folder = row.split()
    assert step == "2" and float(loss) > 0 and Path(folder).is_dir() and folder.endswith("step-00000002")
    code, out, _ = _cli(capsys, trained, "--json", "run", "checkpoints", "1")
    shown = json.loads(out)
    assert shown["run"] == 1 and [c["step"] for c in shown["checkpoints"]] == [2]
    assert shown["checkpoints"][0]["metric_key"] == "eval_loss" and shown["checkpoints"][0]["size_bytes"] > 0
    code, _, err = _cli(capsys, trained, "run", "checkpoints", "99")
    assert code == 2 and err.count("\n") == 1


def test_a_run_without_checkpoints_says_so(store: Store, cli) -> None:
    from spark_trainer.store import projects

    projects.create(store, "p")
    exp = experiments.create(store, project="p", name="e", recipe="causal-lm", base_model="m", dataset=None, config={})
    run = runs.create(store, exp.id)
    done = cli("run", "checkpoints", run.id)
    assert (done.code, done.out.strip()) == (0, f"run {run.id} has no complete checkpoint yet")


def test_config_clones_a_run_into_a_run_file_that_trains(trained: Path, tmp_path: Path, capsys) -> None:
    code, printed, err = _cli(capsys, trained, "run", "config", "1")
    assert code == 0, err
    data = yaml.safe_load(printed)
    # What the app's clone puts in the form: the run's settings, named NAME-copy, the dataset by name.
    assert (data["project"], data["name"], data["dataset"]) == ("records", "tiny-copy", "train")
    assert data["train"]["learning_rate"] == 1e-3 and data["recipe_config"]["lora_r"] == 4
    out_file = tmp_path / "clone.yaml"
    code, out, err = _cli(capsys, trained, "run", "config", "1", "--name", "again", "--out", str(out_file))
    assert (code, out.strip()) == (0, str(out_file)) and "spark-trainer train" in err
    assert yaml.safe_load(out_file.read_text()) == {**data, "name": "again"}
    # The file trains, with a change, as a run launched from the cloned form does (the worker's code, here).
    with queued_only():
        code, out, err = _cli(capsys, trained, "--json", "train", str(out_file), "--set", "train.learning_rate=0.002")
    assert code == 0, err
    with Store.open(trained) as store:
        assert work_here(store, json.loads(out)["id"]) == 0
        run = runs.get(store, json.loads(out)["id"])
        assert run.status == RunStatus.COMPLETED and run.experiment == "again"
        assert experiments.get(store, run.experiment_id).config["train"]["learning_rate"] == 0.002
    code, _, err = _cli(capsys, trained, "run", "config", "1", "--out", str(tmp_path / "no" / "such" / "x.yaml"))
    assert code == 0  # the folder is made, as the setup form's Save does


def test_a_negative_prompt_is_for_image_runs_only(trained: Path, capsys) -> None:
    code, _, err = _cli(capsys, trained, "generate", "1", "--prompt", "hi", "--negative", "rude words")
    assert code == 2 and err == ("error: --negative is for diffusion runs (a negative prompt for the image); run 1 is a "
                                 "causal-lm run\n")


@pytest.mark.parametrize(("option", "said"), [
    (["--steps", "3"], "--steps is for diffusion runs (denoising steps)"),
    (["--guidance", "3"], "--guidance is for diffusion runs (the guidance scale)"),
    (["--image", "cat.png"], "--image is for image-classification runs (the image to classify)"),
])
def test_an_option_of_another_kind_of_run_is_refused_not_ignored(trained: Path, capsys, option, said) -> None:
    # `generate 3 --prompt hi --steps 3` on a causal-LM run answered as if --steps were not there, and
    # `generate 3 --image cat.png` said "--prompt is required".
    code, out, err = _cli(capsys, trained, "generate", "1", "--prompt", "hi", *option)
    assert (code, out) == (2, "") and err.startswith(f"error: {said}; run 1 is a causal-lm run") and err.count("\n") == 1


def test_a_checkpoint_with_base_is_refused_not_ignored(trained: Path, capsys) -> None:
    # `generate 1 --prompt hi --base --checkpoint 5` answered with the base model: --checkpoint dropped.
    code, out, err = _cli(capsys, trained, "generate", "1", "--prompt", "hi", "--base", "--checkpoint", "5")
    assert (code, out) == (2, "") and err == ("error: --checkpoint names the run's weights to try; --base answers "
                                              "with the base model instead: give one of them\n")


@pytest.mark.parametrize(("kind", "recipe", "option", "said"), [
    ("image-generation", "diffusion-lora", ["--max-new-tokens", "5"], "--max-new-tokens is for causal-lm runs"),
    ("image-generation", "diffusion-lora", ["--chat"], "--chat is for causal-lm runs"),
    ("classification", "text-classification", ["--temperature", "0.5"], "--temperature is for causal-lm runs"),
    ("classification", "text-classification", ["--steps", "4"], "--steps is for diffusion runs"),
    ("classification", "text-classification", ["--image", "x.png"], "--image is for image-classification runs"),
])
def test_each_kind_of_run_refuses_the_options_of_the_others(kind, recipe, option, said) -> None:
    from spark_trainer.cli.generate import check_options
    from spark_trainer.cli.main import build_parser
    from spark_trainer.errors import BadInput

    args = build_parser("generate").parse_args(["generate", "7", "--prompt", "x", *option])
    with pytest.raises(BadInput) as refused:
        check_options(kind, recipe, args)
    assert str(refused.value).startswith(said) and f"; run 7 is a {recipe} run" in str(refused.value)
    check_options(kind, recipe, build_parser("generate").parse_args(["generate", "7", "--prompt", "x", "--seed", "1"]))


def test_a_sample_saved_from_generate_is_listed_by_run_samples(trained: Path, capsys) -> None:
    code, _, err = _cli(capsys, trained, "generate", "1", "--prompt", "Count up from 20:", "--max-new-tokens", "4",
                        "--seed", "1", "--device", "cpu", "--save")
    assert code == 0, err
    code, out, err = _cli(capsys, trained, "--json", "run", "samples", "1")
    assert code == 0, err
    newest = json.loads(out)["samples"][0]
    assert Path(newest["path"]).name.startswith("playground-") and newest["items"][0]["prompt"] == "Count up from 20:"


def _run_with_reports(store: Store, *reports: dict) -> tuple[int, Path]:
    """A run whose eval/ folder holds reports as the training engine writes them (side_work)."""
    from spark_trainer.store import artifacts, projects

    projects.create(store, "p")
    exp = experiments.create(store, project="p", name="e", recipe="text-classification", base_model="m",
                             dataset=None, config={})
    run = runs.create(store, exp.id)
    folder = Path(run.run_dir) / "eval"
    folder.mkdir(parents=True)
    for report in reports:
        path = folder / f"step-{report['step']:08d}.json"
        path.write_text(json.dumps(report))
        artifacts.add(store, run.id, "eval_report", str(path), step=report["step"])
    return run.id, folder


def test_report_shows_the_evaluation_tab(store: Store, cli) -> None:
    from spark_trainer.store import artifacts

    old = {"step": 10, "metrics": {"eval_accuracy": 0.5}, "labels": ["a", "b"], "confusion": [[1, 1], [1, 1]]}
    new = {"step": 20, "metrics": {"eval_accuracy": 0.75, "eval_macro_f1": 0.7333, "eval_loss": 0.61},
           "labels": ["neg", "pos"], "confusion": [[3, 1], [0, 0]], "examples": 4,
           "per_class": {"neg": {"precision": 1.0, "recall": 0.75, "f1": 0.8571, "support": 4},
                         "pos": {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0}}}
    run_id, folder = _run_with_reports(store, old, new)
    picture = folder / "step-00000020-confusion.png"
    picture.write_bytes(b"png")
    artifacts.add(store, run_id, "eval_image", str(picture), step=20, meta={"name": "confusion"})
    shown = cli("run", "report", run_id)
    assert shown.code == 0, shown.err
    lines = shown.out.splitlines()
    assert lines[0] == "step 20: accuracy 0.7500, macro_f1 0.7333, loss 0.6100 on 4 validation examples"
    assert lines[2].split() == ["CLASS", "PRECISION", "RECALL", "F1", "SUPPORT"]
    assert lines[3].split() == ["neg", "1.0000", "0.7500", "0.8571", "4"]
    assert lines[6] == "confusion matrix (rows: true, columns: predicted)"
    assert lines[7].split() == ["neg", "pos"]  # the classes as named, not upper-cased like column titles
    assert [line.split() for line in lines[8:10]] == [["neg", "3", "1"], ["pos", "0", "0"]]
    assert lines[-1] == f"picture: {picture}"
    as_json = cli("--json", "run", "report", run_id).json()
    assert as_json["report"] == new and as_json["image"] == str(picture)


def test_report_of_a_diffusion_run_and_of_runs_without_one(store: Store, cli) -> None:
    run_id, folder = _run_with_reports(store, {"step": 6, "eval_loss": 0.25, "images": 3,
                                               "skipped_images": [{"path": "/d/x.png", "reason": "not an image"}]})
    lines = cli("run", "report", run_id).out.splitlines()
    assert lines == ["step 6: loss 0.2500 on 3 validation images",
                     "1 image skipped, not trained or evaluated: /d/x.png (not an image)"]
    (folder / "step-00000006.json").write_text("{not json")
    broken = cli("run", "report", run_id)
    assert broken.code == 1 and broken.err.startswith("error: cannot read ") and broken.err.count("\n") == 1
    other = runs.create(store, runs.get(store, run_id).experiment_id)
    assert cli("run", "report", other.id).out.startswith(f"run {other.id} has no evaluation report yet")


def test_compare_answers_with_the_run_and_the_base_model_as_the_playground_does(trained: Path, capsys) -> None:
    args = ("generate", "1", "--prompt", "Count up from 20:", "--max-new-tokens", "4", "--device", "cpu")
    code, out, err = _cli(capsys, trained, "--json", *args, "--compare", "--save")
    assert code == 0, err
    both = json.loads(out)
    base_alone = json.loads(_cli(capsys, trained, "--json", *args, "--base", "--seed",
                                 str(both["settings"]["seed"]))[1])
    # The base model answered with the first answer's seed: what `--base --seed S` answers.
    assert both["base"]["settings"]["seed"] == both["settings"]["seed"]
    assert both["base"]["text"] == base_alone["text"]
    saved = json.loads(Path(both["saved"]).read_text())["samples"][0]
    assert saved["completion"] == both["text"] and saved["base_completion"] == both["base"]["text"]
    code, out, _ = _cli(capsys, trained, *args, "--compare", "--seed", "2")
    assert code == 0 and "\n--- base model ---\n" in out
    code, _, err = _cli(capsys, trained, *args, "--compare", "--base")
    assert code == 2 and err == "error: --compare answers with the base model too; leave out --base\n"


def test_config_out_refuses_an_existing_file(trained: Path, tmp_path: Path, capsys) -> None:
    """Seen: `run config 1 --out FILE` wrote over FILE; every other --out refuses a used target."""
    kept = tmp_path / "mine.yaml"
    kept.write_text("my own notes\n")
    code, out, err = _cli(capsys, trained, "run", "config", "1", "--out", str(kept))
    assert (code, out) == (2, "") and err.count("\n") == 1 and "--out" in err and str(kept) in err
    assert kept.read_text() == "my own notes\n"


def test_an_out_under_a_file_is_bad_input_naming_the_file(trained: Path, tmp_path: Path, capsys) -> None:
    # `run config 3 --out notes.jsonl/x.yaml` (and generate's and launch's --out) said "I/O error on
    # notes.jsonl: File exists", exit 1, as if the disk had failed; export's --out already said it well.
    notes = tmp_path / "notes.jsonl"
    notes.write_text("{}\n")
    code, out, err = _cli(capsys, trained, "run", "config", "1", "--out", str(notes / "x.yaml"))
    assert (code, out) == (2, ""), err
    assert err == f"error: cannot make a folder at {notes}: {notes} is a file; choose another place\n"
    assert notes.read_text() == "{}\n"


def test_config_names_a_base_model_of_the_homes_models_folder_by_its_place_there(tmp_path: Path, capsys) -> None:
    # A clone written before `home move` still trains after it: the demo's models/demo-tiny-llama is
    # written as `models/...`, which a run file looks up in the data home, not as the old absolute path.
    from spark_trainer.config import load_config
    from spark_trainer.jobs.submit import submit_config
    from spark_trainer.models.tiny import create_tiny_causal_lm

    home = tmp_path / "home"
    with Store.open(home) as store:
        model = create_tiny_causal_lm(home / "models" / "tiny", vocab_size=300, hidden_size=32, num_layers=1,
                                      num_heads=2)
        run_file = tmp_path / "tiny.yaml"
        run_file.write_text(yaml.safe_dump({"project": "p", "name": "tiny", "recipe": "causal-lm",
                                            "base_model": str(model), "dataset": str(DEMO_DATA), "gpus": "cpu"}))
        submit_config(store, load_config(run_file), base_dir=tmp_path)
    code, printed, err = _cli(capsys, home, "run", "config", "1")
    assert code == 0, err
    assert yaml.safe_load(printed)["base_model"] == "models/tiny"


def test_config_names_the_project_by_its_name_now(trained: Path, capsys) -> None:
    """After `project rename`, the clone said the frozen old name, and `train` of it failed on the dataset."""
    assert _cli(capsys, trained, "project", "rename", "records", "records-renamed")[0] == 0
    try:
        code, printed, err = _cli(capsys, trained, "run", "config", "1")
        assert code == 0, err
        assert yaml.safe_load(printed)["project"] == "records-renamed"
    finally:
        assert _cli(capsys, trained, "project", "rename", "records-renamed", "records")[0] == 0
