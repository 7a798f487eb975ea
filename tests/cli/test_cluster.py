"""`spark-trainer launch` and `run import` (spark_trainer/cli/cluster.py): what they say of a bad source.
Writing and importing the job folders is tested in tests/cluster/."""

from __future__ import annotations

from pathlib import Path


def test_launch_of_a_name_that_is_neither_an_experiment_nor_a_file_says_both(cli, tmp_path: Path) -> None:
    # Seen in the CLI walk: `launch nosuch ...` said only "no experiment named or numbered 'nosuch'", though
    # launch takes a run file as well, and a user who meant one was told nothing of it.
    out = tmp_path / "job"
    said = cli("launch", "nosuch", "--nodes", "1", "--procs-per-node", "1", "--scheduler", "torchrun",
               "--out", str(out))
    assert said.code == 2 and said.err.count("\n") == 1, said.err
    assert "no experiment named or numbered 'nosuch'" in said.err
    assert "nor a run file" in said.err and str(Path("nosuch").resolve()) in said.err
    assert not out.exists()
