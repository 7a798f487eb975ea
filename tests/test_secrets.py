"""spark_trainer.secrets with fake keyring backends (never the tester's keyring): text that is plainly not a
token is refused, a failing or plaintext backend is not used, and the messages say what really happens."""

from __future__ import annotations

import keyring
import pytest
from keyring.backend import KeyringBackend
from keyring.backends import fail

from spark_trainer import secrets
from spark_trainer.errors import BadInput, OperationFailed
from tests.memory_keyring import MemoryKeyring

TOKEN = "hf_TestTokenValue1234567890abcd"


class Locked(KeyringBackend):
    """Secret Service with a locked collection: raises its own error, not a KeyringError."""

    priority = 1  # type: ignore[assignment]

    def get_password(self, *_args: str) -> str | None:
        raise RuntimeError("org.freedesktop.Secret.Error.IsLocked: collection is locked")

    set_password = delete_password = get_password  # type: ignore[assignment]


class PlaintextKeyring(MemoryKeyring):
    """Simple File Keyring with no encryption (as keyrings.alt.file.PlaintextKeyring says of itself)."""


@pytest.fixture
def use(monkeypatch):
    monkeypatch.delenv("HF_TOKEN", raising=False)
    previous = keyring.get_keyring()

    def set_backend(backend: KeyringBackend) -> KeyringBackend:
        keyring.set_keyring(backend)
        return backend

    yield set_backend
    keyring.set_keyring(previous)


@pytest.mark.parametrize("text, why", [
    ("HF_ENDPOINT=https://huggingface.co\nHF_TOKEN=hf_x\n", "2 lines"),
    (f"HF_TOKEN={TOKEN}", "NAME=value"),
    (f'"{TOKEN}"', "quotes"),
    (f"'{TOKEN}'", "quotes"),
    ("hf_ab cd", "spaces"),
])
def test_text_that_is_plainly_not_a_token_is_refused_and_nothing_saved(use, text, why):
    backend = use(MemoryKeyring())
    with pytest.raises(BadInput) as refused:
        secrets.set_hf_token(text)
    assert why in str(refused.value) and "\n" not in str(refused.value) and TOKEN not in str(refused.value)
    assert backend.items == {}


def test_a_token_without_hf_prefix_is_saved_with_a_warning(use):
    backend = use(MemoryKeyring())
    status = secrets.set_hf_token("\n  abcdefghijkl1234\n\n")
    assert backend.items == {(secrets.SERVICE, secrets.HF_TOKEN_KEY): "abcdefghijkl1234"}
    assert "start with hf_" in status.message
    assert "start with hf_" not in secrets.set_hf_token(TOKEN).message


def test_a_keyring_failing_with_its_own_error_is_one_line_and_reading_falls_back(use, monkeypatch):
    use(Locked())
    for act in (lambda: secrets.set_hf_token(TOKEN), secrets.delete_hf_token):
        with pytest.raises(OperationFailed) as failed:
            act()
        assert str(failed.value).startswith("the OS keyring failed: RuntimeError: org.freedesktop")
    assert secrets.get_hf_token() is None
    assert "could not be read" in secrets.token_status().message
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    assert secrets.hf_token() == (TOKEN, "env")
    status = secrets.token_status()
    assert status.source == "env" and status.message.startswith("the OS keyring could not be read (RuntimeError")


def test_a_plaintext_file_backend_is_not_a_keyring(use):
    backend = use(PlaintextKeyring())
    info = secrets.keyring_info()
    assert not info.available and "PlaintextKeyring" in info.why and "file" in info.why
    with pytest.raises(OperationFailed) as failed:
        secrets.set_hf_token(TOKEN)
    assert "PlaintextKeyring" in str(failed.value)
    assert backend.items == {}
    assert "keyrings.alt" not in secrets.NO_BACKEND_HELP


def test_no_token_says_a_push_fails_rather_than_asks(use):
    use(MemoryKeyring())
    message = secrets.token_status().message
    assert "ask" not in message and "push to the Hub fails" in message and "HF_TOKEN" in message


def test_with_hf_token_set_and_no_keyring_set_says_it_is_used(use, monkeypatch):
    use(fail.Keyring())
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    with pytest.raises(OperationFailed) as failed:
        secrets.set_hf_token("hf_another0000000000")
    assert "HF_TOKEN is set" in str(failed.value) and "instead" not in str(failed.value)
    assert TOKEN not in str(failed.value)
