"""Builtin claims rules (placeholder)."""
