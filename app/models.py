"""Every room's tables in one metadata: what Alembic compares and tests empty.

Wiring, not foundation: :mod:`app.db` holds the base class and must not know the rooms
above it, so the rooms' models are gathered here.
"""

from __future__ import annotations

from app import jobs
from app.accounts import models as accounts
from app.api import models as api
from app.clients import models as clients
from app.connections import models as connections
from app.db import Base
from app.events import models as events
from app.hrd import models as hrd
from app.mail import models as mail
from app.oidc import models as oidc
from app.orgs import models as orgs
from app.scim import models as scim
from app.security import counters
from app.sessions import models as sessions
from app.strategies import oidc_models as oidc_upstream
from app.strategies import saml_models as saml
from app.tenancy import models as tenancy

ROOMS = (
    accounts,
    api,
    clients,
    connections,
    counters,
    events,
    hrd,
    jobs,
    mail,
    oidc,
    oidc_upstream,
    orgs,
    saml,
    scim,
    sessions,
    tenancy,
)
"""The models module of each room that has tables."""

metadata = Base.metadata
"""Every table of every room (complete once this module is imported)."""
