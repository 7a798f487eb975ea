"""Headless commands: a thin layer over the library. See main.py."""
