"""Constants of spark_trainer.estimate fitted by benchmarks/calibrate_estimate.py; do not edit."""

CALIBRATION = {
    "activation_scale": 0.764,
    "overhead_bytes": 0,
    "measured_points": 4,
    "source": "fitted to 4 peaks measured on NVIDIA H200 (benchmarks/results/estimate_peaks.json, measured 2026-12-04 18:13)"
}
