"""Run-file schema: YAML errors name the line; validation errors name field, value and what is allowed."""

from __future__ import annotations

from pathlib import Path

import pytest

from spark_trainer.config import apply_overrides, load_config, parse_config, save_config, validate_config
from spark_trainer.config.yaml_io import parse_yaml
from spark_trainer.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]
BASE = "project: demo\nname: tiny\nrecipe: causal-lm\nbase_model: models/tiny\ndataset: data.jsonl\n"


def test_defaults_filled_for_recipe_section() -> None:
    config = parse_config(BASE)
    assert config.recipe_config["method"] == "lora"
    assert config.train.learning_rate > 0 and config.checkpoint.keep >= 1


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ("train:\n  learning_rate: -1\n", "line 7: train.learning_rate: got -1; must be greater than 0"),
        ("train:\n  batch_size: lots\n", "line 7: train.batch_size: got 'lots'"),
        ("train:\n  precision: fp8\n", "must be one of 'auto', 'bf16', 'fp16' or 'fp32'"),
        ("train:\n  batchsize: 4\n",
         "train.batchsize: unknown key (did you mean 'batch_size'?); allowed keys: auto_batch, batch_size"),
        ("recipe_config:\n  method: magic\n", "recipe_config.method: got 'magic'"),
        ("recipe_config:\n  lora_r: 0\n", "recipe_config.lora_r: got 0; must be at least 1"),
        # A union's members each failed: "target_modules.str: ... (and 1 more problem)", a key no file has
        ("recipe_config:\n  target_modules: 5\n", "line 7: recipe_config.target_modules: got 5; must be text or a list"),
        # The whole section was quoted back ("train: got {'max_steps': None, ...}", 19 fields)
        ("train:\n  max_steps: null\n", "line 6: train: set train.max_steps or train.epochs"),
        ("train:\n  learning_rate: .nan\n", "train.learning_rate: got nan; not a number (NaN); give a number"),
        # YAML's true and yes were read as the number 1: a micro-batch of 1, a LoRA rank of 1
        ("train:\n  batch_size: true\n", "line 7: train.batch_size: got true; must be a number"),
        ("train:\n  epochs: yes\n", "line 7: train.epochs: got true; must be a number"),
        ("eval:\n  max_batches: false\n", "line 7: eval.max_batches: got false; must be a number"),
        ("recipe_config:\n  lora_r: yes\n", "line 7: recipe_config.lora_r: got true; must be a number"),
        ("recipe_config:\n  lora_alpha: true\n", "line 7: recipe_config.lora_alpha: got true; must be a number"),
        # peft's own traceback came from the worker for a list naming nothing
        ("recipe_config:\n  target_modules: ' , '\n", "line 7: recipe_config.target_modules: got ' , '; names no "
         "module; give all-linear or module names, like q_proj,v_proj"),
    ],
)
def test_validation_errors_are_one_clear_line(extra: str, expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(BASE + extra, "run.yaml")
    message = str(info.value)
    assert expected in message and "\n" not in message


def test_a_misspelt_required_key_is_named_first_not_the_key_it_left_missing() -> None:
    # `nme: lm1` in a run file said "run.yaml: name: required but missing (and 1 more problem)": the typo
    # itself, the key to fix, was the problem left unsaid.
    with pytest.raises(ConfigError) as info:
        parse_config(BASE.replace("name: tiny", "nme: tiny"), "run.yaml")
    assert str(info.value).startswith("run.yaml line 2: nme: unknown key (did you mean 'name'?); allowed keys: ")
    assert str(info.value).endswith("(and 1 more problem)")
    # Every problem is kept, each placed as the first is (the CLI's --json error lists them).
    assert info.value.problems[0] == str(info.value).removesuffix(" (and 1 more problem)")
    assert info.value.problems[1] == "run.yaml: name: required but missing"


@pytest.mark.parametrize(("sets", "expected"), [
    (["train.max_steps=abc"], "--set train.max_steps: got 'abc'; must be a whole number"),
    (["train=5"], "--set train: got 5; must be a section of settings"),
    (["recipe_config.lora_r=0"], "--set recipe_config.lora_r: got 0; must be at least 1"),
    (["train.lerning_rate=1"], "--set train.lerning_rate: unknown key (did you mean 'learning_rate'?)"),
    # A rule of the whole section the --set broke: it said "run.yaml line 6: train: set train.max_steps or
    # train.epochs", line 6 holding the max_steps the --set had emptied (a user walk).
    (["train.max_steps=null"], "--set train.max_steps=null: train: set train.max_steps or train.epochs"),
])
def test_a_bad_value_given_with_set_is_blamed_on_the_set_not_a_line_of_the_file(sets, expected) -> None:
    # `train run.yaml --set train.max_steps=abc` said "run.yaml line 7: train.max_steps: got 'abc'": line 7
    # held `train: {max_steps: 6, ...}`, nothing wrong there (the line was the parent key's, found for a
    # field the file does not have).
    from spark_trainer.config import validate_config
    from spark_trainer.config.yaml_io import parse_yaml

    data, node = parse_yaml(BASE + "train: {max_steps: 6}\nrecipe_config: {lora_r: 8}\n", "run.yaml")
    with pytest.raises(ConfigError) as info:
        validate_config(apply_overrides(data, sets), "run.yaml", node, overrides=sets)
    assert str(info.value).startswith(expected), info.value


def test_a_bad_value_in_the_file_keeps_its_line_beside_a_set() -> None:
    from spark_trainer.config import validate_config
    from spark_trainer.config.yaml_io import parse_yaml

    data, node = parse_yaml(BASE + "train: {max_steps: 6, learning_rate: -1}\n", "run.yaml")
    with pytest.raises(ConfigError, match=r"^run.yaml line 6: train.learning_rate: got -1"):
        validate_config(apply_overrides(data, ["train.max_steps=3"]), "run.yaml", node, overrides=["train.max_steps=3"])


def test_a_dataset_or_project_named_by_its_id_is_read_as_that_id() -> None:
    # `dataset: 3` (README: "an existing dataset's name or id") was refused: "dataset: got 3; Input should
    # be a valid string"; YAML reads a bare 3 as a number, as it does `gpus: 0`.
    config = parse_config(BASE.replace("dataset: data.jsonl", "dataset: 3").replace("project: demo", "project: 2"))
    assert (config.dataset, config.project) == ("3", "2")
    with pytest.raises(ConfigError, match="dataset: got true"):  # a YAML boolean names nothing
        parse_config(BASE.replace("dataset: data.jsonl", "dataset: yes"))


def test_unknown_recipe_lists_known_ones() -> None:
    with pytest.raises(ConfigError, match=r"line 3: recipe: unknown recipe 'nope'; recipes are: .*causal-lm"):
        parse_config(BASE.replace("causal-lm", "nope"), "run.yaml")


def test_malformed_yaml_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(BASE + "train: {max_steps: 3\n")
    with pytest.raises(ConfigError, match=r"bad.yaml line \d+, column \d+"):
        load_config(path)


@pytest.mark.parametrize("text", ["", "\n", "# only a comment\n"])
def test_an_empty_run_file_is_called_empty(tmp_path: Path, text: str) -> None:
    # Seen in the CLI walk: "name: required but missing (and 3 more problems)", as if a key were misspelt.
    path = tmp_path / "run.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert str(err.value) == (f"{path}: the run file is empty; a run file needs at least name, recipe, "
                              "base_model, dataset (`spark-trainer run config RUN` writes one from a run; the README's "
                              "Command line section lists the fields)")


def test_save_and_load_round_trip(tmp_path: Path) -> None:
    config = parse_config(BASE + "train:\n  max_steps: 7\n")
    loaded = load_config(save_config(config, tmp_path / "out.yaml"))
    assert loaded == config


def test_overrides_parse_values_as_yaml() -> None:
    data = apply_overrides({"train": {"max_steps": 5}}, ["train.learning_rate=1e-4", "recipe_config.packing=false"])
    assert data == {"train": {"max_steps": 5, "learning_rate": 1e-4}, "recipe_config": {"packing": False}}
    with pytest.raises(ConfigError, match="expected key=value"):
        apply_overrides({}, ["nonsense"])


def test_every_shipped_config_file_validates() -> None:
    files = [p for folder in ("examples", "resources") for p in (ROOT / folder).rglob("*.yaml")]
    assert ROOT / "examples" / "tiny-lora.yaml" in files  # the check is not vacuous
    for path in files:
        assert load_config(path).upgrade_notes == [], path  # written in the current layout


def test_a_bare_gpu_id_in_a_run_file_is_that_gpu() -> None:
    """`gpus: 0` (the README's run file: 'GPU ids: 0 or 0,1') was refused with 'gpus: got 0; Input should
    be a valid string': YAML reads a bare 0 as a number. So was `--set gpus=1`, parsed as YAML too."""
    assert parse_config(BASE + "gpus: 0\n").gpus == "0"
    data = apply_overrides(parse_config(BASE).model_dump(mode="json"), ["gpus=1"])
    assert parse_config_data(data).gpus == "1"
    with pytest.raises(ConfigError, match=r"line 6: gpus: got true; must be text"):
        parse_config(BASE + "gpus: true\n", "run.yaml")


def parse_config_data(data: dict) -> object:
    from spark_trainer.config.schema import ExperimentConfig

    return ExperimentConfig.model_validate(data)


def test_a_bad_gpus_value_names_its_line_and_an_empty_id_is_refused_where_the_user_typed_it() -> None:
    # Seen in a docs walk: `gpus: 0,,1` in a run file was refused at submit with no line, while every
    # other field names its line. A stored config's old "0,,1" still loads (it was accepted before).
    with pytest.raises(ConfigError, match=r"^run\.yaml line \d+: gpus: 'zero' is not valid; expected auto"):
        parse_config(BASE + "gpus: zero\n", "run.yaml")
    stored = parse_config(BASE + "gpus: 0,,1\n", "run.yaml")
    assert stored.gpus == "0,,1"
    data, node = parse_yaml(BASE + "gpus: 0,,1\n", "run.yaml")
    with pytest.raises(ConfigError, match=r"^run\.yaml line \d+: gpus: '0,,1' has an empty GPU id"):
        validate_config(data, "run.yaml", node, [], typed=True)
    with pytest.raises(ConfigError, match=r"^--set gpus: '0,,1' has an empty GPU id"):
        validate_config(data, "run.yaml", node, ["gpus=0,,1"], typed=True)


def test_an_early_stopping_metric_the_recipe_does_not_log_is_refused_with_its_line() -> None:
    # It was accepted by train, exp create and estimate, and the queued run then failed in its worker.
    with pytest.raises(ConfigError) as refused:
        parse_config(BASE + "train:\n  max_steps: 5\n  early_stopping_metric: eval_acc\n", "run.yaml")
    assert str(refused.value).startswith("run.yaml line 8: train.early_stopping_metric: recipe causal-lm logs no "
                                         "metric 'eval_acc'; its evaluation metrics are: eval_loss")
    blank = parse_config(BASE + "train:\n  max_steps: 5\n  early_stopping_metric: ' '\n", "run.yaml")
    assert blank.train.early_stopping_metric is None  # empty: the recipe's main metric, as its help says


def test_a_chat_template_jinja_cannot_read_is_refused_with_its_line() -> None:
    with pytest.raises(ConfigError) as refused:
        parse_config(BASE + "recipe_config:\n  chat_template: '{{ unclosed'\n", "run.yaml")
    assert str(refused.value).startswith("run.yaml line 7: recipe_config.chat_template: got '{{ unclosed'; not a "
                                         "Jinja template: unexpected end of template")
    fine = "{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}"
    assert parse_config(BASE + f"recipe_config:\n  chat_template: \"{fine}\"\n").recipe_config["chat_template"]
