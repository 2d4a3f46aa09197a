"""Template loader chain (placeholder until the theme loader lands)."""

from __future__ import annotations

from flask import Flask


def init_templates(app: Flask) -> None:
    """Nothing yet: core templates come from app/templates."""
