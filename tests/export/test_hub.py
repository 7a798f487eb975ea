"""The Hub repo id of `export --push` (and the Export dialog's Push box) is checked before any work."""

from __future__ import annotations

import pytest

from spark_trainer.errors import BadInput
from spark_trainer.export.hub import check_repo_id


@pytest.mark.parametrize("repo_id", ["me/mo@del", "me/-model", "me/model..x", "me/model-", "me/model.git",
                                     "me--x/model", "model", "me/model/x", "me/ model", f"me/{'m' * 97}"])
def test_a_repo_id_the_hub_refuses_is_refused_before_the_export(repo_id, lora_run, tmp_path, capsys) -> None:
    """`export 1 --push me/mo@del` passed the early check, exported for minutes, then the push failed
    saying "run the same command again to retry", which could never work: huggingface_hub's own rules
    (validate_repo_id, offline) now refuse it first, in one line, with nothing exported."""
    from spark_trainer.cli.main import main
    from spark_trainer.store import exports
    from spark_trainer.store.store import Store

    with pytest.raises(BadInput) as refused:
        check_repo_id(repo_id)
    assert str(refused.value).startswith(f"--push {repo_id!r} is not a Hugging Face repo id")
    home, run = lora_run
    capsys.readouterr()
    code = main(["--home", str(home), "export", str(run.id), "--out", str(tmp_path / "out"), "--push", repo_id])
    out, err = capsys.readouterr()
    assert (code, out) == (2, "") and err.count("\n") == 1 and repr(repo_id) in err, err
    assert not (tmp_path / "out").exists()
    with Store.open(home) as store:
        assert exports.list_for(store, run.id) == []


@pytest.mark.parametrize("repo_id", ["me/model", "Me-2/model.v1_x", "org/a"])
def test_a_repo_id_the_hub_takes_is_taken(repo_id) -> None:
    assert check_repo_id(repo_id) == repo_id


def test_a_failed_push_says_how_to_retry_in_words_both_front_ends_can_follow() -> None:
    """The Export dialog showed "run the same command again to retry the upload": a dialog user has no
    command. Exporting again with push (the dialog's Push box, `export --push`) reuses the export."""
    from spark_trainer.export.hub import describe_failure

    line = describe_failure(ConnectionError("refused"), "huggingface.co", "me/model")
    assert line == ("cannot reach huggingface.co: refused; check the network or HF_ENDPOINT (the local export is "
                    "kept: exporting again with push retries only the upload)")
