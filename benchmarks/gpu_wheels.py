"""Fill .whl/ with the wheels the lent GPU machine's image lacks, for the GPU check scripts.

The device has no network: what the project needs beyond its image travels as wheels in .whl/, which
benchmarks/gpu_env.sh installs there. This resolves the project's dependencies (and the `gpu` extra)
for the device's Python (3.12, manylinux x86_64) with pip, pinned to the versions the image has
(benchmarks/device_image.txt), and downloads only the packages the image does not have. The GUI's
packages (PySide6, pyqtgraph) and the video wizard's PyAV stay behind: no GPU check imports them, and
the tree that travels is limited to 64 MiB. Each check carries only what it imports: everything is
55.9 MiB of wheels, 63.6 MiB with the tree (measured 2026-12-01), a hair under the limit, so
`--for check` (gpu_check.sh, gpu_jobs_check.sh, gpu_fsdp_check.sh; the default) leaves diffusers behind
and `--for diffusion` (gpu_diffusion_check.sh) leaves bitsandbytes (41 MiB) behind.

    python3 benchmarks/gpu_wheels.py                    # for gpu_check.sh: resolve, download into .whl/, sizes
    python3 benchmarks/gpu_wheels.py --for diffusion    # for gpu_diffusion_check.sh
    python3 benchmarks/gpu_wheels.py --list             # resolve only: what would be carried

Needs a Python 3.12 here (`--python`; pyenv's is found) and PyPI. Run it from the repository root.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parent.parent
IMAGE = ROOT / "benchmarks" / "device_image.txt"
LEFT_BEHIND = {"pyside6-essentials", "pyqtgraph", "av"}  # GUI and video wizard only
# The SecretStorage keyring backend and its crypto stack: the device has no D-Bus session, so keyring
# falls back to HF_TOKEN (spark_trainer/secrets.py) either way.
LEFT_BEHIND |= {"secretstorage", "jeepney", "cryptography", "cffi", "pycparser"}
# What each check script never imports (left behind to keep the tree that travels under its limit).
NOT_FOR = {"check": {"diffusers"}, "diffusion": {"bitsandbytes"}}
# On the image, but at a version nobody has read there, while what runs needs a recent one; carried
# anyway (a few hundred kB), shadowing the image's copy: filelock's lock_descriptor (3.30,
# spark_trainer/store/presence.py) is imported by every Store.open; pydantic 2.14 (carried: every config
# is a pydantic model) requires typing-extensions >= 4.16. An older one there would fail everything.
CARRY_ANYWAY = {"filelock", "typing-extensions"}
PLATFORMS = [f"manylinux_2_{n}_x86_64" for n in range(39, 16, -1)] + ["manylinux2014_x86_64", "manylinux1_x86_64"]
# bitsandbytes ships one native library per CUDA (and ROCm, XPU) version, 129 MB unpacked: the image is CUDA 13
# (torch cu130, cupy-cuda13x), so only the CUDA 13 and CPU libraries travel (41 MiB of wheel down to 6).
KEEP_NATIVE = {"bitsandbytes": re.compile(r"libbitsandbytes_(cuda13\d+|cpu)\.so$")}
LIMIT_MIB = 64  # the device tool's limit on the tree that travels: tracked + untracked files + carried wheels


def norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_name(spec: str) -> str:
    return norm(re.split(r"[\s<>=!~;\[]", spec.strip(), maxsplit=1)[0])


def read_image(path: Path = IMAGE) -> tuple[set[str], list[str]]:
    """(names present on the device, `name==version` pins for the resolver)."""
    names, pins = set(), []
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        names.add(requirement_name(line))
        if "==" in line:
            pins.append(line)
    return names, pins


def project_requirements(check: str = "all") -> list[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = list(project["dependencies"]) + list(project["optional-dependencies"].get("gpu", []))
    skip = LEFT_BEHIND | {"torch"} | NOT_FOR.get(check, set())
    return [r for r in wanted if requirement_name(r) not in skip]


def carried(resolved: list[tuple[str, str]], present: set[str]) -> list[tuple[str, str]]:
    """What travels: the resolved packages the image lacks, and those carried anyway (CARRY_ANYWAY)."""
    return sorted(((n, v) for n, v in resolved
                   if (norm(n) not in present or norm(n) in CARRY_ANYWAY) and norm(n) not in LEFT_BEHIND),
                  key=lambda nv: norm(nv[0]))


def device_requirements(pins: list[str], check: str = "all") -> list[str]:
    """The project's requirements as the device meets them: what its image pins is what runs there, even
    below the project's own floor (the image's transformers 5.17 needs torchvision for image processors,
    and the image has torchvision)."""
    pinned = {requirement_name(p): p for p in pins}
    return [pinned.get(requirement_name(r), r) for r in project_requirements(check)]


def find_python312(given: str | None) -> str:
    for candidate in [given, shutil.which("python3.12"), *sorted(glob.glob(os.path.expanduser(
            "~/.pyenv/versions/3.12*/bin/python")))]:
        if not candidate:
            continue
        probe = subprocess.run([candidate, "-c", "import sys; print(sys.version_info[:2] == (3, 12))"],
                               capture_output=True, text=True) if shutil.which(candidate) else None
        if probe and probe.stdout.strip() == "True":
            return candidate
    sys.exit("gpu_wheels: no Python 3.12 found; pass --python PATH (the device runs Python 3.12)")


def resolve(python: str, requirements: list[str], pins: list[str]) -> list[tuple[str, str]]:
    """(name, version) of everything pip would install for the device, present or not."""
    with tempfile.TemporaryDirectory() as tmp:
        req, cons, report = Path(tmp, "req.txt"), Path(tmp, "cons.txt"), Path(tmp, "report.json")
        req.write_text("\n".join(requirements) + "\n")
        cons.write_text("\n".join(pins) + "\n")
        platform_args = [arg for p in PLATFORMS for arg in ("--platform", p)]
        cmd = [python, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--quiet", "--report", str(report),
               "--only-binary=:all:", *platform_args, "--target", str(Path(tmp, "t")), "-r", str(req), "-c", str(cons)]
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode != 0:
            lines = [ln for ln in done.stderr.splitlines() if "is ignored" not in ln]
            sys.exit("gpu_wheels: pip could not resolve the device's set:\n" + "\n".join(lines[-8:]))
        return [(i["metadata"]["name"], i["metadata"]["version"]) for i in json.loads(report.read_text())["install"]]


def download(python: str, wanted: list[tuple[str, str]], dest: Path) -> None:
    platform_args = [arg for p in PLATFORMS for arg in ("--platform", p)]
    specs = [f"{name}=={version}" for name, version in wanted]
    cmd = [python, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:", *platform_args,
           "-d", str(dest), *specs]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        lines = [ln for ln in done.stderr.splitlines() if "is ignored" not in ln]
        sys.exit("gpu_wheels: download failed:\n" + "\n".join(lines[-8:]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--python", help="a Python 3.12 to resolve with (default: python3.12 or pyenv's)")
    parser.add_argument("--for", dest="check", choices=["check", "diffusion", "all"], default="check",
                        help="which script the wheels are for: check (gpu_check.sh and the jobs/FSDP checks; "
                             "no diffusers), diffusion (gpu_diffusion_check.sh; no bitsandbytes), all")
    parser.add_argument("--list", action="store_true", help="only print what would be carried")
    parser.add_argument("--dest", default=str(ROOT / ".whl"))
    args = parser.parse_args()
    python = find_python312(args.python)
    present, pins = read_image()
    resolved = resolve(python, device_requirements(pins, args.check), pins)
    missing = carried(resolved, present)
    print(f"{len(resolved)} packages resolved for the device ({args.check}), {len(missing)} to carry "
          f"(not on its image, or {', '.join(sorted(CARRY_ANYWAY))}):")
    if args.list:
        for name, version in missing:
            print(f"  {name}=={version}")
        return
    dest = Path(args.dest)
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    download(python, missing, dest)
    for wheel in dest.glob("*.whl"):
        slim(wheel)
    total = 0
    for wheel in sorted(dest.glob("*.whl")):
        size = wheel.stat().st_size
        total += size
        print(f"  {wheel.name}  {size / 2**20:.1f} MiB")
    print(f"{total / 2**20:.1f} MiB in {dest}")
    exclude = ROOT / ".git" / "info" / "exclude"
    if exclude.parent.exists() and "/.whl/" not in (exclude.read_text() if exclude.exists() else ""):
        with exclude.open("a") as f:
            f.write("/.whl/\n")
        print("added /.whl/ to .git/info/exclude (the device tool carries it with carry: [\".whl\"])")
    tree = tree_bytes()
    print(f"the tree that travels: {tree / 2**20:.1f} MiB of files + {total / 2**20:.1f} MiB of wheels "
          f"= {(tree + total) / 2**20:.1f} MiB (limit {LIMIT_MIB} MiB)")
    if tree + total > LIMIT_MIB * 2**20:
        sys.exit("gpu_wheels: over the device tool's limit; clean untracked files, or leave bitsandbytes "
                 "behind for this call (the QLoRA checks then skip)")


def slim(wheel: Path) -> None:
    """Drop from a wheel the native libraries its package loads only for other accelerators (KEEP_NATIVE),
    and their RECORD lines, so that pip installs it as it would the whole one."""
    keep = KEEP_NATIVE.get(norm(wheel.name.split("-")[0]))
    if keep is None:
        return
    import zipfile
    slimmed = wheel.with_suffix(".slim")
    with zipfile.ZipFile(wheel) as src, zipfile.ZipFile(slimmed, "w", zipfile.ZIP_DEFLATED) as dst:
        dropped = {i.filename for i in src.infolist() if i.filename.endswith(".so") and not keep.search(i.filename)}
        for info in src.infolist():
            if info.filename in dropped:
                continue
            data = src.read(info)
            if info.filename.endswith(".dist-info/RECORD"):
                data = "".join(line for line in data.decode().splitlines(keepends=True)
                               if line.split(",", 1)[0] not in dropped).encode()
            dst.writestr(info, data)
    slimmed.replace(wheel)
    print(f"  {wheel.name}: left out {len(dropped)} native libraries for other CUDA/ROCm/XPU versions")


def tree_bytes() -> int:
    """Bytes of what the device tool sends besides carried paths: tracked and untracked-not-ignored files."""
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT,
                            capture_output=True, text=True, check=True).stdout.split("\0")
    return sum((ROOT / f).stat().st_size for f in listed if f and (ROOT / f).is_file())


if __name__ == "__main__":
    main()
