"""Reading a config file into YAML nodes that keep their line numbers, with ``${VAR}`` expanded.

Variables are expanded inside scalar values after parsing, never in the raw text, so a value
cannot inject YAML structure and comments may mention ``${VAR}`` freely. ``$${`` writes a
literal ``${``. A plain (unquoted) scalar is re-typed after expansion, so ``port: ${PORT}``
gives an integer; a quoted one stays a string.
"""

from __future__ import annotations

import dataclasses
import os
import re
import typing as t

import yaml

from app.configfile.problems import ConfigInvalid
from app.configfile.problems import Problem

VARIABLE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
MAX_FILE_SIZE = 2 * 1024 * 1024


@dataclasses.dataclass
class Source:
    """A parsed file: its root node and what ``${VAR}`` references each scalar held."""

    name: str
    root: yaml.Node
    references: dict[int, list[str]] = dataclasses.field(default_factory=dict)
    """``id(node)`` -> variable names referenced in that scalar."""
    whole_references: set[int] = dataclasses.field(default_factory=set)
    """``id(node)`` of scalars that are exactly one ``${VAR}`` and nothing else."""
    problems: list[Problem] = dataclasses.field(default_factory=list)
    """Variables that are not set: reported with the file's other problems."""

    def problem(self, node: yaml.Node | None, path: str, message: str) -> Problem:
        mark = node.start_mark if node is not None else None
        return Problem(
            message,
            path=path,
            line=mark.line + 1 if mark else None,
            column=mark.column + 1 if mark else None,
            file=self.name,
        )


def read_source(
    text: str, name: str = "<config>", env: t.Mapping[str, str] | None = None
) -> Source:
    """Parse ``text`` and expand variables from ``env``; raises ConfigInvalid for a YAML
    syntax error. Missing variables (by name and line) are kept in ``Source.problems``, to
    be reported with every other problem of the file."""
    if len(text) > MAX_FILE_SIZE:
        raise ConfigInvalid([Problem("the file is larger than 2 MiB", file=name)])
    try:
        documents = list(yaml.compose_all(text, Loader=yaml.SafeLoader))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        raise ConfigInvalid(
            [
                Problem(
                    f"invalid YAML: {exc.problem or exc.context}",
                    line=mark.line + 1 if mark else None,
                    column=mark.column + 1 if mark else None,
                    file=name,
                )
            ]
        ) from None
    except yaml.YAMLError as exc:
        raise ConfigInvalid([Problem(f"invalid YAML: {exc}", file=name)]) from None
    documents = [d for d in documents if d is not None]
    if not documents:
        raise ConfigInvalid([Problem("the file is empty", file=name)])
    if len(documents) > 1:
        raise ConfigInvalid(
            [Source(name, documents[1]).problem(documents[1], "", "one document per file")]
        )
    source = Source(name, documents[0])
    _expand_tree(source, os.environ if env is None else env, source.problems)
    return source


def _expand_tree(source: Source, env: t.Mapping[str, str], problems: list[Problem]) -> None:
    resolver = yaml.SafeLoader("")
    seen: set[int] = set()
    stack: list[tuple[yaml.Node, str]] = [(source.root, "")]
    while stack:
        node, path = stack.pop()
        if id(node) in seen:  # aliases share nodes
            continue
        seen.add(id(node))
        if isinstance(node, yaml.MappingNode):
            for key, value in reversed(node.value):
                name = key.value if isinstance(key, yaml.ScalarNode) else "?"
                stack.extend(((value, join(path, name)), (key, path)))
        elif isinstance(node, yaml.SequenceNode):
            items = list(enumerate(node.value))
            stack.extend((item, f"{path}[{i}]") for i, item in reversed(items))
        elif isinstance(node, yaml.ScalarNode) and "$" in node.value:
            _expand_scalar(source, node, path, env, problems, resolver)


def join(path: str, key: str) -> str:
    """Field path of ``key`` inside ``path`` (``organizations[0].name``)."""
    return f"{path}.{key}" if path else key


def _expand_scalar(
    source: Source,
    node: yaml.ScalarNode,
    path: str,
    env: t.Mapping[str, str],
    problems: list[Problem],
    resolver: yaml.SafeLoader,
) -> None:
    value, names, errors = expand(node.value, env)
    for offset, message in errors:
        problem = source.problem(node, path, message)
        if node.style == "|":  # literal block: lines map one to one
            problem = dataclasses.replace(
                problem, line=(problem.line or 0) + 1 + node.value.count("\n", 0, offset)
            )
        problems.append(problem)
    if names:
        source.references[id(node)] = names
        match = re.fullmatch(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}", node.value.strip())
        if match:
            source.whole_references.add(id(node))
    if value != node.value:
        node.value = value
        if node.style is None and node.tag.startswith("tag:yaml.org,2002:"):
            node.tag = resolver.resolve(yaml.ScalarNode, value, (True, False))


def expand(text: str, env: t.Mapping[str, str]) -> tuple[str, list[str], list[tuple[int, str]]]:
    """Expand ``${NAME}`` from ``env`` and ``$${`` to ``${``.

    :returns: (expanded text, referenced names, [(offset, message)] for each error).
    """
    out: list[str] = []
    names: list[str] = []
    errors: list[tuple[int, str]] = []
    i = 0
    while True:
        j = text.find("$", i)
        if j < 0:
            out.append(text[i:])
            break
        out.append(text[i:j])
        if text.startswith("$${", j):
            out.append("${")
            i = j + 3
        elif text.startswith("${", j):
            end = text.find("}", j + 2)
            name = text[j + 2 : end] if end >= 0 else ""
            if end < 0 or not VARIABLE_NAME.fullmatch(name):
                errors.append(
                    (
                        j,
                        "invalid variable reference: write ${NAME} (letters, digits, _) "
                        "or $${ for a literal ${",
                    )
                )
                out.append("${")
                i = j + 2
                continue
            names.append(name)
            if name in env:
                out.append(env[name])
            else:
                errors.append((j, f"environment variable {name} is not set"))
            i = end + 1
        else:
            out.append("$")
            i = j + 1
    return "".join(out), names, errors
