"""GUI-thread stalls while a base model is filled in the experiment setup form, before and after the
memory estimate stopped importing torch and transformers for it.

The form checks itself on a pool thread a moment after each edit (app/views/setup_checks.py), the
memory estimate included. Until the estimate read a causal LM's attention facts from config.json
(spark_trainer/models/config_facts.py), that check imported transformers and torch, and the import,
holding the GIL most of the time, left the GUI thread waiting between its event-loop turns.

Each sample starts the app for real (as `spark-trainer-gui --home HOME --view projects`) with a 5 ms
timer ticking on the GUI thread, opens the Experiments view, fills project, name, dataset and GPUs and
waits for their check, then puts a local model folder (a Llama 3.2 1B config.json, as published) in
Base model and waits until the estimate is shown. Reported: the longest gap between ticks from the
base model's edit to the estimate shown (`fill_gap_ms`), and the seconds that took (`estimate_s`).
`old` is the same app with `config_facts.read_facts` answering None, so every answer comes from
transformers as before; the two run in turns in fresh processes, and the ratio old / new is given.

Run: .venv/bin/python benchmarks/bench_setup_estimate.py [--runs 3] [--settle 2]
     (child: bench_setup_estimate.py --child old|new HOME MODEL)
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def child(mode: str, home: str, model: str, settle: float) -> None:
    if mode == "old":
        from spark_trainer.models import config_facts

        config_facts.read_facts = lambda _folder: None  # the estimate asks transformers, as before
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    qt_app = QApplication(sys.argv[:1])
    ticks: list[float] = []
    ticker = QTimer()
    ticker.setInterval(5)
    ticker.timeout.connect(lambda: ticks.append(time.perf_counter()))
    ticker.start()
    import app.main_window as main_window
    from app.main import main as app_main

    marks: dict[str, float] = {}
    original = main_window.MainWindow.show_first_view

    def show_first_view(window: main_window.MainWindow, name: str | None = None) -> None:
        original(window, name)
        QTimer.singleShot(int(settle * 1000), lambda: fill(window))

    def fill(window: main_window.MainWindow) -> None:
        view = window.show_view("experiments")
        view.project.setCurrentText("demo")
        view.recipe.setCurrentText("causal-lm")
        view.name.setText("tuned")
        view.dataset.setCurrentText("notes")
        view.gpus.setCurrentText("cpu")
        wait(lambda: not view.checking, lambda: QTimer.singleShot(int(settle * 1000), lambda: base_model(window, view)))

    def base_model(window: main_window.MainWindow, view) -> None:
        marks["fill"] = time.perf_counter()
        view.base_model.setCurrentText(model)
        wait(lambda: not view.checking and view.memory_panel.memory.text().startswith("<b>~"),
             lambda: done(window, view))

    def done(window: main_window.MainWindow, view) -> None:
        marks["shown"] = time.perf_counter()
        marks["text"] = view.memory_panel.memory.text()
        QTimer.singleShot(300, lambda: (window.close(), qt_app.quit()))

    def wait(ready, then, deadline: list[float] | None = None) -> None:
        deadline = deadline or [time.perf_counter() + 120]
        if ready():
            then()
        elif time.perf_counter() > deadline[0]:
            qt_app.quit()
        else:
            QTimer.singleShot(20, lambda: wait(ready, then, deadline))

    main_window.MainWindow.show_first_view = show_first_view
    code = app_main(["--home", home, "--view", "projects"])
    ticker.stop()
    if code != 0 or "shown" not in marks:
        raise SystemExit(f"the app exited with {code} before the estimate was shown")
    during = [b - a for a, b in zip(ticks, ticks[1:], strict=False) if b > marks["fill"] and a < marks["shown"]]
    print("RESULT " + json.dumps({"fill_gap_ms": 1000 * max(during), "estimate_s": marks["shown"] - marks["fill"],
                                  "torch_imported": "torch" in sys.modules, "estimate": marks["text"]}), flush=True)


def _fill_home(scratch: Path) -> tuple[Path, Path]:
    from spark_trainer.ingest import ingest_paths
    from spark_trainer.store import projects
    from spark_trainer.store.store import Store
    from tests.app.gui_assets import write_text_dataset
    from tests.models.hub_configs import LLAMA_3_2_1B, model_folder

    home = scratch / "home"
    with Store.open(home) as store:
        projects.create(store, "demo")
        ingest_paths(store, [write_text_dataset(scratch / "notes", 50)], project="demo", name="notes")
    return home, model_folder(scratch / "models", "Llama-3.2-1B", LLAMA_3_2_1B)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--settle", type=float, default=2.0)
    parser.add_argument("--child", nargs=3, metavar=("MODE", "HOME", "MODEL"))
    args = parser.parse_args()
    if args.child:
        child(*args.child, settle=args.settle)
        return
    from benchmarks.bench_gui_startup import _env

    scratch = Path(tempfile.mkdtemp(prefix="bench-setup-estimate-"))
    home, model = _fill_home(scratch)
    env = _env(scratch)
    found: dict[str, list[dict]] = {"old": [], "new": []}
    for i in range(args.runs):  # in turns, the order reversed every other round
        for mode in ("old", "new") if i % 2 == 0 else ("new", "old"):
            proc = subprocess.run([sys.executable, __file__, "--child", mode, str(home), str(model),
                                   "--settle", str(args.settle)], capture_output=True, text=True, env=env,
                                  cwd=ROOT, timeout=300)
            line = next((x for x in proc.stdout.splitlines() if x.startswith("RESULT ")), None)
            if proc.returncode != 0 or line is None:
                raise SystemExit(f"{mode} probe failed ({proc.returncode}): {proc.stderr[-2000:]}")
            found[mode].append(json.loads(line[len("RESULT "):]))
    report = {mode: {"fill_gap_ms": statistics.median(r["fill_gap_ms"] for r in runs),
                     "estimate_s": statistics.median(r["estimate_s"] for r in runs),
                     "torch_imported": sorted({r["torch_imported"] for r in runs}),
                     "samples_ms": [round(r["fill_gap_ms"], 1) for r in runs]} for mode, runs in found.items()}
    same = {r["estimate"] for runs in found.values() for r in runs}
    report["same_estimate_shown"] = len(same) == 1
    report["gap_ratio_old_over_new"] = report["old"]["fill_gap_ms"] / report["new"]["fill_gap_ms"]
    report["time_ratio_old_over_new"] = report["old"]["estimate_s"] / report["new"]["estimate_s"]
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
