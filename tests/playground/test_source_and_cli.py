"""`spark-trainer generate` and checkpoint choice on a real (tiny) trained run."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from spark_trainer.cli.main import main
from tests.conftest import spark_trainer_exe, subprocess_env
from tests.playground.trained import TRAINING_PROMPT, TrainedRun

# The tests start model servers (each imports torch and loads the model) and may be the first to ask
# for the session's tiny run (tests/conftest.py); on a loaded shared machine the wall time can pass
# the suite's 600 s default.
pytestmark = pytest.mark.timeout(1800)



def generate(trained: TrainedRun, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict | str, str]:
    code = main(["--home", str(trained.home), "generate", str(trained.run_id), "--prompt", TRAINING_PROMPT,
                 "--max-new-tokens", "10", *args])
    out, err = capsys.readouterr()
    return code, (json.loads(out) if "--json" in args and code == 0 else out), err


def test_fixed_seed_gives_the_same_text_twice(trained: TrainedRun, capsys) -> None:
    _, first, _ = generate(trained, capsys, "--seed", "7", "--temperature", "1.0", "--json")
    _, second, _ = generate(trained, capsys, "--seed", "7", "--temperature", "1.0", "--json")
    assert first["text"] and first["text"] == second["text"]
    assert first["settings"] == {"max_new_tokens": 10, "temperature": 1.0, "top_p": 0.95, "top_k": 50,
                                 "repetition_penalty": 1.0, "stop": [], "chat_template": False, "prompt_template": True,
                                 "seed": 7}
    assert first["source"]["kind"] == "final" and first["variant"] == "tuned" and first["tokens"] >= 1


def test_base_model_answers_a_training_prompt_differently(trained: TrainedRun, capsys) -> None:
    _, tuned, _ = generate(trained, capsys, "--temperature", "0", "--json")
    _, base, _ = generate(trained, capsys, "--temperature", "0", "--json", "--base")
    assert base["variant"] == "base"
    assert tuned["text"] != base["text"]
    # The adapter was trained on "Count up from N: N N+1 ..." rows: its answer starts with a number.
    assert tuned["text"].split()[0].isdigit(), tuned["text"]


def test_checkpoints_by_step_and_best_and_stop_strings(trained: TrainedRun, capsys) -> None:
    _, at20, _ = generate(trained, capsys, "--checkpoint", "20", "--temperature", "0", "--json")
    _, best, _ = generate(trained, capsys, "--checkpoint", "best", "--temperature", "0", "--json")
    assert at20["source"]["kind"] == "checkpoint" and at20["source"]["step"] == 20
    assert best["source"]["step"] in (20, 40)
    _, whole, _ = generate(trained, capsys, "--temperature", "0", "--json")
    stop = whole["text"].strip()[-1]  # a character the greedy answer holds
    _, cut, _ = generate(trained, capsys, "--temperature", "0", "--json", "--stop", stop)
    assert cut["finish_reason"] == "stop" and stop not in cut["text"]
    assert whole["text"].startswith(cut["text"])


def test_bad_input_is_one_line_and_exit_2(trained: TrainedRun, capsys) -> None:
    code, _, err = generate(trained, capsys, "--checkpoint", "999")
    assert code == 2 and err.strip() == f"error: run {trained.run_id} has no checkpoint at step 999; its checkpoints " \
                                         "are at steps 20, 40"
    code, _, err = generate(trained, capsys, "--temperature", "-1")
    assert code == 2 and err.strip() == "error: --temperature must be from 0 (greedy) to 10, got -1.0"  # the flag
    code = main(["--home", str(trained.home), "generate", "4242", "--prompt", "x"])
    assert code == 2


def test_save_adds_a_sample_to_the_run(trained: TrainedRun, capsys) -> None:
    from spark_trainer.store import artifacts
    from spark_trainer.store.store import Store

    code, result, _ = generate(trained, capsys, "--temperature", "0", "--json", "--save")
    assert code == 0
    saved = json.loads(open(result["saved"], encoding="utf-8").read())
    assert saved["source"] == "playground"
    assert saved["samples"][0]["prompt"] == TRAINING_PROMPT
    assert saved["samples"][0]["completion"] == result["text"]
    with Store.open(trained.home) as store:
        found = [a for a in artifacts.list_for(store, trained.run_id, "sample") if a.path == result["saved"]]
    assert found and found[0].meta["source"] == "playground"


def test_save_says_where_the_sample_went(trained: TrainedRun, capsys) -> None:
    code, out, err = generate(trained, capsys, "--temperature", "0", "--save")
    assert code == 0 and out.strip()  # the answer on stdout, as without --save
    saved = [line for line in err.splitlines() if line.startswith(f"saved to run {trained.run_id}'s samples: ")]
    assert len(saved) == 1 and Path(saved[0].split(": ", 1)[1]).is_file()


def test_piped_output_has_no_library_chatter(trained: TrainedRun) -> None:
    """Written to a pipe or a file, a command's stderr carries our lines, not the libraries' progress
    bars (a line of carriage returns there) or their deprecation notices to each other."""
    env = subprocess_env()
    env.pop("HF_HUB_DISABLE_PROGRESS_BARS", None)  # in-process commands of other tests may have set it
    done = subprocess.run([spark_trainer_exe(), "--home", str(trained.home), "generate", str(trained.run_id),
                           "--prompt", TRAINING_PROMPT, "--max-new-tokens", "4"],
                          capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "\r" not in done.stderr and "Loading weights" not in done.stderr
    assert "Warning" not in done.stderr, done.stderr
    # Only our summary line (the sampled answer may end by eos before the 4 tokens asked for).
    assert re.fullmatch(r"\([0-4] tokens? in [0-9.]+ s, .*\)", done.stderr.strip()), done.stderr


@pytest.mark.parametrize("ended", ["failed", "cancelled"])
def test_base_answers_for_a_run_that_ended_before_its_first_checkpoint(trained: TrainedRun, tmp_path, capsys,
                                                                       ended) -> None:
    """`generate RUN --base` on a run that failed (or was cancelled) before any checkpoint said "run N has no
    final model or checkpoint yet (status failed)", while `eval RUN --base` evaluated its base model: the
    base model needs nothing of the run's. It answers as the base of a trained run does (adapter off)."""
    import shutil

    from spark_trainer.config import validate_config
    from spark_trainer.jobs.submit import frozen_config, submit_config
    from spark_trainer.store import runs
    from spark_trainer.store.entities import RunStatus
    from spark_trainer.store.store import Store
    from tests.playground.trained import DEMO_DATA

    base_model = frozen_config(trained.run_dir).base_model  # the trained run's base, to compare their answers
    copy = shutil.copytree(base_model, tmp_path / "base")
    config = validate_config({"project": "pg", "name": "died", "recipe": "causal-lm", "base_model": str(copy),
                              "dataset": str(DEMO_DATA), "gpus": "cpu", "train": {"max_steps": 4},
                              "recipe_config": {"method": "lora", "lora_r": 8, "lora_alpha": 16, "seq_len": 64}})
    home = tmp_path / "home"
    with Store.open(home) as store:
        run = submit_config(store, config, base_dir=DEMO_DATA.parent).run
        for status in (RunStatus.STARTING, RunStatus.RUNNING, RunStatus(ended)):
            runs.transition(store, run.id, status, "test: ended before its first checkpoint")
    died = TrainedRun(home, run.id, Path(run.run_dir))

    code, answer, err = generate(died, capsys, "--temperature", "0", "--json", "--base", "--device", "cpu")
    assert code == 0, err
    assert answer["variant"] == "base" and answer["source"]["kind"] == "base" and answer["tokens"] >= 1
    assert answer["source"]["path"] == str(copy.resolve())
    _, trained_base, _ = generate(trained, capsys, "--temperature", "0", "--json", "--base", "--device", "cpu")
    assert answer["text"] == trained_base["text"]
    code, text, err = generate(died, capsys, "--temperature", "0", "--base", "--device", "cpu")
    assert code == 0 and text.strip() == answer["text"].strip() and ", base model, seed " in err

    code, _, err = generate(died, capsys)  # its own weights: there are none, as before
    assert code == 2 and err == f"error: run {run.id} has no final model or checkpoint yet (status {ended}); it has " \
                                "no checkpoints\n"
    shutil.rmtree(copy)
    code, _, err = generate(died, capsys, "--base")
    assert code == 2 and err == f"error: run {run.id}'s base model: {copy.resolve()} does not exist\n"
