"""Mistakes found in a config file, each located by line, column and field path."""

from __future__ import annotations

import dataclasses
import typing as t


@dataclasses.dataclass(frozen=True)
class Problem:
    """One mistake: what is wrong, in which field, on which line (1-based)."""

    message: str
    path: str = ""
    line: int | None = None
    column: int | None = None
    file: str = ""

    def __str__(self) -> str:
        where = self.file or "<config>"
        if self.line is not None:
            where += f":{self.line}:{self.column or 1}"
        field = f" {self.path}:" if self.path else ""
        return f"{where}:{field} {self.message}"


class ConfigInvalid(Exception):
    """The file cannot be applied; ``problems`` says why, all at once, in file order.

    ``partial`` is the file read past its mistakes (spec, reader), when it could be read,
    for the checks across fields and against the database to add their problems.
    """

    def __init__(self, problems: t.Sequence[Problem], partial: t.Any = None) -> None:
        ordered = sorted(dict.fromkeys(problems), key=_position)
        super().__init__("\n".join(str(p) for p in ordered))
        self.problems = ordered
        self.partial = partial


def _position(problem: Problem) -> tuple[int, int]:
    return (problem.line or 0, problem.column or 0)
