"""`token show|set|remove`: the Hugging Face token as Settings' "Save in keyring" / "Remove" keep it,
in separate real `spark-trainer` processes sharing one (file-backed) keyring."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

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


def test_set_show_remove_round_trip_without_ever_printing_the_token(tmp_path: Path) -> None:
    none = _run(tmp_path, "token")
    assert (none.returncode, none.stdout.strip()) == (0, "no token saved; exports to the Hub will ask for one")
    saved = _run(tmp_path, "token", "set", stdin=TOKEN + "\n")  # piped, as from a file
    assert saved.returncode == 0, saved.stderr
    assert saved.stdout.strip().startswith("token hf_…1234 saved in the OS keyring (tests.cli.file_keyring")
    assert json.loads((tmp_path / "keyring.json").read_text()) == {"SparkTrainer/huggingface-token": TOKEN}
    shown = _run(tmp_path, "--json", "token", "show")
    assert json.loads(shown.stdout) == {"source": "keyring", "masked": "hf_…1234",
                                        "keyring": "tests.cli.file_keyring.FileKeyring", "keyring_available": True}
    # The environment variable is the fallback only: the saved token wins, then applies once removed.
    removed = _run(tmp_path, "token", "remove", HF_TOKEN="hf_fromtheenvironment9876")
    assert removed.returncode == 0 and "removed; now: token hf_…9876 taken from the HF_TOKEN" in removed.stdout
    assert json.loads((tmp_path / "keyring.json").read_text()) == {}
    again = _run(tmp_path, "token", "remove")  # nothing saved: still the wanted end state, said so
    assert again.returncode == 0 and again.stdout.startswith("no token was saved in the OS keyring; now: "), again.stdout
    for done in (none, saved, shown, removed):
        assert TOKEN not in done.stdout + done.stderr


def test_bad_tokens_and_a_missing_keyring_are_one_line(tmp_path: Path) -> None:
    empty = _run(tmp_path, "token", "set", stdin="\n")
    assert (empty.returncode, empty.stderr) == (2, "error: the Hugging Face token is empty\n")
    spaced = _run(tmp_path, "token", "set", stdin="hf_ab cd\n")
    assert spaced.returncode == 2 and "contains spaces" in spaced.stderr and spaced.stderr.count("\n") == 1
    assert not (tmp_path / "keyring.json").exists()
    nowhere = _run(tmp_path, "token", "set", stdin=TOKEN, backend="keyring.backends.fail.Keyring")
    assert nowhere.returncode == 1 and nowhere.stderr.count("\n") == 1
    assert "no OS keyring is available" in nowhere.stderr and "HF_TOKEN" in nowhere.stderr


def test_remove_with_no_keyring_does_not_claim_it_removed_anything(tmp_path: Path) -> None:
    gone = _run(tmp_path, "token", "remove", backend="keyring.backends.fail.Keyring")
    assert gone.returncode == 0 and gone.stdout.startswith("no OS keyring is available, so no token was saved "
                                                           "in one; now: "), gone.stdout


def test_a_token_given_as_an_argument_is_refused_without_repeating_it(tmp_path: Path) -> None:
    """Seen: `token set hf_...` printed argparse's 'unrecognized arguments: hf_...': the secret on screen."""
    given = _run(tmp_path, "token", "set", TOKEN)
    assert given.returncode == 2 and given.stderr.count("\n") == 1, given.stderr
    assert TOKEN not in given.stdout + given.stderr and "abcdefgh" not in given.stderr
    assert "shell history" in given.stderr and "huggingface.co/settings/tokens" in given.stderr
    assert not (tmp_path / "keyring.json").exists()


def test_a_leading_blank_line_is_skipped_and_saved_is_said_once(tmp_path: Path) -> None:
    """Seen: stdin starting with a blank line read as an empty token; the line said 'saved: token ... saved'."""
    saved = _run(tmp_path, "token", "set", stdin="\n  \n" + TOKEN + "\n")
    assert saved.returncode == 0, saved.stderr
    assert saved.stdout.count("saved") == 1 and saved.stdout.startswith("token hf_…1234 saved")
    assert json.loads((tmp_path / "keyring.json").read_text()) == {"SparkTrainer/huggingface-token": TOKEN}
