"""Hosted login pages (placeholder)."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("login", __name__)
