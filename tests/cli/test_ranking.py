"""`spark-trainer leaderboard` and `compare` (spark_trainer/cli/ranking.py): the Leaderboard and Compare
views from the command line, on runs whose metrics are written to the store as a worker writes them."""

from __future__ import annotations

from pathlib import Path

import yaml

from spark_trainer.store import experiments, metrics, projects, runs
from spark_trainer.store.entities import RunStatus


def _run(store, name: str, recipe: str, points: list[tuple[str, int, float]], *, lr: float = 1e-4,
         project: str = "p") -> int:
    if project not in {p.name for p in projects.list_all(store)}:
        projects.create(store, project)
    exp = experiments.create(store, project=project, name=name, recipe=recipe, base_model="m", dataset=None,
                             config={"recipe": recipe, "train": {"learning_rate": lr}})
    run = runs.create(store, exp.id)
    runs.transition(store, run.id, RunStatus.CANCELLED, "test: stopped")  # not queued: nothing starts it
    metrics.add_batch(store, run.id, points)
    return run.id


def _evaluated(store, run: int, task: str, data: str, values: dict[str, float], *, step: int | None = 2,
               base: bool = False) -> int:
    """An evaluation completed as the worker completes one: its result, and (not base) its run metrics."""
    from spark_trainer.evaluation.tasks import metric_key
    from spark_trainer.store import evaluations

    ev = evaluations.create(store, run, task=task, data_path=data, base=base, checkpoint="last", gpus=[])
    evaluations.complete(store, ev.id, step=None if base else step, result={"task": task, "metrics": values},
                         points=[(metric_key(task, k), step or 0, v) for k, v in values.items()],
                         report_path=None if base else f"/evals/{ev.id}.json", artifact_meta={})
    return ev.id


def test_leaderboard_ranks_in_the_recipes_direction_and_filters(store, cli) -> None:
    low = _run(store, "low", "causal-lm", [("eval_loss", 1, 2.0), ("eval_loss", 2, 0.8), ("eval_loss", 3, 1.4)])
    high = _run(store, "high", "causal-lm", [("eval_loss", 1, 1.0), ("eval_loss", 2, 1.1)])
    acc_a = _run(store, "acc-a", "text-classification", [("eval_accuracy", 1, 0.7), ("eval_loss", 1, 0.3)],
                 project="q")
    acc_b = _run(store, "acc-b", "text-classification", [("eval_accuracy", 1, 0.9), ("eval_loss", 1, 0.5)],
                 project="q")

    best = cli("--json", "leaderboard", "--recipe", "causal-lm", "eval_loss")
    assert best.code == 0, best.err
    assert [r["id"] for r in best.json()["runs"]] == [low, high] and best.json()["higher_is_better"] is False
    assert best.json()["runs"][0]["score"] == 0.8 and best.json()["runs"][0]["last"] == 1.4
    last = cli("--json", "leaderboard", "--recipe", "causal-lm", "--use", "last", "eval_loss")
    assert [r["id"] for r in last.json()["runs"]] == [high, low]  # 1.1 before 1.4

    # A recipe's main metric by default, ranked in its direction (higher accuracy first).
    text = cli("leaderboard", "--recipe", "text-classification")
    assert text.code == 0 and text.out.startswith("ranked by eval_accuracy (best value; higher is better): 2 runs")
    assert [int(line.split()[1]) for line in text.out.splitlines()[2:]] == [acc_b, acc_a]
    assert text.err == ""  # one recipe: nothing to say

    mixed = cli("leaderboard")  # eval_loss by default, across recipes: said, on stderr
    assert mixed.code == 0 and mixed.out.startswith("ranked by eval_loss")
    assert "note: these runs come from 2 recipes (causal-lm, text-classification): their eval_loss values " \
           "may not be comparable; --recipe NAME ranks one recipe's runs" in mixed.err
    assert [r["id"] for r in cli("--json", "leaderboard", "--project", "q", "--limit", "1").json()["runs"]] == [acc_a]

    assert cli("leaderboard", "--limit", "0").err.startswith("error: --limit must be at least 1, got 0")
    typo = cli("leaderboard", "eval_loss", "--recipe", "causal-llm")
    assert typo.code == 2 and typo.err.count("\n") == 1 and "causal-llm" in typo.err
    # A metric nobody records is a typo (a CLI walk saw `eval-loss` ranked as 0 runs, direction guessed);
    # a recipe's metric no run has reached yet is an empty ranking.
    typo = cli("leaderboard", "eval-loss")
    assert typo.code == 2 and typo.err.count("\n") == 1
    assert "no run has recorded a metric 'eval-loss'; close: eval_loss" in typo.err
    assert "recorded: eval_accuracy, eval_loss" in typo.err
    nothing = cli("leaderboard", "eval_macro_f1", "--project", "p")
    assert nothing.code == 0 and "no run matching these filters has recorded eval_macro_f1" in nothing.out


def test_leaderboard_shows_evaluation_columns_and_base_model_baselines_as_the_view_does(store, cli) -> None:
    # The Leaderboard view adds a column per evals/... metric and a row per base-model evaluation; the
    # command showed neither.
    tuned = _run(store, "tuned", "causal-lm", [("eval_loss", 2, 0.8)])
    other = _run(store, "other", "causal-lm", [("eval_loss", 2, 1.2)])
    _evaluated(store, tuned, "perplexity", "/data/held-out.jsonl", {"perplexity": 9.5})
    base = _evaluated(store, tuned, "perplexity", "/data/held-out.jsonl", {"perplexity": 31.0}, base=True)
    text = cli("leaderboard", "eval_loss")
    assert text.code == 0, text.err
    head, data, columns, first, second, baseline = text.out.splitlines()
    assert data == "evaluation results on held-out.jsonl (1 run)"
    assert columns.split()[-4:] == ["STATUS", "PERPLEXITY", "on", "held-out.jsonl"]
    assert first.split()[:2] == ["1", str(tuned)] and first.split()[-1] == "9.5"
    assert second.split()[:2] == ["2", str(other)] and second.split()[-1] == "-"
    assert baseline.split() == ["baseline", str(tuned), "-", "base", "model:", "m", "held-out.jsonl", "-", "-", "-",
                                "base", "31"]  # as the table shows 31.0
    shown = cli("--json", "leaderboard", "eval_loss").json()
    assert shown["runs"][0]["evals"] == {"evals/perplexity": 9.5} and shown["runs"][1]["evals"] == {}
    assert shown["baselines"] == [{"evaluation": base, "run": tuned, "base_model": "m",
                                   "data": "/data/held-out.jsonl", "score": None,
                                   "evals": {"evals/perplexity": 31.0}}]
    assert shown["eval_data"] == {"name": "held-out.jsonl", "path": "/data/held-out.jsonl", "runs": 1}
    # Evaluated on an ingested dataset: named by its name, as run rows are, not by its folder's number.
    from spark_trainer.store import datasets

    held = datasets.create(store, "p", datasets.NewDataset(name="held-out", kind="text",
                                                           path=str(store.home.root / "datasets" / "7")))
    _evaluated(store, tuned, "perplexity", held.path, {"perplexity": 30.0}, base=True)
    on_held = cli("leaderboard", "eval_loss", "--eval-data", "held-out").out.splitlines()
    assert on_held[1] == "evaluation results on held-out (0 runs); also evaluated on: held-out.jsonl (1 run) " \
                         "(--eval-data NAME shows those)"
    assert [row.split()[6] for row in on_held[5:]] == ["held-out"]
    # A project without them shows neither.
    _run(store, "elsewhere", "causal-lm", [("eval_loss", 1, 1.0)], project="q")
    alone = cli("--json", "leaderboard", "eval_loss", "--project", "q").json()
    assert alone["baselines"] == [] and alone["runs"][0]["evals"] == {} and alone["eval_data"] is None


def test_a_leaderboard_of_one_recipe_shows_only_its_evaluation_columns_and_baselines(store, cli) -> None:
    # `leaderboard --recipe causal-lm` showed a text-classification run's base-model baseline row, and the
    # CLASSIFICATION_ACCURACY / CLASSIFICATION_MACRO_F1 columns its evaluations made, beside the causal LMs.
    lm = _run(store, "lm", "causal-lm", [("eval_loss", 2, 0.8)])
    tc = _run(store, "tc", "text-classification", [("eval_loss", 2, 0.6)])
    _evaluated(store, lm, "perplexity", "/data/perplexity.csv", {"perplexity": 9.5})
    _evaluated(store, tc, "classification", "/data/classification.csv", {"accuracy": 0.7})
    for run, task, result in ((lm, "perplexity", {"perplexity": 31.0}), (tc, "classification", {"accuracy": 0.5})):
        _evaluated(store, run, task, f"/data/{task}.csv", result, base=True)
    shown = cli("--json", "leaderboard", "eval_loss", "--recipe", "causal-lm").json()
    assert [r["id"] for r in shown["runs"]] == [lm]
    assert [b["run"] for b in shown["baselines"]] == [lm]
    text = cli("leaderboard", "eval_loss", "--recipe", "causal-lm").out
    assert text.splitlines()[2].split()[-4:] == ["STATUS", "PERPLEXITY", "on", "perplexity.csv"], text
    # No filter: one evaluation data at a time, the newest of those evaluated on by as many runs.
    both = cli("--json", "leaderboard", "eval_loss").json()
    assert both["eval_data"]["name"] == "classification.csv"
    assert [c["name"] for c in both["eval_data_choices"]] == ["classification.csv", "perplexity.csv"]
    assert [b["run"] for b in both["baselines"]] == [tc]
    assert both["runs"][0]["evals"] == {"evals/classification_accuracy": 0.7}


def test_evaluation_columns_and_an_evals_ranking_show_one_evaluation_data_at_a_time(store, cli) -> None:
    """Run 3 evaluated on heldout.jsonl (18 rows), then tickets, then a 1-row file: `leaderboard
    evals/classification_accuracy` ranked it by 0.3333 (its best, from heldout.jsonl) beside a column of
    0 (its last, from the 1-row file), with nothing saying which data either came from."""
    a = _run(store, "a", "text-classification", [("eval_loss", 2, 0.6)])
    b = _run(store, "b", "text-classification", [("eval_loss", 2, 0.5)])
    _evaluated(store, a, "classification", "/d/heldout.jsonl", {"accuracy": 1 / 3, "macro_f1": 0.3}, step=2)
    _evaluated(store, b, "classification", "/d/heldout.jsonl", {"accuracy": 0.5, "macro_f1": 0.4}, step=2)
    _evaluated(store, a, "classification", "/d/tickets.jsonl", {"accuracy": 0.9, "macro_f1": 0.9}, step=2)
    _evaluated(store, a, "classification", "/d/longcls.csv", {"accuracy": 0.0, "macro_f1": 0.0}, step=2)
    shown = cli("--json", "leaderboard", "evals/classification_accuracy").json()
    assert shown["eval_data"]["name"] == "heldout.jsonl"  # two runs were evaluated on it, one on the others
    assert [(r["id"], r["score"], r["evals"]["evals/classification_accuracy"]) for r in shown["runs"]] == \
        [(b, 0.5, 0.5), (a, 1 / 3, 1 / 3)]
    text = cli("leaderboard", "evals/classification_accuracy").out.splitlines()
    assert text[0].startswith("ranked by evals/classification_accuracy on heldout.jsonl (best value")
    assert text[1] == ("evaluation results on heldout.jsonl (2 runs); also evaluated on: longcls.csv (1 run), "
                       "tickets.jsonl (1 run) (--eval-data NAME shows those)")
    assert "CLASSIFICATION_ACCURACY on heldout.jsonl" in text[2]  # the file as it is named (was HELDOUT.JSONL)
    assert text[2].startswith("RANK  RUN  PROJECT")
    one = cli("--json", "leaderboard", "evals/classification_accuracy", "--eval-data", "longcls.csv").json()
    assert [(r["id"], r["score"], r["evals"]) for r in one["runs"]] == \
        [(a, 0.0, {"evals/classification_accuracy": 0.0, "evals/classification_macro_f1": 0.0})]
    bad = cli("leaderboard", "--eval-data", "nope.csv")
    assert bad.code == 2 and "--eval-data nope.csv: no run here was evaluated on it; evaluated on: " \
        "heldout.jsonl, longcls.csv, tickets.jsonl" in bad.err


def test_an_evals_ranking_opens_on_the_data_that_has_its_metric(store, cli) -> None:
    """Three runs' perplexity on long.txt and one classifier's accuracy on tickets.jsonl: `leaderboard
    evals/classification_accuracy` opened on long.txt (most runs evaluated there) and ranked 0 runs."""
    lms = [_run(store, f"lm{i}", "causal-lm", [("eval_loss", 2, 1.0 + i)]) for i in range(3)]
    classifier = _run(store, "cls", "text-classification", [("eval_loss", 2, 0.5)])
    for run_id in lms:
        _evaluated(store, run_id, "perplexity", "/d/long.txt", {"perplexity": 9.0 + run_id, "loss": 2.0}, step=2)
    _evaluated(store, classifier, "classification", "/d/tickets.jsonl", {"accuracy": 0.75, "macro_f1": 0.7}, step=2)
    shown = cli("--json", "leaderboard", "evals/classification_accuracy").json()
    assert shown["eval_data"]["name"] == "tickets.jsonl"
    assert [(r["id"], r["score"]) for r in shown["runs"]] == [(classifier, 0.75)]
    assert cli("--json", "leaderboard").json()["eval_data"]["name"] == "long.txt"  # not ranked by an evaluation


def test_leaderboard_on_a_home_without_metrics_says_so(cli) -> None:
    empty = cli("leaderboard")
    assert empty.code == 0 and empty.out.strip() == "no run has reported metrics yet"


def test_compare_prints_the_settings_that_differ_and_each_metrics_last_value(store, cli) -> None:
    a = _run(store, "a", "causal-lm", [("loss", 1, 2.0), ("loss", 2, 1.5), ("eval_loss", 2, 1.7)], lr=1e-4)
    b = _run(store, "b", "causal-lm", [("loss", 1, 2.1), ("loss", 2, 1.2)], lr=3e-4)
    frozen = Path(runs.get(store, b).run_dir) / "config.yaml"  # a run's frozen config wins over its experiment's
    frozen.write_text(yaml.safe_dump({"recipe": "causal-lm", "train": {"learning_rate": 5e-4}}))

    shown = cli("--json", "compare", str(a), str(b))
    assert shown.code == 0, shown.err
    data = shown.json()
    assert data["metrics"] == {"eval_loss": [1.7, None], "loss": [1.5, 1.2]}
    assert list(data["settings"]) == ["train.learning_rate"]
    assert data["settings"]["train.learning_rate"] == [1e-4, 5e-4]
    text = cli("compare", str(a), str(b)).out
    assert "TRAIN.LEARNING_RATE" not in text and "train.learning_rate" in text
    assert [line.split() for line in text.splitlines() if line.startswith("eval_loss")] == [["eval_loss", "1.7", "-"]]

    same = cli("compare", str(a), str(a))
    assert same.code == 2 and same.err.strip() == "error: compare: give two or more different run ids"
    gone = cli("compare", str(a), "999")
    assert gone.code != 0 and gone.err.count("\n") == 1 and "999" in gone.err


def test_compare_shows_evaluation_results_per_evaluation_data_not_the_mixed_run_metric(store, cli) -> None:
    # Run a was evaluated on an 18-row held-out file, then on a 1-row file; `compare` showed the run
    # metric evals/classification_accuracy's last value, the 1-row file's 1.0, beside b's 0.7 on heldout.
    a = _run(store, "a", "text-classification", [("loss", 1, 0.9)])
    b = _run(store, "b", "text-classification", [("loss", 1, 0.8)])
    _evaluated(store, a, "classification", "/d/heldout.jsonl", {"accuracy": 0.85}, step=4)
    _evaluated(store, a, "classification", "/d/heldout.jsonl", {"accuracy": 0.8}, step=2)  # newer, earlier step
    _evaluated(store, b, "classification", "/d/heldout.jsonl", {"accuracy": 0.7}, step=2)
    _evaluated(store, a, "classification", "/d/one.jsonl", {"accuracy": 1.0}, step=4)

    data = cli("--json", "compare", str(a), str(b)).json()
    assert data["metrics"] == {"loss": [0.9, 0.8]}  # not evals/...: it mixes both files
    assert [(e["title"], e["values"], e["steps"]) for e in data["evals"]] == [
        ("classification_accuracy on heldout.jsonl", [0.85, 0.7], [4, 2]),
        ("classification_accuracy on one.jsonl", [1.0, None], [4, None])]
    assert data["evals"][0]["metric"] == "evals/classification_accuracy"
    assert data["evals"][0]["data"] == {"name": "heldout.jsonl", "path": "/d/heldout.jsonl", "runs": 2}
    text = cli("compare", str(a), str(b)).out
    assert [line.split() for line in text.splitlines() if line.startswith("classification_accuracy")] == [
        ["classification_accuracy", "on", "heldout.jsonl", "0.85", "0.7"],
        ["classification_accuracy", "on", "one.jsonl", "1", "-"]]
    assert "evals/" not in text
    c, d = (_run(store, n, "causal-lm", [("loss", 1, 2.0)]) for n in "cd")
    assert cli("compare", str(c), str(d)).out.endswith("no run here has been evaluated\n")
    assert cli("--json", "compare", str(c), str(d)).json()["evals"] == []


def test_compare_refuses_a_run_id_that_is_not_one_as_run_show_does(store, cli) -> None:
    # argparse's type=int said "spark-trainer compare: error: argument RUN: invalid int value: 'abc'".
    a = _run(store, "a", "causal-lm", [("loss", 1, 2.0)])
    b = _run(store, "b", "causal-lm", [("loss", 1, 2.1)])
    bad = cli("compare", str(a), "abc")
    assert bad.code == 2 and bad.err == "error: no run with id 'abc'; see `spark-trainer run list`\n"
    assert bad.err == cli("run", "show", "abc").err
    as_json = cli("--json", "compare", str(a), "abc")
    assert as_json.code == 2 and as_json.json()["error"] == "no run with id 'abc'; see `spark-trainer run list`"
    same = cli("compare", str(a), f"0{a}")  # two spellings of one run
    assert same.code == 2 and same.err == "error: compare: give two or more different run ids\n"
    assert cli("--json", "compare", f" {a}", str(b)).json()["runs"][0]["id"] == a


def test_compare_samples_shows_each_runs_newest_sample_as_the_compare_page_does(store, cli) -> None:
    import json

    from spark_trainer.store import artifacts

    a = _run(store, "a", "causal-lm", [("loss", 1, 2.0)])
    b = _run(store, "b", "causal-lm", [("loss", 1, 2.1)])
    folder = Path(runs.get(store, a).run_dir) / "samples"
    folder.mkdir(parents=True)
    for step, answer in ((5, "old answer"), (10, "20 21 22")):
        path = folder / f"step-{step:08d}.json"
        path.write_text(json.dumps({"samples": [{"prompt": "Count up from 20:", "completion": answer}]}))
        artifacts.add(store, a, "sample", str(path), step=step)
    shown = cli("compare", str(a), str(b), "--samples")
    assert shown.code == 0, shown.err
    assert shown.out.endswith(f"run {a}: sample at step 10\n> Count up from 20:\n20 21 22\n\nrun {b}: no samples yet\n")
    data = cli("--json", "compare", str(a), str(b), "--samples").json()
    assert data["samples"][0]["step"] == 10 and data["samples"][1] is None
    assert data["samples"][0]["text"] == "> Count up from 20:\n20 21 22"
    assert data["samples"][0]["items"] == [{"prompt": "Count up from 20:", "output": "20 21 22", "image": None,
                                            "caption": ""}]
    assert "samples" not in cli("--json", "compare", str(a), str(b)).json()


def test_compare_samples_shows_captions_and_what_a_classifier_was_given(store, cli) -> None:
    """Seen: an image-classification run's sample showed "[image step-00000010-00.png] cat.png" without its
    caption (the predicted and true class), a diffusion run's without its seed, and a text classifier's
    "predicted: sports (0.91); true: sports" without the text classified."""
    import json

    from spark_trainer.store import artifacts

    ids = [_run(store, name, recipe, [("loss", 1, 2.0)])
           for name, recipe in (("img", "image-classification"), ("sd", "diffusion-lora"), ("txt", "text-classification"))]
    items = ([{"prompt": "cat.png", "caption": "predicted cat (0.88); true dog", "image": "step-00000010-00.png"}],
             [{"prompt": "a photo of sks dog", "caption": "seed 7", "image": "step-00000010-00.png"}],
             [{"prompt": "the match ended two all", "completion": "predicted: sports (0.91); true: sports"}])
    for run_id, samples in zip(ids, items, strict=True):
        folder = Path(runs.get(store, run_id).run_dir) / "samples"
        folder.mkdir(parents=True)
        path = folder / "step-00000010.json"
        path.write_text(json.dumps({"step": 10, "samples": samples}))
        artifacts.add(store, run_id, "sample", str(path), step=10)
    shown = cli("compare", *map(str, ids), "--samples")
    assert shown.code == 0, shown.err
    assert "[image step-00000010-00.png] cat.png\npredicted cat (0.88); true dog" in shown.out
    assert "[image step-00000010-00.png] a photo of sks dog\nseed 7" in shown.out
    assert "> the match ended two all\npredicted: sports (0.91); true: sports" in shown.out
    data = cli("--json", "compare", *map(str, ids), "--samples").json()
    assert [s["text"].splitlines()[-1] for s in data["samples"]] == [
        "predicted cat (0.88); true dog", "seed 7", "predicted: sports (0.91); true: sports"]
    assert data["samples"][0]["items"][0]["caption"] == "predicted cat (0.88); true dog"
    assert data["samples"][2]["items"][0]["prompt"] == "the match ended two all"
