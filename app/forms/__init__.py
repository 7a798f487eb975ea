"""Forms generated from pydantic models: one widget per field, errors shown next to the field."""
