"""Error pages (placeholder)."""

from __future__ import annotations

from flask import Flask


def init_errors(app: Flask) -> None:
    """Nothing yet."""
