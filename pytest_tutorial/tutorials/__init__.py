"""Bundled tutorials: each folder holds a tutorial document and its check modules."""
