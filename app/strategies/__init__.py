"""Builtin connection strategies, registered through the same hook as any plugin's."""
