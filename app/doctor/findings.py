"""A doctor finding: how bad, what, and where the guide explains the fix."""

from __future__ import annotations

import dataclasses
import typing as t

Severity = t.Literal["error", "warning", "info"]
SEVERITIES: tuple[Severity, ...] = ("error", "warning", "info")
DOCS = "docs/operating.md"


@dataclasses.dataclass(frozen=True)
class Finding:
    """One recommendation the deployment does not follow (or, ``info``, a fact to know)."""

    severity: Severity
    code: str
    """Stable identifier (``mail.no_delivery``) for CI filters."""
    message: str
    anchor: str
    """Section of ``docs/operating.md`` that explains it."""

    @property
    def docs(self) -> str:
        return f"{DOCS}#{self.anchor}"

    def as_dict(self) -> dict[str, str]:
        return {
            "severity": self.severity,
            "code": self.code,
            "message": self.message,
            "docs": self.docs,
        }


def ordered(findings: t.Iterable[Finding]) -> list[Finding]:
    """Errors first, then warnings, then information."""
    return sorted(findings, key=lambda f: SEVERITIES.index(f.severity))


def exit_code(findings: t.Iterable[Finding], strict: bool = False) -> int:
    """1 when any error (or, with ``strict``, any warning), else 0: for CI."""
    failing = {"error", "warning"} if strict else {"error"}
    return 1 if any(f.severity in failing for f in findings) else 0
