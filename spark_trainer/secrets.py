"""The Hugging Face token: kept in the OS keyring (through `keyring`), with `HF_TOKEN` as a fallback.

The token never goes into the database, the config files or the logs. Where no keyring backend
exists (a headless Linux box without Secret Service, say), saving fails with a message that says
what to do instead, and reading falls back to the `HF_TOKEN` environment variable.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from spark_trainer.errors import BadInput, OperationFailed

SERVICE = "SparkTrainer"
HF_TOKEN_KEY = "huggingface-token"
HF_TOKEN_ENV = "HF_TOKEN"

NO_BACKEND_HELP = (
    "no OS keyring is available on this system, so the token cannot be saved securely; "
    "set the HF_TOKEN environment variable instead (or install a keyring service such as "
    "GNOME Keyring / KWallet, or the `keyrings.alt` package)"
)


@dataclass(frozen=True)
class KeyringInfo:
    """Whether a usable keyring backend exists, and its name (for the settings page)."""

    available: bool
    backend: str


@dataclass(frozen=True)
class TokenStatus:
    """Where the token would come from, without the token itself."""

    source: str  # "keyring", "env" or "none"
    masked: str  # "hf_…x1y2", or "" when there is no token
    keyring: KeyringInfo

    @property
    def message(self) -> str:
        if self.source == "keyring":
            return f"token {self.masked} saved in the OS keyring ({self.keyring.backend})"
        if self.source == "env":
            return f"token {self.masked} taken from the {HF_TOKEN_ENV} environment variable"
        if not self.keyring.available:
            return f"no token; {NO_BACKEND_HELP}"
        return "no token saved; exports to the Hub will ask for one"


def keyring_info() -> KeyringInfo:
    """The active keyring backend; `available` is False for keyring's 'fail' and 'null' backends."""
    import keyring
    from keyring.backends import fail, null

    backend = keyring.get_keyring()
    name = f"{type(backend).__module__}.{type(backend).__name__}"
    unusable = isinstance(backend, (fail.Keyring, null.Keyring))
    return KeyringInfo(available=not unusable, backend=name)


def mask(token: str) -> str:
    """A token shown safely: its first 3 and last 4 characters."""
    if len(token) <= 8:
        return "…" * min(len(token), 3)
    return f"{token[:3]}…{token[-4:]}"


def _stored() -> str | None:
    import keyring
    from keyring.errors import KeyringError

    if not keyring_info().available:
        return None
    try:
        return keyring.get_password(SERVICE, HF_TOKEN_KEY)
    except KeyringError:
        return None


def get_hf_token() -> str | None:
    """The token from the keyring, else from `HF_TOKEN`, else None."""
    token = _stored()
    if token:
        return token
    env = os.environ.get(HF_TOKEN_ENV, "").strip()
    return env or None


def token_status() -> TokenStatus:
    info = keyring_info()
    stored = _stored() if info.available else None
    if stored:
        return TokenStatus("keyring", mask(stored), info)
    env = os.environ.get(HF_TOKEN_ENV, "").strip()
    if env:
        return TokenStatus("env", mask(env), info)
    return TokenStatus("none", "", info)


def set_hf_token(token: str) -> TokenStatus:
    """Save the token in the OS keyring.

    Raises:
        BadInput: the token is empty or contains whitespace.
        OperationFailed: no keyring backend exists, or the keyring refused the write.
    """
    import keyring
    from keyring.errors import KeyringError

    cleaned = token.strip()
    if not cleaned:
        raise BadInput("the Hugging Face token is empty")
    if any(ch.isspace() for ch in cleaned):
        raise BadInput("the Hugging Face token contains spaces; paste it again without them")
    if not keyring_info().available:
        raise OperationFailed(NO_BACKEND_HELP)
    try:
        keyring.set_password(SERVICE, HF_TOKEN_KEY, cleaned)
    except KeyringError as exc:
        raise OperationFailed(f"the OS keyring refused to save the token: {exc}") from exc
    return token_status()


def delete_hf_token() -> TokenStatus:
    """Remove the saved token (the `HF_TOKEN` variable, if set, still applies)."""
    import keyring
    from keyring.errors import KeyringError, PasswordDeleteError

    if keyring_info().available:
        try:
            keyring.delete_password(SERVICE, HF_TOKEN_KEY)
        except PasswordDeleteError:
            pass  # nothing was saved: the wanted end state already holds
        except KeyringError as exc:
            raise OperationFailed(f"the OS keyring refused to delete the token: {exc}") from exc
    return token_status()
