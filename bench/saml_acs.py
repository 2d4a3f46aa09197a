"""``python -m bench.saml_acs [N]``: what checking one SAML answer at the ACS costs.

A throwaway instance with one SAML connection whose IdP is pysaml2's (the test suite's,
:mod:`tests.saml.idp`, in this process); ``N`` signed IdP-initiated answers are checked by
:meth:`~app.strategies.saml.SamlStrategy.finish_login`, alternately with the worker's SAML
client kept (:mod:`app.strategies.saml_clients`, as a running Foyer does) and with a new
client built for the answer (every answer paid that before the clients were kept). It prints
the median wall-clock time of each and the processes started per answer (``xmlsec1``).
Wall-clock times on a shared machine are noisy: compare the two lines of one run.
"""

from __future__ import annotations

import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
import typing as t

ACS = "https://login.test/saml/corp-saml/acs"
ENTITY_ID = "urn:foyer:bench:corp-saml"


def main(count: int) -> None:
    os.environ["FOYER_INSTANCE_PATH"] = tempfile.mkdtemp(prefix="foyer-bench-saml-")
    os.environ.setdefault("FOYER_SECRET_KEY", secrets.token_urlsafe(48))
    from app import create_app  # noqa: PLC0415 - after the instance path is set
    from app.clients.services import create_client  # noqa: PLC0415
    from app.connections.services import create_connection  # noqa: PLC0415
    from app.connections.strategies import UpstreamAnswer  # noqa: PLC0415
    from app.db import session  # noqa: PLC0415
    from app.orgs.services import create_organization  # noqa: PLC0415
    from app.strategies import saml_clients  # noqa: PLC0415
    from app.strategies.saml import SamlStrategy  # noqa: PLC0415
    from app.tenancy.services import create_tenant  # noqa: PLC0415
    from tests.saml.idp import SamlIdp  # noqa: PLC0415
    from tests.saml.idp import new_folder  # noqa: PLC0415

    started = [0]
    popen_init = subprocess.Popen.__init__

    def counting(self: t.Any, *args: t.Any, **kwargs: t.Any) -> None:
        started[0] += 1
        popen_init(self, *args, **kwargs)

    app = create_app()
    with app.app_context():
        tenant = create_tenant("bench", "Bench", ["https://login.test"])
        client, _secret = create_client(tenant, "App", redirect_uris=["https://app.test/cb"])
        idp = SamlIdp(new_folder()).start()
        options = {
            "idp_metadata_xml": "<placeholder/>",
            "email_verified": True,
            "idp_initiated": {"enabled": True, "client_id": client.client_id},
        }
        connection = create_connection(tenant, "corp-saml", "saml", options=options)
        create_organization(tenant, "corp", "Corp", connections=[connection])
        session.commit()
        with app.test_request_context("/", base_url="https://login.test"):
            idp.trust(SamlStrategy(connection).metadata_xml())
        connection.options = {**options, "idp_metadata_xml": idp.metadata_xml}
        session.commit()
        answers = [idp.unsolicited(ACS, ENTITY_ID) for _ in range(2 * count + 4)]
        idp.stop()
        figures: dict[str, list[float]] = {"kept": [], "new": []}
        processes: dict[str, list[int]] = {"kept": [], "new": []}
        subprocess.Popen.__init__ = counting  # type: ignore[method-assign]
        try:
            for index, encoded in enumerate(answers):
                kind = "new" if index % 2 else "kept"
                if kind == "new":
                    saml_clients.clear()
                with app.test_request_context("/saml/corp-saml/acs", base_url="https://login.test"):
                    answer = UpstreamAnswer("", {"SAMLResponse": encoded}, {}, ACS)
                    before, start = started[0], time.perf_counter()
                    SamlStrategy(connection).finish_login(answer)
                    elapsed = time.perf_counter() - start
                    session.commit()
                if index >= 4:  # the first of each kind warm the worker up
                    figures[kind].append(elapsed)
                    processes[kind].append(started[0] - before)
        finally:
            subprocess.Popen.__init__ = popen_init  # type: ignore[method-assign]
    for kind, label in (("new", "client built per answer"), ("kept", "client kept")):
        print(
            f"{label:24} median {statistics.median(figures[kind]) * 1000:7.1f} ms "
            f"over {len(figures[kind])} answers, "
            f"{statistics.median(processes[kind]):.0f} processes started per answer"
        )
    ratio = statistics.median(figures["new"]) / statistics.median(figures["kept"])
    print(f"ratio {ratio:.1f}x")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 15)
