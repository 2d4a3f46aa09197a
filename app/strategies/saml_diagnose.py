"""What ``foyer connections test`` prints for a SAML connection: the values to give the
customer's IdP, then checks of the IdP's metadata (reachable, parses, endpoints), of its
certificates (valid now and for a while) and of the clock (the IdP's ``Date`` against ours).
"""

from __future__ import annotations

import datetime as dt
import email.utils
import hashlib
import shutil
import subprocess
import time
import typing as t

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from saml2 import BINDING_HTTP_REDIRECT
from saml2.sigver import pem_format

from app.connections.strategies import Diagnosis
from app.connections.strategies import StrategyUnavailable
from app.db import utcnow
from app.strategies import saml_idp_metadata
from app.strategies.saml_keys import key_files
from app.strategies.saml_keys import sp_keys
from app.strategies.saml_settings import SamlMisconfigured
from app.strategies.saml_settings import SamlOptions
from app.strategies.saml_settings import endpoint_url
from app.strategies.saml_settings import xmlsec_binary

if t.TYPE_CHECKING:
    from app.strategies.saml import SamlStrategy

SOON = dt.timedelta(days=30)
"""A certificate expiring sooner than this is a warning."""


def diagnose(strategy: SamlStrategy) -> list[Diagnosis]:
    lines: list[Diagnosis] = []
    connection = strategy.connection
    try:
        options = SamlOptions.of(connection)
    except (SamlMisconfigured, TypeError, ValueError) as error:
        return [Diagnosis("options", str(error), "error")]
    bases = strategy.published_bases()
    lines.append(Diagnosis("SP entity ID", strategy.entity_id))
    for base in bases:
        lines.append(Diagnosis("SP metadata URL", endpoint_url(base, connection, "metadata")))
    for base in bases:
        lines.append(Diagnosis("ACS URL (HTTP-POST)", endpoint_url(base, connection, "acs")))
    lines.append(Diagnosis("Single Logout URL", endpoint_url(bases[0], connection, "slo")))
    for row in sp_keys(connection):
        certificate = x509.load_pem_x509_certificate(row.certificate.encode())
        lines.append(
            certificate_line(f"SP certificate ({row.state})", certificate, fingerprint=True)
        )
    lines.append(xmlsec_line())
    lines.extend(idp_lines(strategy, options))
    return lines


def xmlsec_line() -> Diagnosis:
    try:
        program = xmlsec_binary()
    except StrategyUnavailable:
        return Diagnosis("xmlsec1", "not installed (scripts/setup installs it)", "error")
    try:
        version = subprocess.run(
            [program, "--version"], capture_output=True, text=True, timeout=10, check=False
        ).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        version = shutil.which("xmlsec1") or program
    return Diagnosis("xmlsec1", version or program, "ok")


def certificate_line(
    label: str, certificate: x509.Certificate, *, fingerprint: bool = False
) -> Diagnosis:
    now = utcnow()
    not_before = certificate.not_valid_before_utc
    not_after = certificate.not_valid_after_utc
    digest = hashlib.sha256(certificate.public_bytes(Encoding.DER)).hexdigest()
    shown = f"valid until {not_after:%Y-%m-%d}"
    if fingerprint:
        shown += f", SHA-256 {digest[:32]}…"
    if not_before > now:
        return Diagnosis(label, f"not valid before {not_before:%Y-%m-%d %H:%M} UTC", "error")
    if not_after <= now:
        return Diagnosis(label, f"expired on {not_after:%Y-%m-%d}", "error")
    if not_after - now < SOON:
        return Diagnosis(label, shown + " (expires soon)", "warning")
    return Diagnosis(label, shown, "ok")


def idp_lines(strategy: SamlStrategy, options: SamlOptions) -> list[Diagnosis]:
    connection = strategy.connection
    lines: list[Diagnosis] = []
    url = (connection.options or {}).get("idp_metadata_url")
    started = time.monotonic()
    try:
        xml = saml_idp_metadata.idp_metadata(connection, refresh=True)
    except StrategyUnavailable as error:
        return [Diagnosis("IdP metadata", str(error), "error")]
    took = time.monotonic() - started
    source = f"fetched from {url} in {took * 1000:.0f} ms" if url else "inline"
    lines.append(Diagnosis("IdP metadata", source, "ok"))
    if url:
        lines.append(clock_line(str(url), options.clock_skew))
    with key_files(sp_keys(connection)) as files:
        try:
            client, idp = strategy._open(options, files, ["https://invalid.test/acs"], xml)
        except StrategyUnavailable as error:
            return [*lines, Diagnosis("IdP metadata contents", str(error), "error")]
        lines.append(Diagnosis("IdP entity ID", idp, "ok"))
        for binding, name in ((options.request_binding, "SSO URL"),):
            try:
                found = client.metadata.single_sign_on_service(idp, binding)
            except Exception:
                found = []
            if found:
                lines.append(Diagnosis(name, str(found[0]["location"]), "ok"))
            else:
                lines.append(Diagnosis(name, f"none for the {options.binding} binding", "error"))
        try:
            slo = client.metadata.single_logout_service(idp, BINDING_HTTP_REDIRECT, "idpsso")
        except Exception:
            slo = []
        if slo:
            lines.append(Diagnosis("IdP Single Logout URL", str(slo[0]["location"]), "ok"))
        elif options.single_logout:
            lines.append(Diagnosis("IdP Single Logout URL", "none, single_logout is on", "warning"))
        certificates = client.metadata.certs(idp, "idpsso", "signing")
        if not certificates:
            lines.append(Diagnosis("IdP signing certificates", "none in the metadata", "error"))
        for index, (_name, text) in enumerate(certificates, start=1):
            try:
                certificate = x509.load_pem_x509_certificate(pem_format(text))
            except ValueError:
                lines.append(Diagnosis(f"IdP certificate {index}", "unreadable", "error"))
                continue
            lines.append(certificate_line(f"IdP certificate {index}", certificate))
    return lines


def clock_line(url: str, skew: int) -> Diagnosis:
    """The IdP's clock (its HTTP ``Date``) against ours, within the connection's skew."""
    import requests  # memory: 5 MiB, loaded by the first outbound call

    try:
        answer = requests.head(url, timeout=saml_idp_metadata.DEFAULT_TIMEOUT)
        theirs = email.utils.parsedate_to_datetime(answer.headers["Date"])
    except (requests.RequestException, KeyError, TypeError, ValueError):
        return Diagnosis("clock", "the IdP sent no Date header to compare", "warning")
    difference = abs((utcnow() - theirs).total_seconds())
    shown = f"{difference:.0f} s apart (clock_skew allows {skew} s)"
    return Diagnosis("clock", shown, "ok" if difference <= max(skew - 1, 1) else "error")
