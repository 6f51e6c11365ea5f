"""The caching tutorial: document, checks and known-bad implementations."""
