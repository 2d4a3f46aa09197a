"""Rendering and delivering emails; delivery goes through the ``deliver_email`` hook."""
