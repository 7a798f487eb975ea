"""The training engine. Heavy libraries are imported inside functions, not here."""
