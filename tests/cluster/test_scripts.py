"""The launch scripts: syntax, what they refuse, and the per-rank commands they start (fake srun / python)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
import yaml

# Stands in for the node's python: records how it was started (argv and the rank's environment).
FAKE_PYTHON = """#!/usr/bin/env python3
import json, os, sys
keys = ["RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "NODE_RANK", "MASTER_ADDR", "MASTER_PORT",
        "ACCELERATE_USE_CPU"]
record = {"argv": sys.argv[1:], "env": {k: os.environ.get(k) for k in keys}}
out = os.environ["RECORD_DIR"]
name = "rank-" + os.environ.get("RANK", "node" + os.environ.get("NODE_RANK", "x")) + ".json"
open(os.path.join(out, name), "w").write(json.dumps(record))
"""

# srun as Slurm runs it: the command once per task, each with its SLURM_PROCID/LOCALID/NODEID/NTASKS.
FAKE_SRUN = """#!/usr/bin/env bash
echo "$@" > "$RECORD_DIR/srun-args"
nodes=1; per=1
for a in "$@"; do
  case "$a" in --nodes=*) nodes="${a#--nodes=}" ;; --ntasks-per-node=*) per="${a#--ntasks-per-node=}" ;; esac
done
while [ $# -gt 0 ] && [ "${1#-}" != "$1" ]; do shift; done
total=$((nodes * per)); pids=()
for ((t = 0; t < total; t++)); do
  SLURM_PROCID=$t SLURM_LOCALID=$((t % per)) SLURM_NODEID=$((t / per)) SLURM_NTASKS=$total "$@" &
  pids+=($!)
done
for p in "${pids[@]}"; do wait "$p"; done
"""

FAKE_SCONTROL = """#!/usr/bin/env bash
# scontrol show hostnames gpu[07-08] -> one host a line
[ "$1 $2" = "show hostnames" ] && printf 'gpu07\\ngpu08\\n'
"""


def _fake_bin(tmp_path: Path) -> tuple[Path, Path]:
    bin_dir, records = tmp_path / "fakebin", tmp_path / "records"
    bin_dir.mkdir()
    records.mkdir()
    for name, text in (("python-fake", FAKE_PYTHON), ("srun", FAKE_SRUN), ("scontrol", FAKE_SCONTROL)):
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    return bin_dir, records


def _env(bin_dir: Path, records: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLURM_", "MASTER_", "NODE_RANK", "RANK"))}
    env.update(PATH=f"{bin_dir}:{env['PATH']}", SPARK_TRAINER_PYTHON=str(bin_dir / "python-fake"),
               RECORD_DIR=str(records), **extra)
    return env


def test_sbatch_script_starts_one_worker_per_rank_with_slurm_rendezvous(job, tmp_path: Path) -> None:
    folder = job("slurm", 2, 2)
    for script in ("job.sbatch", "slurm_rank.sh"):
        assert subprocess.run(["bash", "-n", str(folder / script)]).returncode == 0
    text = (folder / "job.sbatch").read_text()
    assert "#SBATCH --nodes=2" in text and "#SBATCH --ntasks-per-node=2" in text
    bin_dir, records = _fake_bin(tmp_path)
    env = _env(bin_dir, records, SLURM_SUBMIT_DIR=str(folder), SLURM_JOB_NODELIST="gpu[07-08]", SLURM_JOB_ID="1234")
    done = subprocess.run(["bash", str(folder / "job.sbatch")], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "--nodes=2 --ntasks-per-node=2 --kill-on-bad-exit=1" in (records / "srun-args").read_text()
    ranks = [json.loads((records / f"rank-{r}.json").read_text()) for r in range(4)]
    assert all(r["argv"] == ["-m", "spark_trainer", "cluster-worker", str(folder)] for r in ranks)
    envs = [r["env"] for r in ranks]
    assert [e["RANK"] for e in envs] == ["0", "1", "2", "3"]
    assert [e["LOCAL_RANK"] for e in envs] == ["0", "1", "0", "1"]
    assert [e["NODE_RANK"] for e in envs] == ["0", "0", "1", "1"]
    assert {e["WORLD_SIZE"] for e in envs} == {"4"} and {e["LOCAL_WORLD_SIZE"] for e in envs} == {"2"}
    assert {e["MASTER_ADDR"] for e in envs} == {"gpu07"}  # the allocation's first node
    assert {e["MASTER_PORT"] for e in envs} == {str(29500 + 1234 % 1000)}
    assert {e["ACCELERATE_USE_CPU"] for e in envs} == {"true"}  # the run file trains on the CPU


def test_torchrun_launch_is_the_same_on_every_node_and_reads_the_environment(job, tmp_path: Path) -> None:
    folder = job("torchrun", 2, 1)
    assert subprocess.run(["bash", "-n", str(folder / "launch.sh")]).returncode == 0
    bin_dir, records = _fake_bin(tmp_path)
    for node in ("0", "1"):
        env = _env(bin_dir, records, NODE_RANK=node, MASTER_ADDR="10.0.0.5")
        done = subprocess.run(["bash", str(folder / "launch.sh")], env=env, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        argv = json.loads((records / f"rank-node{node}.json").read_text())["argv"]
        assert argv == ["-m", "torch.distributed.run", "--nnodes=2", "--nproc-per-node=1", f"--node-rank={node}",
                        "--rdzv-backend=static", "--rdzv-endpoint=10.0.0.5:29500", "--max-restarts=0",
                        "-m", "spark_trainer", "cluster-worker", str(folder)]
    assert (folder / "run" / "logs" / "node-1.log").read_text().startswith("node 1 of 2: rendezvous at 10.0.0.5")


def test_launch_sh_refuses_a_missing_or_wrong_node_rank(job, tmp_path: Path) -> None:
    folder = job("torchrun", 2, 1)
    bin_dir, records = _fake_bin(tmp_path)
    missing = subprocess.run(["bash", str(folder / "launch.sh")], env=_env(bin_dir, records, MASTER_ADDR="h"),
                             capture_output=True, text=True)
    assert missing.returncode != 0 and "set NODE_RANK" in missing.stderr
    wrong = subprocess.run(["bash", str(folder / "launch.sh")],
                           env=_env(bin_dir, records, MASTER_ADDR="h", NODE_RANK="2"), capture_output=True, text=True)
    assert wrong.returncode == 2 and "NODE_RANK must be 0..1" in wrong.stderr
    assert not list(records.iterdir())  # nothing was started


def test_accelerate_job_has_a_config_and_passes_rank_and_address(job, cli, run_yaml, tmp_path: Path) -> None:
    cpu = cli("launch", run_yaml("cpu-acc"), "--nodes", 2, "--procs-per-node", 4, "--scheduler", "accelerate",
              "--out", tmp_path / "cpu-acc")
    assert cpu.code == 2 and "choose torchrun (or slurm)" in cpu.err and "--scheduler" in cpu.err and not (tmp_path / "cpu-acc").exists()
    folder = job("accelerate", 2, 4, gpus="auto")
    config = yaml.safe_load((folder / "accelerate_config.yaml").read_text())
    assert (config["num_machines"], config["num_processes"], config["use_cpu"]) == (2, 8, False)
    assert config["distributed_type"] == "MULTI_GPU"
    bin_dir, records = _fake_bin(tmp_path)
    env = _env(bin_dir, records, NODE_RANK="1", MASTER_ADDR="10.0.0.5", MASTER_PORT="30001")
    done = subprocess.run(["bash", str(folder / "launch.sh")], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    argv = json.loads((records / "rank-node1.json").read_text())["argv"]
    assert argv == ["-m", "accelerate.commands.launch", "--config_file", str(folder / "accelerate_config.yaml"),
                    "--machine_rank", "1", "--main_process_ip", "10.0.0.5", "--main_process_port", "30001",
                    "-m", "spark_trainer", "cluster-worker", str(folder)]


@pytest.mark.parametrize("scheduler", ["torchrun", "accelerate"])
def test_a_one_node_job_runs_with_no_rank_or_address_given(scheduler: str, job, tmp_path: Path) -> None:
    folder = job(scheduler, 1, 2, gpus="auto")  # accelerate starts several CPU processes only through MPI
    readme = (folder / "README.md").read_text()
    assert "\nSPARK_TRAINER_PYTHON=/path/to/venv/bin/python bash launch.sh\n" in readme
    assert "on node 1" not in readme and "NODE_RANK=1" not in readme  # no second node to start
    bin_dir, records = _fake_bin(tmp_path)
    done = subprocess.run(["bash", str(folder / "launch.sh")], env=_env(bin_dir, records), capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    argv = " ".join(json.loads((records / "rank-node0.json").read_text())["argv"])
    if scheduler == "torchrun":
        assert "--node-rank=0" in argv and "--rdzv-endpoint=127.0.0.1:29500" in argv
    else:
        assert "--machine_rank 0 --main_process_ip 127.0.0.1 --main_process_port 29500" in argv
    wrong = subprocess.run(["bash", str(folder / "launch.sh")], env=_env(bin_dir, records, NODE_RANK="1"),
                           capture_output=True, text=True, timeout=60)
    assert wrong.returncode == 2 and "NODE_RANK must be 0..0 (this job has 1 node(s))" in wrong.stderr


def test_a_many_node_readme_starts_node_0_and_shows_how_the_others_differ(job) -> None:
    readme = (job("torchrun", 3, 1) / "README.md").read_text()
    assert "each of the 3 nodes, with that node's index (0..2)" in readme
    assert "# on node 0\nNODE_RANK=0 MASTER_ADDR=<address of node 0>" in readme
    assert "# on node 1, and so on up to node 2 (NODE_RANK=2)\nNODE_RANK=1 MASTER_ADDR=<address of node 0>" in readme


def test_the_next_command_names_a_rank_and_an_address_only_for_several_nodes(cli, run_yaml, tmp_path: Path) -> None:
    for nodes, out in ((1, tmp_path / "one"), (2, tmp_path / "two")):
        result = cli("--json", "launch", run_yaml(f"n{nodes}"), "--nodes", nodes, "--procs-per-node", 1,
                     "--scheduler", "torchrun", "--out", out)
        assert result.code == 0, result.err
        wanted = f"bash {out / 'launch.sh'}" if nodes == 1 else f"NODE_RANK=<0..1> MASTER_ADDR=<node 0> bash {out / 'launch.sh'}"
        assert result.json()["next"] == wanted


def test_slurm_fields_are_checked_and_refused_for_other_schedulers(cli, run_yaml, tmp_path: Path) -> None:
    # Seen in a CLI walk: `--time bogus` went into job.sbatch, and `--partition gpu` with torchrun was dropped unsaid.
    # A partition with a space or a newline would have written a line of its own into job.sbatch.
    for args, said in ((("--scheduler", "slurm", "--time", "bogus"), "Slurm time limit (--time) 'bogus': like 90"),
                       (("--scheduler", "torchrun", "--partition", "gpu"), "only a slurm job has one (this is a torchrun"),
                       (("--scheduler", "slurm", "--partition", "gpu\n#SBATCH --x"), "a partition name, or names")):
        out = tmp_path / f"job-{len(said)}"
        refused = cli("launch", run_yaml("s"), "--nodes", 1, "--procs-per-node", 1, *args, "--out", out)
        assert refused.code == 2 and said in refused.err and not out.exists(), refused.err
    for limit in ("90", "30:00", "04:00:00", "2-12", "2-12:00:00", "UNLIMITED"):
        out = tmp_path / f"ok-{limit.replace(':', '')}"
        done = cli("launch", run_yaml("s"), "--nodes", 1, "--procs-per-node", 1, "--scheduler", "slurm",
                   "--partition", "gpu,dgx", "--time", limit, "--out", out)
        assert done.code == 0, done.err
        assert f"#SBATCH --time={limit}\n" in (out / "job.sbatch").read_text()
