"""Constants of spark_trainer.estimate fitted by benchmarks/calibrate_estimate.py; do not edit."""

CALIBRATION = {
    "activation_scale": 0.8998,
    "overhead_bytes": 1363999725,
    "measured_points": 4,
    "source": "fitted to 4 peaks measured on NVIDIA H200 (benchmarks/results/estimate_peaks_20261204-1301.json)"
}
