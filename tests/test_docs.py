"""Documentation that is generated from code stays equal to it."""

from __future__ import annotations

import re
from pathlib import Path

from app.config import settings_reference
from app.observability.metrics import metrics_reference

DOCS = Path(__file__).resolve().parent.parent / "docs"


def test_operating_doc_lists_every_setting_as_in_the_code():
    text = (DOCS / "operating.md").read_text()
    match = re.search(
        r"<!-- settings-reference:.*?-->\n(.*?)<!-- end settings-reference -->", text, re.S
    )
    assert match, "docs/operating.md lost its settings reference markers"
    assert match.group(1) == settings_reference(), (
        "docs/operating.md is stale: paste app.config.settings_reference() between the markers"
    )


def test_operating_doc_lists_every_metric_as_in_the_code():
    text = (DOCS / "operating.md").read_text()
    match = re.search(
        r"<!-- metrics-reference:.*?-->\n(.*?)<!-- end metrics-reference -->", text, re.S
    )
    assert match, "docs/operating.md lost its metrics reference markers"
    assert match.group(1) == metrics_reference(), (
        "docs/operating.md is stale: paste "
        "app.observability.metrics.metrics_reference() between the markers"
    )
