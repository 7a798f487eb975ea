"""Past one machine: an experiment exported as a multi-node job folder, and that folder imported back."""
