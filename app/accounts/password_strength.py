"""How guessable a new password is: the zxcvbn estimator, plus "not your email or name".

zxcvbn (Dropbox's estimator) matches a password against its frequency lists (common
passwords, words, names), keyboard rows, repeats, sequences and dates, and the user's own
details, and estimates the guesses an attacker needs: score 0 (under a thousand) to 4 (over
ten billion). A password under the tenant's minimum score is refused, with the cause of its
weakness in the user's language (a few stable messages, not zxcvbn's English feedback).

zxcvbn's cost grows with the square of the length times the number of l33t substitutions
(``4`` for ``a``, ``1`` for ``i`` or ``l``...), to seconds for 72 characters full of them.
So at most ``MAX_SCORED`` characters are scored, and a password with many distinct l33t
characters is scored in windows of ``WINDOW`` characters whose guesses multiply: never
more than a few tenths of a second, whatever is typed.
"""

from __future__ import annotations

import re
import threading
import typing as t

from flask_babel import gettext as _

if t.TYPE_CHECKING:
    from app.tenancy.models import Tenant

DEFAULT_MIN_SCORE = 3
"""Refuses ``123456789012``, ``passwordpassword``, ``P@ssw0rd2024!`` (scores 0 to 2)."""

MAX_SCORED = 64
"""Characters after these only add strength: they are not scored."""

WINDOW = 16
MAX_WHOLE_L33T = 5
"""A password with more distinct l33t characters than this is scored window by window."""

WORDS = re.compile(r"[^\W_]+")
# zxcvbn's frequency lists take about 13 MiB once imported: loaded at the first new
# password a worker checks, not in every worker at start
L33T_CHARACTERS = frozenset("!$%(+0123456789<@[{|")
"""The characters zxcvbn reads as letters (its ``L33T_TABLE``; a test holds them equal)."""

_lock = threading.Lock()
"""zxcvbn keeps the user inputs of a call in a module global: one call at a time."""


def min_score(tenant: Tenant | None) -> int:
    """The tenant's ``passwords.min_score`` (0 to 4), else the default."""
    value = ((tenant.settings or {}).get("passwords") or {}).get("min_score") if tenant else None
    return value if isinstance(value, int) and 0 <= value <= 4 else DEFAULT_MIN_SCORE


def personal_values(email: str | None, names: t.Iterable[str | None]) -> list[str]:
    """The email address, its local part and the names given, without empty ones."""
    values = [email, email.rpartition("@")[0] if email else None, *names]
    return [value.strip() for value in values if value and value.strip()]


def weakness(
    password: str, *, minimum: int, personal: t.Sequence[str], context: t.Sequence[str] = ()
) -> str | None:
    """Why ``password`` is too easy to guess (a translated sentence), or None.

    :param minimum: The lowest zxcvbn score accepted (0 accepts anything zxcvbn scores).
    :param personal: The user's email address, its local part and names: the password may
        neither be one of them nor contain the address, whatever the minimum.
    :param context: Other words an attacker would try first (the tenant's and the
        organization's names): zxcvbn counts them as very common.
    """
    if _is_personal(password, personal):
        return weak_password_reason("personal")
    if minimum <= 0:
        return None
    score, matches = _estimate(password[:MAX_SCORED], _user_inputs([*personal, *context]))
    if score >= minimum:
        return None
    return weak_password_reason(_cause(matches))


def _folded(value: str) -> str:
    return "".join(ch for ch in value.casefold() if ch.isalnum())


def _is_personal(password: str, personal: t.Sequence[str]) -> bool:
    folded = _folded(password)
    if any(folded == _folded(value) for value in personal if _folded(value)):
        return True
    addresses = [value.casefold() for value in personal if "@" in value]
    return any(address in password.casefold() for address in addresses)


def _estimate(password: str, user_inputs: list[str]) -> tuple[int, list[dict[str, t.Any]]]:
    """zxcvbn's score and matches, scoring window by window where l33t would be slow."""
    from zxcvbn import zxcvbn  # memory: its lists load at the first password checked
    from zxcvbn.time_estimates import guesses_to_score

    l33t = len(set(password) & L33T_CHARACTERS)
    pieces = (
        [password]
        if len(password) <= WINDOW or l33t <= MAX_WHOLE_L33T
        else [password[i : i + WINDOW] for i in range(0, len(password), WINDOW)]
    )
    guesses = 1.0
    matches: list[dict[str, t.Any]] = []
    with _lock:
        for piece in pieces:
            result = zxcvbn(piece, user_inputs=user_inputs, max_length=MAX_SCORED)
            guesses *= float(result["guesses"])
            matches += result["sequence"]
    return int(guesses_to_score(guesses)), matches


def _user_inputs(values: list[str]) -> list[str]:
    """Each value and its words of three letters or more (``Alice Example`` -> ``alice``,
    ``example``): zxcvbn finds an input only as a whole."""
    words = [word for value in values for word in WORDS.findall(value) if len(word) >= 3]
    return list(dict.fromkeys([*values, *words]))


def _cause(matches: list[dict[str, t.Any]]) -> str:
    """What makes the password weak: the user's own details anywhere, else the kind of
    its longest match (as zxcvbn's own feedback chooses)."""
    if any(m.get("dictionary_name") == "user_inputs" for m in matches):
        return "personal"
    longest = max(matches, key=lambda m: len(m["token"]), default={})
    pattern = longest.get("pattern")
    if pattern == "dictionary":
        return "common" if longest.get("dictionary_name") == "passwords" else "words"
    if pattern in ("repeat", "sequence", "spatial"):
        return "pattern"
    if pattern in ("date", "regex"):
        return "dates"
    return "weak"


def weak_password_reason(cause: str) -> str:
    """The translated sentence for a weak password: ``personal``, ``common``, ``words``,
    ``pattern``, ``dates``, ``weak``, or ``breached`` (for ``check_password`` plugins
    that look a password up in a breach corpus), with a suggestion."""
    reasons = {
        "personal": _(
            "Leave your email address, your name and the name of this service out of your password."
        ),
        "common": _("This password is too close to passwords that many people use."),
        "words": _("Common words and names are easy to guess on their own."),
        "pattern": _(
            "Repeated words, sequences like 1234 and keyboard rows like qwerty are easy to guess."
        ),
        "dates": _("Dates and years are easy to guess."),
        "weak": _("This password is too easy to guess."),
        "breached": _("This password appeared in a data breach, so attackers try it first."),
    }
    suggestion = _("Try a few unrelated words.")
    return f"{reasons[cause]} {suggestion}"
