"""What every scenario does with each page it reaches: a full-page screenshot under
``e2e-artifacts/<folder>/`` and an axe-core scan, where a serious or critical violation
is a problem the scenario asserts away at its end (``assert visit.problems == []``)."""

from __future__ import annotations

import typing as t

from e2e.conftest import ARTIFACTS

BLOCKING = frozenset({"serious", "critical"})


class Visit:
    """Screenshots and an accessibility scan of each page a scenario reaches."""

    def __init__(self, page: t.Any, scenario: str, folder: str) -> None:
        from axe_playwright_python.sync_playwright import Axe

        self.page = page
        self.scenario = scenario
        self.shots = ARTIFACTS / folder
        self.axe = Axe()
        self.problems: list[str] = []
        self.shots.mkdir(parents=True, exist_ok=True)

    def __call__(self, name: str) -> None:
        self.page.wait_for_load_state("load")
        self.page.screenshot(path=str(self.shots / f"{self.scenario}-{name}.png"), full_page=True)
        self.problems += [f"{name}: {problem}" for problem in blocking(self.axe, self.page)]


def blocking(axe: t.Any, page: t.Any) -> list[str]:
    """The serious and critical axe-core violations of the page, one line each."""
    return [
        f"{violation['id']} ({violation['impact']}) {violation['help']} "
        f"{[node['target'] for node in violation['nodes']]}"
        for violation in axe.run(page).response["violations"]
        if violation.get("impact") in BLOCKING
    ]
