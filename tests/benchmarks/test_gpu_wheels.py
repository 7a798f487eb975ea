"""benchmarks/gpu_wheels.py resolves against the device image file; the GPU check scripts parse.

None of the GPU scripts can run here (no GPU, no device), so these checks keep their plumbing honest:
a syntax error or a wrong requirement list would otherwise surface only during a 15-minute lease.
"""

from __future__ import annotations

import importlib.util
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def load_script():
    spec = importlib.util.spec_from_file_location("gpu_wheels", REPO / "benchmarks" / "gpu_wheels.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_device_image_file_names_what_is_there_and_pins_what_the_resolver_must_keep() -> None:
    wheels = load_script()
    present, pins = wheels.read_image()
    assert {"torch", "transformers", "peft", "accelerate", "huggingface-hub", "opencv-python-headless"} <= present
    assert "torch==2.11.0" in pins and "transformers==5.17.0" in pins
    assert all("==" in p for p in pins)
    # The image lacks these: they must be carried.
    assert not {"sqlalchemy", "alembic", "pydantic", "diffusers", "bitsandbytes", "liger-kernel"} & present


def test_the_carried_set_is_the_projects_dependencies_less_torch_and_the_gui() -> None:
    wheels = load_script()
    names = {wheels.requirement_name(r) for r in wheels.project_requirements()}
    assert {"sqlalchemy", "alembic", "pydantic", "diffusers", "bitsandbytes", "liger-kernel", "transformers"} <= names
    assert not names & {"torch", "pyside6-essentials", "pyqtgraph", "av"}
    assert wheels.requirement_name("liger-kernel>=0.6; sys_platform == 'linux'") == "liger-kernel"
    # The image's own versions stand in for the project's ranges of what it already has.
    wanted = wheels.device_requirements(wheels.read_image()[1])
    assert "transformers==5.17.0" in wanted and "accelerate==1.15.0" in wanted
    assert any(r.startswith("sqlalchemy") for r in wanted)
    assert wheels.requirement_name("PySide6-Essentials>=6.7,!=6.12.0") == "pyside6-essentials"


@pytest.mark.parametrize("script", sorted(p.name for p in (REPO / "benchmarks").glob("gpu_*.sh")))
def test_gpu_check_scripts_parse(script: str) -> None:
    done = subprocess.run(["bash", "-n", str(REPO / "benchmarks" / script)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_each_check_carries_only_what_it_imports() -> None:
    # All the wheels together came to 63.6 MiB with the tree (limit 64 MiB): gpu_check.sh leaves diffusers
    # behind, gpu_diffusion_check.sh leaves bitsandbytes (41 MiB) behind.
    wheels = load_script()
    check = {wheels.requirement_name(r) for r in wheels.project_requirements("check")}
    diffusion = {wheels.requirement_name(r) for r in wheels.project_requirements("diffusion")}
    assert {"bitsandbytes", "liger-kernel", "sqlalchemy", "filelock"} <= check and "diffusers" not in check
    assert {"diffusers", "sqlalchemy", "filelock"} <= diffusion and "bitsandbytes" not in diffusion
    assert {"diffusers", "bitsandbytes"} <= {wheels.requirement_name(r) for r in wheels.project_requirements("all")}


def test_filelock_and_typing_extensions_travel_although_the_image_has_them() -> None:
    # Every Store.open imports filelock.lock_descriptor (3.30), and the carried pydantic requires
    # typing-extensions >= 4.16: the image has both, at versions nobody read.
    wheels = load_script()
    present, _ = wheels.read_image()
    assert {"filelock", "typing-extensions"} <= present
    resolved = [("filelock", "4.3.1"), ("torch", "2.11.0"), ("SQLAlchemy", "2.1.9"), ("av", "12.0"),
                ("typing_extensions", "4.16.0"), ("requests", "2.32.0")]
    assert wheels.carried(resolved, present) == [("filelock", "4.3.1"), ("SQLAlchemy", "2.1.9"),
                                                 ("typing_extensions", "4.16.0")]
