"""Build ``docs/hooks.md`` from the hookspecs, so the hook reference is never written twice."""

from __future__ import annotations

import dataclasses
import inspect
import re
import typing as t

from app import hookspecs

NAME_FAMILIES: dict[str, str] = {
    r"register_\w+": "returns a list to add to a registry",
    r"prepare_\w+": "changes the object passed in, returns None",
    r"extra_\w+": "returns items the core merges",
    r"\w+_(for|from)_\w+": "first answer wins (firstresult)",
    r"check_\w+": "returns None to allow, or a denial with a user-facing reason (firstresult)",
    r"deliver_\w+": "first plugin to deliver wins (firstresult)",
    r"end_\w+": "ends what the plugin keeps; returns counts the core adds up",
    r"track_event": "the one sink for every event",
}
"""Hook name families (STYLE.md §3.2); every hook name fits exactly one."""

FIRSTRESULT_FAMILIES = (r"\w+_(for|from)_\w+", r"check_\w+", r"deliver_\w+")

BANNER = re.compile(r"^# --- (.+?) -+$")


@dataclasses.dataclass(frozen=True)
class HookDoc:
    name: str
    section: str
    signature: str
    docstring: str
    firstresult: bool


def family_of(name: str) -> str | None:
    """The naming family pattern a hook name fits, or None."""
    for pattern in NAME_FAMILIES:
        if re.fullmatch(pattern, name):
            return pattern
    return None


def collect_hooks() -> list[HookDoc]:
    """Every hookspec in source order, with the section banner it sits under."""
    source = inspect.getsource(hookspecs).splitlines()
    section = ""
    hooks = []
    for line in source:
        banner = BANNER.match(line)
        if banner:
            section = banner.group(1).strip()
            continue
        match = re.match(r"^def (\w+)\(", line)
        if not match:
            continue
        func = getattr(hookspecs, match.group(1))
        opts = getattr(func, "foyer_spec", {}) or {}
        hooks.append(
            HookDoc(
                name=func.__name__,
                section=section,
                signature=_signature(func),
                docstring=inspect.cleandoc(func.__doc__ or ""),
                firstresult=bool(opts.get("firstresult")),
            )
        )
    return hooks


def _signature(func: t.Callable[..., t.Any]) -> str:
    """``name(arg: type, ...) -> type`` with the annotations as written (they are strings)."""
    sig = inspect.signature(func)
    params = ", ".join(f"{p.name}: {p.annotation}" for p in sig.parameters.values())
    return f"def {func.__name__}({params}) -> {sig.return_annotation}"


def _markdown_body(docstring: str) -> str:
    """reST fields to Markdown: ``:param x:`` items, ``:returns:``, inline literals."""
    out: list[str] = []
    for raw in docstring.splitlines():
        line = raw.replace("``", "`")
        line = re.sub(r":(class|func|meth|ref):`~?([^`]+)`", r"`\2`", line)
        param = re.match(r"^:param (\w+):\s*(.*)$", line)
        if param:
            out.append(f"- **`{param.group(1)}`**: {param.group(2)}")
            continue
        returns = re.match(r"^:returns:\s*(.*)$", line)
        if returns:
            out.append(f"- **returns**: {returns.group(1)}")
            continue
        if line.startswith("    ") and out and out[-1].startswith("- "):
            out[-1] += " " + line.strip()
            continue
        for label in ("Called by:", "Builtin:"):
            if line.startswith(label):
                line = f"**{label}**{line[len(label) :]}"
        out.append(line)
    text = "\n".join(out)
    text = re.sub(r"\n+(?=\*\*(Called by|Builtin):)", "\n\n", text)
    return re.sub(r"\n{3,}", "\n\n", text)


def render_hooks_markdown() -> str:
    """The whole of ``docs/hooks.md``."""
    lines = [
        "# Hooks",
        "",
        "<!-- Generated from app/hookspecs.py by `foyer plugins hooks --write docs/hooks.md`;",
        "     tests/test_hookspecs.py fails when this file is stale. Do not edit by hand. -->",
        "",
        "Every hook a Foyer plugin may implement, in the order of `app/hookspecs.py`. How to",
        "write, scope, configure and test a plugin: [plugins.md](plugins.md).",
        "",
        "Implement a hook with `@hookimpl` (`from app import hookimpl`); an implementation may",
        "take any subset of the arguments listed. Names follow families: `register_*` (a list",
        "for a registry), `prepare_*` (change the object passed in), `extra_*` (items the core",
        "merges), `X_for_Y` (first answer wins), `check_*` (None, or a denial that stops",
        "the call), `deliver_*` (first delivery wins), and `track_event` (every event).",
        "",
    ]
    intro = inspect.cleandoc(hookspecs.__doc__ or "").split("\n\n")
    lines += ["## Overview", ""]
    for paragraph in intro[1:-1]:
        lines += [_markdown_body(" ".join(paragraph.split())), ""]
    section = None
    hooks = collect_hooks()
    lines += ["| hook | section | first result |", "| --- | --- | --- |"]
    for hook in hooks:
        anchor = hook.name.replace("_", "-")
        first = "yes" if hook.firstresult else ""
        section_name = hook.section.split(":")[0]
        lines.append(f"| [`{hook.name}`](#{anchor}) | {section_name} | {first} |")
    lines.append("")
    for hook in hooks:
        if hook.section != section:
            section = hook.section
            lines += [f"## {section}", ""]
        lines += [f"### {hook.name}", "", "```python", hook.signature, "```", ""]
        if hook.firstresult:
            lines += ["*First result:* the first non-None answer stops the call.", ""]
        lines += [_markdown_body(hook.docstring), ""]
    return "\n".join(lines).rstrip() + "\n"


def hook_names() -> list[str]:
    return [hook.name for hook in collect_hooks()]


def spec_function(name: str) -> t.Callable[..., t.Any]:
    return t.cast(t.Callable[..., t.Any], getattr(hookspecs, name))
