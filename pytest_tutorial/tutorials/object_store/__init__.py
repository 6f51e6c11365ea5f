"""The object_store tutorial: document, checks and known-bad implementations."""
