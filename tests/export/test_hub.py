"""The Hub repo id of `export --push` (and the Export dialog's Push box) is checked before any work; a push
to an endpoint that stops answering ends in one line."""

from __future__ import annotations

from pathlib import Path

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


def _http_error(status: int):
    try:  # huggingface_hub 2.x's HTTP client, else 1.x's
        import httpx2 as httpx
    except ImportError:
        import httpx
    from huggingface_hub.errors import HfHubHTTPError

    response = httpx.Response(status, request=httpx.Request("POST", "https://huggingface.co/api/repos/create"))
    return HfHubHTTPError("refused", response=response)


def test_a_rejected_token_is_named_by_where_it_came_from_with_the_way_out() -> None:
    """Seen: a saved keyring token is used before HF_TOKEN, yet a 401 said "... or set HF_TOKEN"."""
    from spark_trainer.export.hub import describe_failure

    saved = describe_failure(_http_error(401), "huggingface.co", "me/model", "keyring")
    assert "the token saved in the OS keyring" in saved and "`spark-trainer token remove`" in saved
    assert "Settings ▸ Remove" in saved
    env = describe_failure(_http_error(403), "huggingface.co", "me/model", "env")
    assert "the token from HF_TOKEN" in env and "403 Forbidden" in env and "token remove" not in env


def test_an_endpoints_password_is_never_shown(monkeypatch) -> None:
    """Seen: HF_ENDPOINT=http://me:SECRET@host:9 printed "cannot reach me:SECRET@127.0.0.1:9"."""
    from spark_trainer.export import hub

    monkeypatch.setenv("HF_ENDPOINT", "http://me:SECRET@127.0.0.1:9")
    line = hub.describe_failure(ConnectionError("http://me:SECRET@127.0.0.1:9/api refused"), "me:SECRET@127.0.0.1:9",
                                "me/model")
    assert "SECRET" not in line and "cannot reach ***@127.0.0.1:9" in line
    assert hub.shown_endpoint() == "http://***@127.0.0.1:9"


@pytest.fixture
def hub_client():
    """huggingface_hub's shared client as the library makes it (no timeouts) before and after the test:
    the client is process-wide, and push_folder gives it timeouts once."""
    from huggingface_hub import set_client_factory
    from huggingface_hub.utils._http import default_client_factory

    set_client_factory(default_client_factory)
    yield
    set_client_factory(default_client_factory)


def _pushable(tmp_path: Path, monkeypatch) -> Path:
    folder = tmp_path / "export"
    folder.mkdir()
    (folder / "README.md").write_text("card")
    (folder / "adapter_model.safetensors").write_bytes(b"\0" * 4096)
    monkeypatch.setenv("HF_TOKEN", "hf_testtokenABCDEF0123456789xyz")
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")
    from huggingface_hub import constants

    # The tests' environment is offline (tests/conftest.py), and huggingface_hub read that at its import.
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    return folder


def test_an_endpoint_that_never_answers_fails_in_one_line(hub_client, tmp_path, monkeypatch) -> None:
    """Seen in a fault walk: an endpoint that took the connection and never answered held `export --push` at
    "creating repository (0/8)" until it was killed: huggingface_hub's client waits forever by default."""
    import threading

    from spark_trainer.export import hub
    from tests.export.hub_server import SilentServer

    folder = _pushable(tmp_path, monkeypatch)
    monkeypatch.setattr(hub, "WAIT_TIMEOUT_S", 1.0, raising=False)
    raised: list[BaseException] = []

    def push() -> None:
        try:
            hub.push_folder(folder, "me/model")
        except BaseException as exc:  # noqa: BLE001 - handed to the test's thread
            raised.append(exc)

    with SilentServer() as silent:
        monkeypatch.setenv("HF_ENDPOINT", silent.url)
        pushing = threading.Thread(target=push, daemon=True)
        pushing.start()
        pushing.join(timeout=30)
        assert not pushing.is_alive(), "the push still waits on a server that never answers"
    host = silent.url.removeprefix("http://")
    assert [str(e) for e in raised] == [
        f"{host} stopped answering (nothing for 1 s); check the network and HF_ENDPOINT, then retry (the local "
        "export is kept: exporting again with push retries only the upload)"]


def test_a_slow_endpoint_that_keeps_answering_is_not_cut_off(hub_client, tmp_path, monkeypatch) -> None:
    """The timeout bounds each wait for the server's next bytes, not a request's whole time."""
    from spark_trainer.export import hub
    from tests.export.hub_server import FakeHub

    folder = _pushable(tmp_path, monkeypatch)
    monkeypatch.setattr(hub, "WAIT_TIMEOUT_S", 0.6)
    with FakeHub(drip_s=0.25) as slow:  # each answer takes 1 s, in pieces 0.25 s apart
        monkeypatch.setenv("HF_ENDPOINT", slow.url)
        pushed = hub.push_folder(folder, "me/model")
    assert pushed.url == f"{slow.url}/me/model"
    assert sorted(slow.received.commits[0]["files"]) == ["README.md", "adapter_model.safetensors"]
