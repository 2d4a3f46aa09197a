"""A small declarative schema that checks YAML nodes and turns them into plain values.

Each type checks a node and returns its value (or :data:`INVALID` after recording a
problem), so every problem carries the node's line and the field's path. A :class:`Record`
rejects unknown fields with a "did you mean" hint and fills defaults; the same
declarations document the format (:func:`app.configfile.spec.reference`) and drive export.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import re
import typing as t

import yaml

from app.clikit import did_you_mean
from app.configfile.problems import Problem
from app.configfile.source import Source
from app.configfile.source import join

INVALID: t.Any = type("Invalid", (), {"__repr__": lambda self: "INVALID"})()
"""Returned for a value that failed its checks (a problem was recorded)."""

TAG = "tag:yaml.org,2002:"
KIND_OF_TAG = {
    "str": "a string",
    "int": "an integer",
    "float": "a number",
    "bool": "true or false",
    "null": "null",
    "timestamp": "a date",
    "binary": "binary data",
    "map": "a mapping",
    "seq": "a list",
    "omap": "a mapping",
    "set": "a set",
    "pairs": "a list",
}


class Reader:
    """Walks a :class:`Source` with a schema, collecting problems and each path's node."""

    def __init__(self, source: Source, lenient: bool = False) -> None:
        self.source = source
        self.lenient = lenient
        """Read past mistakes: an invalid field takes its default (or None), so the checks
        that span fields and the database can still run and report their problems too."""
        self.problems: list[Problem] = []
        self.warnings: list[Problem] = []
        self.nodes: dict[str, yaml.Node] = {}
        self._constructor = yaml.SafeLoader("")

    def fail(self, node: yaml.Node | None, path: str, message: str) -> t.Any:
        self.problems.append(self.source.problem(node, path, message))
        return INVALID

    def problem_at(self, path: str, message: str) -> None:
        """Record a problem for a field already read (cross-field and database checks)."""
        node = self.nodes.get(path)
        while node is None and path:
            path_parent = re.sub(r"(\.[^.\[\]]+|\[\d+\])$", "", path)
            if path_parent == path:
                break
            path = path_parent
            node = self.nodes.get(path)
        self.problems.append(self.source.problem(node, path, message))

    def construct(self, node: yaml.Node) -> t.Any:
        return self._constructor.construct_document(node)

    def flatten(self, node: yaml.MappingNode) -> None:
        """Apply YAML merge keys (``<<: *defaults``) as the loader would."""
        self._constructor.flatten_mapping(node)


def kind_of(node: yaml.Node) -> str:
    if isinstance(node, yaml.MappingNode):
        return "a mapping"
    if isinstance(node, yaml.SequenceNode):
        return "a list"
    tag = str(node.tag)
    return KIND_OF_TAG.get(tag.removeprefix(TAG), tag)


class Type:
    """A value's schema. ``describe`` appears in the documentation."""

    describe: str = "value"

    def read(self, reader: Reader, node: yaml.Node, path: str) -> t.Any:
        reader.nodes[path] = node
        return self.check(reader, node, path)

    def check(self, reader: Reader, node: yaml.Node, path: str) -> t.Any:
        raise NotImplementedError


def _scalar(node: yaml.Node, tag: str) -> bool:
    return isinstance(node, yaml.ScalarNode) and node.tag == TAG + tag


class Str(Type):
    """A string, optionally matching ``pattern`` and normalized by ``convert``.

    :param convert: Returns the stored form or raises ValueError with a message.
    """

    def __init__(
        self,
        *,
        pattern: re.Pattern[str] | None = None,
        pattern_hint: str = "",
        max_length: int = 255,
        convert: t.Callable[[str], t.Any] | None = None,
        describe: str = "string",
    ) -> None:
        self.pattern = pattern
        self.pattern_hint = pattern_hint
        self.max_length = max_length
        self.convert = convert
        self.describe = describe

    def check(self, reader: Reader, node: yaml.Node, path: str) -> t.Any:
        if not _scalar(node, "str"):
            hint = " (quote it)" if isinstance(node, yaml.ScalarNode) else ""
            return reader.fail(node, path, f"expected a string, got {kind_of(node)}{hint}")
        value = t.cast(str, node.value)
        if len(value) > self.max_length:
            return reader.fail(node, path, f"use at most {self.max_length} characters")
        if self.pattern is not None and not self.pattern.fullmatch(value):
            return reader.fail(node, path, f"{value!r} is not valid: {self.pattern_hint}")
        if self.convert is not None:
            try:
                return self.convert(value)
            except ValueError as exc:
                return reader.fail(node, path, str(exc))
        return value


class Enum(Type):
    def __init__(self, choices: t.Sequence[str]) -> None:
        self.choices = tuple(choices)
        self.describe = "one of " + ", ".join(f"`{c}`" for c in self.choices)

    def check(self, reader: Reader, node: yaml.Node, path: str) -> t.Any:
        if not _scalar(node, "str"):
            return reader.fail(node, path, f"expected a string, got {kind_of(node)}")
        if node.value not in self.choices:
            return reader.fail(
                node,
                path,
                f"{node.value!r} is not one of {', '.join(self.choices)}"
                + did_you_mean(node.value, self.choices),
            )
        return node.value


class Bool(Type):
    describe = "`true` or `false`"

    def check(self, reader: Reader, node: yaml.Node, path: str) -> t.Any:
        if not _scalar(node, "bool"):
            return reader.fail(node, path, f"expected true or false, got {kind_of(node)}")
        return reader.construct(node)


class Int(Type):
    def __init__(self, minimum: int, maximum: int) -> None:
        self.minimum, self.maximum = minimum, maximum
        self.describe = (
            f"`{minimum}`" if minimum == maximum else f"integer from {minimum} to {maximum}"
        )

    def check(self, reader: Reader, node: yaml.Node, path: str) -> t.Any:
        if not _scalar(node, "int"):
            return reader.fail(node, path, f"expected an integer, got {kind_of(node)}")
        value = t.cast(int, reader.construct(node))
        if not self.minimum <= value <= self.maximum:
            return reader.fail(node, path, f"use a number from {self.minimum} to {self.maximum}")
        return value


class Nullable(Type):
    """``null`` (stored as None) or the inner type."""

    def __init__(self, inner: Type) -> None:
        self.inner = inner
        self.describe = f"{inner.describe}, or null"

    def check(self, reader: Reader, node: yaml.Node, path: str) -> t.Any:
        if _scalar(node, "null"):
            return None
        return self.inner.check(reader, node, path)


class List(Type):
    def __init__(self, item: Type, *, min_items: int = 0, max_items: int = 1000) -> None:
        self.item = item
        self.min_items = min_items
        self.max_items = max_items
        self.describe = f"list of {item.describe}"

    def check(self, reader: Reader, node: yaml.Node, path: str) -> t.Any:
        if _scalar(node, "null") and self.min_items == 0:
            return []
        if not isinstance(node, yaml.SequenceNode):
            return reader.fail(node, path, f"expected a list, got {kind_of(node)}")
        if len(node.value) < self.min_items:
            return reader.fail(node, path, f"give at least {self.min_items} item(s)")
        if len(node.value) > self.max_items:
            return reader.fail(node, path, f"give at most {self.max_items} items")
        values = [self.item.read(reader, item, f"{path}[{i}]") for i, item in enumerate(node.value)]
        if reader.lenient:  # keep the positions: paths name items by index
            return [None if v is INVALID else v for v in values]
        return INVALID if any(v is INVALID for v in values) else values


def _pairs(
    reader: Reader, node: yaml.Node, path: str
) -> t.Iterator[tuple[str, yaml.Node, yaml.Node]] | None:
    """(key, key node, value node) of a mapping with string keys, or None after a problem."""
    if not isinstance(node, yaml.MappingNode):
        reader.fail(node, path, f"expected a mapping, got {kind_of(node)}")
        return None
    reader.flatten(node)
    seen: set[str] = set()
    pairs = []
    for key_node, value_node in node.value:
        if not _scalar(key_node, "str"):
            reader.fail(key_node, path, f"keys must be strings, got {kind_of(key_node)}")
            continue
        if key_node.value in seen:
            reader.fail(key_node, join(path, key_node.value), "given twice in this mapping")
            continue
        seen.add(key_node.value)
        pairs.append((key_node.value, key_node, value_node))
    return iter(pairs)


def _references_everywhere(reader: Reader, node: yaml.Node) -> bool:
    """True when every scalar under ``node`` came from a ``${VAR}`` reference."""
    if isinstance(node, yaml.MappingNode):
        return all(_references_everywhere(reader, v) for _, v in node.value)
    if isinstance(node, yaml.SequenceNode):
        return all(_references_everywhere(reader, v) for v in node.value)
    return id(node) in reader.source.references or _scalar(node, "null")


@dataclasses.dataclass
class Field:
    """A field of a :class:`Record`.

    :param default: Used when the field is absent (copied); ignored when ``required``.
    :param doc: One sentence for the documentation.
    :param secret: Never printed in plans; a warning when written in clear in the file.
    :param reference_only: Must be exactly one ``${VAR}`` reference (passwords).
    :param managed_when_absent: False when an absent field leaves the stored value alone
        (secrets cannot be exported, so an exported file must not erase them).
    """

    type: Type
    doc: str
    required: bool = False
    default: t.Any = None
    secret: bool = False
    reference_only: bool = False
    managed_when_absent: bool = True


class Record(Type):
    """A mapping with known fields; unknown ones are refused with a hint."""

    def __init__(self, fields: dict[str, Field], describe: str = "mapping") -> None:
        self.fields = fields
        self.describe = describe

    def check(self, reader: Reader, node: yaml.Node, path: str) -> t.Any:
        found = _pairs(reader, node, path)
        if found is None:
            return self.defaults() if reader.lenient else INVALID
        pairs = list(found)
        value: dict[str, t.Any] = {}
        ok = True
        for key, key_node, value_node in pairs:
            field = self.fields.get(key)
            field_path = join(path, key)
            if field is None:
                reader.fail(
                    key_node,
                    field_path,
                    f"unknown field {key!r}" + did_you_mean(key, self.fields),
                )
                ok = False
                continue
            if field.reference_only and id(value_node) not in reader.source.whole_references:
                reader.fail(
                    value_node,
                    field_path,
                    "write this as an environment variable reference like ${NAME}, "
                    "never in clear in the file",
                )
                ok = False
                continue
            if field.secret and not _references_everywhere(reader, value_node):
                reader.warnings.append(
                    reader.source.problem(
                        value_node,
                        field_path,
                        "secret written in clear; prefer an environment variable like ${NAME}",
                    )
                )
            item = field.type.read(reader, value_node, field_path)
            ok = ok and item is not INVALID
            if item is INVALID and reader.lenient:
                continue  # filled in below like an absent field
            value[key] = item
        given = {key for key, _, _ in pairs}
        for key, field in self.fields.items():
            if key in value:
                continue
            if field.required:
                if key not in given:
                    reader.fail(node, join(path, key), f"missing required field {key!r}")
                ok = False
                if reader.lenient:
                    value[key] = None
            elif field.managed_when_absent or (reader.lenient and key in given):
                value[key] = copy.deepcopy(field.default)
        return value if ok or reader.lenient else INVALID

    def defaults(self) -> dict[str, t.Any]:
        """Every field at its default (None where required): a stand-in for a record that
        could not be read, in a lenient read."""
        return {
            key: None if field.required else copy.deepcopy(field.default)
            for key, field in self.fields.items()
        }


class MapOf(Type):
    """A mapping whose keys match ``key`` and whose values all have type ``value``."""

    def __init__(self, key: Str, value: Type) -> None:
        self.key = key
        self.value = value
        self.describe = f"mapping of {key.describe} to {value.describe}"

    def check(self, reader: Reader, node: yaml.Node, path: str) -> t.Any:
        if _scalar(node, "null"):
            return {}
        pairs = _pairs(reader, node, path)
        if pairs is None:
            return INVALID
        result: dict[str, t.Any] = {}
        ok = True
        for key, key_node, value_node in pairs:
            field_path = join(path, key)
            checked_key = self.key.check(reader, key_node, field_path)
            item = self.value.read(reader, value_node, field_path)
            if checked_key is INVALID or item is INVALID:
                ok = False
                continue
            result[checked_key] = item
        return result if ok else INVALID


class Json(Type):
    """Free-form data stored as JSON: mappings with string keys, lists, strings, numbers,
    booleans and null (no dates: quote them)."""

    def __init__(self, describe: str = "mapping (free-form)", root: str = "map") -> None:
        self.describe = describe
        self.root = root

    def check(self, reader: Reader, node: yaml.Node, path: str) -> t.Any:
        if _scalar(node, "null"):
            return {} if self.root == "map" else None
        if self.root == "map" and not isinstance(node, yaml.MappingNode):
            return reader.fail(node, path, f"expected a mapping, got {kind_of(node)}")
        return self._value(reader, node, path)

    def _value(self, reader: Reader, node: yaml.Node, path: str) -> t.Any:
        reader.nodes[path] = node
        if isinstance(node, yaml.MappingNode):
            pairs = _pairs(reader, node, path)
            if pairs is None:
                return INVALID
            result = {k: self._value(reader, v, join(path, k)) for k, _, v in pairs}
            return INVALID if INVALID in result.values() else result
        if isinstance(node, yaml.SequenceNode):
            items = [self._value(reader, v, f"{path}[{i}]") for i, v in enumerate(node.value)]
            return INVALID if any(i is INVALID for i in items) else items
        kind = node.tag.removeprefix(TAG)
        if kind not in ("str", "int", "float", "bool", "null"):
            return reader.fail(node, path, f"{kind_of(node)} cannot be stored (quote it)")
        value = reader.construct(node)
        if isinstance(value, float) and not math.isfinite(value):
            return reader.fail(node, path, "infinite or NaN numbers cannot be stored")
        return value
