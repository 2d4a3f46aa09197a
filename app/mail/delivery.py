"""send_email(): hand a rendered email to the first ``deliver_email`` plugin that sends it."""

from __future__ import annotations

import logging
import typing as t

from app.hooks import call_hook

if t.TYPE_CHECKING:
    from app.mail.message import EmailMessage
    from app.orgs.models import Organization
    from app.tenancy.models import Tenant

log = logging.getLogger(__name__)


def send_email(
    message: EmailMessage, tenant: Tenant, organization: Organization | None = None
) -> bool:
    """Deliver ``message``; True when a plugin sent it.

    A failing plugin is recorded (``plugin_failed``) and the next one is tried. The caller
    answers the user the same way either way, so no page reveals whether an account exists.
    """
    sent = call_hook(
        "deliver_email", tenant=tenant, organization=organization, contain=True, message=message
    )
    if not sent:
        log.warning("no plugin delivered the %s email of tenant %s", message.purpose, tenant.name)
    return bool(sent)
