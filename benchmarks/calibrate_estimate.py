"""Fit the VRAM estimate's constants to measured peaks and show how far the estimate is off.

Reads benchmarks/results/estimate_peaks.json (from measure_peaks.py), fits the activation scale k
and the overhead c by least squares (`spark_trainer.estimate.fit_calibration`) and prints, for each
configuration, the measured peak, the estimate with the default constants, with the fitted ones
(in-sample) and leave-one-out (fitted without that configuration: the honest figure for a new
configuration). With `--write` it writes spark_trainer/estimate_calibration.py, which the estimate
(setup form and `spark-trainer estimate`) then uses; commit that file with the measurements.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from spark_trainer import estimate

ROOT = Path(__file__).resolve().parents[1]
TOLERANCE = 0.15


def _measure_peaks():  # noqa: ANN202 - the module beside this one
    import importlib.util

    spec = importlib.util.spec_from_file_location("measure_peaks", Path(__file__).resolve().parent / "measure_peaks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def predict(parts: dict, cal: estimate.Calibration) -> float:
    fixed = sum(v for k, v in parts.items() if k not in ("activations", "overhead"))
    return fixed + cal.activation_scale * parts["activations"] + cal.overhead_bytes


def _shown(path: Path) -> str:
    """The peaks file as the calibration names it: relative to the project where it lies inside it."""
    try:
        return str(path.resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--peaks", type=Path, default=ROOT / "benchmarks" / "results" / "estimate_peaks.json")
    parser.add_argument("--write", action="store_true", help="write spark_trainer/estimate_calibration.py")
    args = parser.parse_args()
    if not args.peaks.is_file():
        print(f"calibrate_estimate: no measured peaks ({args.peaks} does not exist); nothing fitted")
        return 1
    document = json.loads(args.peaks.read_text())
    # Each point's parts by the formula as it is now (measure_peaks.parts_now): a change to the formula is
    # judged against the peaks already measured.
    parts_now = _measure_peaks().parts_now
    points = [{**p, "parts": parts_now(p)} for p in document["points"] if p.get("status") == "completed"]
    if len(points) < 2:  # measure_peaks ran out of time after one configuration, or none
        print(f"calibrate_estimate: {len(points)} measured peak(s) in {args.peaks}; a fit needs 2, nothing fitted")
        return 1
    default = estimate.Calibration()
    fitted = estimate.fit_calibration(points, source=f"fitted to {len(points)} peaks measured on {document['device']} "
                                                    f"({_shown(args.peaks)})")
    print(f"fitted: activation scale {fitted.activation_scale:.3f}, overhead {fitted.overhead_bytes / 2**30:.2f} GiB "
          f"({len(points)} points, {document['device']}, torch {document['torch']})")
    print(f"{'config':<14} {'measured':>9} {'default':>15} {'fitted':>15} {'leave-one-out':>15}")
    worst = 0.0
    for i, p in enumerate(points):
        others = points[:i] + points[i + 1:]
        loo = estimate.fit_calibration(others) if len(others) >= 2 else None
        cells = []
        for cal in (default, fitted, loo):
            if cal is None:
                cells.append(f"{'-':>15}")
                continue
            value = predict(p["parts"], cal)
            error = value / p["measured_bytes"] - 1
            cells.append(f"{value / 2**30:7.2f} ({error:+5.0%})")
            if cal is loo:
                worst = max(worst, abs(error))
        print(f"{p['name']:<14} {p['measured_bytes'] / 2**30:8.2f}G " + " ".join(cells))
    verdict = "within" if worst <= TOLERANCE else "NOT within"
    print(f"leave-one-out: worst error {worst:.0%}, {verdict} ±{TOLERANCE:.0%}")
    if args.write:
        text = (f'"""Constants of spark_trainer.estimate fitted by benchmarks/calibrate_estimate.py; do not edit."""\n\n'
                f"CALIBRATION = {json.dumps({'activation_scale': fitted.activation_scale, 'overhead_bytes': fitted.overhead_bytes, 'measured_points': fitted.measured_points, 'source': fitted.source}, indent=4)}\n")
        targets = [ROOT / "spark_trainer" / "estimate_calibration.py"]
        if os.environ.get("OUT"):
            targets.append(Path(os.environ["OUT"]) / "estimate_calibration.py")
        for target in targets:
            target.write_text(text)
        print(f"wrote {', '.join(map(str, targets))}")
    return 0 if worst <= TOLERANCE else 1


if __name__ == "__main__":
    sys.exit(main())
