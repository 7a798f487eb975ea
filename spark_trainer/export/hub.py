"""Push an export folder to the Hugging Face Hub (or whatever `HF_ENDPOINT` names).

The token comes from the keyring or `HF_TOKEN` (spark_trainer.secrets) and is handed to
huggingface_hub in memory only: it is never written to the export, the database or a log.
Failures become one line: which host, what went wrong, what to do.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from spark_trainer.errors import BadInput, OperationFailed

DEFAULT_ENDPOINT = "https://huggingface.co"
Progress = Callable[[str, int, int], None]  # (phase, done, total)
# huggingface_hub's shared HTTP client has no timeout at all: an endpoint that took the connection and
# never answered held a push at "creating repository" for good. These bound each single wait (to connect,
# for the server's next bytes, for room to send the next chunk), not a request's whole time, so a slow
# upload of large weights that keeps moving is never cut off; a commit the Hub takes a while to answer is
# given two minutes.
CONNECT_TIMEOUT_S = 30.0
WAIT_TIMEOUT_S = 120.0
_TIMEOUTS_SET = threading.Lock()


@dataclass(frozen=True)
class Pushed:
    repo_id: str
    url: str
    commit_url: str
    files: list[str]
    private: bool


def endpoint() -> str:
    """`HF_ENDPOINT` read now (huggingface_hub reads it once, at import)."""
    return (os.environ.get("HF_ENDPOINT") or DEFAULT_ENDPOINT).rstrip("/")


def shown(text: str) -> str:
    """`text` with the endpoint's user:password (`http://me:secret@host`) masked: for every line that shows
    the endpoint, a URL built on it, or an error quoting either."""
    userinfo = urlsplit(endpoint()).netloc.rpartition("@")[0]
    return text.replace(f"{userinfo}@", "***@") if userinfo else text


def shown_endpoint() -> str:
    """The endpoint as it may be shown (its userinfo masked)."""
    return shown(endpoint())


def check_repo_id(repo_id: str) -> str:
    """`repo_id` if the Hub would take it as a model repo (namespace/name): huggingface_hub's own rules
    (`validate_repo_id`, offline), checked before an export starts, as a refused push could never be
    retried into success.

    Raises:
        BadInput: one line saying what is wrong with it.
    """
    from huggingface_hub.utils import HFValidationError, validate_repo_id

    parts = repo_id.split("/")
    why = "it needs one '/' between a namespace and a name" if len(parts) != 2 or not all(parts) else None
    if why is None:
        try:
            validate_repo_id(repo_id)
        except HFValidationError as exc:
            why = str(exc).removesuffix(f": '{repo_id}'.").removesuffix(".")
    if why is not None:
        raise BadInput(f"--push {repo_id!r} is not a Hugging Face repo id ({why}); use one like your-name/model-name")
    return repo_id


def push_folder(folder: Path, repo_id: str, *, private: bool = False, progress: Progress | None = None,
                message: str = "Upload model exported by SparkTrainer") -> Pushed:
    """Create the model repo if needed and commit every file of `folder` in one commit.

    Raises:
        BadInput: a malformed repo id.
        OperationFailed: no token, or the host could not be reached / refused (one line).
    """
    from spark_trainer.secrets import HF_TOKEN_ENV, hf_token

    check_repo_id(repo_id)
    token, source = hf_token()
    host = shown(urlsplit(endpoint()).netloc or endpoint())
    if not token:
        raise OperationFailed(f"no Hugging Face token to push to {host}: save one in Settings or with "
                              f"`spark-trainer token set` (kept in the OS keyring), or set {HF_TOKEN_ENV}; "
                              "the export is kept")
    notify = progress or (lambda _phase, _done, _total: None)
    files = sorted(p for p in Path(folder).rglob("*") if p.is_file())
    try:
        from huggingface_hub import CommitOperationAdd, HfApi

        set_timeouts()
        api = HfApi(endpoint=endpoint(), token=token)
        notify("creating repository", 0, len(files))
        repo_url = api.create_repo(repo_id, private=private, exist_ok=True, repo_type="model")
        operations = []
        for i, path in enumerate(files):
            # Hashing happens here (it can take a while for large weights): report per file.
            operations.append(CommitOperationAdd(path_in_repo=path.relative_to(folder).as_posix(),
                                                 path_or_fileobj=str(path)))
            notify("preparing files", i + 1, len(files))
        notify("uploading", 0, len(files))
        commit = api.create_commit(repo_id, operations, commit_message=message, repo_type="model")
        notify("uploaded", len(files), len(files))
    except Exception as exc:  # noqa: BLE001 - network/HTTP/library errors all become one actionable line
        raise OperationFailed(describe_failure(exc, host, repo_id, source)) from exc
    return Pushed(repo_id=repo_id, url=shown(str(repo_url)), commit_url=shown(commit.commit_url),
                  files=[p.relative_to(folder).as_posix() for p in files], private=private)


def set_timeouts() -> None:
    """Give huggingface_hub's shared client our timeouts when it has none (its default); a client that
    has some (set by whoever embeds us) is left alone, and so is one a push in another thread uses."""
    from huggingface_hub import get_session, set_client_factory
    from huggingface_hub.utils._http import default_client_factory  # the library's own client, hooks and all

    def timed() -> object:
        client = default_client_factory()
        client.timeout = type(client.timeout)(WAIT_TIMEOUT_S, connect=CONNECT_TIMEOUT_S)
        return client

    with _TIMEOUTS_SET:
        if get_session().timeout.read is None:
            set_client_factory(timed)


def describe_failure(exc: BaseException, host: str, repo_id: str, source: str = "env") -> str:
    """One line for a failed push; never includes the token (only status codes and server messages) nor the
    endpoint's userinfo. `source` ("keyring" or "env") names the token that was used, and the way out: a
    saved token is used before HF_TOKEN, so setting HF_TOKEN cannot fix a bad saved one."""
    return shown(_describe(exc, host, repo_id, source))


def _token_advice(source: str) -> tuple[str, str]:
    """The token used, in words, and what replaces it."""
    if source == "keyring":
        return ("the token saved in the OS keyring",
                "save a new one (Settings, or `spark-trainer token set`), or remove it (Settings ▸ Remove, or "
                "`spark-trainer token remove`) so HF_TOKEN is used")
    return "the token from HF_TOKEN", "set HF_TOKEN to a new token, or save one (Settings, or `spark-trainer token set`)"


def _describe(exc: BaseException, host: str, repo_id: str, source: str) -> str:
    from huggingface_hub.errors import HfHubHTTPError, OfflineModeIsEnabled

    # huggingface_hub's HTTP client (httpx, or its fork httpx2 in 2.x) is matched by class name, so
    # this does not depend on which one is installed.
    names = {cls.__name__ for cls in type(exc).__mro__}
    keep = "the local export is kept: exporting again with push retries only the upload"  # CLI and Export dialog
    if isinstance(exc, OfflineModeIsEnabled):
        return f"cannot push to {host}: HF_HUB_OFFLINE is set; unset it and retry ({keep})"
    if names & {"ConnectError", "ConnectTimeout"} or isinstance(exc, ConnectionError):
        return f"cannot reach {host}: {_first_line(exc) or 'connection failed'}; check the network or HF_ENDPOINT ({keep})"
    if "TimeoutException" in names or isinstance(exc, TimeoutError):
        return (f"{host} stopped answering (nothing for {WAIT_TIMEOUT_S:.0f} s); check the network and HF_ENDPOINT, "
                f"then retry ({keep})")
    if isinstance(exc, HfHubHTTPError) and exc.response is not None:
        status = exc.response.status_code
        used, fix = _token_advice(source)
        what = {401: f"rejected {used} (401 Unauthorized): {fix}",
                403: f"refused {used} access to {repo_id} (403 Forbidden): it needs write access to that namespace; "
                     f"{fix}",
                404: f"does not know {repo_id} (404 Not Found): check the repo id and the token's namespace"}
        reason = what.get(status, f"answered {status}: {_first_line(exc)}")
        return f"{host} {reason} ({keep})"
    return f"push to {host} failed: {type(exc).__name__}: {_first_line(exc)} ({keep})"


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else ""
