"""Plugin tests run with the example plugins of ``plugins/`` installed (all inert until enabled)."""

from __future__ import annotations

import typing as t
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "plugins"


@pytest.fixture
def foyer_config(foyer_config: dict[str, t.Any]) -> dict[str, t.Any]:
    return {**foyer_config, "plugins_dir": str(EXAMPLES), "plugin_timeout": 2.0}
