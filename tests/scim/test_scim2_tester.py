"""scim2-tester, a third-party compliance checker, against the SCIM endpoints: discovery
documents, then create, read, replace and delete of Users and Groups."""

from __future__ import annotations

from scim2_client.engines.wsgi import WSGISCIMClient
from scim2_tester import check_server
from scim2_tester.utils import Status


def test_scim2_tester_passes(foyer_app, scim):
    client = WSGISCIMClient(
        foyer_app,
        base_url=f"https://login.test{scim.base}",
        headers={"Authorization": f"Bearer {scim.token}"},
    )
    results = check_server(client)
    failures = [r for r in results if r.status not in (Status.SUCCESS, Status.SKIPPED)]
    report = "\n".join(f"{r.title}: {r.status.name} {r.reason}" for r in failures)
    assert not failures, report
    assert sum(r.status == Status.SUCCESS for r in results) > 10
