"""The Playground: try a run's model (final or any checkpoint) on new inputs.

`source` finds what to load for a run and a checkpoint choice, `generators` holds one generator per
recipe kind (causal-lm text today; classification and diffusion plug in the same way), `server` is
the model-serving worker process (line-delimited JSON over stdin/stdout, see `protocol`), `servers`
lets the scheduler see and release the GPUs that serving processes hold, and `samples` saves what
was tried to the run. Nothing here imports Qt; heavy libraries are imported inside functions.
"""
