"""The batch_processor tutorial: document, checks and known-bad implementations."""
