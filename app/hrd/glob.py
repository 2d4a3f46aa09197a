"""Glob patterns for the identifier map, matched without regular expressions.

``*`` matches any run of characters (also none) and ``?`` exactly one; everything else is
literal. Matching walks the pattern and the text once, going back only to the last ``*``,
so it costs at most ``len(pattern) * len(text)`` steps whatever the input: no pattern an
admin writes and no identifier a visitor types can make it slow (no ReDoS).
"""

from __future__ import annotations

WILDCARDS = frozenset("*?")
MAX_LENGTH = 320
MAX_STARS = 8


def is_pattern(value: str) -> bool:
    """Whether ``value`` holds a wildcard (else it is an exact identifier)."""
    return any(ch in WILDCARDS for ch in value)


def check_pattern(pattern: str) -> str:
    """The pattern if it is usable; ValueError says what is wrong."""
    if not pattern or len(pattern) > MAX_LENGTH:
        raise ValueError(f"a pattern is 1 to {MAX_LENGTH} characters long")
    if pattern.count("*") > MAX_STARS:
        raise ValueError(f"a pattern has at most {MAX_STARS} '*'")
    if any(ch.isspace() or ord(ch) < 32 for ch in pattern):
        raise ValueError("a pattern has no spaces or control characters")
    if not any(ch not in WILDCARDS for ch in pattern):
        raise ValueError(
            "a pattern needs at least one literal character (a catch-all is "
            "what the other discovery methods are for)"
        )
    return pattern


def matches(pattern: str, text: str) -> bool:
    """Whether ``text`` matches ``pattern`` (both already normalized to lower case)."""
    p = t = 0
    star = -1  # position in the pattern just after the last '*'
    resume = 0  # position in the text where that '*' resumes matching
    while t < len(text):
        if p < len(pattern) and (pattern[p] == "?" or pattern[p] == text[t]):
            p += 1
            t += 1
        elif p < len(pattern) and pattern[p] == "*":
            star, resume = p + 1, t
            p += 1
        elif star >= 0:
            resume += 1
            p, t = star, resume
        else:
            return False
    while p < len(pattern) and pattern[p] == "*":
        p += 1
    return p == len(pattern)


def literal_count(pattern: str) -> int:
    """How many characters the pattern fixes: more means more specific."""
    return sum(1 for ch in pattern if ch not in WILDCARDS)
