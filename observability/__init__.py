"""Metrics (prometheus-client) and structured logs: what operators see of a running instance."""
