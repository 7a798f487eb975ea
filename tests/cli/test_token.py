"""`token show|set|remove`: the Hugging Face token as Settings' "Save in keyring" / "Remove" keep it,
in separate real `spark-trainer` processes sharing one (file-backed) keyring; the checks of one command's
input and output run it in this process (`token_cli`), each `spark-trainer` process costing ~2 CPU-s."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import spark_trainer_exe, subprocess_env

TOKEN = "hf_abcdefghijklmnop1234"
ROOT = Path(__file__).resolve().parents[2]


def _run(tmp_path: Path, *args: str, stdin: str = "", backend: str = "tests.cli.file_keyring.FileKeyring",
         **env: str) -> subprocess.CompletedProcess[str]:
    environ = subprocess_env(PYTHON_KEYRING_BACKEND=backend, SPARK_TEST_KEYRING_FILE=str(tmp_path / "keyring.json"),
                             PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]), **env)
    if "HF_TOKEN" not in env:
        environ.pop("HF_TOKEN", None)  # a token in the tester's environment must not answer for the keyring
    return subprocess.run([spark_trainer_exe(), "--home", str(tmp_path / "home"), *args], input=stdin,
                          capture_output=True, text=True, env=environ, timeout=60)


@pytest.fixture
def token_cli(cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """`spark-trainer token ...` in this process, as `_run` runs it: the keyring the file-backed one (or keyring's
    'fail' backend, `fail=True`), the token piped to stdin, no HF_TOKEN in the environment."""
    import io

    import keyring
    from keyring.backends import fail as fail_backend

    from tests.cli.file_keyring import FileKeyring

    monkeypatch.setenv("SPARK_TEST_KEYRING_FILE", str(tmp_path / "keyring.json"))
    monkeypatch.delenv("HF_TOKEN", raising=False)
    previous = keyring.get_keyring()

    def run(*args: str, stdin: str = "", fail: bool = False):
        keyring.set_keyring(fail_backend.Keyring() if fail else FileKeyring())
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
        return cli(*args)

    yield run
    keyring.set_keyring(previous)


def test_set_show_remove_round_trip_without_ever_printing_the_token(tmp_path: Path) -> None:
    none = _run(tmp_path, "token")
    assert (none.returncode, none.stdout.strip()) == (0, "no token saved and HF_TOKEN is not set: a push to the Hub "
                                                      "fails until you save one (Settings, or `spark-trainer token "
                                                      "set`) or set HF_TOKEN")
    saved = _run(tmp_path, "token", "set", stdin=TOKEN + "\n")  # piped, as from a file
    assert saved.returncode == 0, saved.stderr
    assert saved.stdout.strip().startswith("token hf_…1234 saved in the OS keyring (tests.cli.file_keyring")
    assert json.loads((tmp_path / "keyring.json").read_text()) == {"SparkTrainer/huggingface-token": TOKEN}
    shown = _run(tmp_path, "--json", "token", "show")
    assert json.loads(shown.stdout) == {"source": "keyring", "masked": "hf_…1234",
                                        "keyring": "tests.cli.file_keyring.FileKeyring", "keyring_available": True,
                                        "keyring_error": "", "note": ""}
    # The environment variable is the fallback only: the saved token wins, then applies once removed.
    removed = _run(tmp_path, "token", "remove", HF_TOKEN="hf_fromtheenvironment9876")
    assert removed.returncode == 0 and "removed; now: token hf_…9876 taken from the HF_TOKEN" in removed.stdout
    assert json.loads((tmp_path / "keyring.json").read_text()) == {}
    again = _run(tmp_path, "token", "remove")  # nothing saved: still the wanted end state, said so
    assert again.returncode == 0 and again.stdout.startswith("no token was saved in the OS keyring; now: "), again.stdout
    for done in (none, saved, shown, removed):
        assert TOKEN not in done.stdout + done.stderr


def test_bad_tokens_and_a_missing_keyring_are_one_line(tmp_path: Path, token_cli) -> None:
    empty = token_cli("token", "set", stdin="\n")
    assert (empty.code, empty.err) == (2, "error: the Hugging Face token is empty\n")
    spaced = token_cli("token", "set", stdin="hf_ab cd\n")
    assert spaced.code == 2 and "contains spaces" in spaced.err and spaced.err.count("\n") == 1
    assert not (tmp_path / "keyring.json").exists()
    nowhere = token_cli("token", "set", stdin=TOKEN, fail=True)
    assert nowhere.code == 1 and nowhere.err.count("\n") == 1
    assert "no OS keyring is available" in nowhere.err and "HF_TOKEN" in nowhere.err


def test_remove_with_no_keyring_does_not_claim_it_removed_anything(token_cli) -> None:
    gone = token_cli("token", "remove", fail=True)
    assert gone.code == 0 and gone.out.startswith("no OS keyring is available, so no token was saved "
                                                  "in one; now: "), gone.out


def test_a_token_given_as_an_argument_is_refused_without_repeating_it(tmp_path: Path, token_cli) -> None:
    """Seen: `token set hf_...` printed argparse's 'unrecognized arguments: hf_...': the secret on screen."""
    given = token_cli("token", "set", TOKEN)
    assert given.code == 2 and given.err.count("\n") == 1, given.err
    assert TOKEN not in given.out + given.err and "abcdefgh" not in given.err
    assert "shell history" in given.err and "huggingface.co/settings/tokens" in given.err
    assert not (tmp_path / "keyring.json").exists()


def test_a_leading_blank_line_is_skipped_and_saved_is_said_once(tmp_path: Path, token_cli) -> None:
    """Seen: stdin starting with a blank line read as an empty token; the line said 'saved: token ... saved'."""
    saved = token_cli("token", "set", stdin="\n  \n" + TOKEN + "\n")
    assert saved.code == 0, saved.err
    assert saved.out.count("saved") == 1 and saved.out.startswith("token hf_…1234 saved")
    assert json.loads((tmp_path / "keyring.json").read_text()) == {"SparkTrainer/huggingface-token": TOKEN}


def test_an_env_file_piped_in_is_refused_whole(tmp_path: Path, token_cli) -> None:
    """Seen: `printf 'HF_ENDPOINT=...\\nHF_TOKEN=hf_x\\n' | token set` saved the first line and said "saved"."""
    piped = token_cli("token", "set", stdin="HF_ENDPOINT=https://huggingface.co\nHF_TOKEN=hf_x\n")
    assert piped.code == 2 and piped.err.count("\n") == 1 and "2 lines" in piped.err, piped.err
    assert not (tmp_path / "keyring.json").exists()


def test_a_locked_keyring_is_one_line_and_show_falls_back_to_hf_token(cli, monkeypatch) -> None:
    """Seen: a backend raising RuntimeError (a locked Secret Service) gave a traceback from show and set."""
    import io

    import keyring
    from keyring.backend import KeyringBackend

    class Locked(KeyringBackend):
        priority = 1  # type: ignore[assignment]

        def get_password(self, *_args: str) -> str | None:
            raise RuntimeError("org.freedesktop.Secret.Error.IsLocked")

        set_password = delete_password = get_password  # type: ignore[assignment]

    previous = keyring.get_keyring()
    keyring.set_keyring(Locked())
    try:
        monkeypatch.setenv("HF_TOKEN", "hf_fromtheenvironment9876")
        shown = cli("token", "show")
        assert shown.code == 0 and shown.out.startswith("the OS keyring could not be read (RuntimeError"), shown
        assert "hf_…9876 taken from the HF_TOKEN" in shown.out
        monkeypatch.setattr(sys, "stdin", io.StringIO(TOKEN))
        for done in (cli("token", "set"), cli("token", "remove")):
            assert done.code == 1 and done.err.startswith("error: the OS keyring failed: RuntimeError"), done
            assert done.err.count("\n") == 1 and "Traceback" not in done.err
    finally:
        keyring.set_keyring(previous)
