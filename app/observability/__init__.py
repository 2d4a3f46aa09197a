"""Watching Foyer run: health probes, Prometheus metrics and structured logs.

A foundation room: every other room may feed :mod:`app.observability.metrics` and log
through the standard library; :mod:`app.observability.web` wires the probes, the metrics
endpoint and the per-request log line into the app.
"""
