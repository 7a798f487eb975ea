"""Benchmarks that compare our engine with plain Hugging Face baselines on the same job."""
