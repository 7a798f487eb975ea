# Two-command set-up: `make run` starts the app, `make test` runs the whole suite.
# Both create .venv and install everything on first use.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
STAMP := $(VENV)/.installed
# torch is installed first and pinned, so the project's `torch>=2.4` never pulls another build.
# Which build (CPU or CUDA) is pip's choice: PyPI's Linux wheel is the CUDA one, a local +cpu wheel in
# pip's find-links wins where configured (see installers/README.md). .venv is made once: clean-venv first.
TORCH_SPEC ?= torch==2.13.0

.PHONY: run test test-slow lint clean-venv install installer dist deb test-dist desktop-entry

$(PY):
	$(PYTHON) -m venv $(VENV)

# With an NVIDIA driver present the `gpu` extra comes too (liger-kernel's fused loss and kernels):
# without it a CUDA run takes the slower chunked loss.
EXTRAS ?= $(shell command -v nvidia-smi >/dev/null 2>&1 && echo dev,gpu || echo dev)

$(STAMP): pyproject.toml | $(PY)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet "$(TORCH_SPEC)"
	$(PIP) install --quiet -e ".[$(EXTRAS)]"
	@$(PY) scripts/check_system_libs.py
	@touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(VENV)/bin/spark-trainer-gui

# SparkTrainer in your desktop menu (Linux), starting this checkout's .venv: the entry the .deb installs,
# written per user. `.venv/bin/spark-trainer desktop-entry remove` takes it out again.
desktop-entry: $(STAMP)
	$(VENV)/bin/spark-trainer desktop-entry install

# Two pytest processes (pytest-xdist): most tests wait on worker subprocesses, so two at once keep
# both cores of a small machine busy. `make TEST_WORKERS=1 test` runs them one at a time.
TEST_WORKERS ?= 2

test: $(STAMP)
	$(PY) -m pytest -q -n $(TEST_WORKERS) --durations=25

test-slow: $(STAMP)
	$(PIP) install --quiet -e ".[dev,installer]"
	$(PY) -m pytest -q -m slow

lint: $(STAMP)
	$(PY) -m ruff check spark_trainer app tests

clean-venv:
	rm -rf $(VENV)

# dist/SparkTrainer/ (PyInstaller one folder: GUI, CLI and worker in one executable), then the .deb.
# A CPU build when the venv holds torch's CPU wheel; see installers/README.md for the GPU build.
dist: $(STAMP)
	$(PIP) install --quiet -e ".[installer]"
	$(PY) -m PyInstaller --noconfirm --distpath dist --workpath build build.spec
	@du -sh dist/SparkTrainer
	installers/linux/build_deb.sh dist/SparkTrainer dist
	@ls -l dist/*.deb

installer: dist

deb:
	installers/linux/build_deb.sh dist/SparkTrainer dist

# The built app: --version, doctor, a demo trained by the frozen worker, its window under Xvfb, and
# the .deb's install / run from PATH / menu entry / removal (as root on Debian). Needs `make dist`.
test-dist: $(STAMP)
	$(PY) -m pytest -q -m dist tests/test_dist.py
