"""Recipes that make the shipped files: `python -m scripts.NAME` from the repository root."""
