"""Base models: building tiny local models for tests and demos, and resolving a base model name."""
