"""The rate_limiter tutorial: document, checks and known-bad implementations."""
