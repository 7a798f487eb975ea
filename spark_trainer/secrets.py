"""The Hugging Face token: kept in the OS keyring (through `keyring`), with `HF_TOKEN` as a fallback.

The token never goes into the database, the config files or the logs. A saved token is used before
`HF_TOKEN`. Where no secure keyring backend exists (a headless Linux box without Secret Service, or only
a plaintext-file backend such as keyrings.alt's), saving fails with a message that says what to do
instead, and reading falls back to the `HF_TOKEN` environment variable; so does reading when the keyring
fails (a locked collection, say).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace

from spark_trainer.errors import BadInput, OperationFailed

SERVICE = "SparkTrainer"
HF_TOKEN_KEY = "huggingface-token"
HF_TOKEN_ENV = "HF_TOKEN"
TOKEN_PREFIX = "hf_"

NO_BACKEND_HELP = (
    "no OS keyring is available to keep the token safely on this system, so it cannot be saved; "
    "set the HF_TOKEN environment variable instead (or install a keyring service such as "
    "GNOME Keyring / KWallet)"
)
NO_TOKEN = ("no token saved and HF_TOKEN is not set: a push to the Hub fails until you save one "
            "(Settings, or `spark-trainer token set`) or set HF_TOKEN")
SOURCE_WORDS = {"keyring": "the token saved in the OS keyring", "env": f"the token from {HF_TOKEN_ENV}"}


@dataclass(frozen=True)
class KeyringInfo:
    """Whether a usable (secure) keyring backend exists, its name (for the settings page), and, when it is
    not usable, why."""

    available: bool
    backend: str
    why: str = ""

    @property
    def help(self) -> str:
        """What to do when it is not usable, naming the backend that was found."""
        return f"{self.why}; {NO_BACKEND_HELP}" if self.why else NO_BACKEND_HELP


@dataclass(frozen=True)
class TokenStatus:
    """Where the token would come from, without the token itself."""

    source: str  # "keyring", "env" or "none"
    masked: str  # "hf_…x1y2", or "" when there is no token
    keyring: KeyringInfo
    keyring_error: str = ""  # the keyring failed when read: the environment answered instead
    note: str = ""  # a warning about the token just saved (it does not start with hf_)

    @property
    def message(self) -> str:
        failed = f"the OS keyring could not be read ({self.keyring_error}); " if self.keyring_error else ""
        note = f"; {self.note}" if self.note else ""
        if self.source == "keyring":
            return f"token {self.masked} saved in the OS keyring ({self.keyring.backend}){note}"
        if self.source == "env":
            return f"{failed}token {self.masked} taken from the {HF_TOKEN_ENV} environment variable"
        if not self.keyring.available:
            return f"no token; {self.keyring.help}"
        if failed:
            return (f"{failed}{HF_TOKEN_ENV} is not set either: a push to the Hub fails until the keyring can be "
                    f"read or {HF_TOKEN_ENV} is set")
        return NO_TOKEN


def _insecure(backend: object) -> str:
    """Why `backend` is not a secure store for the token, or "" when it is."""
    from keyring.backends import fail, null

    cls = type(backend)
    name = f"{cls.__module__}.{cls.__name__}"
    if isinstance(backend, fail.Keyring):
        return f"keyring found no backend ({name})"
    if isinstance(backend, null.Keyring):
        return f"the keyring backend found, {name}, stores nothing"
    doc = (cls.__doc__ or "").lower()
    plaintext = ("plaintext" in cls.__name__.lower() or getattr(cls, "encrypted", True) is False
                 or any(words in doc for words in ("no encryption", "not encrypted", "unencrypted", "plaintext")))
    if plaintext or cls.__module__.startswith("keyrings.alt.file"):
        return f"the keyring backend found, {name}, keeps secrets in a file, not a secure OS keyring, so it is not used"
    return ""


def _backend() -> tuple[object, str]:
    """The backend the token goes to, and why it is unusable ("" when usable). A chainer backend is
    narrowed to its first secure member, so a failing desktop keyring never falls through to a file."""
    import keyring

    try:
        backend = keyring.get_keyring()
    except Exception as exc:  # noqa: BLE001 - any backend failure is reported in one line
        return None, f"the OS keyring failed: {_first_line(exc)}"
    chained = getattr(backend, "backends", None)
    if type(backend).__name__ == "ChainerBackend" and isinstance(chained, list):
        secure = [b for b in chained if not _insecure(b)]
        if secure:
            return secure[0], ""
        return backend, (_insecure(chained[0]) if chained else f"keyring found no backend ({_name(backend)})")
    return backend, _insecure(backend)


def _name(backend: object) -> str:
    return f"{type(backend).__module__}.{type(backend).__name__}" if backend is not None else "none"


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0]}" if text else type(exc).__name__


def keyring_info() -> KeyringInfo:
    """The keyring backend used; `available` is False for keyring's 'fail' and 'null' backends and for
    plaintext-file backends."""
    backend, why = _backend()
    return KeyringInfo(available=not why, backend=_name(backend), why=why)


def mask(token: str) -> str:
    """A token shown safely: its first 3 and last 4 characters."""
    if len(token) <= 8:
        return "…" * min(len(token), 3)
    return f"{token[:3]}…{token[-4:]}"


def _stored() -> tuple[str | None, str]:
    """The saved token, and the keyring's failure ("" when it answered)."""
    backend, why = _backend()
    if why:
        return None, ""
    try:
        return backend.get_password(SERVICE, HF_TOKEN_KEY), ""  # type: ignore[union-attr]
    except Exception as exc:  # noqa: BLE001 - a locked or broken keyring: fall back to HF_TOKEN
        return None, _first_line(exc)


def _env() -> str:
    return os.environ.get(HF_TOKEN_ENV, "").strip()


def hf_token() -> tuple[str | None, str]:
    """The token and where it came from: the keyring ("keyring"), else `HF_TOKEN` ("env"), else (None, "none")."""
    token, _failed = _stored()
    if token:
        return token, "keyring"
    return (_env(), "env") if _env() else (None, "none")


def get_hf_token() -> str | None:
    """The token from the keyring, else from `HF_TOKEN`, else None."""
    return hf_token()[0]


def token_status() -> TokenStatus:
    info = keyring_info()
    stored, failed = _stored() if info.available else (None, "")
    if stored:
        return TokenStatus("keyring", mask(stored), info)
    env = _env()
    if env:
        return TokenStatus("env", mask(env), info, keyring_error=failed)
    return TokenStatus("none", "", info, keyring_error=failed)


def check_token(text: str) -> str:
    """The token in `text` (surrounding blank lines and spaces removed).

    Raises:
        BadInput: text that is plainly not a token (one line, never repeating it).
    """
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines:
        raise BadInput("the Hugging Face token is empty")
    if len(lines) > 1:
        raise BadInput(f"that is {len(lines)} lines of text, not a token; give only the token (hf_…), "
                       "nothing was saved")
    token = lines[0]
    if "=" in token:
        raise BadInput("that looks like NAME=value (an .env line?), not a token; give only the token (hf_…), "
                       "nothing was saved")
    if any(ch in token for ch in "\"'`"):
        raise BadInput("the Hugging Face token contains quotes; give it without them, nothing was saved")
    if any(ch.isspace() for ch in token):
        raise BadInput("the Hugging Face token contains spaces; paste it again without them")
    return token


def _keyring_failed(exc: BaseException, doing: str) -> OperationFailed:
    env = f"; {HF_TOKEN_ENV} is set and is used meanwhile" if _env() else ""
    return OperationFailed(f"the OS keyring failed: {_first_line(exc)} (the token was not {doing}){env}")


def set_hf_token(token: str) -> TokenStatus:
    """Save the token in the OS keyring.

    Raises:
        BadInput: the text is empty or plainly not a token (see `check_token`).
        OperationFailed: no secure keyring backend exists, or the keyring failed.
    """
    cleaned = check_token(token)
    backend, why = _backend()
    if why:
        if _env():
            raise OperationFailed(f"{why}, so the token cannot be saved; "
                                  f"{HF_TOKEN_ENV} is set (token {mask(_env())}) and is used for pushes")
        raise OperationFailed(KeyringInfo(False, _name(backend), why).help)
    try:
        backend.set_password(SERVICE, HF_TOKEN_KEY, cleaned)  # type: ignore[union-attr]
    except Exception as exc:  # noqa: BLE001 - KeyringError or a backend's own (a locked collection)
        raise _keyring_failed(exc, "saved") from exc
    status = token_status()
    if not cleaned.startswith(TOKEN_PREFIX):
        note = f"warning: Hugging Face tokens start with {TOKEN_PREFIX}, this one does not; check it was copied whole"
        status = replace(status, note=note)
    return status


def delete_hf_token() -> TokenStatus:
    """Remove the saved token (the `HF_TOKEN` variable, if set, still applies)."""
    from keyring.errors import PasswordDeleteError

    backend, why = _backend()
    if not why:
        try:
            backend.delete_password(SERVICE, HF_TOKEN_KEY)  # type: ignore[union-attr]
        except PasswordDeleteError:
            pass  # nothing was saved: the wanted end state already holds
        except Exception as exc:  # noqa: BLE001 - KeyringError or a backend's own
            raise _keyring_failed(exc, "removed") from exc
    return token_status()
