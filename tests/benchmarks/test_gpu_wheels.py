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


def test_bitsandbytes_travels_with_its_cuda_13_and_cpu_libraries_only_and_installs(tmp_path) -> None:
    """Its wheel holds one library per CUDA/ROCm version (41 MiB): with it whole, the check's wheels and the
    tree came to 65.9 MiB, over the device tool's 64."""
    import sys
    import zipfile

    wheels = load_script()
    wheel = tmp_path / "bitsandbytes-0.50.2-py3-none-manylinux_2_24_x86_64.whl"
    libs = ["libbitsandbytes_cpu.so", "libbitsandbytes_cuda118.so", "libbitsandbytes_cuda128.so",
            "libbitsandbytes_cuda130.so", "libbitsandbytes_cuda132.so", "libbitsandbytes_rocm64.so"]
    names = ["bitsandbytes/__init__.py", *(f"bitsandbytes/{lib}" for lib in libs)]
    info = "bitsandbytes-0.50.2.dist-info"
    with zipfile.ZipFile(wheel, "w") as z:
        for name in names:
            z.writestr(name, "x")
        z.writestr(f"{info}/METADATA", "Metadata-Version: 2.1\nName: bitsandbytes\nVersion: 0.50.2\n")
        z.writestr(f"{info}/WHEEL", "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
        z.writestr(f"{info}/RECORD", "".join(f"{n},,\n" for n in names + [f"{info}/METADATA", f"{info}/WHEEL"])
                   + f"{info}/RECORD,,\n")
    wheels.slim(wheel)
    with zipfile.ZipFile(wheel) as z:
        kept = {n.split("/")[-1] for n in z.namelist() if n.endswith(".so")}
        record = z.read(f"{info}/RECORD").decode()
    assert kept == {"libbitsandbytes_cpu.so", "libbitsandbytes_cuda130.so", "libbitsandbytes_cuda132.so"}
    assert "cuda118" not in record and "rocm64" not in record and "cuda130" in record
    other = tmp_path / "pydantic-2.14.4-py3-none-any.whl"
    other.write_bytes(b"not touched")
    wheels.slim(other)  # only packages named in KEEP_NATIVE are slimmed
    assert other.read_bytes() == b"not touched"
    done = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-index", "--no-deps", "--no-compile",
                           "--target", str(tmp_path / "site"), str(wheel)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in (tmp_path / "site" / "bitsandbytes").glob("*.so")) == sorted(kept)
