"""`spark-trainer export` (spark_trainer/cli/export.py): its options' checks, before anything is exported.
The exports themselves are tested in tests/export/."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.export.conftest import lora_run, tiny_model  # noqa: F401 - fixtures: a trained tiny LoRA run


def test_private_without_push_is_refused_before_anything_is_exported(cli, home: Path) -> None:
    # `export 3 --private` exported (or said "already exported") and said nothing of --private, which only
    # makes the repo of a --push private: a user meaning to push privately got a local folder alone.
    refused = cli("export", "1", "--private")
    assert refused.code == 2
    assert refused.err == "error: --private makes the Hub repo of --push private; add --push REPO_ID\n"
    assert not (home / "exports").exists() or not any((home / "exports").iterdir())
    as_json = cli("--json", "export", "1", "--private")
    assert as_json.code == 2 and as_json.json()["error"].startswith("--private makes")


def test_list_with_export_options_is_refused(cli) -> None:
    # `export 3 --list --merge` listed the exports and dropped --merge.
    refused = cli("export", "1", "--list", "--merge", "--out", "x")
    assert refused.code == 2 and refused.err == "error: --list lists the run's exports; leave out --merge, --out\n"


@pytest.mark.parametrize("signum", ["SIGTERM", "SIGHUP"])
def test_export_told_to_stop_or_left_by_its_terminal_cleans_up_like_ctrl_c(
        signum, lora_run, tmp_path, capsys, monkeypatch) -> None:  # noqa: F811
    """`kill -TERM` during `export 1 --merge --out DIR` (or its terminal closing) ended it at once, exit
    143, and left the hidden `.staging-*` folder beside DIR; Ctrl-C removed it. The signal arrives while
    the staging folder is being filled; the process's default action (death) is stood in for by a
    handler that fails the command, so the old code fails this test without ending the test run."""
    import os
    import signal

    from spark_trainer.cli.main import main
    from spark_trainer.export import model_card
    from spark_trainer.store import exports
    from spark_trainer.store.store import Store

    sig = getattr(signal, signum)
    home, run = lora_run
    write_card = model_card.write

    def card_then_signal(*args, **kwargs):
        write_card(*args, **kwargs)
        os.kill(os.getpid(), sig)  # its handler runs here, in the main thread, at the next bytecode
        raise AssertionError(f"{signum} did not stop the export")

    def default_action(_signum, _frame):
        raise RuntimeError(f"{signum} took its default action: the process would have died here")

    monkeypatch.setattr(model_card, "write", card_then_signal)
    before = signal.signal(sig, default_action)
    try:
        capsys.readouterr()
        code = main(["--home", str(home), "export", str(run.id), "--merge", "--out", str(tmp_path / "out")])
    finally:
        signal.signal(sig, before)
    err = capsys.readouterr().err
    assert code == 130 and "error: interrupted" in err, (code, err)
    assert [p.name for p in tmp_path.iterdir()] == []  # neither DIR nor its .staging-* folder
    assert not list(Path(run.run_dir).glob(".pinned-*"))
    with Store.open(home) as store:
        assert exports.list_for(store, run.id) == []


def test_list_marks_an_export_whose_folder_was_deleted_and_keeps_its_record(store, cli, tmp_path) -> None:
    # `export 1 --list` showed an export whose folder the user had deleted as if it were there.
    from spark_trainer.store import experiments, exports, projects, runs

    projects.create(store, "p")
    exp = experiments.create(store, project="p", name="e", recipe="causal-lm", base_model="m", dataset=None,
                             config={})
    run = runs.create(store, exp.id, requested_gpus="cpu")
    kept, gone = tmp_path / "kept", tmp_path / "gone"
    kept.mkdir()
    exports.add(store, run.id, step=5, options={"kind": "adapter", "dtype": "fp32"}, path=str(kept))
    exports.add(store, run.id, step=9, options={"kind": "merged", "dtype": "fp32"}, path=str(gone))

    listed = cli("export", str(run.id), "--list")
    assert listed.code == 0, listed.err
    lines = listed.out.splitlines()
    assert lines[1].endswith(f"{gone} (folder missing)  -")  # newest first; its hub column "-"
    assert lines[2].split()[-2:] == [str(kept), "-"]
    as_json = cli("--json", "export", str(run.id), "--list").json()
    assert [(e["path"], e["folder_missing"]) for e in as_json] == [(str(gone), True), (str(kept), False)]
    assert len(exports.list_for(store, run.id)) == 2  # the record stays
