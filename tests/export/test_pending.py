"""An export killed between renaming its folder into place and recording it: the next export records it
(export/pending.py) and reuses it, where the retry was refused as 'not an empty folder' (a fault walk)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from spark_trainer.cli.main import main
from spark_trainer.store import exports
from spark_trainer.store.store import Store
from tests.conftest import subprocess_env

# An export process that dies (os._exit: no clean-up, as kill -9) at the moment it would record the export.
DIES_AT_THE_RECORD = """
import os, sys
from spark_trainer.store import exports
exports.add = lambda *a, **k: os._exit(9)
from spark_trainer.cli.main import main
main(sys.argv[1:])
"""


def _killed_export(lora_run, tmp_path: Path, *out: str) -> tuple[Path, object]:
    """(home, run): a copy of the trained run's home where an export (to `out`, else its default place) was
    killed at its record: its folder in place, recorded nowhere, its note left."""
    source, run = lora_run
    home = tmp_path / "home"
    shutil.copytree(source, home)
    args = ["--out", *out] if out else []
    killed = subprocess.run([sys.executable, "-c", DIES_AT_THE_RECORD, "--home", str(home), "export", str(run.id),
                             *args], capture_output=True, text=True, timeout=300, env=subprocess_env())
    assert killed.returncode == 9, killed.stderr[-2000:]
    return home, run


def test_an_export_killed_before_its_record_is_recorded_and_reused_by_the_next(lora_run, tmp_path, capsys) -> None:
    out = tmp_path / "out"
    home, run = _killed_export(lora_run, tmp_path, str(out))
    assert (out / "adapter_model.safetensors").is_file()  # in place, recorded nowhere
    with Store.open(home) as store:
        assert exports.list_for(store, run.id) == []
    capsys.readouterr()
    assert main(["--home", str(home), "export", str(run.id), "--out", str(out)]) == 0
    said = capsys.readouterr()
    assert f"already exported: run {run.id} " in said.err and said.out == f"{out.resolve()}\n", said
    with Store.open(home) as store:
        [export] = exports.list_for(store, run.id)
    assert Path(export.path) == out.resolve() and not list((home / "exports").glob(".pending-*"))


def test_doctor_says_the_next_export_records_a_killed_exports_folder_not_to_delete_it(lora_run, tmp_path,
                                                                                        capsys) -> None:
    # It said "1 folder in exports/ holds no recorded export ...; delete it if you do not need it" of a whole
    # export the next export would record (the walk of this session's changes).
    home, run = _killed_export(lora_run, tmp_path)
    capsys.readouterr()
    main(["--home", str(home), "doctor"])
    [line] = [line for line in capsys.readouterr().out.splitlines() if "exports/" in line]
    assert "export folder in exports/ not recorded yet" in line and "the next export of its run records it" in line
    assert "delete it" not in line


def test_two_exports_starting_at_once_record_a_killed_export_once(lora_run, tmp_path, monkeypatch) -> None:
    # Both saw the dead process's note and both recorded its folder (the app and a terminal at once):
    # deleting either record then deleted the folder the other named. The second arrives here while the
    # first records it.
    from spark_trainer.export import pending

    out = tmp_path / "out"
    home, run = _killed_export(lora_run, tmp_path, str(out))
    real_add, second = exports.add, []

    def add_while_another_looks(store, *args, **kwargs):
        if not second:
            second.append(pending.adopt_dead(store))  # the other export's start, meanwhile
        return real_add(store, *args, **kwargs)

    monkeypatch.setattr(exports, "add", add_while_another_looks)
    with Store.open(home) as store:
        first = pending.adopt_dead(store)
        assert len(first) == 1 and second == [[]]
        assert len(exports.list_for(store, run.id)) == 1
    assert not list((home / "exports").glob(".pending-*"))
