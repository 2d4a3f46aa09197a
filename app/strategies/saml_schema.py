"""XML Schema validation of a SAMLResponse as it arrived, before anything reads it.

The SAML library checks the schema of each signed element it verifies, but only as it
re-serialized it from its own classes, which drop what they do not know. Validating the
document as posted (after base64, with DTDs and entities refused by defusedxml) against the
SAML 2.0 protocol and assertion schemas the library ships refuses, before any signature or
assertion is looked at, an answer with misplaced, unknown or duplicated elements, the raw
material of signature-wrapping attacks.
"""

from __future__ import annotations

import base64
import binascii

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring
from saml2.xml.schema import XMLSchemaError
from saml2.xml.schema import validate

from app.connections.strategies import UpstreamError

MAX_ENCODED = 1024 * 1024
"""The largest base64 SAMLResponse read (the request body is capped at 1 MiB anyway)."""


def check_schema(encoded: str) -> None:
    """Refuse a posted SAMLResponse that is not base64 of one schema-valid SAML message.

    :raises UpstreamError: ``invalid_response``, the detail naming the failed check.
    """
    if len(encoded) > MAX_ENCODED:
        raise UpstreamError("invalid_response", "SAMLResponse too large")
    try:
        xml = base64.b64decode(encoded, validate=False)
    except (binascii.Error, ValueError):
        raise UpstreamError("invalid_response", "SAMLResponse is not base64") from None
    try:
        fromstring(xml, forbid_dtd=True)  # no DTD, hence no entity, before the validator reads it
    except DefusedXmlException as error:
        raise UpstreamError("invalid_response", f"XML refused: {type(error).__name__}") from None
    except Exception as error:  # noqa: BLE001 - any parse failure is one refused answer
        raise UpstreamError("invalid_response", f"not XML: {type(error).__name__}") from None
    try:
        validate(xml.decode())  # as text: xsi:type values need the document's prefixes
    except (XMLSchemaError, UnicodeDecodeError) as error:
        details = error.args[0] if error.args else None
        reason = str(details.get("error", "")) if isinstance(details, dict) else str(error)
        first_line = reason.strip().splitlines()[0] if reason.strip() else "invalid"
        raise UpstreamError("invalid_response", f"schema: {first_line}"[:300]) from None
